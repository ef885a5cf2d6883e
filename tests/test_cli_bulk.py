"""The bulk commands, run as a user would: ``mirror``, ``inventory`` and ``rm`` by filter."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from qoder_files._mirror import MANIFEST, local_name
from qoder_files.cli import main
from qoder_files.testing import Fault, FilesEmulator

Served = tuple[FilesEmulator, str]
CLEAN_ENV: dict[str, str | None] = {"QODER_PAT": None, "QODER_BASE_URL": None, "QODER_LOG": None}


@pytest.fixture
def served() -> Iterator[Served]:
    emulator = FilesEmulator()
    emulator.seed(300)
    with emulator.serve_in_thread() as url:
        yield emulator, url


def run(served: Served, *args: str) -> Result:
    emulator, url = served
    command = ["--token", emulator.token, "--base-url", url, "--max-retries", "3", *args]
    return CliRunner().invoke(main, command, env=CLEAN_ENV)


def cli(served: Served, *args: str) -> list[str]:
    emulator, url = served
    return [
        sys.executable,
        "-m",
        "qoder_files",
        "--token",
        emulator.token,
        "--base-url",
        url,
        *args,
    ]


def wanted(emulator: FilesEmulator) -> list[str]:
    return [i for i in emulator.ids() if emulator.files[i].downloadable]


def visible_files(directory: Path) -> list[str]:
    return sorted(name for name in os.listdir(directory) if not name.startswith("."))


def wait_until(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.02)


def test_mirror_through_503s_then_a_rerun_sends_no_download(served: Served, tmp_path: Path) -> None:
    emulator, _ = served
    emulator.add_fault(Fault.error(503), route="download", every=5)
    first = run(served, "mirror", str(tmp_path))
    assert first.exit_code == 0, first.output
    files = wanted(emulator)
    assert f"{len(files)} downloaded" in first.output
    for file_id in files:
        stored = emulator.files[file_id]
        assert (tmp_path / local_name(stored.filename, file_id)).read_bytes() == stored.content
    assert len(visible_files(tmp_path)) == len(files)
    mtimes = {name: os.stat(tmp_path / name).st_mtime_ns for name in visible_files(tmp_path)}
    before = len(emulator.requests)
    again = run(served, "mirror", str(tmp_path))
    assert again.exit_code == 0, again.output
    assert f"0 downloaded (0 B), {len(files)} already current, 0 failed" in again.output
    assert not any(
        "/content" in r.path or "/_download/" in r.path for r in emulator.requests[before:]
    )
    assert {
        name: os.stat(tmp_path / name).st_mtime_ns for name in visible_files(tmp_path)
    } == mtimes


def test_mirror_names_the_file_that_keeps_failing(served: Served, tmp_path: Path) -> None:
    emulator, _ = served
    stuck = emulator.files[wanted(emulator)[2]]
    (tmp_path / local_name(stuck.filename, stuck.file_id)).mkdir()
    result = run(served, "mirror", str(tmp_path))
    assert result.exit_code == 1
    assert f"failed: {stuck.file_id} {stuck.filename}" in result.output
    assert f"{len(wanted(emulator)) - 1} downloaded" in result.output


def test_mirror_killed_then_rerun_completes(tmp_path: Path) -> None:
    emulator = FilesEmulator()
    emulator.seed(300)
    emulator.add_fault(Fault.latency(0.15), route="download")
    with emulator.serve_in_thread() as url:
        served = (emulator, url)
        with subprocess.Popen(cli(served, "mirror", str(tmp_path), "-c", "4")) as child:
            wait_until(lambda: len(visible_files(tmp_path)) >= 10)
            time.sleep(1)
            child.send_signal(signal.SIGKILL)
            child.wait()
        files = wanted(emulator)
        assert len(visible_files(tmp_path)) < len(files)
        emulator.clear_faults()
        result = run(served, "mirror", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert len(visible_files(tmp_path)) == len(files)
    assert [n for n in os.listdir(tmp_path) if n.startswith(".")] == [MANIFEST]
    for file_id in files:
        stored = emulator.files[file_id]
        assert (tmp_path / local_name(stored.filename, file_id)).read_bytes() == stored.content


def test_inventory_sync_and_stats(served: Served, tmp_path: Path) -> None:
    emulator, _ = served
    database = tmp_path / "files.db"
    synced = run(served, "inventory", "sync", str(database))
    assert synced.exit_code == 0, synced.output
    assert "300 listed, 300 new" in synced.output
    with contextlib.closing(sqlite3.connect(database)) as connection:
        ids = {row[0] for row in connection.execute("SELECT file_id FROM files")}
    assert ids == set(emulator.ids())
    stats = CliRunner().invoke(main, ["inventory", "stats", str(database), "--format", "json"])
    assert stats.exit_code == 0, stats.output
    report = json.loads(stats.output)
    assert report["files"] == 300
    assert {row["purpose"] for row in report["by_purpose"]} == {
        "user_upload",
        "tool_output",
        "skill_output",
        "session_resource",
        "agent_output",
    }
    table = CliRunner().invoke(main, ["inventory", "stats", str(database)])
    assert table.exit_code == 0
    assert "tool_output" in table.output
    assert "█" in table.output
    full = run(served, "inventory", "sync", str(database), "--full")
    assert "0 marked deleted" in full.output


def test_rm_by_filter_dry_run_then_yes(served: Served) -> None:
    emulator, _ = served
    matching = [
        i for i in emulator.ids("tool_output") if emulator.files[i].filename.startswith("data")
    ]
    assert matching
    dry = run(served, "rm", "--purpose", "tool_output", "--name", "data", "--dry-run")
    assert dry.exit_code == 0, dry.output
    listed = [
        line.split()[2] for line in dry.output.splitlines() if line.startswith("would delete")
    ]
    assert sorted(listed) == sorted(matching)
    assert set(matching) <= set(emulator.ids())  # nothing deleted
    refused = run(served, "rm", "--purpose", "tool_output", "--name", "data")
    assert refused.exit_code == 2  # several files, no terminal to confirm on, no --yes
    assert set(matching) <= set(emulator.ids())
    done = run(served, "rm", "--purpose", "tool_output", "--name", "data", "--yes")
    assert done.exit_code == 0, done.output
    assert not set(matching) & set(emulator.ids())
    assert len(emulator.ids()) == 300 - len(matching)
    old = run(served, "rm", "--older-than", "3650d", "--yes")
    assert old.exit_code == 0
    assert "0 files would be deleted" in old.output  # the seeded files are from 2026
    both = run(served, "rm", "file_x", "--purpose", "tool_output")
    assert both.exit_code == 2
    assert run(served, "rm", "--older-than", "soon").exit_code == 2


def test_rm_interrupted_then_rerun_has_no_errors(tmp_path: Path) -> None:
    emulator = FilesEmulator()
    emulator.seed(200)
    emulator.add_fault(Fault.latency(0.1), route="delete")
    targets = set(emulator.ids("agent_output"))
    with emulator.serve_in_thread() as url:
        served = (emulator, url)
        command = cli(served, "rm", "--purpose", "agent_output", "--yes", "-c", "2")
        with subprocess.Popen(command, stdout=subprocess.DEVNULL) as child:
            wait_until(lambda: len(targets - set(emulator.ids())) >= 3)
            child.send_signal(signal.SIGKILL)
            child.wait()
        assert targets & set(emulator.ids())  # cut off part way
        emulator.clear_faults()
        result = run(served, "rm", "--purpose", "agent_output", "--yes")
    assert result.exit_code == 0, result.output
    assert "error" not in result.output
    assert not targets & set(emulator.ids())
