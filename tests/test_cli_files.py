"""Commands over several files (get, rm, download), ids from stdin, and the global options."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from qoder_files._mirror import local_name
from qoder_files.cli import _render, main
from qoder_files.testing import Fault, FilesEmulator

Served = tuple[FilesEmulator, str]
CLEAN_ENV = {"QODER_PAT": None, "QODER_BASE_URL": None, "QODER_LOG": None}
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def served() -> Iterator[Served]:
    emulator = FilesEmulator()
    emulator.seed(40)
    with emulator.serve_in_thread() as url:
        yield emulator, url


def run(
    served: Served, *args: str, input: str | None = None, before: tuple[str, ...] = ()
) -> Result:
    emulator, url = served
    argv = ["--token", emulator.token, "--base-url", url, *before, *args]
    return CliRunner().invoke(main, argv, env=CLEAN_ENV, input=input)


def test_get_several_ids_and_ids_from_stdin(served: Served) -> None:
    emulator, _ = served
    ids = emulator.ids()[:5]
    several = run(served, "get", *ids[:3])
    assert several.exit_code == 0, several.output
    assert [json.loads(line)["file_id"] for line in several.stdout.splitlines()] == ids[:3]
    assert "3 of 3 files shown" in several.stderr
    piped = run(served, "get", "-", input="\n".join(ids) + "\n\n")
    assert [json.loads(line)["file_id"] for line in piped.stdout.splitlines()] == ids
    missing = run(served, "get", ids[0], "file_" + "0" * 32, ids[1])
    assert missing.exit_code == 1
    assert [json.loads(line)["file_id"] for line in missing.stdout.splitlines()] == ids[:2]
    assert "NotFoundError" in missing.stderr
    assert "2 of 3 files shown, 1 failed" in missing.stderr
    bad = run(served, "get", ids[0], "../etc")
    assert bad.exit_code == 2
    assert bad.stdout == ""
    assert run(served, "get").exit_code == 2


def test_rm_of_several_asks_refuses_without_a_terminal_and_dry_runs(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator, _ = served
    ids = emulator.ids()[:3]
    refused = run(served, "rm", *ids)
    assert refused.exit_code == 2
    assert "--yes" in refused.stderr
    dry = run(served, "rm", "--dry-run", *ids)
    assert dry.exit_code == 0, dry.output
    assert [line.split()[2] for line in dry.stdout.splitlines()] == ids
    assert all(file_id in emulator.files for file_id in ids)
    monkeypatch.setattr(_render, "_is_terminal", lambda stream: True)
    declined = run(served, "rm", *ids, input="n\n")
    assert declined.exit_code == 1
    assert all(file_id in emulator.files for file_id in ids)
    confirmed = run(served, "rm", *ids[:2], input="y\n")
    assert confirmed.exit_code == 0, confirmed.output
    assert confirmed.stdout.splitlines() == [f"deleted {file_id}" for file_id in ids[:2]]
    assert not {*ids[:2]} & emulator.files.keys()
    monkeypatch.undo()
    rest = run(served, "rm", "--yes", "-", input=f"{ids[2]}\n{ids[0]}\n")
    assert rest.exit_code == 1
    assert rest.stdout.splitlines() == [f"deleted {ids[2]}"]
    assert "1 of 2 files deleted, 1 failed" in rest.stderr
    one = run(served, "rm", emulator.ids()[0])  # one id: no question
    assert one.exit_code == 0


def test_download_several_into_a_directory(served: Served, tmp_path: Path) -> None:
    emulator, _ = served
    downloadable = [i for i in emulator.ids() if emulator.files[i].downloadable][:4]
    result = run(served, "download", *downloadable, "-o", f"{tmp_path}{os.sep}", "-c", "2")
    assert result.exit_code == 0, result.output
    for file_id in downloadable:
        stored = emulator.files[file_id]
        assert (tmp_path / stored.filename).read_bytes() == stored.content
    assert "4 of 4 files downloaded" in result.stderr
    again = run(served, "download", downloadable[0], "-o", str(tmp_path))
    assert again.exit_code == 1
    assert "exists here" in again.stderr
    forced = run(served, "download", downloadable[0], "-o", str(tmp_path), "--force")
    assert forced.exit_code == 0
    internal = next(i for i in emulator.ids() if not emulator.files[i].downloadable)
    refused = run(served, "download", internal, "-o", str(tmp_path / "x"))
    assert refused.exit_code == 1
    assert "only tool_output and skill_output files can be downloaded" in refused.stderr
    assert not (tmp_path / "x").exists()
    assert run(served, "download", *downloadable[:2], "-o", str(tmp_path / "f.md")).exit_code == 2
    assert run(served, "download", *downloadable[:2], "-o", "-").exit_code == 2
    assert run(served, "download", downloadable[0], "-o", f"{tmp_path}/nope/").exit_code == 2


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("report.md", "report.md"),
        ("../../etc/passwd", "passwd"),
        ("a\\b\\c.txt", "c.txt"),
        (".bashrc", "bashrc"),
        ("..", "file_x"),
        ("", "file_x"),
        ("\x1b]0;x\x07t.txt", "_]0;x_t.txt"),
        ('what?<>:"|*.md', "what_______.md"),
        ("é" * 300, "é" * 100),
    ],
)
def test_safe_name(name: str, safe: str) -> None:
    assert local_name(name, "file_x") == safe


def test_global_options_reach_the_client(served: Served) -> None:
    emulator, _ = served
    emulator.add_fault(Fault.error(503), route="get", times=1)
    file_id = emulator.ids()[0]
    no_retry = run(served, "get", file_id, before=("--max-retries", "0"))
    assert no_retry.exit_code == 1
    assert "503" in no_retry.stderr
    emulator.add_fault(Fault.latency(2), route="get", times=1)
    slow = run(served, "get", file_id, before=("--timeout", "0.2", "--max-retries", "0"))
    assert slow.exit_code == 1
    assert "Timeout" in slow.stderr
    assert run(served, "ls", before=("--proxy", "ftp://proxy.example")).exit_code == 2
    assert run(served, "ls", before=("--timeout", "0")).exit_code == 2


def test_verbose_logs_requests_without_the_token(served: Served) -> None:
    emulator, _ = served
    result = run(served, "ls", "-n", "3", before=("-v",))
    assert result.exit_code == 0, result.output
    assert "GET" in result.stderr
    assert "GET files -> 200" in result.stderr
    assert emulator.token not in result.stderr
    assert emulator.token not in result.stdout


def test_short_flags_and_version() -> None:
    runner = CliRunner()
    assert runner.invoke(main, ["-V"]).stdout.startswith("qoder-files, version ")
    listed = runner.invoke(main, ["--emulator", "ls", "-n", "4"], env=CLEAN_ENV)
    assert len(listed.stdout.splitlines()) == 4


@pytest.mark.skipif(shutil.which("bash") is None, reason="runs the README's shell block")
def test_the_readme_round_trip_runs_as_written(tmp_path: Path) -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("## Command line", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    round_trip = block.split("# round trip\n", 1)[1]
    emulator = FilesEmulator()
    emulator.seed(30)
    with emulator.serve_in_thread() as url:
        env = {k: v for k, v in os.environ.items() if not k.startswith("QODER_")}
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env["PATH"]])
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        env.update(QODER_PAT=emulator.token, QODER_BASE_URL=url)
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", round_trip],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "copy.md").read_bytes() == (tmp_path / "notes.md").read_bytes()
    assert len(emulator.files) == 30  # the uploaded file was deleted again
