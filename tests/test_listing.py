"""Listing against the emulator on loopback: the acceptance walk of the listing SDK."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from qoder_files import (
    APIConnectionError,
    APIError,
    AsyncClient,
    AuthenticationError,
    BadRequestError,
    ClientClosedError,
    ConflictError,
    Direction,
    FeatureNotAvailableError,
    GoneError,
    InternalServerError,
    InvalidResponseError,
    NotFoundError,
    PaginationError,
    PermissionDeniedError,
    QoderError,
    RateLimitError,
    RetryPolicy,
)
from qoder_files.testing import Fault, FilesEmulator


async def ids_of(pager: Any) -> list[str]:
    return [f.file_id async for f in pager]


@pytest.mark.parametrize("limit", [1, 7, None, 100])
async def test_full_forward_walk(
    client: AsyncClient, emulator: FilesEmulator, limit: int | None
) -> None:
    got = await ids_of(client.list_files(limit=limit))
    assert got == emulator.ids()
    assert len(got) == len(set(got)) == 2500
    expected_requests = -(-2500 // (limit or 20))
    assert len(emulator.requests) == expected_requests
    sent_limits = {r.query.get("limit") for r in emulator.requests}
    assert sent_limits == ({None} if limit is None else {str(limit)})


@pytest.mark.parametrize("position", [0, 1, 19, 20, 777, 2498, 2499])
@pytest.mark.parametrize("limit", [7, 100])
async def test_backward_walk_from_any_cursor(
    client: AsyncClient, emulator: FilesEmulator, position: int, limit: int
) -> None:
    everything = emulator.ids()
    cursor = everything[position]
    got = await ids_of(client.list_files(before=cursor, limit=limit))
    # exactly the newer files, from the cursor toward the newest
    assert got == everything[:position][::-1]
    assert all("after" not in r.query for r in emulator.requests)


async def test_backward_pages_are_as_sent_and_items_in_travel_order(
    client: AsyncClient, emulator: FilesEmulator
) -> None:
    everything = emulator.ids()
    pager = client.list_files(before=everything[50], limit=20)
    assert pager.direction is Direction.BACKWARD
    pages = [page async for page in pager.pages()]
    assert [len(p.data) for p in pages] == [20, 20, 10]
    first = pages[0]
    assert [f.file_id for f in first.data] == everything[30:50]  # newest first, as sent
    assert first.first_id == everything[30]
    assert pager.cursor == everything[0]


async def test_resume_after_break_has_no_gap_or_duplicate(
    client: AsyncClient, emulator: FilesEmulator
) -> None:
    everything = emulator.ids()
    for stop in (1, 6, 7, 8, 250):
        pager = client.list_files(limit=7)
        initial = pager.cursor
        assert initial is None
        seen: list[str] = []
        async for f in pager:
            seen.append(f.file_id)
            if len(seen) == stop:
                break
        await pager.aclose()
        assert pager.cursor == seen[-1]
        rest = await ids_of(client.list_files(after=pager.cursor, limit=7, max_items=30))
        assert seen + rest == everything[: stop + 30]


async def test_resume_backward(client: AsyncClient, emulator: FilesEmulator) -> None:
    everything = emulator.ids()
    pager = client.list_files(before=everything[100], limit=9)
    seen: list[str] = []
    async for f in pager:
        seen.append(f.file_id)
        if len(seen) == 40:
            break
    await pager.aclose()
    rest = await ids_of(client.list_files(before=pager.cursor, limit=9))
    assert seen + rest == everything[:100][::-1]


async def test_max_items_sends_exactly_the_remainder(
    client: AsyncClient, emulator: FilesEmulator
) -> None:
    got = await client.list_files(max_items=250, limit=100).collect()
    assert [f.file_id for f in got] == emulator.ids()[:250]
    assert [r.query["limit"] for r in emulator.requests] == ["100", "100", "50"]


async def test_purpose_filter(client: AsyncClient, emulator: FilesEmulator) -> None:
    got = await ids_of(client.list_files(purpose="tool_output", limit=100))
    assert got == emulator.ids("tool_output")
    assert {
        f.purpose for f in await client.list_files(purpose="skill_output").collect(unbounded=True)
    } == {"skill_output"}


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": -1}, "limit"),
        ({"limit": 101}, "limit"),
        ({"max_items": 0}, "max_items"),
        ({"purpose": "everything"}, "purpose"),
        ({"after": "file_a", "before": "file_b"}, "after and before"),
        ({"after": ""}, "after"),
        ({"before": ""}, "before"),
        ({"timeout": 0}, "timeout"),
        ({"timeout": float("inf")}, "timeout"),
        ({"timeout": float("nan")}, "timeout"),
        ({"max_retries": -1}, "max_retries"),
    ],
)
async def test_bad_arguments_send_nothing(
    client: AsyncClient, emulator: FilesEmulator, kwargs: dict[str, Any], name: str
) -> None:
    with pytest.raises(ValueError, match=name):
        client.list_files(**kwargs)
    page_kwargs = {k: v for k, v in kwargs.items() if k != "max_items"}
    if page_kwargs:
        with pytest.raises(ValueError, match=name):
            await client.get_page(**page_kwargs)
    assert emulator.requests == []


@pytest.mark.parametrize(
    "character",
    ["\udcff", "\x00", "\x1f", "\x7f", "\x9b", "\u202e", "\u2067", "\u200b", "\u3000", " "],
)
async def test_cursors_the_url_layer_would_rewrite_send_nothing(
    client: AsyncClient, emulator: FilesEmulator, character: str
) -> None:
    real = emulator.ids()[10]
    for name in ("after", "before"):
        for bad in (real + character, character):
            cursor: dict[str, Any] = {name: bad}
            with pytest.raises(ValueError, match=f"^{name} must"):
                client.list_files(**cursor)
            with pytest.raises(ValueError, match=f"^{name} must"):
                await client.get_page(**cursor)
    assert emulator.requests == []


@pytest.mark.parametrize("token", ["", "   "])
def test_blank_token(token: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QODER_PAT", raising=False)
    with pytest.raises(ValueError, match="QODER_PAT"):
        AsyncClient(token)
    with pytest.raises(ValueError, match="QODER_PAT"):
        AsyncClient()


@pytest.mark.parametrize(
    ("status", "cls", "kind"),
    [
        (400, BadRequestError, "api_error"),
        (401, AuthenticationError, "api_error"),
        (403, PermissionDeniedError, "api_error"),
        (404, NotFoundError, "api_error"),
        (409, ConflictError, "api_error"),
        (410, GoneError, "api_error"),
        (429, RateLimitError, "rate_limit_error"),
        (500, InternalServerError, "api_error"),
        (501, FeatureNotAvailableError, "api_error"),
        (502, InternalServerError, "api_error"),
        (503, InternalServerError, "api_error"),
        (504, InternalServerError, "api_error"),
    ],
)
async def test_every_error_status_maps_to_its_class(
    client: AsyncClient, emulator: FilesEmulator, status: int, cls: type[APIError], kind: str
) -> None:
    emulator.add_fault(Fault.error(status), route="list")
    with pytest.raises(cls) as info:
        await client.get_page(max_retries=0)
    err = info.value
    assert type(err) is cls
    assert err.status_code == status
    assert err.type == kind
    assert err.message == f"Injected {status}."
    assert err.param is None
    assert err.request_id == emulator.requests[-1].headers["x-request-id"]
    assert err.request_id in str(err)


async def test_error_param_and_request_id_from_the_server(
    client: AsyncClient, emulator: FilesEmulator, base_url: str
) -> None:
    # The emulator rejects limit=0 with param "limit"; reach it by skipping the client check.
    from qoder_files import _wire

    request = _wire.Request(method="GET", path="files", params=(("limit", "0"),))
    with pytest.raises(BadRequestError) as info:
        await client._sender.send(request, _wire.decipher_page)
    assert info.value.param == "limit"
    assert info.value.type == "invalid_request_error"


@pytest.mark.parametrize(
    ("fault", "cls"),
    [
        (Fault.html(502), InternalServerError),
        (Fault.error(503, body=b""), InternalServerError),
        (Fault.bad_json(), InvalidResponseError),
        (Fault.truncate(), APIConnectionError),
    ],
)
async def test_gateway_faults_map_to_typed_errors(
    client: AsyncClient, emulator: FilesEmulator, fault: Fault, cls: type[QoderError]
) -> None:
    emulator.add_fault(fault, route="list")
    with pytest.raises(cls) as info:
        await client.get_page(max_retries=0)
    assert type(info.value) is cls


async def test_reset_maps_to_connection_error(emulator: FilesEmulator, base_url: str) -> None:
    # Every request resets, so aiohttp's own re-send on a fresh connection fails too.
    emulator.add_fault(Fault.reset(), route="list")
    async with AsyncClient(emulator.token, base_url=base_url, max_retries=0) as c:
        with pytest.raises(APIConnectionError, match="connection failed"):
            await c.get_page()


FAULTS = [
    Fault.error(429, retry_after=0),
    Fault.error(503),
    Fault.error(500),
    Fault.html(502),
    Fault.reset(),
    Fault.truncate(),
    Fault.bad_json(),
]


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.kind + str(f.status))
async def test_faults_every_third_request_lose_nothing(
    client: AsyncClient, emulator: FilesEmulator, fault: Fault
) -> None:
    emulator.add_fault(fault, route="list", every=3)
    got = await ids_of(client.list_files(limit=100, max_retries=3))
    assert got == emulator.ids()


async def test_all_faults_mixed(client: AsyncClient, emulator: FilesEmulator) -> None:
    for offset, fault in enumerate(FAULTS):
        emulator.add_fault(fault, route="list", every=len(FAULTS) * 2, start=offset * 2 + 1)
    got = await ids_of(client.list_files(limit=37, max_retries=3))
    assert got == emulator.ids()


@pytest.mark.parametrize(
    ("fault", "cls"),
    [
        (Fault.error(503), InternalServerError),
        (Fault.error(429, retry_after=0), RateLimitError),
        (Fault.bad_json(), InvalidResponseError),
        (Fault.truncate(), APIConnectionError),
    ],
    ids=["503", "429", "bad_json", "truncate"],
)
async def test_without_retries_the_typed_error_escapes_and_cursor_resumes(
    client: AsyncClient, emulator: FilesEmulator, fault: Fault, cls: type[QoderError]
) -> None:
    emulator.add_fault(fault, route="list", every=3)
    collected: list[str] = []
    cursor = None
    for _ in range(100):
        pager = client.list_files(limit=100, max_retries=0, after=cursor)
        try:
            async for f in pager:
                collected.append(f.file_id)
            break
        except cls:
            cursor = pager.cursor
    assert collected == emulator.ids()


async def test_retry_after_longer_than_max_wait_raises_at_once(
    emulator: FilesEmulator, base_url: str
) -> None:
    emulator.add_fault(Fault.error(429, retry_after=120), route="list")
    async with AsyncClient(emulator.token, base_url=base_url, max_retries=5) as c:
        with pytest.raises(RateLimitError) as info:
            await c.get_page()
    assert info.value.retry_after == 120.0
    assert len(emulator.requests) == 1


async def test_retry_after_is_honoured(client: AsyncClient, emulator: FilesEmulator) -> None:
    waits: list[float] = []
    real_sleep = asyncio.sleep

    async def fake_sleep(seconds: float) -> None:
        waits.append(seconds)
        await real_sleep(0)

    client._sender.sleep = fake_sleep
    emulator.add_fault(Fault.error(503, retry_after="1.25"), route="list", times=1)
    emulator.add_fault(Fault.error(429, retry_after=0), route="list", start=2, times=1)
    page = await client.get_page(limit=5)
    assert len(page.data) == 5
    assert waits == [1.25, 0.0]
    ids = {r.headers["x-request-id"] for r in emulator.requests}
    assert len(ids) == 1  # the same request id on every retry


async def test_repeated_page_raises_within_three_requests(
    client: AsyncClient, emulator: FilesEmulator
) -> None:
    emulator.add_fault(Fault.repeat_page(), route="list", start=2)
    pager = client.list_files(limit=10)
    got: list[str] = []

    async def consume() -> None:
        async for f in pager:
            got.append(f.file_id)

    with pytest.raises(PaginationError, match="again"):
        await consume()
    assert len(emulator.requests) <= 3
    assert got == emulator.ids()[:10]  # nothing yielded twice
    assert pager.cursor == got[-1]


async def test_has_more_with_null_ids_raises(client: AsyncClient, emulator: FilesEmulator) -> None:
    emulator.add_fault(Fault.null_cursor(), route="list", start=2)
    with pytest.raises(PaginationError, match="no cursor"):
        await ids_of(client.list_files(limit=10))


async def test_timeout_is_a_typed_error(emulator: FilesEmulator, base_url: str) -> None:
    emulator.add_fault(Fault.latency(1.0), route="list")
    async with AsyncClient(emulator.token, base_url=base_url, timeout=0.05, max_retries=1) as c:
        with pytest.raises(APIConnectionError, match=r"within 0\.05 s") as info:
            await c.get_page()
    assert type(info.value).__name__ == "APITimeoutError"
    assert len(emulator.requests) == 2


async def test_two_hundred_concurrent_pagers(client: AsyncClient, emulator: FilesEmulator) -> None:
    everything = emulator.ids()

    async def walk(n: int) -> bool:
        if n % 2:
            got = await ids_of(client.list_files(limit=100, after=everything[n], max_items=300))
            return got == everything[n + 1 : n + 301]
        got = await ids_of(client.list_files(limit=50, before=everything[n + 200]))
        return got == everything[: n + 200][::-1]

    results = await asyncio.gather(*(walk(n) for n in range(200)))
    assert all(results)


async def test_get_page_is_exactly_one_request(
    client: AsyncClient, emulator: FilesEmulator
) -> None:
    # A fresh client first learns the generation (one probe), since a cursor reads
    # differently in each; after that every get_page() is exactly one request.
    await client.get_page(limit=10, after=emulator.ids()[0])
    assert [r.query for r in emulator.requests[:1]] == [{"limit": "1"}]
    emulator.requests.clear()
    page = await client.get_page(limit=10, after=emulator.ids()[5])
    assert [f.file_id for f in page.data] == emulator.ids()[6:16]
    assert page.has_more
    assert page.first_id == emulator.ids()[6]
    assert page.request_id == emulator.requests[0].headers["x-request-id"]
    assert len(emulator.requests) == 1


async def test_collect_needs_a_bound(client: AsyncClient) -> None:
    with pytest.raises(ValueError, match="max_items"):
        await client.list_files().collect()
    assert len(await client.list_files(max_items=3).collect()) == 3


async def test_a_pager_is_used_once(client: AsyncClient) -> None:
    pager = client.list_files(max_items=3)
    assert len([f async for f in pager]) == 3
    with pytest.raises(RuntimeError, match="only once"):
        [p async for p in pager.pages()]
    with pytest.raises(RuntimeError, match="only once"):
        [f async for f in pager]
    with pytest.raises(RuntimeError, match="only once"):
        await pager.collect()
    assert "forward" in repr(pager)


async def test_closed_pager_ends_iteration(client: AsyncClient) -> None:
    async with client.list_files(limit=5) as pager:
        async for _ in pager:
            break
    assert "closed" in repr(pager)
    with pytest.raises(RuntimeError, match="only once"):
        [f async for f in pager]
    await pager.aclose()
    never_used = client.list_files(limit=5)
    await never_used.aclose()
    with pytest.raises(ClientClosedError, match="closed before it was complete"):
        [f async for f in never_used]  # a closed listing never looks complete


async def test_client_close_cancels_read_ahead(emulator: FilesEmulator, base_url: str) -> None:
    emulator.add_fault(Fault.latency(5), route="list", start=2)
    c = AsyncClient(emulator.token, base_url=base_url)
    pager = c.list_files(limit=5)
    async for _ in pager:
        break
    ahead = pager._ahead
    assert ahead is not None
    await c.aclose()
    assert ahead.cancelled()
    with pytest.raises(RuntimeError, match="closed"):
        await c.get_page()


async def test_newer_shape_lists(base_url: str) -> None:
    em = FilesEmulator(shape="g3")
    seeded = {stored.file_id: stored for stored in em.seed(120)}
    async with em.serve() as url, AsyncClient(em.token, base_url=url) as c:
        pages = [p async for p in c.list_files(limit=50).pages()]
        assert pages[0].next_page is not None  # opaque: the walk continues with page=
        assert pages[-1].next_page is None
        assert {r.query.get("page") for r in em.requests[1:]} == {p.next_page for p in pages[:-1]}
        files = [f for p in pages for f in p.data]
        assert [f.file_id for f in files] == em.ids()
        assert all(f.purpose is None and f.extra == {} for f in files)  # type "file" consumed
        # downloadable and scope as the server sent them, both values of each present
        expected = [seeded[f.file_id] for f in files]
        assert [f.downloadable for f in files] == [s.downloadable for s in expected]
        assert [f.scope and {"id": f.scope.id, "type": f.scope.type} for f in files] == [
            s.scope for s in expected
        ]
        assert {f.downloadable for f in files} == {True, False}
        scopes = {f.scope for f in files}
        assert None in scopes
        assert len(scopes) > 2


async def test_wrong_token_is_authentication_error(emulator: FilesEmulator, base_url: str) -> None:
    async with AsyncClient("pt-wrong", base_url=base_url) as c:
        with pytest.raises(AuthenticationError) as info:
            await c.get_page()
    assert info.value.message == "Invalid API key or token."
    assert info.value.type == "authentication_error"


async def test_instant_retry_policy_for_the_suite_is_respected(client: AsyncClient) -> None:
    assert client._sender.retry == RetryPolicy(backoff_base=0.0)


async def test_failed_collect_leaves_a_cursor_that_loses_nothing(
    client: AsyncClient, emulator: FilesEmulator
) -> None:
    emulator.add_fault(Fault.error(503), route="list", start=3)
    pager = client.list_files(limit=10, max_items=100, max_retries=0)
    with pytest.raises(InternalServerError):
        await pager.collect()
    assert pager.cursor is None
    emulator.clear_faults()
    rest = await client.list_files(limit=10, max_items=100, after=pager.cursor).collect()
    assert [f.file_id for f in rest] == emulator.ids()[:100]


async def test_client_close_cuts_off_a_walk_waiting_on_its_first_page(
    emulator: FilesEmulator, base_url: str
) -> None:
    emulator.add_fault(Fault.latency(5), route="list")
    c = AsyncClient(emulator.token, base_url=base_url)
    pager = c.list_files(limit=5)
    got: list[str] = []

    async def consume() -> None:
        async for f in pager:
            got.append(f.file_id)

    consumer = asyncio.create_task(consume())
    await asyncio.sleep(0.1)
    await c.aclose()
    with pytest.raises(ClientClosedError):
        await asyncio.wait_for(consumer, 2)
    assert got == []
    assert "closed" in repr(pager)


async def test_cancelling_the_caller_still_cancels(emulator: FilesEmulator, base_url: str) -> None:
    emulator.add_fault(Fault.latency(5), route="list")
    async with AsyncClient(emulator.token, base_url=base_url) as c:
        consumer = asyncio.create_task(c.list_files(limit=5, max_items=5).collect())
        await asyncio.sleep(0.1)
        consumer.cancel()
        with pytest.raises(asyncio.CancelledError):
            await consumer
