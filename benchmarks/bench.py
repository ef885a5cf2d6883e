"""The benchmark suite: the bars of the design, measured side by side in one run.

Three scenarios, each against ``pageserver.py`` running in a separate process with every page
pre-rendered (so the server costs the same for every contender and is never the bottleneck):

- throughput: every file of a loopback listing (100,000 by default, ``limit=100``), listed by
  a hand-written aiohttp + json loop yielding plain dicts (the baseline), the same loop with
  orjson, ``AsyncClient.list_files``, the sync facade ``Client.list_files``,
  ``AsyncClient.scan_files``, and an httpx + pydantic pager of the kind the big vendor SDKs
  ship. Wall and CPU time of this process (the client side only), median of several
  repetitions run round-robin so that a noisy neighbour hits every contender alike;
- latency-bound: 10,000 files, the server answering each page after 20 ms: one cursor against
  ``scan_files`` (five cursors);
- memory: peak RSS of a fresh process listing 1,000,000 files against one listing 10,000;
- streaming: one 100 MiB file's content on loopback (``blobserver.py``), read in 64 KiB chunks
  by a hand-written aiohttp loop (the baseline), ``AsyncClient.stream_file`` and the blocking
  ``Client.stream_file``.
- command line (``cli_bench.py``): ``qoder-files ls --format jsonl`` of 100,000 files against a
  hand-written aiohttp + orjson script, ``qoder-files --help`` against ``python -c pass``, and
  the delay from the first page to the first row of a 30,000-row table on a terminal.

It prints a table and PASS/FAIL per bar, writes the figures as JSON to ``benchmarks/results/``,
and exits 0 either way: shared machines are noisy, so the numbers are for people to read.

    python benchmarks/bench.py            # the full run (a few minutes)
    python benchmarks/bench.py --quick    # smaller sizes, fewer repetitions
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(ROOT))

import bulk  # noqa: E402
import cli_bench  # noqa: E402
import contenders  # noqa: E402
import pageserver  # noqa: E402

TOKEN = "pt-emulator"
MB = 1_000_000


def child_env() -> dict[str, str]:
    """The environment for the server and probe processes: this checkout first on the path."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


@contextlib.contextmanager
def blob_server(mb: int) -> Iterator[str]:
    """Run ``blobserver.py`` in its own process; yield its base URL once it is serving."""
    command = [sys.executable, str(HERE / "blobserver.py"), "--mb", str(mb), "--token", TOKEN]
    process = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=child_env()
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.startswith("READY "):
            raise RuntimeError(f"the blob server did not start (exit code {process.poll()})")
        yield line.split()[1]
    finally:
        assert process.stdin is not None
        process.stdin.close()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def page_server(files: int, *, latency: float = 0.0, purposes: bool = True) -> Iterator[str]:
    """Run ``pageserver.py`` in its own process; yield its base URL once it is serving."""
    with stamped_page_server(files, latency=latency, purposes=purposes, stamp=False) as (url, _):
        yield url


@contextlib.contextmanager
def stamped_page_server(
    files: int, *, latency: float = 0.0, purposes: bool = True, stamp: bool = True
) -> Iterator[tuple[str, Callable[[], float]]]:
    """``page_server``, also yielding a function that waits for the next walk's first page
    to leave the server and returns when it did (``time.time()``)."""
    command = [sys.executable, str(HERE / "pageserver.py"), "--files", str(files)]
    command += ["--latency", str(latency), "--token", TOKEN]
    if not purposes:
        command.append("--no-purposes")
    if stamp:
        command.append("--stamp")
    process = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=child_env()
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.startswith("READY "):
            raise RuntimeError(f"the page server did not start (exit code {process.poll()})")
        stdout = process.stdout

        def next_stamp() -> float:
            return float(stdout.readline().split()[1])

        yield line.split()[1], next_stamp
    finally:
        assert process.stdin is not None
        process.stdin.close()  # the server stops when its stdin closes
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class Contender:
    key: str
    label: str
    run: Callable[[str, str], contenders.Tally]
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    @property
    def wall_median(self) -> float:
        return statistics.median(self.wall)

    @property
    def cpu_median(self) -> float:
        return statistics.median(self.cpu)

    def as_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "wall_s": self.wall,
            "cpu_s": self.cpu,
            "wall_median_s": self.wall_median,
            "cpu_median_s": self.cpu_median,
        }


def measure(contender: Contender, base_url: str, expected: tuple[Any, ...] | None) -> Any:
    """Run one contender once, record wall and CPU time, and check what it listed."""
    gc.collect()
    cpu = time.process_time()
    wall = time.perf_counter()
    tally = contender.run(base_url, TOKEN)
    contender.wall.append(time.perf_counter() - wall)
    contender.cpu.append(time.process_time() - cpu)
    if expected is not None and tally.key() != expected:
        raise AssertionError(f"{contender.label} listed {tally.key()}, expected {expected}")
    return tally.key()


def race(group: list[Contender], base_url: str, repeat: int, files: int) -> None:
    """One untimed warm-up each, then ``repeat`` timed rounds in a rotating order."""
    expected: tuple[Any, ...] | None = None
    for contender in group:
        key = measure(contender, base_url, expected)
        expected = expected or key
        contender.wall.clear()
        contender.cpu.clear()
    assert expected is not None
    assert expected[0] == files, expected
    for round_number in range(repeat):
        shift = round_number % len(group)
        for contender in group[shift:] + group[:shift]:
            measure(contender, base_url, expected)
        print(f"  round {round_number + 1}/{repeat} done", file=sys.stderr)


def throughput_contenders() -> list[Contender]:
    group = [
        Contender("loop_json", "aiohttp + json loop, dicts (baseline)", contenders.hand_loop_json),
        Contender("loop_orjson", "aiohttp + orjson loop, dicts", contenders.hand_loop_orjson),
        Contender("list_files", "AsyncClient.list_files", contenders.async_list_files),
        Contender("sync_list_files", "Client.list_files (sync)", contenders.sync_list_files),
        Contender("scan_files", "AsyncClient.scan_files", contenders.async_scan_files),
        Contender("httpx_pydantic", "httpx + pydantic pager (peer)", contenders.httpx_pydantic),
    ]
    if contenders.sync_client_class() is None:
        print("note: qoder_files.Client is not available; the sync row is skipped")
        group = [c for c in group if c.key != "sync_list_files"]
    return group


def run_throughput(files: int, repeat: int) -> dict[str, Contender]:
    group = throughput_contenders()
    print(f"throughput: {files:,} files, limit 100, {repeat} rounds", file=sys.stderr)
    with page_server(files) as base_url:
        race(group, base_url, repeat, files)
    return {c.key: c for c in group}


def run_latency(files: int, latency: float, repeat: int) -> dict[str, Contender]:
    group = [
        Contender("list_files", "one cursor: AsyncClient.list_files", contenders.async_list_files),
        Contender("scan_files", "AsyncClient.scan_files (5 cursors)", contenders.async_scan_files),
    ]
    print(f"latency: {files:,} files, {latency * 1000:g} ms per page", file=sys.stderr)
    with page_server(files, latency=latency) as base_url:
        race(group, base_url, repeat, files)
    return {c.key: c for c in group}


def run_streaming(mb: int, repeat: int) -> dict[str, Contender]:
    group = [
        Contender("hand_stream", "aiohttp chunk loop (baseline)", contenders.hand_stream),
        Contender("stream_file", "AsyncClient.stream_file", contenders.async_stream_file),
        Contender("sync_stream_file", "Client.stream_file (sync)", contenders.sync_stream_file),
    ]
    if contenders.sync_client_class() is None:
        group = [c for c in group if c.key != "sync_stream_file"]
    print(f"streaming: {mb} MiB on loopback, 64 KiB chunks, {repeat} rounds", file=sys.stderr)
    with blob_server(mb) as base_url:
        race(group, base_url, repeat, mb << 20)
    return {c.key: c for c in group}


def probe(base_url: str, count: int, mode: str) -> int:
    """Peak RSS in bytes of a fresh process that lists ``count`` files."""
    command = [sys.executable, str(HERE / "rss_probe.py"), base_url, TOKEN, str(count)]
    output = subprocess.run(
        [*command, "--mode", mode],
        capture_output=True,
        text=True,
        check=True,
        env=child_env(),
        timeout=1800,
    ).stdout
    result = json.loads(output)
    if result["count"] != count:
        raise AssertionError(f"the {mode} probe listed {result['count']} of {count} files")
    return int(result["peak_rss_kib"]) * 1024


def run_memory(small: int, large: int, repeat: int) -> dict[str, dict[str, Any]]:
    modes = ["list", "scan"]
    if contenders.sync_client_class() is not None:
        modes.append("sync")
    print(f"memory: {small:,} vs {large:,} files, modes {modes}", file=sys.stderr)
    found: dict[str, dict[str, Any]] = {}
    with page_server(large) as base_url:
        for mode in modes:
            peaks: dict[int, list[int]] = {small: [], large: []}
            for _ in range(repeat):
                for count in (small, large):
                    peaks[count].append(probe(base_url, count, mode))
            small_peak = statistics.median(peaks[small])
            large_peak = statistics.median(peaks[large])
            found[mode] = {
                "small_files": small,
                "large_files": large,
                "small_peak_bytes": peaks[small],
                "large_peak_bytes": peaks[large],
                "growth_bytes": large_peak - small_peak,
                "small_median_bytes": small_peak,
                "large_median_bytes": large_peak,
            }
    return found


def run_cli(files: int, repeat: int, startup_runs: int, table_files: int) -> dict[str, Any]:
    print(f"command line: ls of {files:,} files, {repeat} rounds", file=sys.stderr)
    with page_server(files, purposes=False) as base_url:
        listing = cli_bench.run_listing(base_url, TOKEN, files, repeat, child_env())
    print(f"command line: --help, {startup_runs} runs", file=sys.stderr)
    startup = cli_bench.run_startup(child_env(), startup_runs)
    print(f"command line: first row of a {table_files:,}-row table", file=sys.stderr)
    delays = []
    with stamped_page_server(table_files, purposes=False) as (base_url, next_stamp):
        for _ in range(3):
            delay, rows = cli_bench.first_row_delay(base_url, TOKEN, next_stamp, child_env())
            if rows != table_files:
                raise AssertionError(f"the table showed {rows} of {table_files} rows")
            delays.append(delay)
    return {
        "files": files,
        "listing": listing,
        "startup": startup,
        "table_files": table_files,
        "first_row_s": delays,
        "first_row_median_s": statistics.median(delays),
    }


@dataclass
class Bar:
    name: str
    limit: str
    value: float | None
    passed: bool | None
    shown: str

    def line(self) -> str:
        verdict = {True: "PASS", False: "FAIL", None: "SKIP"}[self.passed]
        return f"  {verdict}  {self.name:<52} {self.shown:>10}   (bar: {self.limit})"


def ratio_bar(name: str, limit: float, value: float | None, *, at_least: bool = False) -> Bar:
    if value is None:
        return Bar(name, f"{'>=' if at_least else '<='} {limit}x", None, None, "n/a")
    passed = value >= limit if at_least else value <= limit
    return Bar(name, f"{'>=' if at_least else '<='} {limit}x", value, passed, f"{value:.2f}x")


def environment() -> dict[str, Any]:
    versions: dict[str, str | None] = {}
    for name in ("qoder-files", "aiohttp", "attrs", "cattrs", "orjson", "httpx", "pydantic"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "versions": versions,
    }


def run_bulk(quick: bool, repeat: int) -> dict[str, Any]:
    inventory_files = 20_000 if quick else 100_000
    large = 200_000 if quick else 1_000_000
    print("bulk: mirror of 200 files at 20 ms per download", file=sys.stderr)
    mirror = bulk.mirror_ratio(max(1, repeat // 2))
    print(f"bulk: inventory sync of {inventory_files:,} files", file=sys.stderr)
    # Twice the rounds: three processes share the cores here, so single runs spread widely.
    with page_server(inventory_files, purposes=False) as base_url:
        inventory = bulk.inventory_ratio(base_url, TOKEN, child_env(), 2 * repeat, inventory_files)
    print(f"bulk: inventory memory, 10,000 vs {large:,} files", file=sys.stderr)

    def servers(count: int) -> contextlib.AbstractContextManager[str]:
        return page_server(count, purposes=False)

    memory = bulk.inventory_memory(servers, TOKEN, child_env(), 10_000, large)
    return {"mirror": mirror, "inventory": inventory, "inventory_memory": memory}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, few repetitions")
    parser.add_argument("--files", type=int, help="files in the throughput run (100,000)")
    parser.add_argument("--repeat", type=int, help="timed rounds per scenario (7)")
    parser.add_argument("--latency", type=float, default=0.02, help="seconds per page (0.02)")
    parser.add_argument("--latency-files", type=int, default=10_000)
    parser.add_argument("--memory-files", type=int, help="the large listing (1,000,000)")
    parser.add_argument("--memory-base", type=int, default=10_000, help="the small listing")
    parser.add_argument("--memory-repeat", type=int, help="probes per size and mode (3)")
    parser.add_argument("--stream-mb", type=int, default=100, help="MiB streamed (100)")
    parser.add_argument("--cli-files", type=int, default=100_000, help="files for the CLI listing")
    parser.add_argument("--table-files", type=int, default=30_000, help="rows of the CLI table")
    parser.add_argument(
        "--skip",
        action="append",
        default=[],
        choices=("latency", "memory", "streaming", "cli", "bulk"),
    )
    parser.add_argument("--output", type=Path, default=HERE / "results")
    args = parser.parse_args()
    files = args.files or (20_000 if args.quick else 100_000)
    repeat = args.repeat or (3 if args.quick else 7)
    memory_files = args.memory_files or (200_000 if args.quick else 1_000_000)
    memory_repeat = args.memory_repeat or (1 if args.quick else 3)

    # The processes timed here import this checkout. Give it bytecode, as installing a wheel
    # does: where the environment says not to write bytecode (PYTHONDONTWRITEBYTECODE), every
    # start of the command line would otherwise compile the package again.
    compileall.compile_dir(str(ROOT / "qoder_files"), quiet=1)

    print("checking the page server against the emulator...", file=sys.stderr)
    pageserver.check_against_emulator()

    throughput = run_throughput(files, repeat)
    latency = None
    if "latency" not in args.skip:
        latency = run_latency(args.latency_files, args.latency, max(3, repeat - 2))
    memory = None
    if "memory" not in args.skip:
        memory = run_memory(args.memory_base, memory_files, memory_repeat)
    streaming = None
    if "streaming" not in args.skip:
        streaming = run_streaming(args.stream_mb, repeat)
    cli = None
    if "cli" not in args.skip:
        cli = run_cli(args.cli_files, repeat, 10 if args.quick else 30, args.table_files)
    bulk_jobs = None
    if "bulk" not in args.skip:
        bulk_jobs = run_bulk(args.quick, repeat)

    baseline = throughput["loop_json"]
    print()
    print(f"Throughput: {files:,} files on loopback, limit 100, median of {repeat} rounds")
    print(f"  {'contender':<40} {'wall s':>8} {'cpu s':>8} {'wall/loop':>10} {'cpu/loop':>9}")
    for contender in throughput.values():
        print(
            f"  {contender.label:<40} {contender.wall_median:8.3f} {contender.cpu_median:8.3f}"
            f" {contender.wall_median / baseline.wall_median:9.2f}x"
            f" {contender.cpu_median / baseline.cpu_median:8.2f}x"
        )
    if latency is not None:
        single, scan = latency["list_files"], latency["scan_files"]
        print()
        print(
            f"Latency-bound: {args.latency_files:,} files, {args.latency * 1000:g} ms per page, "
            f"limit 100, median of {len(single.wall)} rounds"
        )
        for contender in (single, scan):
            print(
                f"  {contender.label:<40} {contender.wall_median:8.3f} s"
                f"   {contender.wall_median / single.wall_median:.2f}x"
            )
    if memory is not None:
        print()
        print("Memory: peak RSS of a fresh process, median per size")
        for mode, found in memory.items():
            small_mb = found["small_median_bytes"] / MB
            large_mb = found["large_median_bytes"] / MB
            print(
                f"  {mode:<5} {found['small_files']:>9,} files {small_mb:7.1f} MB"
                f"   {found['large_files']:>9,} files {large_mb:7.1f} MB"
                f"   growth {found['growth_bytes'] / MB:6.2f} MB"
            )

    if streaming is not None:
        loop = streaming["hand_stream"]
        print()
        print(
            f"Streaming: {args.stream_mb} MiB on loopback, 64 KiB chunks, "
            f"median of {len(loop.wall)} rounds"
        )
        for contender in streaming.values():
            rate = args.stream_mb * (1 << 20) / MB / contender.wall_median
            print(
                f"  {contender.label:<40} {contender.wall_median:8.3f} s {rate:8.0f} MB/s"
                f"   {contender.wall_median / loop.wall_median:.2f}x"
            )
    if cli is not None:
        script = cli["listing"]["script"]["wall_median_s"]
        command = cli["listing"]["cli"]["wall_median_s"]
        startup = cli["startup"]
        print()
        print(f"Command line: {cli['files']:,} files as JSON lines, median of {repeat} rounds")
        print(f"  {'hand-written aiohttp + orjson script':<40} {script:8.3f} s")
        print(f"  {'qoder-files ls --format jsonl':<40} {command:8.3f} s   {command / script:.2f}x")
        print(f"  {'python -c pass':<40} {startup['python_s']:8.3f} s")
        help_ratio = startup["help_s"] / startup["python_s"]
        print(f"  {'qoder-files --help':<40} {startup['help_s']:8.3f} s   {help_ratio:.2f}x")
        print(
            f"  {'first row of a ' + format(cli['table_files'], ',') + '-row table':<40}"
            f" {cli['first_row_median_s']:8.3f} s after the first page"
        )

    def wall(group: dict[str, Contender], key: str) -> float | None:
        return group[key].wall_median if key in group else None

    list_wall = wall(throughput, "list_files")
    sync_wall = wall(throughput, "sync_list_files")
    peer_wall = wall(throughput, "httpx_pydantic")
    assert list_wall is not None
    assert peer_wall is not None
    orjson_wall = wall(throughput, "loop_orjson")
    bars = [
        ratio_bar(
            "list_files wall / hand-written json loop", 1.5, list_wall / baseline.wall_median
        ),
        ratio_bar(
            "list_files wall / hand-written orjson loop",
            1.3,
            None if orjson_wall is None else list_wall / orjson_wall,
        ),
        ratio_bar(
            "sync facade wall / async client",
            1.25,
            None if sync_wall is None else sync_wall / list_wall,
        ),
        ratio_bar(
            "scan_files wall / one cursor (latency-bound)",
            0.35,
            None
            if latency is None
            else latency["scan_files"].wall_median / latency["list_files"].wall_median,
        ),
        ratio_bar("httpx + pydantic wall / list_files", 3.0, peer_wall / list_wall, at_least=True),
    ]
    if memory is not None:
        growth = memory["list"]["growth_bytes"]
        bars.append(
            Bar(
                f"memory growth, list_files {memory_files:,} vs {args.memory_base:,}",
                "< 15 MB",
                growth,
                growth < 15 * MB,
                f"{growth / MB:.2f} MB",
            )
        )
    else:
        bars.append(Bar("memory growth", "< 15 MB", None, None, "n/a"))
    bars.append(
        ratio_bar(
            f"stream_file wall / aiohttp chunk loop ({args.stream_mb} MiB)",
            1.3,
            None
            if streaming is None
            else streaming["stream_file"].wall_median / streaming["hand_stream"].wall_median,
        )
    )
    if cli is not None:
        listing = cli["listing"]
        first_row = cli["first_row_median_s"]
        bars += [
            ratio_bar(
                "qoder-files ls jsonl wall / hand-written script",
                1.5,
                listing["cli"]["wall_median_s"] / listing["script"]["wall_median_s"],
            ),
            ratio_bar(
                "qoder-files --help wall / python -c pass",
                8.0,
                cli["startup"]["help_s"] / cli["startup"]["python_s"],
            ),
            Bar(
                f"{cli['table_files']:,}-row table: first row after first page",
                "<= 1 s",
                first_row,
                first_row <= 1.0,
                f"{first_row:.3f} s",
            ),
        ]
    if bulk_jobs is not None:
        mirror, inventory = bulk_jobs["mirror"], bulk_jobs["inventory"]
        growth = bulk_jobs["inventory_memory"]["growth_bytes"]
        large = bulk_jobs["inventory_memory"]["large_files"]
        print()
        print("Bulk jobs")
        print(
            f"  mirror of {mirror['files']} files, -c 8 vs one by one   "
            f"{mirror['mirror_s']:.3f} s vs {mirror['one_by_one_s']:.3f} s"
        )
        print(
            f"  inventory sync of {inventory['files']:,} files vs ls jsonl   "
            f"{inventory['sync_s']:.3f} s vs {inventory['ls_jsonl_s']:.3f} s"
        )
        bars += [
            ratio_bar("mirror -c 8 wall / one download at a time", 0.2, mirror["ratio"]),
            ratio_bar(
                "inventory sync wall / qoder-files ls --format jsonl", 1.5, inventory["ratio"]
            ),
            Bar(
                f"inventory memory growth, {large:,} vs 10,000 files",
                "< 50 MB",
                growth,
                growth < 50 * MB,
                f"{growth / MB:.2f} MB",
            ),
        ]
    print()
    print("Bars")
    for bar in bars:
        print(bar.line())

    args.output.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    report = {
        "environment": environment(),
        "settings": {
            "files": files,
            "repeat": repeat,
            "latency_s": args.latency,
            "latency_files": args.latency_files,
            "memory_base": args.memory_base,
            "memory_files": memory_files,
            "memory_repeat": memory_repeat,
            "stream_mb": args.stream_mb,
        },
        "throughput": {key: c.as_json() for key, c in throughput.items()},
        "latency": None if latency is None else {k: c.as_json() for k, c in latency.items()},
        "memory": memory,
        "streaming": None if streaming is None else {k: c.as_json() for k, c in streaming.items()},
        "cli": cli,
        "bulk": bulk_jobs,
        "bars": [
            {"name": b.name, "bar": b.limit, "value": b.value, "passed": b.passed} for b in bars
        ],
    }
    path = args.output / f"bench-{stamp}.json"
    text = json.dumps(report, indent=2)
    path.write_text(text + "\n")
    (args.output / "latest.json").write_text(text + "\n")
    print(f"\nresults written to {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
