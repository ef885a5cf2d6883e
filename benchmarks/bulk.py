"""The bulk-job bars: mirror concurrency, inventory speed and inventory memory.

- mirror: 200 downloadable files from an emulator whose downloads each take 20 ms, mirrored
  with ``concurrency=8`` against downloading them one by one (bar: at most 0.2x);
- inventory speed: ``qoder-files inventory sync DB`` of 100,000 files into a fresh SQLite
  inventory against ``qoder-files ls --format jsonl`` of the same listing to ``/dev/null``, each
  a fresh process against the pre-rendered page server, run in alternation (bar: at most 1.5x);
- inventory memory: peak RSS (``VmHWM``) of a fresh process syncing 1,000,000 files against one
  syncing 10,000, plus the peak of its writer process, read while it runs (bar: under 50 MB
  more).

Used by ``bench.py``; each function returns plain numbers.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

_SYNC = """
import glob, json, os, sys, threading
sys.path.insert(0, sys.argv[4])
from qoder_files import Client
from rss_probe import peak_rss_kib

def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as text:
            return text.read()
    except OSError:
        return b""

OWN = cmdline("self")

def is_writer(pid):  # forked but not yet exec'd, a child still has this process's memory
    return cmdline(pid) not in (b"", OWN)

# A big sync stores its rows from a writer process: its peak is read while it runs.
writers, done = {}, threading.Event()
def watch():
    while not done.wait(0.005):
        for path in glob.glob(f"/proc/{os.getpid()}/task/*/children"):
            with open(path) as children:
                for pid in children.read().split():
                    if is_writer(pid):
                        writers[pid] = max(writers.get(pid, 0), peak_rss_kib(pid))
threading.Thread(target=watch, daemon=True).start()
with Client(sys.argv[2], base_url=sys.argv[1]) as client:
    summary = client.sync_inventory(sys.argv[3])
done.set()
writer = max(writers.values(), default=0)
print(json.dumps({"listed": summary.listed, "peak_rss_kib": peak_rss_kib() + writer,
                  "writer_peak_kib": writer}))
"""


def _seconds(command: list[str], env: dict[str, str], **kwargs: Any) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(
        command, env=env, check=True, capture_output=True, text=True, timeout=3600, **kwargs
    )
    return time.perf_counter() - started, done.stdout


def mirror_ratio(repeat: int, files: int = 200, latency: float = 0.02) -> dict[str, Any]:
    """Median wall time of a concurrent mirror and of one-by-one downloads, and their ratio."""
    from qoder_files import Client
    from qoder_files.testing import Fault, FilesEmulator

    emulator = FilesEmulator()
    emulator.seed(files, purposes=["tool_output"])
    emulator.add_fault(Fault.latency(latency), route="download")
    mirrored: list[float] = []
    sequential: list[float] = []
    with emulator.serve_in_thread() as url, Client(emulator.token, base_url=url) as client:
        ids = emulator.ids()
        for _ in range(repeat):
            with tempfile.TemporaryDirectory() as directory:
                started = time.perf_counter()
                summary = client.mirror(directory, concurrency=8)
                mirrored.append(time.perf_counter() - started)
                assert summary.downloaded == files, summary
            with tempfile.TemporaryDirectory() as directory:
                started = time.perf_counter()
                for file_id in ids:
                    client.download_file(file_id, os.path.join(directory, file_id))
                sequential.append(time.perf_counter() - started)
    concurrent_s, one_by_one_s = statistics.median(mirrored), statistics.median(sequential)
    return {
        "files": files,
        "latency_s": latency,
        "mirror_s": concurrent_s,
        "one_by_one_s": one_by_one_s,
        "ratio": concurrent_s / one_by_one_s,
    }


def inventory_ratio(
    base_url: str, token: str, env: dict[str, str], repeat: int, files: int
) -> dict[str, Any]:
    """Median wall time of ``inventory sync`` into a fresh database and of ``ls --format
    jsonl``, both commands run as processes."""
    cli = [sys.executable, "-m", "qoder_files", "--token", token, "--base-url", base_url]
    syncs: list[float] = []
    listings: list[float] = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as directory:
            database = os.path.join(directory, "inventory.db")
            started = time.perf_counter()
            done = subprocess.run(
                [*cli, "inventory", "sync", database],
                env=env,
                check=True,
                capture_output=True,
                text=True,
                timeout=3600,
            )
            syncs.append(time.perf_counter() - started)
            assert f": {files} listed, {files} new" in done.stderr, done.stderr
        with open(os.devnull, "w") as sink:
            started = time.perf_counter()
            subprocess.run(
                [*cli, "ls", "--format", "jsonl", "--limit", "100"],
                env=env,
                check=True,
                stdout=sink,
                timeout=3600,
            )
            listings.append(time.perf_counter() - started)
    sync_s, ls_s = statistics.median(syncs), statistics.median(listings)
    return {"files": files, "sync_s": sync_s, "ls_jsonl_s": ls_s, "ratio": sync_s / ls_s}


def inventory_memory(
    servers: Callable[[int], AbstractContextManager[str]],
    token: str,
    env: dict[str, str],
    small: int,
    large: int,
) -> dict[str, Any]:
    """Peak RSS of a fresh process syncing ``large`` files against one syncing ``small``."""
    peaks: dict[int, int] = {}
    writers: dict[int, int] = {}
    for count in (small, large):
        with servers(count) as base_url, tempfile.TemporaryDirectory() as directory:
            database = os.path.join(directory, "inventory.db")
            _, out = _seconds(
                [sys.executable, "-c", _SYNC, base_url, token, database, str(HERE)], env
            )
            result = json.loads(out)
            assert result["listed"] == count, out
            peaks[count] = int(result["peak_rss_kib"]) * 1024
            writers[count] = int(result["writer_peak_kib"]) * 1024
            assert writers[count] > 0, "the writer process was not seen"
    return {
        "small_files": small,
        "large_files": large,
        "small_peak_bytes": peaks[small],
        "large_peak_bytes": peaks[large],
        "growth_bytes": peaks[large] - peaks[small],
        "small_writer_peak_bytes": writers[small],
        "large_writer_peak_bytes": writers[large],
    }
