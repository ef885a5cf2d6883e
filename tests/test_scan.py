"""``scan_files``: one cursor per purpose, merged newest first, against the emulator."""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web

from qoder_files import (
    AsyncClient,
    AsyncScan,
    AuthenticationError,
    ClientClosedError,
    File,
    InternalServerError,
    PaginationError,
    Purpose,
    RetryPolicy,
)
from qoder_files.testing import Fault, FilesEmulator, RecordedRequest, StoredFile
from qoder_files.testing._store import make_file_id

Handler = Any


class CountingEmulator(FilesEmulator):
    """An emulator that counts list requests in flight and can fail one purpose."""

    def __init__(self) -> None:
        super().__init__()
        self.in_flight = 0
        self.peak = 0
        self.failing_purpose: str | None = None

    def app(self) -> web.Application:
        app = super().app()

        @web.middleware
        async def count(request: web.Request, handler: Handler) -> web.StreamResponse:
            if request.query.get("purpose") == self.failing_purpose is not None:
                body = {"type": "error", "error": {"type": "api_error", "message": "boom"}}
                return web.json_response(body, status=500)
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            try:
                response: web.StreamResponse = await handler(request)
                return response
            finally:
                self.in_flight -= 1

        app.middlewares.insert(0, count)
        return app


@pytest.fixture
async def counting() -> AsyncIterator[tuple[CountingEmulator, AsyncClient]]:
    emulator = CountingEmulator()
    emulator.seed(1000)
    async with (
        emulator.serve() as url,
        AsyncClient(emulator.token, base_url=url, retry=RetryPolicy(backoff_base=0.0)) as client,
    ):
        yield emulator, client


def client_tasks() -> set[asyncio.Task[Any]]:
    """Tasks the SDK started (the in-process server's own tasks are left out)."""
    current = asyncio.current_task()
    return {
        task
        for task in asyncio.all_tasks()
        if task is not current and "RequestHandler" not in task.get_coro().__qualname__  # type: ignore[union-attr]
    }


async def collect_all(scan: AsyncScan) -> list[File]:
    return await scan.collect(unbounded=True)


def scan_requests(emulator: FilesEmulator) -> list[RecordedRequest]:
    """The scan's own requests: without the client's one-time generation probe."""
    return [r for r in emulator.requests if r.query != {"limit": "1"}]


async def consume_into(scan: AsyncScan, seen: list[File]) -> None:
    async for f in scan:
        seen.append(f)


async def wait_until(condition: Any, seconds: float = 5.0) -> None:
    for _ in range(int(seconds / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached in time")


@pytest.mark.parametrize(("limit", "concurrency"), [(100, 5), (100, 1), (7, 2), (33, 3)])
async def test_scan_equals_single_cursor_listing(
    client: AsyncClient, limit: int, concurrency: int
) -> None:
    single = await client.list_files(limit=100).collect(unbounded=True)
    scanned = await collect_all(client.scan_files(limit=limit, concurrency=concurrency))
    assert len(single) == 2500
    assert scanned == single  # whole File values, item for item


async def test_scan_requests_one_cursor_per_purpose(
    client: AsyncClient, emulator: FilesEmulator
) -> None:
    await collect_all(client.scan_files())
    purposes = [r.query.get("purpose") for r in scan_requests(emulator)]
    assert set(purposes) == {p.value for p in Purpose}
    for purpose in Purpose:
        sent = [r.query for r in scan_requests(emulator) if r.query.get("purpose") == purpose]
        assert all(q["limit"] == "100" for q in sent)
        assert len(sent) == -(-len(emulator.ids(purpose.value)) // 100)
        assert "after" not in sent[0]


def add_tied(
    emulator: FilesEmulator, when: datetime, purposes: list[str], rng: random.Random
) -> None:
    for n, purpose in enumerate(purposes):
        emulator.add(
            StoredFile(
                file_id=make_file_id(when, rng),
                filename=f"tie-{n}.txt",
                mime_type="text/plain",
                purpose=purpose,
                content=b"x" * (n + 1),
                created_at=when,
                updated_at=when,
            )
        )


@pytest.mark.parametrize("limit", [1, 3, 100])
async def test_equal_timestamps_are_broken_by_file_id(limit: int) -> None:
    emulator = FilesEmulator()
    emulator.seed(150)
    rng = random.Random(7)
    values = [p.value for p in Purpose]
    base = datetime(2027, 1, 1, tzinfo=UTC)
    for step in range(12):
        # groups of files created in the same second, spread over every purpose
        purposes = [values[(step + k) % 5] for k in range(3 + step % 6)]
        add_tied(emulator, base + timedelta(seconds=step * 2), purposes, rng)
    async with (
        emulator.serve() as url,
        AsyncClient(emulator.token, base_url=url) as client,
    ):
        single = await client.list_files(limit=100).collect(unbounded=True)
        scanned = await collect_all(client.scan_files(limit=limit))
    assert scanned == single
    tied = [
        (a, b)
        for a, b in itertools.pairwise(scanned)
        if a.created_at == b.created_at and a.purpose != b.purpose
    ]
    assert len(tied) > 20
    assert all(a.file_id > b.file_id for a, b in tied)


@pytest.mark.parametrize("max_items", [1, 5, 99, 100, 101, 777, 2500, 9999])
async def test_max_items_is_exact(
    client: AsyncClient, emulator: FilesEmulator, max_items: int
) -> None:
    scan = client.scan_files(max_items=max_items)
    got = await scan.collect()
    assert [f.file_id for f in got] == emulator.ids()[:max_items]
    assert all(int(r.query["limit"]) <= max_items for r in emulator.requests)


async def test_max_items_batches_and_iteration_agree(client: AsyncClient) -> None:
    batches = [batch async for batch in client.scan_files(max_items=333, limit=50).batches()]
    items = [f async for f in client.scan_files(max_items=333, limit=50)]
    assert sum(map(len, batches)) == 333
    assert [f for batch in batches for f in batch] == items


async def test_purposes_subset(client: AsyncClient, emulator: FilesEmulator) -> None:
    wanted = ["tool_output", Purpose.SKILL_OUTPUT]
    got = await collect_all(client.scan_files(purposes=wanted, concurrency=2))
    expected = [
        i for i in emulator.ids() if emulator.files[i].purpose in {"tool_output", "skill_output"}
    ]
    assert [f.file_id for f in got] == expected
    assert {r.query["purpose"] for r in scan_requests(emulator)} == {"tool_output", "skill_output"}


async def test_single_purpose_and_empty_purposes(
    client: AsyncClient, emulator: FilesEmulator
) -> None:
    got = await collect_all(client.scan_files(purposes=["agent_output"], limit=17))
    assert [f.file_id for f in got] == emulator.ids("agent_output")
    empty = FilesEmulator()
    async with empty.serve() as url, AsyncClient(empty.token, base_url=url) as other:
        assert await collect_all(other.scan_files()) == []
        assert len(scan_requests(empty)) == 5


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"purposes": "tool_output"}, "purposes"),
        ({"purposes": 5}, "purposes"),
        ({"purposes": []}, "purposes"),
        ({"purposes": ["everything"]}, "purposes"),
        ({"purposes": [None]}, "purposes"),
        ({"purposes": ["tool_output", Purpose.TOOL_OUTPUT]}, "purposes"),
        ({"concurrency": 0}, "concurrency"),
        ({"concurrency": -2}, "concurrency"),
        ({"concurrency": True}, "concurrency"),
        ({"concurrency": 2.5}, "concurrency"),
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"limit": None}, "limit"),
        ({"limit": "10"}, "limit"),
        ({"max_items": 0}, "max_items"),
        ({"max_items": 1.5}, "max_items"),
        ({"timeout": 0}, "timeout"),
        ({"max_retries": -1}, "max_retries"),
    ],
)
async def test_bad_arguments_send_nothing(
    client: AsyncClient, emulator: FilesEmulator, kwargs: dict[str, Any], name: str
) -> None:
    with pytest.raises(ValueError, match=name):
        client.scan_files(**kwargs)
    assert emulator.requests == []


async def test_collect_needs_a_bound(client: AsyncClient, emulator: FilesEmulator) -> None:
    scan = client.scan_files()
    with pytest.raises(ValueError, match="max_items"):
        await scan.collect()
    assert emulator.requests == []


async def test_a_scan_runs_once(client: AsyncClient) -> None:
    scan = client.scan_files(max_items=3)
    assert len([f async for f in scan]) == 3
    with pytest.raises(RuntimeError, match="once"):
        scan.batches()
    assert "AsyncScan" in repr(scan)


@pytest.mark.parametrize("concurrency", [1, 2, 3])
async def test_concurrency_limit_is_honoured(
    counting: tuple[CountingEmulator, AsyncClient], concurrency: int
) -> None:
    emulator, client = counting
    emulator.add_fault(Fault.latency(0.02), route="list")
    got = await collect_all(client.scan_files(limit=50, concurrency=concurrency))
    assert [f.file_id for f in got] == emulator.ids()
    assert emulator.peak == concurrency


async def test_default_concurrency_runs_every_purpose_at_once(
    counting: tuple[CountingEmulator, AsyncClient],
) -> None:
    emulator, client = counting
    emulator.add_fault(Fault.latency(0.02), route="list")
    await collect_all(client.scan_files(limit=50))
    assert emulator.peak == 5


async def test_latency_bound_scan_beats_one_cursor(
    counting: tuple[CountingEmulator, AsyncClient],
) -> None:
    emulator, client = counting
    emulator.add_fault(Fault.latency(0.03), route="list")
    started = time.perf_counter()
    single = await client.list_files(limit=50).collect(unbounded=True)
    one = time.perf_counter() - started
    started = time.perf_counter()
    scanned = await collect_all(client.scan_files(limit=50))
    many = time.perf_counter() - started
    assert scanned == single
    assert many < 0.6 * one  # about 0.25 on a quiet machine


async def test_a_failing_purpose_raises_its_typed_error(
    counting: tuple[CountingEmulator, AsyncClient],
) -> None:
    emulator, client = counting
    emulator.failing_purpose = "session_resource"
    emulator.add_fault(Fault.latency(0.01), route="list")
    seen: list[File] = []
    with pytest.raises(InternalServerError, match="boom"):
        await consume_into(client.scan_files(limit=20), seen)
    assert all(f.purpose != "session_resource" for f in seen)
    await asyncio.sleep(0)
    assert client_tasks() == set()


async def test_a_failure_after_the_first_page_stops_the_scan(
    client: AsyncClient, emulator: FilesEmulator
) -> None:
    emulator.add_fault(Fault.error(503), route="list", start=12)
    seen: list[File] = []
    with pytest.raises(InternalServerError) as info:
        await consume_into(client.scan_files(limit=20, max_retries=0), seen)
    assert info.value.status_code == 503
    assert [f.file_id for f in seen] == emulator.ids()[: len(seen)]
    assert client_tasks() == set()


async def test_pagination_and_auth_errors_are_typed(
    client: AsyncClient, emulator: FilesEmulator, base_url: str
) -> None:
    emulator.add_fault(Fault.null_cursor(), route="list", start=3, times=1)
    with pytest.raises(PaginationError):
        await collect_all(client.scan_files(limit=100))
    async with AsyncClient("pt-not-the-token", base_url=base_url) as stranger:
        with pytest.raises(AuthenticationError):
            await collect_all(stranger.scan_files())


async def test_retries_happen_per_request(client: AsyncClient, emulator: FilesEmulator) -> None:
    emulator.add_fault(Fault.error(503), route="list", every=4)
    emulator.add_fault(Fault.reset(), route="list", start=3, every=7)
    got = await collect_all(client.scan_files(limit=60, max_retries=5))
    assert [f.file_id for f in got] == emulator.ids()


async def test_aclose_cancels_requests_in_flight(
    counting: tuple[CountingEmulator, AsyncClient],
) -> None:
    emulator, client = counting
    emulator.add_fault(Fault.latency(1.0), route="list")
    scan = client.scan_files()
    consumer = asyncio.ensure_future(collect_all(scan))
    await wait_until(lambda: emulator.in_flight == 5)
    started = time.perf_counter()
    await scan.aclose()
    assert time.perf_counter() - started < 0.5
    with pytest.raises(ClientClosedError):  # cut off, never complete-looking
        await consumer
    assert client_tasks() == set()
    await scan.aclose()  # idempotent


async def test_client_aclose_stops_a_running_scan(emulator: FilesEmulator, base_url: str) -> None:
    emulator.add_fault(Fault.latency(0.5), route="list")
    client = AsyncClient(emulator.token, base_url=base_url)
    scan = client.scan_files()
    consumer = asyncio.ensure_future(collect_all(scan))
    await wait_until(lambda: len(emulator.requests) >= 5)
    await client.aclose()
    with pytest.raises(ClientClosedError):
        await consumer
    assert client_tasks() == set()


async def test_break_then_close_leaves_nothing_pending(
    client: AsyncClient, emulator: FilesEmulator
) -> None:
    emulator.add_fault(Fault.latency(0.01), route="list")
    async with client.scan_files(limit=10) as scan:
        async for _ in scan:
            break
        assert client_tasks()  # the read-ahead of every purpose is in flight
    assert client_tasks() == set()
    scan = client.scan_files(limit=10)
    batches = scan.batches()
    first = await anext(batches)
    assert first
    await scan.aclose()
    assert client_tasks() == set()
    with pytest.raises(StopAsyncIteration):
        await anext(batches)


async def test_cancelling_the_consumer_cancels_the_scan(
    client: AsyncClient, emulator: FilesEmulator
) -> None:
    emulator.add_fault(Fault.latency(0.3), route="list")
    consumer = asyncio.ensure_future(collect_all(client.scan_files()))
    await wait_until(lambda: len(emulator.requests) >= 5)
    consumer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await consumer
    assert client_tasks() == set()


async def test_g3_shape_scans_as_one_listing() -> None:
    emulator = FilesEmulator(shape="g3")
    emulator.seed(400)
    async with emulator.serve() as url, AsyncClient(emulator.token, base_url=url) as client:
        single = await client.list_files(limit=100).collect(unbounded=True)
        scanned = await collect_all(client.scan_files(limit=30))
    assert scanned == single
    assert not any("purpose" in r.query for r in emulator.requests)


async def test_a_scan_by_purpose_on_a_server_without_purposes_hands_out_nothing() -> None:
    emulator = FilesEmulator(shape="g3")
    emulator.seed(400)
    got: list[File] = []
    async with emulator.serve() as url, AsyncClient(emulator.token, base_url=url) as client:
        scan = client.scan_files(purposes=["tool_output"], limit=30)

        async def consume() -> None:
            async for file in scan:
                got.append(file)

        with pytest.raises(ValueError, match="purposes cannot filter"):
            await consume()
    assert got == []  # never an unfiltered listing passed off as a filtered one


async def test_aclose_inside_the_loop_ends_it(client: AsyncClient) -> None:
    scan = client.scan_files(limit=10)
    seen = 0
    async for _ in scan:
        seen += 1
        await scan.aclose()
    assert seen == 1
    assert client_tasks() == set()


async def test_an_error_in_the_loop_body_closes_the_scan(client: AsyncClient) -> None:
    async def buggy() -> None:
        async with client.scan_files(limit=10) as scan:
            async for _ in scan:
                raise KeyError("the caller's own bug")

    with pytest.raises(KeyError):
        await buggy()
    assert client_tasks() == set()
