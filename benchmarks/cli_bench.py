"""The command-line benchmarks: whole processes, timed from the outside as a user meets them.

- listing: ``qoder-files ls --format jsonl --limit 100`` of 100,000 files against
  ``ls_script.py``, a hand-written aiohttp + orjson script writing the same lines; wall time
  of each process, start-up included, median of several rounds run in alternation. Every
  run's output is checked: as many lines as files, and the same JSON objects first and last;
- start-up: ``qoder-files --help`` against ``python -c pass``;
- first row: a 30,000-row table on a pseudo-terminal, from the moment the page server sends
  the first page to the moment the first row reaches the terminal.
"""

from __future__ import annotations

import json
import os
import pty
import select
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def _run_listing(command: list[str], env: dict[str, str]) -> tuple[float, bytes]:
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, env=env, check=True, timeout=600)
    return time.perf_counter() - started, done.stdout


def _check(output: bytes, files: int, reference: tuple[Any, Any] | None) -> tuple[Any, Any]:
    lines = output.splitlines()
    if len(lines) != files:
        raise AssertionError(f"{len(lines)} lines written, {files} expected")
    ends = (json.loads(lines[0]), json.loads(lines[-1]))
    if reference is not None and ends != reference:
        raise AssertionError("the two listings wrote different objects")
    return ends


def run_listing(
    base_url: str, token: str, files: int, repeat: int, env: dict[str, str]
) -> dict[str, Any]:
    """Median wall times of the CLI and the hand-written script listing every file."""
    commands = {
        "script": [sys.executable, str(HERE / "ls_script.py"), base_url, token],
        "cli": [
            sys.executable, "-m", "qoder_files", "--token", token, "--base-url", base_url,
            "ls", "--format", "jsonl", "--limit", "100",
        ],
    }  # fmt: skip
    walls: dict[str, list[float]] = {name: [] for name in commands}
    reference = None
    for command in commands.values():  # untimed warm-up, and the output check
        reference = _check(_run_listing(command, env)[1], files, reference)
    for round_number in range(repeat):
        order = list(commands) if round_number % 2 == 0 else list(commands)[::-1]
        for name in order:
            wall, output = _run_listing(commands[name], env)
            _check(output, files, reference)
            walls[name].append(wall)
        print(f"  cli listing round {round_number + 1}/{repeat} done", file=sys.stderr)
    return {name: {"wall_s": w, "wall_median_s": statistics.median(w)} for name, w in walls.items()}


def _median_wall(command: list[str], env: dict[str, str], runs: int) -> float:
    walls = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, stdout=subprocess.DEVNULL, env=env, check=True, timeout=60)
        walls.append(time.perf_counter() - started)
    return statistics.median(walls)


def run_startup(env: dict[str, str], runs: int) -> dict[str, float]:
    """Median wall times of ``qoder-files --help`` and ``python -c pass``."""
    _median_wall([sys.executable, "-m", "qoder_files", "--help"], env, 2)  # warm caches
    return {
        "python_s": _median_wall([sys.executable, "-c", "pass"], env, runs),
        "help_s": _median_wall([sys.executable, "-m", "qoder_files", "--help"], env, runs),
    }


def first_row_delay(
    base_url: str, token: str, next_stamp: Callable[[], float], env: dict[str, str]
) -> tuple[float, int]:
    """Seconds from the first page leaving the server to the first row on a terminal, and rows."""
    primary, secondary = pty.openpty()
    command = [
        sys.executable, "-m", "qoder_files", "--token", token, "--base-url", base_url,
        "ls", "--format", "table", "--limit", "100",
    ]  # fmt: skip
    process = subprocess.Popen(
        command, stdout=secondary, stderr=subprocess.DEVNULL, env={**env, "COLUMNS": "160"}
    )
    os.close(secondary)
    received = b""
    first_row_at = None
    while True:
        ready, _, _ = select.select([primary], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(primary, 1 << 16)
        except OSError:  # the terminal's other end closed
            break
        if not chunk:
            break
        received += chunk
        if first_row_at is None and b"\nfile_" in received:
            first_row_at = time.time()
    os.close(primary)
    process.wait(timeout=60)
    if first_row_at is None or process.returncode != 0:
        raise AssertionError(f"no table row arrived (exit code {process.returncode})")
    rows = received.count(b"\nfile_")
    return first_row_at - next_stamp(), rows
