"""The ``qoder-files`` command line, in process (click's runner) and as a real process."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import json
import os
import runpy
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import qoder_files
from qoder_files import Client, __version__
from qoder_files.cli import _context, _download, _emulator, _listing, _render, main
from qoder_files.testing import Fault, FilesEmulator

Served = tuple[FilesEmulator, str]
CLEAN_ENV: dict[str, str | None] = {"QODER_PAT": None, "QODER_BASE_URL": None, "QODER_LOG": None}


@pytest.fixture
def served() -> Iterator[Served]:
    emulator = FilesEmulator()
    emulator.seed(120)
    with emulator.serve_in_thread() as url:
        yield emulator, url


def run(*args: str, env: dict[str, str | None] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env={**CLEAN_ENV, **(env or {})})


def against(served: Served, *args: str, token: str | None = None) -> Result:
    emulator, url = served
    return run("--token", token or emulator.token, "--base-url", url, *args)


def file_ids(result: Result) -> list[str]:
    return [json.loads(line)["file_id"] for line in result.stdout.splitlines()]


def emulator_serves(route: str) -> bool:
    return any(r.name == route for r in FilesEmulator().app().router.routes())


def client_threads() -> int:
    return sum(t.name == "qoder-files-client" and t.is_alive() for t in threading.enumerate())


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make stdout and stderr look like a terminal to the CLI."""
    monkeypatch.setattr(_render, "_is_terminal", lambda stream: True)


# --- ls with the embedded emulator ----------------------------------------------------------


def test_emulator_ls_shows_a_table_on_a_terminal(terminal: None) -> None:
    before = client_threads()
    result = run("--emulator", "ls")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split()[:3] == ["FILE", "ID", "PURPOSE"]
    assert lines[0].split()[-1] == "NAME"  # the one column of unbounded width comes last
    assert sum(line.startswith("file_") for line in lines) == _context.DEMO_FILES
    assert f"{_context.DEMO_FILES} files" in lines[-1]
    assert client_threads() == before  # the client and the emulator were closed


def test_emulator_ls_json_is_one_array_of_exactly_max_items() -> None:
    result = run("--emulator", "ls", "--max-items", "7", "--format", "json")
    assert result.exit_code == 0, result.output
    files = json.loads(result.stdout)
    assert len(files) == 7
    assert all(f["file_id"].startswith("file_") and "filename" in f for f in files)


def test_ls_piped_defaults_to_json_lines(served: Served) -> None:
    emulator, _ = served
    result = against(served, "ls", "--limit", "50")
    assert result.exit_code == 0, result.output
    assert file_ids(result) == emulator.ids()


def test_ls_json_of_nothing_is_an_empty_array(served: Served) -> None:
    emulator, _ = served
    result = against(served, "ls", "--before", emulator.ids()[0], "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == []


def test_ls_filters_and_pages_both_ways(served: Served) -> None:
    emulator, _ = served
    everything = emulator.ids()
    older = against(served, "ls", "--after", everything[9], "--max-items", "5")
    assert file_ids(older) == everything[10:15]
    newer = against(served, "ls", "--before", everything[9], "--limit", "3")
    assert file_ids(newer) == everything[:9][::-1]
    tools = against(served, "ls", "--purpose", "tool_output")
    assert file_ids(tools) == emulator.ids("tool_output")


def test_ls_all_purposes_scans_every_purpose(served: Served) -> None:
    emulator, _ = served
    result = against(served, "ls", "--all-purposes", "--limit", "10")
    assert file_ids(result) == emulator.ids()
    capped = against(served, "ls", "--all-purposes", "--max-items", "9")
    assert file_ids(capped) == emulator.ids()[:9]
    mixed = against(served, "ls", "--all-purposes", "--purpose", "tool_output")
    assert mixed.exit_code == 2
    assert "--all-purposes" in mixed.stderr


def test_ls_csv(served: Served) -> None:
    emulator, _ = served
    result = against(served, "ls", "--format", "csv", "--max-items", "4")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [row["file_id"] for row in rows] == emulator.ids()[:4]
    stored = emulator.files[rows[0]["file_id"]]
    assert rows[0]["size_bytes"] == str(stored.size_bytes)
    assert json.loads(rows[0]["metadata"]) == stored.metadata


def test_ls_table_when_asked_for_on_a_pipe(served: Served) -> None:
    result = against(served, "ls", "--format", "table", "--max-items", "1")
    assert result.exit_code == 0
    assert "CREATED (UTC)" in result.stdout
    assert "1 file" in result.stdout


def test_long_listing_to_a_pipe_shows_progress_on_the_terminal(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator, _ = served
    monkeypatch.setattr(_listing, "PROGRESS_AFTER", 25)
    monkeypatch.setattr("qoder_files.cli._progress.REDRAW_EVERY", 0.0)
    # stdout is a pipe, stderr a terminal: rows go to the pipe, progress to the terminal
    monkeypatch.setattr(_render, "_is_terminal", lambda stream: stream is sys.stderr)
    result = against(served, "ls", "--format", "jsonl", "--limit", "10")
    assert result.exit_code == 0, result.output
    assert file_ids(result) == emulator.ids()
    assert "\rListing  120 files" in result.stderr
    assert result.stderr.endswith("\r")  # the line is erased at the end
    assert "\x1b" not in result.stderr
    short = against(served, "ls", "--format", "jsonl", "--max-items", "5")
    assert len(file_ids(short)) == 5
    assert short.stderr == ""
    monkeypatch.setattr(_render, "_is_terminal", lambda stream: True)
    on_terminal = against(served, "ls", "--format", "jsonl", "--limit", "10")
    assert on_terminal.stderr == ""  # the rows themselves show the progress


# --- exit codes -----------------------------------------------------------------------------


def test_wrong_token_exits_1_with_one_line(served: Served) -> None:
    result = against(served, "ls", token="pt-wrong-secret-1234")
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert "AuthenticationError" in lines[0]
    assert "request id" in lines[0]
    assert "pt-wrong-secret-1234" not in result.output
    assert "Traceback" not in result.output
    assert result.stdout == ""


def test_an_error_mid_listing_keeps_what_was_written(served: Served) -> None:
    emulator, _ = served
    emulator.add_fault(Fault.error(400), route="list", start=3)
    result = against(served, "ls", "--limit", "10")
    assert result.exit_code == 1
    assert file_ids(result) == emulator.ids()[:20]
    assert result.stderr.startswith("qoder-files: error: BadRequestError: 400")


def test_usage_errors_exit_2(served: Served) -> None:
    assert run("--emulator", "ls", "--limit", "0").exit_code == 2
    assert against(served, "ls", "--max-items", "0").exit_code == 2
    both = against(served, "ls", "--after", "file_a", "--before", "file_b")
    assert both.exit_code == 2
    assert "after" in both.stderr
    assert against(served, "ls", "--purpose", "nope").exit_code == 2
    missing = run("ls")
    assert missing.exit_code == 2
    assert "QODER_PAT" in missing.stderr
    plain_http = run("--token", "pt-x", "--base-url", "http://example.com/api", "ls")
    assert plain_http.exit_code == 2


def test_token_and_base_url_come_from_the_environment(served: Served) -> None:
    emulator, url = served
    result = run("ls", "--max-items", "2", env={"QODER_PAT": emulator.token, "QODER_BASE_URL": url})
    assert file_ids(result) == emulator.ids()[:2]


def test_version() -> None:
    result = run("--version")
    assert result.exit_code == 0
    assert __version__ in result.stdout


# --- one file -------------------------------------------------------------------------------


def test_get_shows_one_file_as_json(served: Served) -> None:
    emulator, _ = served
    file_id = emulator.ids()[3]
    result = against(served, "get", file_id)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["file_id"] == file_id
    missing = against(served, "get", "file_" + "0" * 32)
    assert missing.exit_code == 1
    assert "NotFoundError" in missing.stderr


def test_upload_checks_its_metadata(served: Served, tmp_path: Path) -> None:
    path = tmp_path / "notes.md"
    path.write_text("# notes\n")
    bad = against(served, "upload", str(path), "--metadata", "{not json")
    assert bad.exit_code == 2
    assert "JSON object" in bad.stderr
    not_object = against(served, "upload", str(path), "--metadata", "[1]")
    assert not_object.exit_code == 2
    assert against(served, "upload", str(tmp_path / "missing.md")).exit_code == 2


@pytest.mark.skipif(not emulator_serves("upload"), reason="the emulator has no upload route yet")
def test_upload_download_and_rm(
    served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator, _ = served
    path = tmp_path / "report.md"
    path.write_bytes(b"# report\n" * 100)
    uploaded = against(
        served,
        "upload",
        str(path),
        "--purpose",
        "tool_output",
        "--metadata",
        '{"project": "demo"}',
    )
    assert uploaded.exit_code == 0, uploaded.output
    stored = json.loads(uploaded.stdout)
    assert stored["metadata"] == {"project": "demo"}
    file_id = stored["file_id"]

    monkeypatch.chdir(tmp_path)
    out = tmp_path / "copy.md"
    assert against(served, "download", file_id, "-o", str(out)).exit_code == 0
    assert out.read_bytes() == path.read_bytes()
    to_stdout = against(served, "download", file_id, "-o", "-")
    assert to_stdout.stdout_bytes == path.read_bytes()
    path.unlink()
    assert against(served, "download", file_id).exit_code == 0  # saved under its own name
    assert (tmp_path / "report.md").read_bytes() == b"# report\n" * 100
    (tmp_path / "report.md").write_bytes(b"mine")
    refused = against(served, "download", file_id)
    assert refused.exit_code == 1
    assert "exists here" in refused.stderr
    assert (tmp_path / "report.md").read_bytes() == b"mine"
    assert against(served, "download", file_id, "--force").exit_code == 0
    assert (tmp_path / "report.md").read_bytes() == b"# report\n" * 100

    monkeypatch.setattr(_download, "LARGE_DOWNLOAD", 10)
    monkeypatch.setattr(_render, "_is_terminal", lambda stream: True)
    emulator.add_fault(Fault.truncate(), route="download", times=1)  # rewinds the bar's file
    barred = tmp_path / "with-bar.md"
    assert against(served, "download", file_id, "-o", str(barred)).exit_code == 0
    assert barred.read_bytes() == b"# report\n" * 100
    assert not list(tmp_path.glob(".*.part"))

    removed = against(served, "rm", file_id)
    assert removed.exit_code == 0
    assert file_id in removed.stdout
    assert file_id not in emulator.files
    assert against(served, "rm", file_id).exit_code == 1


# --- real processes -------------------------------------------------------------------------


def subprocess_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in CLEAN_ENV}
    root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    return {**env, **extra}


def test_python_dash_m_runs_the_cli() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "qoder_files", "--emulator", "ls", "--max-items", "7", "-h"],
        capture_output=True,
        text=True,
        env=subprocess_env(),
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0
    assert "--max-items" in completed.stdout
    completed = subprocess.run(
        [sys.executable, "-m", "qoder_files", "--emulator", "ls", "--max-items", "7"],
        capture_output=True,
        text=True,
        env=subprocess_env(),
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert len(completed.stdout.splitlines()) == 7  # piped: JSON lines


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_emulator_command_serves_until_stopped(stop_signal: int) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "qoder_files", "emulator", "--files", "30"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=subprocess_env(),
    )
    try:
        stdout = process.stdout
        assert stdout is not None
        banner = stdout.readline()
        assert "30 files at http://127.0.0.1:" in banner
        base_url = banner.rsplit(" ", 1)[1].strip()
        token_line = [stdout.readline() for _ in range(3)][1]
        token = token_line.strip().split("=", 1)[1]
        with Client(token, base_url=base_url) as client:
            assert len(list(client.list_files(limit=100))) == 30
        process.send_signal(stop_signal)
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:  # pragma: no cover - only when the test failed
            process.kill()
            process.wait()
    assert process.returncode == 0
    assert "emulator stopped" in stderr
    assert "Traceback" not in stderr


def test_emulator_command_reports_a_busy_port(served: Served) -> None:
    _, url = served
    port = url.split(":")[2].split("/")[0]
    result = run("emulator", "--port", port)
    assert result.exit_code == 1
    assert f"cannot serve on port {port}" in result.stderr


def test_upload_without_options(served: Served, tmp_path: Path) -> None:
    path = tmp_path / "plain.txt"
    path.write_text("hello\n")
    result = against(served, "upload", str(path))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["filename"] == "plain.txt"


def test_python_dash_m_in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", ["qoder-files", "--version"])
    # run_path, not run_module: pytest's assertion-rewriting import hook claims the modules of
    # an installed plugin's package, and it cannot hand runpy their code.
    main_path = Path(qoder_files.__file__).parent / "__main__.py"
    with pytest.raises(SystemExit) as info:
        runpy.run_path(str(main_path), run_name="__main__")
    assert info.value.code == 0


def test_emulator_command_ctrl_c(monkeypatch: pytest.MonkeyPatch) -> None:
    async def interrupted(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(_emulator, "_serve", interrupted)
    result = run("emulator", "--files", "3")
    assert result.exit_code == 0
    assert "emulator stopped" in result.stderr


@pytest.mark.parametrize(("args", "shape"), [((), "g1"), (("--shape", "g3"), "g3")])
def test_emulator_command_serves_the_shape_asked_for(
    monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...], shape: str
) -> None:
    served: list[FilesEmulator] = []

    async def record(emulator: FilesEmulator, port: int, files: int) -> None:
        served.append(emulator)

    monkeypatch.setattr(_emulator, "_serve", record)
    result = run("emulator", "--files", "12", *args)
    assert result.exit_code == 0, result.output
    [emulator] = served
    assert (emulator.shape, len(emulator.files)) == (shape, 12)
    assert run("emulator", "--shape", "g2").exit_code == 2


def test_emulator_command_banner_names_the_shape(capsys: pytest.CaptureFixture[str]) -> None:
    emulator = FilesEmulator(shape="g3")

    async def scenario() -> None:
        task = asyncio.create_task(_emulator._serve(emulator, 0, 0))
        printed = ""
        while "Press Ctrl-C" not in printed:
            await asyncio.sleep(0.01)
            printed += capsys.readouterr().out
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        assert "emulator (g3) with 0 files at http://127.0.0.1:" in printed

    asyncio.run(scenario())


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_serve_stops_on_sigterm(capsys: pytest.CaptureFixture[str]) -> None:
    emulator = FilesEmulator()
    emulator.seed(4)

    async def scenario() -> str:
        task = asyncio.create_task(_emulator._serve(emulator, 0, 4))
        printed = ""
        while "Press Ctrl-C" not in printed:  # the handler is installed before the banner
            await asyncio.sleep(0.01)
            printed += capsys.readouterr().out
        signal.raise_signal(signal.SIGTERM)
        await asyncio.wait_for(task, timeout=10)
        return printed

    printed = asyncio.run(scenario())
    assert "4 files at http://127.0.0.1:" in printed
    assert "export QODER_PAT=pt-emulator" in printed


def test_a_local_file_error_is_one_line_too(served: Served, tmp_path: Path) -> None:
    emulator, _ = served
    file_id = emulator.ids("tool_output")[0]
    result = against(served, "download", file_id, "-o", str(tmp_path / "missing" / "x.md"))
    assert result.exit_code == 1
    assert len(result.stderr.splitlines()) == 1
    assert "Error" in result.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX pipes")
def test_a_reader_that_goes_away_stops_the_listing_quietly() -> None:
    emulator = FilesEmulator()
    emulator.seed(3000)  # far more than a pipe holds: the writer meets the closed pipe
    with emulator.serve_in_thread() as url:
        process, first, stderr = _read_one_line_and_leave(emulator.token, url)
    assert json.loads(first)["file_id"] == emulator.ids()[0]
    assert process.returncode == 0
    assert stderr == b""


def _read_one_line_and_leave(token: str, url: str) -> tuple[subprocess.Popen[bytes], bytes, bytes]:
    reader, writer = os.pipe()
    process = subprocess.Popen(
        [sys.executable, "-m", "qoder_files", "ls", "--limit", "10"],
        stdout=writer,
        stderr=subprocess.PIPE,
        env=subprocess_env(QODER_PAT=token, QODER_BASE_URL=url),
    )
    os.close(writer)
    with os.fdopen(reader, "rb") as pipe:
        first = pipe.readline()  # then the reader goes away, as `| head -1` does
    _, stderr = process.communicate(timeout=60)
    return process, first, stderr


@pytest.mark.parametrize("shape", ["g1", "g3"])
def test_ls_filters_by_name_and_scope(shape: str) -> None:
    emulator = FilesEmulator(shape=shape)
    emulator.seed(120)
    with emulator.serve_in_thread() as url:
        args = ("--token", emulator.token, "--base-url", url, "ls", "--format", "jsonl")
        named = run(*args, "--name", "REPORT", "--limit", "30")
        assert named.exit_code == 0, named.output
        names = [json.loads(line)["filename"] for line in named.output.splitlines()]
        expected = [
            emulator.files[i].filename
            for i in emulator.ids()
            if emulator.files[i].filename.lower().startswith("report")
        ]
        assert names == expected
        assert names
        scope = next(f.scope for f in emulator.files.values() if f.scope is not None)
        scoped = run(*args, "--scope", scope["id"])
        if shape == "g3":
            assert scoped.exit_code == 0, scoped.output
            expected_ids = [i for i in emulator.ids() if emulator.files[i].scope == scope]
            got = [json.loads(line)["file_id"] for line in scoped.output.splitlines()]
            assert got == expected_ids
        else:
            assert scoped.exit_code == 2
            assert "scope_id cannot filter" in scoped.output
