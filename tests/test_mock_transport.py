"""The pager and the error mapping, driven through ``MockTransport`` (no sockets at all)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable
from typing import Any

import pytest

from qoder_files import (
    APIConnectionError,
    APIError,
    AsyncClient,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    FeatureNotAvailableError,
    GoneError,
    HTTPRequest,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RedirectError,
)
from qoder_files.testing import MockResponse, MockTransport

TOKEN = "pt-mock-0123456789SECRET"
IDS = [f"file_{n:032x}" for n in range(250, 0, -1)]  # newest first


def wire(file_id: str) -> dict[str, Any]:
    return {
        "file_id": file_id,
        "filename": f"{file_id[-4:]}.txt",
        "size_bytes": 1,
        "mime_type": "text/plain",
        "purpose": "tool_output",
        "status": "ready",
        "metadata": {},
        "created_at": "2026-05-18T15:33:44Z",
    }


def listing(request: HTTPRequest) -> MockResponse:
    """A seed-generation list route over ``IDS``, paging both ways."""
    query = request.query
    limit = int(query.get("limit", "20"))
    if "before" in query:
        end = IDS.index(query["before"])
        chunk = IDS[max(0, end - limit) : end]
        more = end - limit > 0
    else:
        start = IDS.index(query["after"]) + 1 if "after" in query else 0
        chunk = IDS[start : start + limit]
        more = start + limit < len(IDS)
    return MockResponse(
        json={
            "data": [wire(i) for i in chunk],
            "first_id": chunk[0] if chunk else None,
            "last_id": chunk[-1] if chunk else None,
            "has_more": more,
        }
    )


def client_for(handler: Callable[[HTTPRequest], Any], **kwargs: Any) -> AsyncClient:
    client = AsyncClient(
        TOKEN,
        base_url="https://api.example.test/api/v1/cloud",
        transport=MockTransport(handler),
        **kwargs,
    )

    async def no_wait(seconds: float) -> None:
        return None

    client._sender.sleep = no_wait
    return client


@pytest.mark.parametrize("limit", [1, 7, 100])
async def test_forward_walk(limit: int) -> None:
    async with client_for(listing) as client:
        got = [f.file_id async for f in client.list_files(limit=limit)]
    assert got == IDS


async def test_backward_walk_in_the_order_of_travel() -> None:
    async with client_for(listing) as client:
        got = [f.file_id async for f in client.list_files(before=IDS[120], limit=9)]
    assert got == IDS[:120][::-1]


async def test_max_items_is_exact_and_the_cursor_resumes() -> None:
    transport_requests: list[dict[str, str]] = []

    def recording(request: HTTPRequest) -> MockResponse:
        transport_requests.append(request.query)
        return listing(request)

    async with client_for(recording) as client:
        pager = client.list_files(limit=100, max_items=250 - 5)
        first = await pager.collect()
        rest = [f.file_id async for f in client.list_files(after=pager.cursor)]
    assert [q.get("limit") for q in transport_requests[:3]] == ["100", "100", "45"]
    assert [f.file_id for f in first] + rest == IDS


async def test_requests_carry_the_token_and_one_request_id() -> None:
    seen: list[HTTPRequest] = []

    def recording(request: HTTPRequest) -> MockResponse:
        seen.append(request)
        if len(seen) == 1:
            raise APIConnectionError("reset by peer")
        return listing(request)

    async with client_for(recording) as client:
        await client.get_page(limit=3)
    assert len(seen) == 2
    assert {r.headers["x-request-id"] for r in seen} == {seen[0].headers["x-request-id"]}
    assert seen[0].headers["Authorization"] == f"Bearer {TOKEN}"
    assert seen[0].url == "https://api.example.test/api/v1/cloud/files"
    assert not seen[0].external


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (307, RedirectError),
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, ConflictError),
        (410, GoneError),
        (418, APIError),
        (429, RateLimitError),
        (500, InternalServerError),
        (501, FeatureNotAvailableError),
        (503, InternalServerError),
    ],
)
async def test_status_maps_to_its_error(status: int, error: type[APIError]) -> None:
    body = {"type": "error", "error": {"type": "x_error", "message": "no", "param": "p"}}

    def failing(request: HTTPRequest) -> MockResponse:
        return MockResponse(status, json=body, headers={"x-request-id": "srv-1"})

    async with client_for(failing, max_retries=1) as client:
        with pytest.raises(error) as info:
            await client.get_file(IDS[0])
    assert type(info.value) is error
    assert info.value.status_code == status
    assert info.value.request_id == "srv-1"
    assert TOKEN not in str(info.value)


async def test_non_json_error_bodies_still_map_by_status() -> None:
    def gateway(request: HTTPRequest) -> MockResponse:
        return MockResponse(502, content=b"<html>bad gateway</html>")

    async with client_for(gateway, max_retries=2) as client:
        with pytest.raises(InternalServerError, match="not JSON"):
            await client.get_page()
    transport = client._sender.transport
    assert isinstance(transport, MockTransport)
    assert len(transport.requests) == 3
    assert transport.closed


async def test_a_body_cut_off_is_retried() -> None:
    calls: list[HTTPRequest] = []

    def flaky(request: HTTPRequest) -> MockResponse:
        calls.append(request)
        if len(calls) == 1:
            return MockResponse(json={"data": []}, cut_off=True)
        return listing(request)

    async with client_for(flaky) as client:
        page = await client.get_page(limit=2)
    assert [f.file_id for f in page.data] == IDS[:2]


async def test_async_handlers_and_downloads_through_the_mock() -> None:
    async def handler(request: HTTPRequest) -> MockResponse:
        if request.url.endswith("/content"):
            return MockResponse(json={"url": "https://storage.example.test/blob?sig=1"})
        if request.external:
            assert "Authorization" not in request.headers
            return MockResponse(chunks=[b"hello ", b"world"])
        return MockResponse(404)

    async with client_for(handler) as client:
        assert await client.download_file(IDS[0]) == b"hello world"


async def test_a_handler_returning_something_else_is_a_clear_error() -> None:
    async with client_for(lambda request: {"data": []}) as client:
        with pytest.raises(TypeError, match="MockResponse"):
            await client.get_page()


def test_transport_must_implement_the_protocol() -> None:
    with pytest.raises(ValueError, match="transport must have"):
        AsyncClient(TOKEN, transport=object())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="cannot be combined"):
        AsyncClient(TOKEN, transport=MockTransport(listing), proxy="http://127.0.0.1:3128")


def test_a_mock_transport_client_never_loads_aiohttp() -> None:
    script = textwrap.dedent(
        """
        import asyncio, sys
        from qoder_files import AsyncClient
        from qoder_files.testing import MockResponse, MockTransport

        def handler(request):
            return MockResponse(json={"data": [], "has_more": False})

        async def main():
            async with AsyncClient("pt-x", transport=MockTransport(handler)) as client:
                return [f async for f in client.list_files()]

        assert asyncio.run(main()) == []
        print(sorted(m for m in sys.modules if m.split(".")[0] in ("aiohttp", "yarl")))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
