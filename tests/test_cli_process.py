"""The command line as a real process: early stops and their resume hint, Ctrl-C, start-up.

Each test runs ``python -m qoder_files`` against an emulator served from a thread of the test
process, and reads what a user's terminal or pipe would get.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from qoder_files.testing import Fault, FilesEmulator

ROOT = Path(__file__).resolve().parents[1]
Served = tuple[FilesEmulator, str]


def environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QODER_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return {**env, **extra}


def cli(*args: str, served: Served | None = None) -> list[str]:
    prefix = [sys.executable, "-m", "qoder_files"]
    if served is not None:
        emulator, url = served
        prefix += ["--token", emulator.token, "--base-url", url]
    return [*prefix, *args]


@pytest.fixture
def served() -> Iterator[Served]:
    emulator = FilesEmulator()
    emulator.seed(120)
    with emulator.serve_in_thread() as url:
        yield emulator, url


def rows_of(output_format: str, stdout: str) -> list[str]:
    """The file ids a complete document of ``output_format`` holds."""
    if output_format == "json":
        return [f["file_id"] for f in json.loads(stdout)]
    if output_format == "jsonl":
        return [json.loads(line)["file_id"] for line in stdout.splitlines()]
    if output_format == "csv":
        return [row["file_id"] for row in csv.DictReader(io.StringIO(stdout))]
    lines = stdout.splitlines()
    assert lines[0].startswith("FILE ID")
    assert lines[-1].endswith(" files")
    return [line.split()[0] for line in lines[1:-1]]


@pytest.mark.parametrize("output_format", ["json", "jsonl", "csv", "table"])
def test_a_listing_that_fails_on_its_third_page_keeps_two_and_says_how_to_resume(
    served: Served, output_format: str
) -> None:
    emulator, _ = served
    emulator.add_fault(Fault.error(503), route="list", start=3)
    args = ("--max-retries", "0", "ls", "--limit", "10", "--format", output_format)
    done = subprocess.run(
        cli(*args, served=served),
        capture_output=True,
        text=True,
        env=environment(),
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    written = rows_of(output_format, done.stdout)
    assert written == emulator.ids()[:20]
    error, hint = done.stderr.splitlines()
    assert error.startswith("qoder-files: error: InternalServerError: 503")
    assert hint == (
        f"qoder-files: 20 files written; to resume, run the same command with --after {written[-1]}"
    )
    emulator.clear_faults()
    rest = subprocess.run(
        cli(*args, "--after", written[-1], served=served),
        capture_output=True,
        text=True,
        env=environment(),
        timeout=60,
        check=False,
    )
    assert rest.returncode == 0, rest.stderr
    assert written + rows_of(output_format, rest.stdout) == emulator.ids()


def test_a_backward_listing_resumes_with_before(served: Served) -> None:
    emulator, _ = served
    emulator.add_fault(Fault.error(400), route="list", start=3)  # after a probe and a page
    anchor = emulator.ids()[60]
    done = subprocess.run(
        cli("ls", "--before", anchor, "--limit", "10", "-n", "40", served=served),
        capture_output=True,
        text=True,
        env=environment(),
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    ids = [json.loads(line)["file_id"] for line in done.stdout.splitlines()]
    assert ids == emulator.ids()[:60][::-1][:10]
    assert done.stderr.splitlines()[-1].endswith(f"with --before {ids[-1]} --max-items 30")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("output_format", ["json", "jsonl"])
def test_ctrl_c_exits_130_with_a_valid_document_and_the_hint(
    served: Served, output_format: str
) -> None:
    emulator, _ = served
    emulator.add_fault(Fault.latency(5), route="list", start=3)  # the third page comes late
    with subprocess.Popen(
        cli("ls", "--limit", "10", "--format", output_format, served=served),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment(),
    ) as process:
        assert process.stdout is not None
        assert process.stderr is not None
        seen: list[str] = []
        while len(seen) < 20:  # two pages: 20 JSON lines, or "[" and 19 whole items of JSON
            seen.append(process.stdout.readline())
        process.send_signal(signal.SIGINT)
        rest = process.stdout.read()  # from the reader's buffer on: what readline() left there
        stderr = process.stderr.read()
        process.wait(timeout=30)
    assert process.returncode == 130
    written = rows_of(output_format, "".join(seen) + rest)
    assert written == emulator.ids()[:20]
    assert stderr.splitlines() == [
        "qoder-files: interrupted",
        "qoder-files: 20 files written; to resume, run the same command with "
        f"--after {written[-1]}",
    ]


def loaded_modules(*args: str) -> tuple[str, set[str]]:
    """Run the command line with ``args`` in a fresh interpreter: its stdout, modules loaded."""
    code = (
        "import runpy, sys\n"
        f"sys.argv = ['qoder-files', *{list(args)!r}]\n"
        "try:\n"
        "    runpy.run_module('qoder_files', run_name='__main__')\n"
        "except SystemExit as stop:\n"
        "    assert stop.code in (0, None), stop.code\n"
        "sys.stderr.write(' '.join(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=environment(), check=True
    )
    return done.stdout, set(done.stderr.split())


@pytest.mark.parametrize(
    "args",
    [
        ("--help",),
        ("-h",),
        ("--version",),
        ("-V",),
        ("ls", "--help"),
        ("download", "--help"),
        ("rm", "--help"),
        ("emulator", "--help"),
    ],
)
def test_help_and_version_load_no_http_stack(args: tuple[str, ...]) -> None:
    stdout, modules = loaded_modules(*args)
    assert stdout
    heavy = {"aiohttp", "cattrs", "rich", "asyncio", "attrs", "qoder_files.client"}
    assert not heavy & {name.split(".")[0] for name in modules} | (heavy & modules)


def test_completion_prints_a_script_for_each_shell() -> None:
    for shell in ("bash", "zsh", "fish"):
        script, modules = loaded_modules("completion", shell)
        assert "_QODER_FILES_COMPLETE" in script
        assert "aiohttp" not in modules
    done = subprocess.run(
        cli("completion", "tcsh"),
        capture_output=True,
        text=True,
        env=environment(),
        check=False,
    )
    assert done.returncode == 2


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_completion_completes_commands_and_options() -> None:
    env = environment(
        _QODER_FILES_COMPLETE="bash_complete", COMP_WORDS="qoder-files l", COMP_CWORD="1"
    )
    done = subprocess.run(
        [sys.executable, "-m", "qoder_files"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert "plain,ls" in done.stdout.split()
