"""Content out as a stream and in from async sources, against the emulator (and the seam's fakes).

``stream_file`` (async and blocking), uploads from async iterables and async readers (sent
once, streamed, never retried after their first byte), ``Timeout`` and ``deadline`` checks,
and the pure pieces behind them (which need no event loop).
"""

from __future__ import annotations

import asyncio
import inspect
import io
import os
from collections.abc import AsyncIterator
from typing import Any

import pytest

from qoder_files import (
    APIConnectionError,
    AsyncBody,
    AsyncClient,
    Client,
    HTTPRequest,
    HTTPResponse,
    PermissionDeniedError,
    RetryPolicy,
    Timeout,
    TransferInterruptedError,
)
from qoder_files._timeout import for_api, for_transfer
from qoder_files._wire_files import content_headers, disposition_filename
from qoder_files.testing import Fault, FilesEmulator, MockResponse, MockTransport, StoredFile

BIG = os.urandom(3 << 20)
WIRE_FILE = {
    "file_id": "file_019e3bb8c1387743bf4ef115aae5acb1",
    "filename": "a.txt",
    "size_bytes": 5,
    "mime_type": "text/plain",
    "purpose": "user_upload",
    "status": "ready",
    "metadata": {},
    "created_at": "2026-05-18T15:33:44Z",
}  # several chunks, and not text: the g1 shape takes any type


@pytest.fixture
def emulator() -> FilesEmulator:
    em = FilesEmulator()
    em.seed(10)
    return em


@pytest.fixture
def big_id(emulator: FilesEmulator) -> str:
    first = emulator.files[emulator.ids("tool_output")[0]]
    stored = StoredFile(
        file_id=first.file_id,
        filename="big photo.jpg",
        mime_type="image/jpeg",
        purpose=first.purpose,
        content=BIG,
        metadata={},
        created_at=first.created_at,
        updated_at=first.updated_at,
    )
    emulator.remove(first.file_id)
    emulator.add(stored)
    return stored.file_id


def uploads(emulator: FilesEmulator) -> int:
    return sum(1 for r in emulator.requests if r.method == "POST")


async def pieces(data: bytes, size: int = 65536) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


class AsyncReader:
    """An object with an async ``read(n)``, as a web framework's request body has."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)
        self.sizes: list[int] = []

    async def read(self, size: int) -> bytes:
        self.sizes.append(size)
        await asyncio.sleep(0)
        return self._data.read(size)


# --- stream_file -------------------------------------------------------------------------------


async def test_a_stream_hands_out_the_content_with_its_headers(
    client: AsyncClient, big_id: str
) -> None:
    stream = client.stream_file(big_id, chunk_size=100_000)
    assert "new" in repr(stream)
    async with stream:
        assert (stream.size, stream.content_type, stream.filename) == (
            len(BIG),
            "image/jpeg",
            "big photo.jpg",
        )
        chunks = [chunk async for chunk in stream]
    assert b"".join(chunks) == BIG
    assert max(map(len, chunks)) <= 100_000
    assert len(chunks) > 20
    assert stream.transferred == len(BIG)
    assert [chunk async for chunk in stream] == []  # closed: nothing more


async def test_a_stream_is_used_inside_its_block_and_once(client: AsyncClient, big_id: str) -> None:
    stream = client.stream_file(big_id)
    with pytest.raises(RuntimeError, match="async with"):
        await anext(stream)
    with pytest.raises(RuntimeError, match="async with"):
        stream.size  # noqa: B018
    async with stream:
        pass
    with pytest.raises(RuntimeError, match="only once"):
        await stream.__aenter__()


async def test_opening_a_stream_maps_errors_and_checks_arguments_first(
    client: AsyncClient, emulator: FilesEmulator
) -> None:
    undownloadable = next(i for i in emulator.ids() if not emulator.files[i].downloadable)
    with pytest.raises(PermissionDeniedError):
        async with client.stream_file(undownloadable):
            pass
    emulator.requests.clear()
    cases: list[tuple[dict[str, Any], str]] = [
        ({"file_id": "a/b"}, "file_id"),
        ({"file_id": "x", "chunk_size": 0}, "chunk_size"),
        ({"file_id": "x", "timeout": "1"}, "timeout"),
        ({"file_id": "x", "deadline": 0}, "deadline"),
    ]
    for kwargs, name in cases:
        with pytest.raises(ValueError, match=name):
            client.stream_file(**kwargs)
    assert emulator.requests == []


async def test_a_stream_refreshes_an_expired_link_before_its_first_chunk(
    client: AsyncClient, emulator: FilesEmulator, big_id: str
) -> None:
    emulator.download_ttl = -1  # every link is already expired: refreshed once, then refused
    with pytest.raises(PermissionDeniedError, match="expired"):
        async with client.stream_file(big_id):
            pass
    assert sum(1 for r in emulator.requests if r.path.endswith("/content")) == 2


async def test_a_stream_is_retried_before_its_first_chunk(
    client: AsyncClient, emulator: FilesEmulator, big_id: str
) -> None:
    emulator.add_fault(Fault.reset(), route="download", times=1)
    emulator.add_fault(Fault.error(503), route="download", times=1, start=2)
    async with client.stream_file(big_id) as stream:
        assert b"".join([chunk async for chunk in stream]) == BIG
    assert sum(1 for r in emulator.requests if "/_download/" in r.path) == 3


async def test_download_file_shares_the_stream_path_and_its_timeouts(
    client: AsyncClient, big_id: str
) -> None:
    assert await client.download_file(big_id, timeout=Timeout(connect=5, read=5)) == BIG


# --- the blocking twin -------------------------------------------------------------------------


def test_the_blocking_stream_hands_out_the_same_content(
    emulator: FilesEmulator, big_id: str
) -> None:
    with (
        emulator.serve_in_thread() as base_url,
        Client(emulator.token, base_url=base_url) as client,
    ):
        with client.stream_file(big_id) as stream:
            assert (stream.file_id, stream.size, stream.filename) == (
                big_id,
                len(BIG),
                "big photo.jpg",
            )
            assert stream.content_type == "image/jpeg"
            assert b"".join(stream) == BIG
            assert stream.transferred == len(BIG)
            with pytest.raises(RuntimeError, match="only once"):
                iter(stream)
        assert "SyncFileStream" in repr(stream)
        # Leaving early releases the connection; the client goes on.
        with client.stream_file(big_id, chunk_size=1000) as stream:
            for chunk in stream:
                assert chunk == BIG[:1000]
                break
        assert client.download_file(big_id) == BIG
        stream = client.stream_file(big_id)
        with pytest.raises(RuntimeError, match=r"with client\.stream_file"):
            next(iter(stream))
    assert inspect.signature(Client.stream_file).return_annotation == "SyncFileStream"


def test_a_blocking_stream_left_open_is_closed_with_its_client(
    emulator: FilesEmulator, big_id: str
) -> None:
    with emulator.serve_in_thread() as base_url:
        client = Client(emulator.token, base_url=base_url)
        stream = client.stream_file(big_id, chunk_size=1000)
        stream.__enter__()
        assert next(iter(stream)) == BIG[:1000]
        client.close()
        stream.close()  # the client's loop is gone: nothing left to release, no error


def test_the_blocking_stream_reads_like_its_async_twin() -> None:
    doc = Client.stream_file.__doc__ or ""
    assert "SyncFileStream" in doc
    assert "AsyncFileStream" not in doc
    assert "async with" not in doc
    assert "async for" not in doc


# --- uploads from async sources ----------------------------------------------------------------


async def test_an_async_generator_is_uploaded_as_it_is_read(
    client: AsyncClient, emulator: FilesEmulator
) -> None:
    file = await client.upload_file(pieces(BIG), filename="gen.bin", purpose="tool_output")
    assert emulator.files[file.file_id].content == BIG
    assert (file.filename, file.size_bytes) == ("gen.bin", len(BIG))
    sent = [r for r in emulator.requests if r.method == "POST"][-1]
    assert sent.headers.get("Transfer-Encoding") == "chunked"


async def test_an_async_reader_is_read_in_steps_and_its_size_is_announced(
    client: AsyncClient, emulator: FilesEmulator
) -> None:
    reader = AsyncReader(BIG)
    file = await client.upload_file(reader, filename="reader.bin", size=len(BIG))
    assert emulator.files[file.file_id].content == BIG
    assert set(reader.sizes) == {65536}
    sent = [r for r in emulator.requests if r.method == "POST"][-1]
    assert "Transfer-Encoding" not in sent.headers
    assert int(sent.headers["Content-Length"]) > len(BIG)


async def test_async_sources_are_checked_before_any_request(
    client: AsyncClient, emulator: FilesEmulator
) -> None:
    emulator.requests.clear()
    cases: list[tuple[dict[str, Any], str]] = [
        ({"file": pieces(b"x")}, "filename is required"),
        ({"file": AsyncReader(b"x")}, "filename is required"),
        ({"file": pieces(b"x"), "filename": "a.bin", "size": -1}, "size"),
        ({"file": pieces(b"x"), "filename": "a.bin", "size": True}, "size"),
        ({"file": b"x", "size": 1}, "only to async sources"),
    ]
    for kwargs, message in cases:
        with pytest.raises(ValueError, match=message):
            await client.upload_file(**kwargs)
    assert emulator.requests == []


@pytest.mark.parametrize(("size", "message"), [(10, "not the 10"), (2, "more than the 2")])
async def test_a_source_that_breaks_its_announced_size_stores_nothing(
    client: AsyncClient, emulator: FilesEmulator, size: int, message: str
) -> None:
    before = len(emulator.files)
    with pytest.raises(ValueError, match=message):
        await client.upload_file(pieces(b"abcdef", 3), filename="a.bin", size=size)
    assert len(emulator.files) == before


async def test_what_a_source_raises_is_raised_as_it_is(
    client: AsyncClient, emulator: FilesEmulator
) -> None:
    class SourceBroke(Exception):
        pass

    async def failing() -> AsyncIterator[bytes]:
        yield b"first part"
        raise SourceBroke("the browser went away")

    async def not_bytes() -> AsyncIterator[Any]:
        yield "text"

    before = len(emulator.files)
    with pytest.raises(SourceBroke):
        await client.upload_file(failing(), filename="a.bin")
    with pytest.raises(TypeError, match="must give bytes, got str"):
        await client.upload_file(not_bytes(), filename="a.bin")
    assert len(emulator.files) == before
    assert uploads(emulator) <= 2  # neither was retried (the second may not reach the server)


async def test_a_one_pass_source_cut_off_after_its_start_is_not_retried(
    client: AsyncClient, emulator: FilesEmulator
) -> None:
    # The server stores the file, then the answer is lost: the SDK cannot tell a complete
    # upload from a partial one, and cannot read the source again to retry.
    emulator.add_fault(Fault.lose_response(), route="upload", times=1)
    key = "upload-once-0001"
    with pytest.raises(TransferInterruptedError, match="may be incomplete") as info:
        await client.upload_file(pieces(BIG), filename="once.bin", idempotency_key=key)
    assert uploads(emulator) == 1
    assert info.value.transferred == len(BIG)
    assert key in str(info.value)
    # What the message advises: the same key again, and the server answers with the file.
    again = await client.upload_file(BIG, filename="once.bin", idempotency_key=key)
    assert emulator.files[again.file_id].content == BIG
    assert sum(1 for f in emulator.files.values() if f.filename == "once.bin") == 1


async def test_a_one_pass_source_is_retried_before_its_first_byte() -> None:
    """A failure before the body was touched (a refused connection) is retried as usual."""

    class RefusesFirst:
        def __init__(self) -> None:
            self.attempts = 0
            self.inner = MockTransport(lambda request: MockResponse(201, json=WIRE_FILE))

        async def handle(self, request: HTTPRequest) -> HTTPResponse:
            self.attempts += 1
            if self.attempts == 1:
                raise APIConnectionError("connection refused")
            return await self.inner.handle(request)

        async def aclose(self) -> None:
            pass

    transport = RefusesFirst()
    async with AsyncClient(
        "pt-test", transport=transport, retry=RetryPolicy(backoff_base=0.0)
    ) as client:
        await client.upload_file(pieces(b"hello"), filename="a.txt")
    assert transport.attempts == 2
    [request] = transport.inner.requests
    assert request.form is not None
    assert request.form[0].value == b"hello"  # the mock reads a streamed part into bytes


async def test_a_pipe_cut_off_after_its_start_is_an_interrupted_upload() -> None:
    class Pipe:
        def __init__(self) -> None:
            self._data = io.BytesIO(b"piped content")

        def read(self, size: int = -1, /) -> bytes:
            return self._data.read(size)

    def lose(request: HTTPRequest) -> MockResponse:
        assert request.form is not None
        body: Any = request.form[0].value
        body.read()  # the body went out
        raise APIConnectionError("connection reset")

    transport = MockTransport(lose)
    async with AsyncClient("pt-test", transport=transport) as client:
        with pytest.raises(TransferInterruptedError, match="may be incomplete"):
            await client.upload_file(Pipe())
    assert len(transport.requests) == 1


# --- the pure pieces ---------------------------------------------------------------------------


def test_a_number_means_a_total_for_api_calls_and_waits_for_transfers() -> None:
    assert for_api(5.0) == Timeout(total=5.0)
    assert for_transfer(5.0) == Timeout(connect=5.0, read=5.0)
    given = Timeout(connect=1, read=2, total=3)
    assert for_api(given) is given
    assert for_transfer(given) is given


@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf"), True, "1"])
def test_timeout_limits_are_checked(bad: Any) -> None:
    with pytest.raises(ValueError, match=r"Timeout\.read"):
        Timeout(read=bad)
    with pytest.raises(ValueError, match="timeout must be"):
        AsyncClient("pt-test", timeout=bad)


def test_storage_headers_are_read_for_size_type_and_name() -> None:
    assert content_headers(
        {
            "content-length": "12",
            "content-type": "text/plain",
            "content-disposition": "attachment; filename*=UTF-8''r%C3%A9sum%C3%A9.txt",
        }
    ) == (12, "text/plain", "résumé.txt")
    assert content_headers({"Content-Length": "12", "Content-Encoding": "gzip"}) == (
        None,
        None,
        None,
    )
    assert content_headers({"Content-Length": "twelve"})[0] is None
    assert disposition_filename('attachment; filename="a \\"b\\".txt"') == 'a "b".txt'
    assert disposition_filename("attachment; filename=plain.txt; size=3") == "plain.txt"
    assert disposition_filename("inline") is None
    assert disposition_filename("attachment; filename*=bogus''%FF; filename=x") == "x"


async def test_an_async_body_is_read_once() -> None:
    body = AsyncBody(pieces(b"abc", 1), size=3)
    assert [chunk async for chunk in body] == [b"a", b"b", b"c"]
    assert (body.taken, body.started, body.failure) == (3, True, None)
    with pytest.raises(RuntimeError, match="only once"):
        aiter(body)
    assert "taken=3" in repr(body)


async def test_re_readable_sources_keep_their_retries_and_key() -> None:
    def refuse(request: HTTPRequest) -> MockResponse:
        raise APIConnectionError("connection reset")

    transport = MockTransport(refuse)
    async with AsyncClient(
        "pt-test", transport=transport, retry=RetryPolicy(backoff_base=0.0)
    ) as client:
        with pytest.raises(APIConnectionError, match="connection reset") as info:
            await client.upload_file(b"content", max_retries=3)
    assert not isinstance(info.value, TransferInterruptedError)
    keys = {request.headers["Idempotency-Key"] for request in transport.requests}
    assert len(transport.requests) == 4
    assert len(keys) == 1


async def test_a_mock_transport_reports_a_failing_source_as_the_network_would() -> None:
    class Gone(Exception):
        pass

    async def failing() -> AsyncIterator[bytes]:
        yield b"part"
        raise Gone

    transport = MockTransport(lambda request: MockResponse(201, json=WIRE_FILE))
    async with AsyncClient("pt-test", transport=transport) as client:
        with pytest.raises(Gone):
            await client.upload_file(failing(), filename="a.txt")
    assert transport.requests == []  # the body never went out whole
