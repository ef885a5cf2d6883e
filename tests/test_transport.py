"""The wire exchange, checked precisely with aioresponses, and the transport's edges."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
from aioresponses import aioresponses
from yarl import URL

from qoder_files import (
    APIConnectionError,
    AsyncClient,
    InternalServerError,
    InvalidResponseError,
    RetryPolicy,
)
from qoder_files._aiohttp import USER_AGENT_SUFFIX
from qoder_files._sender import RateLimiter
from qoder_files._version import __version__
from qoder_files._wire import Request, decipher_file, decipher_page, decipher_upload

USER_AGENT = f"qoder-files/{__version__} {USER_AGENT_SUFFIX}"

BASE = "https://api.example.test/api/v1/cloud"
TOKEN = "pt-0123456789abcdefSECRET"
EMPTY: dict[str, Any] = {"data": [], "first_id": None, "has_more": False, "last_id": None}
FILE = {
    "created_at": "2026-05-18T15:33:44Z",
    "file_id": "file_019e3bb8c1387743bf4ef115aae5acb1",
    "filename": "a.txt",
    "metadata": {},
    "mime_type": "text/plain",
    "size_bytes": 1,
}


@pytest.fixture
def mocked() -> Iterator[aioresponses]:
    with aioresponses() as m:
        yield m


class Sleeps(list[float]):
    """Records the waits of the clients it is attached to, instead of sleeping."""

    def attach(self, client: AsyncClient) -> AsyncClient:
        async def fake_sleep(seconds: float) -> None:
            self.append(seconds)
            await asyncio.sleep(0)

        client._sender.sleep = fake_sleep
        return client


@pytest.fixture
def no_sleep() -> Sleeps:
    return Sleeps()


def calls(m: aioresponses, method: str = "GET") -> list[Any]:
    return [call for (verb, _), found in m.requests.items() if verb == method for call in found]


async def test_list_request_on_the_wire(mocked: aioresponses) -> None:
    mocked.get(re.compile(r".*/files.*"), payload=EMPTY, headers={"x-request-id": "srv-9"})
    async with AsyncClient(
        TOKEN, base_url=BASE, default_headers={"X-Trace": "t1"}, api_generation="g1"
    ) as c:
        page = await c.get_page(purpose="tool_output", limit=5, before="file_x")
    (key,) = mocked.requests
    assert key[0] == "GET"
    assert key[1].with_query(None) == URL(f"{BASE}/files")
    assert dict(key[1].query) == {"purpose": "tool_output", "limit": "5", "before": "file_x"}
    headers = calls(mocked)[0].kwargs["headers"]
    assert headers["Authorization"] == f"Bearer {TOKEN}"
    assert headers["User-Agent"] == USER_AGENT
    assert re.fullmatch(r"qoder-files/\S+ python/\S+ aiohttp/\S+", USER_AGENT)
    assert headers["Accept"] == "application/json"
    assert headers["X-Trace"] == "t1"
    assert re.fullmatch(r"[0-9a-f-]{36}", headers["x-request-id"])
    assert calls(mocked)[0].kwargs["allow_redirects"] is False
    assert page.request_id == "srv-9"


async def test_retries_reuse_the_request_id(mocked: aioresponses, no_sleep: Sleeps) -> None:
    url = re.compile(r".*/files.*")
    mocked.get(url, status=503, body=b"")
    mocked.get(url, status=502, body=b"<html></html>")
    mocked.get(url, payload=EMPTY)
    async with no_sleep.attach(AsyncClient(TOKEN, base_url=BASE)) as c:
        await c.get_page()
    ids = {call.kwargs["headers"]["x-request-id"] for call in calls(mocked)}
    assert len(calls(mocked)) == 3
    assert len(ids) == 1
    assert len(no_sleep) == 2
    assert no_sleep[0] <= 0.5
    assert no_sleep[1] <= 1.0


async def test_retry_budget_per_call_override(mocked: aioresponses, no_sleep: Sleeps) -> None:
    url = re.compile(r".*/files.*")
    for _ in range(3):
        mocked.get(url, status=500, body=b"")
    async with no_sleep.attach(AsyncClient(TOKEN, base_url=BASE, max_retries=5)) as c:
        with pytest.raises(InternalServerError):
            await c.get_page(max_retries=2)
    assert len(calls(mocked)) == 3


async def test_undecodable_get_is_retried_then_raises(
    mocked: aioresponses, no_sleep: Sleeps
) -> None:
    url = re.compile(r".*/files.*")
    mocked.get(url, status=200, body=b'{"data": [')
    mocked.get(url, status=200, body=b"<html>proxy</html>")
    async with no_sleep.attach(AsyncClient(TOKEN, base_url=BASE, max_retries=1)) as c:
        with pytest.raises(InvalidResponseError, match="not JSON"):
            await c.get_page()
    assert len(calls(mocked)) == 2


async def test_writes_retry_only_with_an_idempotency_key(
    mocked: aioresponses, no_sleep: Sleeps
) -> None:
    url = f"{BASE}/files"
    mocked.post(url, status=503, body=b"")
    async with no_sleep.attach(AsyncClient(TOKEN, base_url=BASE)) as c:
        with pytest.raises(InternalServerError):
            await c._sender.send(Request(method="POST", path="files"), decipher_file)
        assert len(calls(mocked, "POST")) == 1
        mocked.post(url, status=503, body=b"")
        mocked.post(url, status=201, payload=FILE)
        keyed = Request(method="POST", path="files", idempotency_key="key-1")
        created = await c._sender.send(keyed, decipher_upload)
    assert created.file_id == FILE["file_id"]
    posts = calls(mocked, "POST")
    assert len(posts) == 3
    assert [p.kwargs["headers"].get("Idempotency-Key") for p in posts] == [None, "key-1", "key-1"]


async def test_presigned_requests_carry_no_credentials(mocked: aioresponses) -> None:
    presigned = "https://storage.example.test/files/abc?sig=1"
    mocked.get(presigned, body=b"content")
    async with AsyncClient(TOKEN, base_url=BASE, default_headers={"X-Trace": "t"}) as c:
        body = await c._sender.send(
            Request(method="GET", url=presigned), lambda response: response.body
        )
    assert body == b"content"
    headers = calls(mocked)[0].kwargs["headers"]
    assert headers == {"User-Agent": USER_AGENT}


async def test_connection_refused_is_a_connection_error() -> None:
    async with AsyncClient(TOKEN, base_url="http://127.0.0.1:1/api/v1/cloud") as c:
        with pytest.raises(APIConnectionError, match="connection failed") as info:
            await c.get_page(max_retries=0)
    assert TOKEN not in str(info.value)
    assert info.value.__cause__ is None


async def test_borrowed_session_is_not_closed(mocked: aioresponses) -> None:
    mocked.get(re.compile(r".*/files.*"), payload=EMPTY)
    async with aiohttp.ClientSession() as session:
        async with AsyncClient(TOKEN, base_url=BASE, session=session) as c:
            await c.get_page()
        assert not session.closed
        await c.aclose()  # idempotent
        assert not session.closed


def test_client_can_be_built_outside_a_loop(mocked: aioresponses) -> None:
    c = AsyncClient(TOKEN, base_url=BASE)
    mocked.get(re.compile(r".*/files.*"), payload=EMPTY)

    async def use() -> int:
        async with c:
            return len((await c.get_page()).data)

    assert asyncio.run(use()) == 0


def test_rate_limit_spaces_requests() -> None:
    limiter = RateLimiter(2.0, clock=lambda: 100.0)
    waits = [limiter.reserve() for _ in range(4)]
    # a burst of two, then one every half second (reservations queue up)
    assert waits == [0.0, 0.0, pytest.approx(0.5), pytest.approx(1.0)]


async def test_client_rate_limit_is_used(mocked: aioresponses, no_sleep: Sleeps) -> None:
    url = re.compile(r".*/files.*")
    for _ in range(3):
        mocked.get(url, payload=EMPTY)
    async with no_sleep.attach(AsyncClient(TOKEN, base_url=BASE, rate_limit=1.0)) as c:
        for _ in range(3):
            await c.get_page()
    assert len(no_sleep) == 2


def test_constructor_defaults_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QODER_PAT", TOKEN)
    monkeypatch.delenv("QODER_BASE_URL", raising=False)
    c = AsyncClient()
    assert c.base_url == "https://openapi.qoder.sh/api/v1/cloud"
    monkeypatch.setenv("QODER_BASE_URL", "http://localhost:9/api/v1/cloud/")
    assert AsyncClient().base_url == "http://localhost:9/api/v1/cloud"
    assert AsyncClient(base_url=BASE + "/").base_url == BASE
    assert repr(c) == (
        "<AsyncClient base_url='https://openapi.qoder.sh/api/v1/cloud' token='pt-…CRET'>"
    )


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"timeout": 0}, "timeout"),
        ({"timeout": "5"}, "timeout"),
        ({"max_retries": -1}, "max_retries"),
        ({"max_retries": 1.5}, "max_retries"),
        ({"rate_limit": 0}, "rate_limit must be a positive number of requests per second"),
        ({"retry": {"backoff_base": 1}}, "retry"),
        ({"base_url": "http://api.qoder.com"}, "base_url"),
    ],
)
def test_constructor_validation(kwargs: dict[str, Any], name: str) -> None:
    with pytest.raises(ValueError, match=name):
        AsyncClient(TOKEN, **kwargs)


NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"timeout": NAN}, "timeout"),
        ({"timeout": INF}, "timeout"),
        ({"timeout": -INF}, "timeout"),
        ({"timeout": True}, "timeout"),
        ({"rate_limit": NAN}, "rate_limit"),
        ({"rate_limit": INF}, "rate_limit"),
        ({"default_headers": {"X-Trace": "a\r\nX-Evil: 1"}}, "default_headers"),
        ({"default_headers": {"X-Trace": "a\nb"}}, "default_headers"),
        ({"default_headers": {"X-Trace": "a\x00b"}}, "default_headers"),
        ({"default_headers": {"X-Trace": "a\x7fb"}}, "default_headers"),
        ({"default_headers": {"X-Trace": 5}}, "default_headers"),
        ({"default_headers": {"X-Trace": None}}, "default_headers"),
        ({"default_headers": {"X-Trace": b"bytes"}}, "default_headers"),
        ({"default_headers": {"X Trace": "a"}}, "default_headers"),
        ({"default_headers": {"X-Trace:": "a"}}, "default_headers"),
        ({"default_headers": {"X-Trace\r\n": "a"}}, "default_headers"),
        ({"default_headers": {"": "a"}}, "default_headers"),
        ({"default_headers": {1: "a"}}, "default_headers"),
        ({"default_headers": [("X-Trace", "a")]}, "default_headers"),
        ({"base_url": "https://api.example.test/api/v1/cloud?x=1"}, "base_url"),
        ({"base_url": "https://api.example.test/api/v1/cloud?"}, "base_url"),
        ({"base_url": "https://api.example.test/api/v1/cloud#files"}, "base_url"),
        ({"base_url": "https://api.example.test/api/v1/cloud#"}, "base_url"),
        ({"base_url": "https://api.example.test:port/api/v1/cloud"}, "base_url"),
        ({"base_url": "https://api.example.test/api/v1/cl oud"}, "base_url"),
        ({"base_url": "https://api.example.test/api/v1\r\n/cloud"}, "base_url"),
        ({"base_url": "https://api.example.test/api/\x00/cloud"}, "base_url"),
        ({"retry": "fast"}, "retry"),
    ],
)
def test_constructor_refuses_what_would_fail_every_call(kwargs: dict[str, Any], name: str) -> None:
    with pytest.raises(ValueError, match=f"^{name}"):
        AsyncClient(TOKEN, **kwargs)


@pytest.mark.parametrize(
    "token",
    [
        "pt-0123\r\nX-Evil: 1",
        "pt-0123\n456",
        "pt-0123\x00456",
        "pt-0123\x1b456",
        "pt-0123 456",
        "pt-0123\u00e9456",
        "pt-0123\u202e456",
        "pt-0123\udcff",
    ],
)
def test_a_token_that_cannot_be_sent_fails_at_construction_and_is_not_shown(token: str) -> None:
    with pytest.raises(ValueError, match=r"^token must be visible ASCII") as caught:
        AsyncClient(token)
    assert "0123" not in str(caught.value)


@pytest.mark.parametrize(
    "base_url",
    [
        "https://alice:s3cret-pw@api.example.test/api/v1/cloud",
        "https://:s3cret-pw@api.example.test/api/v1/cloud",
        "https://s3cret-pw@api.example.test/api/v1/cloud",
        "https://alice:s3cret-pw@api.example.test/api/v1/cloud#x",
        "http://alice:s3cret-pw@api.example.test/api/v1/cloud",
        "https://alice:s3cret/pw@api.example.test/api/v1/cloud",
        "https://alice:s3cret-pw@api.example.test:bad/api/v1/cloud",
        "https://alice:s3cret-pw@api.example.test/api/v1\n/cloud",
        "ftp://alice:s3cret-pw@api.example.test/api/v1/cloud",
    ],
)
def test_credentials_in_base_url_are_refused_and_never_shown(base_url: str) -> None:
    with pytest.raises(ValueError, match=r"^base_url") as caught:
        AsyncClient(TOKEN, base_url=base_url)
    assert "s3cret" not in str(caught.value)
    assert "s3cret" not in repr(caught.value)


def test_a_retry_policy_is_checked_when_it_is_made() -> None:
    for name in ("backoff_base", "backoff_max", "max_wait"):
        for bad in (NAN, INF, -1, -0.5, "1", True, None):
            field: dict[str, Any] = {name: bad}
            with pytest.raises(ValueError, match=f"^{name} must"):
                RetryPolicy(**field)
        zero: dict[str, Any] = {name: 0}
        assert getattr(RetryPolicy(**zero), name) == 0
    for statuses in (["503"], [True], [503.0], [99], [600], "503", 503, [None]):
        with pytest.raises(ValueError, match=r"^retry_statuses must"):
            RetryPolicy(retry_statuses=statuses)  # type: ignore[arg-type]
    assert RetryPolicy(retry_statuses=(100, 599)).retry_statuses == {100, 599}
    assert RetryPolicy(retry_statuses=[]).retry_statuses == frozenset()


async def test_token_never_logged(
    mocked: aioresponses, no_sleep: Sleeps, caplog: pytest.LogCaptureFixture
) -> None:
    url = re.compile(r".*/files.*")
    mocked.get(url, status=429, headers={"Retry-After": "0"}, body=b"")
    mocked.get(url, exception=aiohttp.ClientConnectionError(f"boom {BASE}"))
    mocked.get(url, payload={**EMPTY, "data": [FILE]})
    caplog.set_level(logging.DEBUG, logger="qoder_files")
    async with no_sleep.attach(AsyncClient(TOKEN, base_url=BASE, max_retries=3)) as c:
        await c.get_page()
        assert TOKEN not in repr(c)
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert "GET files -> 429" in text
    assert "retrying GET files" in text
    assert TOKEN not in text
    assert "Bearer" not in text


def test_qoder_log_installs_one_stderr_handler(monkeypatch: pytest.MonkeyPatch) -> None:
    from qoder_files import client as client_module

    logger = logging.getLogger("qoder_files")
    before = list(logger.handlers)
    monkeypatch.setattr(client_module, "_log_handler", None)
    monkeypatch.setenv("QODER_LOG", "debug")
    try:
        AsyncClient(TOKEN, base_url=BASE)
        AsyncClient(TOKEN, base_url=BASE)
        added = [h for h in logger.handlers if h not in before]
        assert len(added) == 1
        assert logger.level == logging.DEBUG
    finally:
        for handler in logger.handlers[:]:
            if handler not in before:
                logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)


async def test_timeout_per_call(mocked: aioresponses) -> None:
    mocked.get(re.compile(r".*/files.*"), exception=TimeoutError())
    async with AsyncClient(TOKEN, base_url=BASE) as c:
        with pytest.raises(APIConnectionError, match="within 2 s"):
            await c.get_page(timeout=2, max_retries=0)


async def test_retry_statuses_are_configurable(mocked: aioresponses, no_sleep: Sleeps) -> None:
    url = re.compile(r".*/files.*")
    mocked.get(url, status=503, body=b"")
    policy = RetryPolicy(retry_statuses=frozenset({429}))
    async with no_sleep.attach(AsyncClient(TOKEN, base_url=BASE, retry=policy)) as c:
        with pytest.raises(InternalServerError):
            await c.get_page()
    assert len(calls(mocked)) == 1


async def test_decode_runs_once_on_success(mocked: aioresponses) -> None:
    mocked.get(re.compile(r".*/files.*"), payload={**EMPTY, "data": [FILE]})
    async with AsyncClient(TOKEN, base_url=BASE) as c:
        page = await c._sender.send(Request(method="GET", path="files"), decipher_page)
    assert page.data[0].filename == "a.txt"


async def test_presigned_requests_bypass_a_borrowed_session(mocked: aioresponses) -> None:
    presigned = "https://storage.example.test/files/abc?sig=1"
    mocked.get(presigned, body=b"content")
    mocked.get(re.compile(r".*/files\?.*|.*/files$"), payload=EMPTY)
    leaky = {"Authorization": f"Bearer {TOKEN}"}
    async with aiohttp.ClientSession(headers=leaky) as session:
        async with AsyncClient(TOKEN, base_url=BASE, session=session) as c:
            await c._sender.send(Request(method="GET", url=presigned), lambda r: r.body)
            content = c._sender.content_transport
            assert content is not c._sender.transport
            bare = await content._session_here()  # type: ignore[attr-defined]
            assert bare is not session
            assert not bare.headers
        assert bare.closed
        assert not session.closed


def test_request_ids_are_version_4_uuids() -> None:
    import uuid

    from qoder_files._sender import new_request_id

    ids = {new_request_id() for _ in range(2000)}
    assert len(ids) == 2000
    for text in list(ids)[:200]:
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122


async def test_each_request_sends_one_request_id_over_any_default(mocked: aioresponses) -> None:
    url = re.compile(r".*/files.*")
    mocked.get(url, payload=EMPTY)
    mocked.get(url, payload=EMPTY)
    defaults = {"x-request-id": "mine", "accept": "text/plain", "X-Trace": "t1"}
    async with AsyncClient(TOKEN, base_url=BASE, default_headers=defaults) as c:
        await c.get_page()
        await c.get_page()
        first, second = (call.kwargs["headers"] for call in calls(mocked))
        # what aiohttp sends: the headers merged case-insensitively, later ones winning
        own = await c._sender.transport._session_here()  # type: ignore[attr-defined]
        sent = [own._prepare_headers(h) for h in (first, second)]
    for headers in sent:
        assert len(headers.getall("x-request-id")) == 1
        assert headers["x-request-id"] != "mine"
        assert re.fullmatch(r"[0-9a-f-]{36}", headers["x-request-id"])
        assert headers["Authorization"] == f"Bearer {TOKEN}"
        assert headers["X-Trace"] == "t1"
        assert headers.getall("Accept") == ["text/plain"]  # the caller's default wins
    assert sent[0]["x-request-id"] != sent[1]["x-request-id"]


@pytest.mark.parametrize(
    ("exception", "cls", "message"),
    [
        (TimeoutError(), "APITimeoutError", "GET files: no complete response within 30 s"),
        (
            aiohttp.ClientPayloadError("boom"),
            "APIConnectionError",
            "GET files: the response body was cut off before it was complete",
        ),
        (
            aiohttp.ServerDisconnectedError(),
            "APIConnectionError",
            "GET files: connection failed (ServerDisconnectedError: Server disconnected)",
        ),
        (
            ConnectionResetError(),
            "APIConnectionError",
            "GET files: connection failed (ConnectionResetError: ConnectionResetError)",
        ),
    ],
)
async def test_attempt_errors_are_translated(
    mocked: aioresponses, exception: Exception, cls: str, message: str
) -> None:
    mocked.get(re.compile(r".*/files.*"), exception=exception)
    async with AsyncClient(TOKEN, base_url=BASE, max_retries=0) as c:
        with pytest.raises(APIConnectionError) as info:
            await c.get_page()
    assert type(info.value).__name__ == cls
    assert info.value.message == message
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__
    assert info.value.request_id is not None
    assert re.fullmatch(r"[0-9a-f-]{36}", info.value.request_id)
