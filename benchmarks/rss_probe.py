"""List files in a fresh process and report its peak RSS (the memory bar's probe).

The benchmark runs this once per listing size, each time in a new interpreter, and compares
the peaks: whatever the imports and the event loop cost is the same in both, so the difference
is what listing more files costs. Items are counted and dropped, as a streaming job would.

    python benchmarks/rss_probe.py BASE_URL TOKEN COUNT [--mode list|scan|sync]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys


async def _async_count(base_url: str, token: str, count: int, mode: str) -> int:
    from qoder_files import AsyncClient

    seen = 0
    async with AsyncClient(token, base_url=base_url) as client:
        if mode == "scan":
            listing = client.scan_files(limit=100, max_items=count)
        else:
            listing = client.list_files(limit=100, max_items=count)  # type: ignore[assignment]
        async for _ in listing:
            seen += 1
    return seen


def _sync_count(base_url: str, token: str, count: int) -> int:
    from qoder_files import Client

    seen = 0
    with Client(token, base_url=base_url) as client:
        for _ in client.list_files(limit=100, max_items=count):
            seen += 1
    return seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base_url")
    parser.add_argument("token")
    parser.add_argument("count", type=int)
    parser.add_argument("--mode", choices=("list", "scan", "sync"), default="list")
    args = parser.parse_args()
    if args.mode == "sync":
        seen = _sync_count(args.base_url, args.token, args.count)
    else:
        seen = asyncio.run(_async_count(args.base_url, args.token, args.count, args.mode))
    print(json.dumps({"mode": args.mode, "count": seen, "peak_rss_kib": peak_rss_kib()}))


def peak_rss_kib(pid: int | str = "self") -> int:
    """The peak resident set size of process ``pid`` (this one by default), in KiB; 0 for
    another process that is gone.

    On Linux ``VmHWM`` is read, because ``ru_maxrss`` keeps the high-water mark of the process
    that forked this one across ``exec`` and would report the benchmark runner's size instead.
    """
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    if pid != "self":
        return 0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak  # bytes on macOS


if __name__ == "__main__":
    main()
