"""Content transfers against a storage server that is slow, stalls or cuts off (``slow_storage``).

Pins what the time limits mean for transfers (a number bounds each wait for bytes, never the
whole transfer; API calls keep a total; a deadline bounds everything), what a stream does once
chunks are out (no retry, a typed error), and that memory stays flat whatever the size: those
are measured in a fresh child process, whose peak RSS says what the client held.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from slow_storage import TOKEN, Plan, SlowStorage, content, digest

from qoder_files import (
    APITimeoutError,
    AsyncClient,
    InternalServerError,
    RetryPolicy,
    Timeout,
    TransferInterruptedError,
)

MIB = 1 << 20
TESTS = Path(__file__).parent
ROOT = TESTS.parent
DRIBBLE = Plan(size=MIB, piece=32 * 1024, interval=0.075)  # 1 MiB over 2.3 s, 32 pieces


@pytest.fixture
def storage() -> SlowStorage:
    return SlowStorage(
        {
            "file_dribble": DRIBBLE,
            "file_stall": Plan(size=4 * MIB, stall_after=256 * 1024),
            "file_cut": Plan(size=2 * MIB, cut_after=512 * 1024),
            "file_busy": Plan(size=MIB, fail_first=(503, 503)),
            "file_waits": Plan(size=MIB, fail_first=(503, 503), retry_after=0.4),
            "file_anonymous": Plan(size=100_000, named=False),
            "file_slow_json": Plan(size=10, json_interval=0.01),
            "file_big": Plan(size=8 * MIB),
            "file_empty": Plan(size=0),
        }
    )


@pytest.fixture
async def url(storage: SlowStorage) -> AsyncIterator[str]:
    async with storage.serve() as base_url:
        yield base_url


@pytest.fixture
async def client(url: str) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(TOKEN, base_url=url, retry=RetryPolicy(backoff_base=0.05)) as c:
        yield c


async def drain(stream: AsyncIterator[bytes], into: bytearray) -> None:
    async for chunk in stream:
        into += chunk


# --- time limits that fit transfers ------------------------------------------------------------


async def test_a_slow_but_steady_download_succeeds_within_a_one_second_timeout(
    client: AsyncClient,
) -> None:
    started = time.monotonic()
    data = await client.download_file("file_dribble", timeout=1)
    assert time.monotonic() - started > 2.0
    assert data == content(0, MIB)


async def test_a_slow_but_steady_stream_succeeds_within_a_one_second_timeout(
    client: AsyncClient,
) -> None:
    started = time.monotonic()
    received = bytearray()
    async with client.stream_file("file_dribble", timeout=1) as stream:
        async for chunk in stream:
            received += chunk
    assert time.monotonic() - started > 2.0
    assert bytes(received) == content(0, MIB)


async def test_a_stall_fails_within_seconds_and_leaves_no_file(
    client: AsyncClient, storage: SlowStorage, tmp_path: Path
) -> None:
    target = tmp_path / "out.bin"
    started = time.monotonic()
    with pytest.raises(APITimeoutError, match="no byte from the server for 1 s"):
        await client.download_file("file_stall", target, timeout=1, max_retries=1)
    assert time.monotonic() - started < 5.0
    assert os.listdir(tmp_path) == []
    assert storage.fetches["file_stall"] == 2  # a stall is retried like any cut-off


async def test_an_explicit_total_still_bounds_the_whole_transfer(client: AsyncClient) -> None:
    with pytest.raises(APITimeoutError, match="no complete response within 1 s"):
        await client.download_file("file_dribble", timeout=Timeout(total=1), max_retries=0)


async def test_api_calls_keep_a_total_per_attempt(client: AsyncClient) -> None:
    # The metadata JSON (about 230 bytes) arrives a byte every 10 ms: steady, but over 2 s.
    started = time.monotonic()
    with pytest.raises(APITimeoutError, match=r"no complete response within 0\.5 s"):
        await client.get_file("file_slow_json", timeout=0.5, max_retries=0)
    assert time.monotonic() - started < 1.5


async def test_a_deadline_bounds_an_api_call(client: AsyncClient) -> None:
    started = time.monotonic()
    with pytest.raises(APITimeoutError, match=r"GET files/file_slow_json: .*deadline of 0\.5 s"):
        await client.get_file("file_slow_json", timeout=10, deadline=0.5)
    assert time.monotonic() - started < 1.0


async def test_a_deadline_bounds_a_steady_transfer(client: AsyncClient) -> None:
    started = time.monotonic()
    with pytest.raises(APITimeoutError, match=r"deadline of 0\.8 s"):
        await client.download_file("file_dribble", timeout=1, deadline=0.8)
    assert time.monotonic() - started < 1.5


async def test_a_deadline_bounds_retries_and_their_waits(
    client: AsyncClient, storage: SlowStorage
) -> None:
    # Storage answers 503 twice, asking for 0.4 s each time. A 0.6 s deadline leaves room for
    # one wait, not two: the real failure is raised at once rather than sleeping past it.
    started = time.monotonic()
    with pytest.raises(InternalServerError):
        await client.download_file("file_waits", max_retries=5, deadline=0.6)
    assert 0.4 <= time.monotonic() - started < 0.6
    assert storage.fetches["file_waits"] == 2
    storage.fetches.clear()
    assert await client.download_file("file_waits", max_retries=5, deadline=5) == content(0, MIB)


async def test_a_deadline_bounds_a_stream_after_its_first_chunk(client: AsyncClient) -> None:
    async with client.stream_file("file_dribble", timeout=1, deadline=0.8) as stream:
        with pytest.raises(TransferInterruptedError, match=r"deadline of 0\.8 s") as info:
            async for _ in stream:
                pass
    assert info.value.timed_out
    assert 0 < info.value.transferred < MIB


# --- streams: retries only before the first chunk ----------------------------------------------


async def test_a_stream_is_retried_before_its_first_chunk(
    client: AsyncClient, storage: SlowStorage
) -> None:
    async with client.stream_file("file_busy") as stream:
        assert (stream.size, stream.filename) == (MIB, "file_busy.bin")
        assert b"".join([chunk async for chunk in stream]) == content(0, MIB)
    assert storage.fetches["file_busy"] == 3


async def test_a_stream_cut_off_after_chunks_were_handed_out_is_not_retried(
    client: AsyncClient, storage: SlowStorage
) -> None:
    received = bytearray()
    async with client.stream_file("file_cut") as stream:
        with pytest.raises(TransferInterruptedError, match="not retried") as info:
            await drain(stream, received)
    assert not info.value.timed_out
    assert info.value.transferred == len(received) == 512 * 1024
    assert bytes(received) == content(0, len(received))
    assert storage.fetches["file_cut"] == 1


async def test_a_download_cut_off_is_retried_from_the_start(
    client: AsyncClient, storage: SlowStorage
) -> None:
    assert await client.download_file("file_cut") == content(0, 2 * MIB)
    assert storage.fetches["file_cut"] == 2


async def test_a_stalled_stream_raises_a_timed_out_interruption(client: AsyncClient) -> None:
    started = time.monotonic()
    async with client.stream_file("file_stall", timeout=0.5) as stream:
        with pytest.raises(TransferInterruptedError) as info:
            async for _ in stream:
                pass
    assert time.monotonic() - started < 3.0
    assert info.value.timed_out
    assert info.value.transferred == 256 * 1024


async def test_leaving_a_stream_early_releases_its_connection_at_once(
    client: AsyncClient, storage: SlowStorage
) -> None:
    async with client.stream_file("file_dribble") as stream:
        async for _ in stream:
            break
    for _ in range(100):  # the server notices the closed connection on its next write
        if storage.disconnected.get("file_dribble"):
            break
        await asyncio.sleep(0.02)
    assert storage.disconnected == {"file_dribble": 1}
    assert "file_dribble" not in storage.finished


async def test_storage_headers_come_first_and_metadata_fills_the_gaps(
    client: AsyncClient, storage: SlowStorage
) -> None:
    async with client.stream_file("file_big") as stream:
        assert (stream.size, stream.content_type, stream.filename) == (
            8 * MIB,
            "application/octet-stream",
            "file_big.bin",
        )
    assert not any(path.endswith("/files/file_big") for path in storage.api_requests)
    async with client.stream_file("file_anonymous") as stream:
        assert stream.filename == "file_anonymous.bin"
    assert storage.api_requests[-1].endswith("/files/file_anonymous")


async def test_an_empty_file_streams_nothing(client: AsyncClient) -> None:
    async with client.stream_file("file_empty") as stream:
        assert stream.size == 0
        assert [chunk async for chunk in stream] == []


# --- memory, measured in a fresh process ------------------------------------------------------


@pytest.fixture
def served() -> Iterator[tuple[SlowStorage, str]]:
    storage = SlowStorage({"file_40": Plan(size=40 * MIB)})
    with storage.serve_in_thread() as base_url:
        yield storage, base_url


def run_child(code: str) -> dict[str, Any]:
    """Run ``code`` in a fresh interpreter under ``-W error``; return the JSON it prints."""
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        cwd=TESTS,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


PROLOGUE = """
import asyncio, hashlib, json, resource
from qoder_files import AsyncClient, Client, TransferInterruptedError

def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

BEFORE = peak_mb()  # everything imported, nothing sent
"""


@pytest.mark.parametrize("mode", ["async", "sync"])
def test_streaming_40_mib_grows_peak_memory_by_less_than_20_mb(
    served: tuple[SlowStorage, str], mode: str
) -> None:
    _, base_url = served
    found = run_child(
        PROLOGUE
        + f"""
async def stream_async():
    hasher, size = hashlib.sha256(), 0
    async with AsyncClient({TOKEN!r}, base_url={base_url!r}) as client:
        async with client.stream_file("file_40") as stream:
            async for chunk in stream:
                hasher.update(chunk)
                size += len(chunk)
        return size, hasher.hexdigest()

def stream_sync():
    hasher, size = hashlib.sha256(), 0
    with Client({TOKEN!r}, base_url={base_url!r}) as client:
        with client.stream_file("file_40") as stream:
            for chunk in stream:
                hasher.update(chunk)
                size += len(chunk)
        return size, hasher.hexdigest()

size, sha = asyncio.run(stream_async()) if {mode!r} == "async" else stream_sync()
print(json.dumps({{"grew_mb": peak_mb() - BEFORE, "size": size, "sha": sha}}))
"""
    )
    assert found["size"] == 40 * MIB
    assert found["sha"] == digest(40 * MIB)
    assert found["grew_mb"] < 20, found


def test_an_upload_from_an_async_generator_of_30_mib_is_never_held_whole(
    served: tuple[SlowStorage, str],
) -> None:
    storage, base_url = served
    found = run_child(
        PROLOGUE
        + f"""
from slow_storage import content

async def chunks(total):
    for offset in range(0, total, 65536):
        yield content(offset, min(65536, total - offset))

async def main():
    async with AsyncClient({TOKEN!r}, base_url={base_url!r}) as client:
        file = await client.upload_file(chunks(30 << 20), filename="big.bin")
        return file.size_bytes, file.metadata["sha256"]

size, sha = asyncio.run(main())
print(json.dumps({{"grew_mb": peak_mb() - BEFORE, "size": size, "sha": sha}}))
"""
    )
    assert found["size"] == 30 * MIB
    assert found["sha"] == digest(30 * MIB)
    assert found["grew_mb"] < 20, found
    upload = storage.uploads[-1]
    assert (upload["filename"], upload["chunked"]) == ("big.bin", True)


def test_cancelling_a_stream_midway_leaves_the_client_usable_under_warnings_as_errors(
    served: tuple[SlowStorage, str],
) -> None:
    _, base_url = served
    found = run_child(
        PROLOGUE
        + f"""
import gc

async def read_some(client, started):
    async with client.stream_file("file_40") as stream:
        async for _ in stream:
            started.set()
            await asyncio.sleep(0.01)

async def main():
    async with AsyncClient({TOKEN!r}, base_url={base_url!r}) as client:
        started = asyncio.Event()
        task = asyncio.create_task(read_some(client, started))
        await started.wait()
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        left = len(asyncio.all_tasks()) - 1
        file = await client.get_file("file_40")
        size = 0
        async with client.stream_file("file_40") as stream:
            async for chunk in stream:
                size += len(chunk)
        return left, file.size_bytes, size

left, listed, size = asyncio.run(main())
gc.collect()
print(json.dumps({{"left": left, "listed": listed, "size": size}}))
"""
    )
    assert found == {"left": 0, "listed": 40 * MIB, "size": 40 * MIB}
