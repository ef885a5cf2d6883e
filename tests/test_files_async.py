"""``AsyncClient``'s one-file calls: against the emulator in both shapes, and on the wire."""

from __future__ import annotations

import asyncio
import email.parser
import email.policy
import errno
import io
import os
import random
import re
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aioresponses import aioresponses
from yarl import URL

from qoder_files import (
    APIConnectionError,
    APIError,
    AsyncClient,
    BadRequestError,
    ConflictError,
    DownloadLink,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    Purpose,
    RateLimitError,
    RetryPolicy,
)
from qoder_files._aiohttp import USER_AGENT_SUFFIX
from qoder_files._content import UploadView, guess_mime_type
from qoder_files._version import __version__
from qoder_files.testing import Fault, FilesEmulator, RecordedRequest

USER_AGENT = f"qoder-files/{__version__} {USER_AGENT_SUFFIX}"

UUID4 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
EXPIRED_BODY = b"<Error><Code>AccessDenied</Code><Message>Request has expired.</Message></Error>"
INSTANT = RetryPolicy(backoff_base=0.0)


# For uploads with a purpose or of a binary type, which the strict g3 shape refuses: these tests
# are about sending the body (streams, retries, keys), the same in either generation.
G1_ONLY = pytest.mark.parametrize("shape", ["g1"])


@pytest.fixture(params=["g1", "g3"])
def shape(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def emulator(shape: str) -> FilesEmulator:
    """40 files in each API generation; conftest's ``base_url`` and ``client`` serve it."""
    em = FilesEmulator(shape=shape)
    em.seed(40)
    return em


def listing(directory: Path) -> list[str]:
    return sorted(entry.name for entry in directory.iterdir())


def downloadable(emulator: FilesEmulator) -> str:
    return emulator.ids("tool_output")[0]


def sent(emulator: FilesEmulator, route: str) -> list[RecordedRequest]:
    """The requests the emulator saw on one route."""

    def route_of(r: RecordedRequest) -> str:
        if "/_download/" in r.path:
            return "download"
        if r.path.endswith("/content"):
            return "content"
        return {"POST": "upload", "DELETE": "delete"}.get(r.method, "read")

    return [r for r in emulator.requests if route_of(r) == route]


# --- the round trip, in both shapes -------------------------------------------------------------


@G1_ONLY
async def test_round_trip(
    client: AsyncClient, emulator: FilesEmulator, tmp_path: Path, shape: str
) -> None:
    newest = emulator.ids()[0]
    from_bytes = await client.upload_file(
        b"alpha\n", purpose="tool_output", filename="alpha.md", metadata={"project": "demo"}
    )
    path = tmp_path / "beta.json"
    path.write_bytes(b'{"b": 2}\n')
    from_path = await client.upload_file(
        path, purpose=Purpose.SKILL_OUTPUT, metadata={"n": 1, "tags": ["x"]}
    )
    assert from_bytes.file_id > newest
    assert (from_bytes.filename, from_bytes.mime_type, from_bytes.size_bytes) == (
        "alpha.md",
        "text/markdown",
        6,
    )
    assert (from_path.filename, from_path.mime_type, from_path.size_bytes) == (
        "beta.json",
        "application/json",
        9,
    )
    assert from_bytes.metadata == {"project": "demo"}
    assert from_path.metadata == {"n": 1, "tags": ["x"]}
    if shape == "g1":
        assert (from_bytes.purpose, from_path.purpose) == (Purpose.TOOL_OUTPUT, "skill_output")
        # not sent by this generation: derived from the purpose
        assert (from_bytes.downloadable, from_path.downloadable) == (True, True)
    else:
        assert from_bytes.purpose is None
        assert (from_bytes.downloadable, from_bytes.scope, from_bytes.extra) == (True, None, {})

    page = await client.get_page(limit=2)
    assert page.data == [from_path, from_bytes]
    assert await client.get_file(from_bytes.file_id) == from_bytes
    assert await client.get_file(from_path.file_id) == from_path

    assert await client.download_file(from_bytes.file_id) == b"alpha\n"
    assert await client.download_file(from_path.file_id) == path.read_bytes()

    await client.delete_file(from_bytes.file_id)
    with pytest.raises(NotFoundError):
        await client.get_file(from_bytes.file_id)
    with pytest.raises(NotFoundError):
        await client.download_file(from_bytes.file_id)
    assert (await client.get_page(limit=1)).data == [from_path]


@G1_ONLY
async def test_five_megabytes_stream_through_paths(
    client: AsyncClient, emulator: FilesEmulator, tmp_path: Path
) -> None:
    data = random.Random(7).randbytes(5 * 1024 * 1024)
    source = tmp_path / "big.log"
    source.write_bytes(data)
    uploaded = await client.upload_file(str(source), purpose="tool_output")
    assert uploaded.size_bytes == len(data)
    (upload,) = sent(emulator, "upload")
    assert int(upload.headers["Content-Length"]) > len(data)  # sized, not chunked
    out = tmp_path / "out"
    out.mkdir()
    dest = out / "big.log"
    await client.download_file(uploaded.file_id, dest, chunk_size=8192)
    assert dest.read_bytes() == data
    assert listing(out) == ["big.log"]


@G1_ONLY
async def test_binary_content_types(client: AsyncClient, emulator: FilesEmulator) -> None:
    from_bytearray = await client.upload_file(bytearray(b"one"), purpose="tool_output")
    from_view = await client.upload_file(memoryview(b"two"), filename="two.txt")
    assert from_bytearray.filename == "upload.bin"
    assert emulator.files[from_bytearray.file_id].content == b"one"
    assert emulator.files[from_view.file_id].content == b"two"


# --- the presigned fetch ------------------------------------------------------------------------


async def test_presigned_fetch_carries_no_credentials(
    emulator: FilesEmulator, base_url: str
) -> None:
    file_id = downloadable(emulator)
    async with AsyncClient(
        emulator.token, base_url=base_url, default_headers={"X-Trace": "t-1"}
    ) as c:
        assert await c.download_file(file_id) == emulator.files[file_id].content
    (presigned,) = sent(emulator, "download")
    for header in ("Authorization", "X-Trace", "x-request-id", "Idempotency-Key"):
        assert header not in presigned.headers
    assert presigned.headers["User-Agent"] == USER_AGENT
    (content,) = sent(emulator, "content")
    assert content.headers["Authorization"] == f"Bearer {emulator.token}"
    assert content.headers["X-Trace"] == "t-1"


@pytest.mark.parametrize("fault", [Fault.truncate(), Fault.reset()], ids=["truncate", "reset"])
async def test_an_interrupted_download_leaves_nothing_behind(
    client: AsyncClient, emulator: FilesEmulator, tmp_path: Path, fault: Fault
) -> None:
    emulator.add_fault(fault, route="download")
    dest = tmp_path / "report.md"
    with pytest.raises(APIConnectionError):
        await client.download_file(downloadable(emulator), dest, max_retries=0)
    assert listing(tmp_path) == []
    dest.write_bytes(b"previous version")
    with pytest.raises(APIConnectionError):
        await client.download_file(downloadable(emulator), dest, max_retries=1)
    assert listing(tmp_path) == ["report.md"]
    assert dest.read_bytes() == b"previous version"


async def test_a_cut_off_download_is_retried_from_the_start(
    client: AsyncClient, emulator: FilesEmulator, tmp_path: Path
) -> None:
    file_id = downloadable(emulator)
    content = emulator.files[file_id].content
    emulator.add_fault(Fault.truncate(), route="download", every=2)
    assert await client.download_file(file_id) == content
    dest = tmp_path / "x.md"
    await client.download_file(file_id, dest)
    assert dest.read_bytes() == content
    out = io.BytesIO(b"head:")
    out.seek(5)
    await client.download_file(file_id, out)
    assert out.getvalue() == b"head:" + content
    assert len(sent(emulator, "download")) == 6


class Collector:
    """A sink that cannot seek, like a socket or a pipe."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.chunks.append(data)
        return len(data)


async def test_a_sink_that_cannot_start_over_gets_no_retry_after_a_cut(
    client: AsyncClient, emulator: FilesEmulator
) -> None:
    emulator.add_fault(Fault.truncate(), route="download", times=1)
    sink = Collector()
    with pytest.raises(APIConnectionError, match="cut off"):
        await client.download_file(downloadable(emulator), sink)
    assert sink.chunks
    assert len(sent(emulator, "download")) == 1


async def test_a_sink_that_cannot_start_over_is_retried_before_any_byte(
    client: AsyncClient, emulator: FilesEmulator
) -> None:
    file_id = downloadable(emulator)
    emulator.add_fault(Fault.error(503), route="download", times=1)
    emulator.add_fault(Fault.reset(), route="download", start=2, times=2)
    sink = Collector()
    await client.download_file(file_id, sink)
    assert b"".join(sink.chunks) == emulator.files[file_id].content


class FullDisk:
    def write(self, data: bytes) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")


async def test_a_failing_write_is_an_os_error_not_a_network_error(
    client: AsyncClient, emulator: FilesEmulator
) -> None:
    with pytest.raises(OSError, match="No space left") as info:
        await client.download_file(downloadable(emulator), FullDisk())
    assert info.value.errno == errno.ENOSPC
    assert len(sent(emulator, "download")) == 1


class Unrewindable(io.BytesIO):
    def truncate(self, size: int | None = None) -> int:
        raise io.UnsupportedOperation("truncate")


async def test_a_sink_that_fails_to_rewind_is_not_retried(
    client: AsyncClient, emulator: FilesEmulator
) -> None:
    emulator.add_fault(Fault.truncate(), route="download", times=1)
    with pytest.raises(APIConnectionError):
        await client.download_file(downloadable(emulator), Unrewindable())


async def test_a_cancelled_download_leaves_no_temporary_file(
    client: AsyncClient, emulator: FilesEmulator, tmp_path: Path
) -> None:
    emulator.add_fault(Fault.latency(0.5), route="download", times=1)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.1):
            await client.download_file(downloadable(emulator), tmp_path / "x.md")
    assert listing(tmp_path) == []


async def test_an_expired_link_is_refreshed_once(
    client: AsyncClient, emulator: FilesEmulator
) -> None:
    file_id = downloadable(emulator)
    emulator.add_fault(Fault.error(403, body=EXPIRED_BODY), route="download", times=1)
    assert await client.download_file(file_id) == emulator.files[file_id].content
    assert (len(sent(emulator, "content")), len(sent(emulator, "download"))) == (2, 2)


async def test_links_that_are_always_expired_end_in_permission_denied(
    client: AsyncClient, emulator: FilesEmulator
) -> None:
    emulator.download_ttl = -60  # every link is past its expires_at when handed out
    with pytest.raises(PermissionDeniedError, match="expired"):
        await client.download_file(downloadable(emulator))
    assert (len(sent(emulator, "content")), len(sent(emulator, "download"))) == (2, 1)


async def test_storage_errors_are_retried_or_raised(
    client: AsyncClient, emulator: FilesEmulator
) -> None:
    file_id = downloadable(emulator)
    emulator.add_fault(Fault.error(503), route="download", times=1)
    assert await client.download_file(file_id) == emulator.files[file_id].content
    emulator.add_fault(Fault.error(503), route="download", times=1)
    with pytest.raises(InternalServerError):
        await client.download_file(file_id, max_retries=0)
    emulator.add_fault(Fault.error(429, retry_after=3600), route="download", times=1)
    with pytest.raises(RateLimitError) as info:
        await client.download_file(file_id)
    assert info.value.retry_after == 3600
    emulator.add_fault(Fault.error(403, body=b"<Error>denied</Error>"), route="download")
    with pytest.raises(PermissionDeniedError):
        await client.download_file(file_id)


async def test_storage_retry_after_is_waited(client: AsyncClient, emulator: FilesEmulator) -> None:
    waits: list[float] = []

    async def no_sleep(seconds: float) -> None:
        waits.append(seconds)

    client._sender.sleep = no_sleep
    emulator.add_fault(Fault.error(503, retry_after=2), route="download", times=1)
    await client.download_file(downloadable(emulator))
    assert waits == [2.0]


@G1_ONLY
async def test_internal_files_cannot_be_downloaded(
    client: AsyncClient, emulator: FilesEmulator, tmp_path: Path
) -> None:
    uploaded = await client.upload_file(b"private")  # the server's default purpose
    with pytest.raises(PermissionDeniedError) as info:
        await client.download_file(uploaded.file_id, tmp_path / "private.bin")
    assert info.value.type == "permission_error"
    with pytest.raises(PermissionDeniedError):
        await client.get_download_url(uploaded.file_id)
    assert listing(tmp_path) == []
    assert sent(emulator, "download") == []


async def test_get_download_url(client: AsyncClient, emulator: FilesEmulator) -> None:
    link = await client.get_download_url(downloadable(emulator))
    assert URL(link.url).path.startswith("/api/v1/cloud/files/_download/")
    assert link.expires_at is not None
    assert link.expires_at > datetime.now(UTC)


# --- writes and idempotency ---------------------------------------------------------------------


@G1_ONLY
async def test_an_upload_whose_answer_was_lost_is_stored_once(
    client: AsyncClient, emulator: FilesEmulator
) -> None:
    count = len(emulator.files)
    emulator.add_fault(Fault.lose_response(), route="upload", times=1)
    uploaded = await client.upload_file(b"once", purpose="tool_output")
    assert len(emulator.files) == count + 1
    assert emulator.ids()[0] == uploaded.file_id
    assert await client.get_file(uploaded.file_id) == uploaded
    attempts = sent(emulator, "upload")
    assert len(attempts) == 2
    keys = {r.headers["Idempotency-Key"] for r in attempts}
    assert len(keys) == 1
    assert UUID4.fullmatch(keys.pop())


async def test_a_delete_is_retried_after_a_reset(
    client: AsyncClient, emulator: FilesEmulator
) -> None:
    victim = emulator.ids()[0]
    emulator.add_fault(Fault.reset(), route="delete", times=2)  # aiohttp itself re-sends once
    await client.delete_file(victim)
    assert victim not in emulator.files
    attempts = sent(emulator, "delete")
    assert len(attempts) == 3
    assert len({r.headers["Idempotency-Key"] for r in attempts}) == 1


async def test_a_delete_whose_answer_was_lost_succeeds(
    client: AsyncClient, emulator: FilesEmulator
) -> None:
    victim = emulator.ids()[0]
    emulator.add_fault(Fault.lose_response(), route="delete", times=2)
    await client.delete_file(victim, idempotency_key="delete-victim")
    assert victim not in emulator.files
    assert {r.headers["Idempotency-Key"] for r in sent(emulator, "delete")} == {"delete-victim"}


@G1_ONLY
async def test_reusing_a_key_for_another_upload_is_a_conflict(
    client: AsyncClient, emulator: FilesEmulator
) -> None:
    first = await client.upload_file(b"one", idempotency_key="job-42")
    count = len(emulator.files)
    assert await client.upload_file(b"one", idempotency_key="job-42") == first
    assert len(emulator.files) == count
    with pytest.raises(ConflictError) as info:
        await client.upload_file(b"two", idempotency_key="job-42")
    assert info.value.status_code == 409
    assert info.value.type == "conflict_error"
    assert info.value.message == "Idempotency key reused with a different request body."
    assert len(emulator.files) == count


@G1_ONLY
async def test_a_file_object_is_resent_from_its_position_and_left_open(
    client: AsyncClient, emulator: FilesEmulator, tmp_path: Path
) -> None:
    path = tmp_path / "log.txt"
    path.write_bytes(b"skip:payload")
    emulator.add_fault(Fault.error(503), route="upload", times=1)
    with path.open("rb") as stream:
        stream.seek(5)
        uploaded = await client.upload_file(stream, purpose="tool_output")
        assert not stream.closed
    assert uploaded.filename == "log.txt"
    assert emulator.files[uploaded.file_id].content == b"payload"
    assert len(sent(emulator, "upload")) == 2
    buffer = io.BytesIO(b"from memory")
    in_memory = await client.upload_file(buffer, filename="memory.txt")
    assert emulator.files[in_memory.file_id].content == b"from memory"
    assert not buffer.closed


class Pipe:
    """A stream that can only be read once, front to back."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def read(self, size: int = -1, /) -> bytes:
        return self._data.read(size)


@G1_ONLY
async def test_a_stream_that_cannot_rewind_is_sent_once(
    client: AsyncClient, emulator: FilesEmulator
) -> None:
    uploaded = await client.upload_file(Pipe(b"piped"))
    assert (uploaded.filename, emulator.files[uploaded.file_id].content) == (
        "upload.bin",
        b"piped",
    )
    emulator.add_fault(Fault.error(503), route="upload", times=1)
    with pytest.raises(InternalServerError):
        await client.upload_file(Pipe(b"again"))
    assert len(sent(emulator, "upload")) == 2


async def test_the_server_refuses_a_bad_upload(client: AsyncClient, tmp_path: Path) -> None:
    huge = {"blob": "x" * 9000}  # valid JSON, but above the server's 8 KB metadata limit
    with pytest.raises(BadRequestError) as info:
        await client.upload_file(b"x", metadata=huge)
    assert info.value.param == "metadata"


# --- checks before any request ------------------------------------------------------------------

PATH_LIKE_IDS = ["../x", "a/b", "x y", "", ".", "..", "a?b", "tab\there"]


@pytest.mark.parametrize("bad", PATH_LIKE_IDS)
async def test_path_like_ids_send_nothing(
    client: AsyncClient, emulator: FilesEmulator, bad: str
) -> None:
    with pytest.raises(ValueError, match="file_id"):
        await client.get_file(bad)
    with pytest.raises(ValueError, match="file_id"):
        await client.get_download_url(bad)
    with pytest.raises(ValueError, match="file_id"):
        await client.download_file(bad)
    with pytest.raises(ValueError, match="file_id"):
        await client.delete_file(bad)
    assert emulator.requests == []


# Characters an HTTP library drops, re-encodes or refuses: each would let an id name another
# path than the one it spells (``file_x\udcff`` reached ``file_x``; ``\udcff`` reached ``files/``).
UNSENDABLE_ID_CHARACTERS = {
    "lone surrogate": "\udcff",
    "high surrogate": "\ud800",
    "NUL": "\x00",
    "C0 control": "\x1b",
    "DEL": "\x7f",
    "C1 control": "\x85",
    "bidi override": "\u202e",
    "bidi embedding": "\u202a",
    "bidi isolate": "\u2066",
    "pop isolate": "\u2069",
    "zero-width space": "\u200b",
    "byte order mark": "\ufeff",
    "soft hyphen": "\u00ad",
    "no-break space": "\u00a0",
    "ideographic space": "\u3000",
    "line separator": "\u2028",
    "newline": "\n",
}


@pytest.mark.parametrize(
    "character", UNSENDABLE_ID_CHARACTERS.values(), ids=list(UNSENDABLE_ID_CHARACTERS)
)
async def test_ids_the_url_layer_would_rewrite_send_nothing(
    client: AsyncClient, emulator: FilesEmulator, character: str, tmp_path: Path
) -> None:
    real = downloadable(emulator)
    for bad in (real + character, character, character + real, real[:8] + character + real[8:]):
        with pytest.raises(ValueError, match=r"^file_id must"):
            await client.get_file(bad)
        with pytest.raises(ValueError, match=r"^file_id must"):
            await client.get_download_url(bad)
        with pytest.raises(ValueError, match=r"^file_id must"):
            await client.download_file(bad)
        with pytest.raises(ValueError, match=r"^file_id must"):
            await client.download_file(bad, tmp_path / "out")
        with pytest.raises(ValueError, match=r"^file_id must"):
            await client.delete_file(bad)
    assert emulator.requests == []
    assert real in emulator.files
    assert listing(tmp_path) == []


async def test_upload_checks_its_arguments_first(
    client: AsyncClient, emulator: FilesEmulator, tmp_path: Path
) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"file": tmp_path / "missing.txt"}, "file"),
        ({"file": str(tmp_path)}, "file"),
        ({"file": io.StringIO("text")}, "binary mode"),
        ({"file": 12}, "file"),
        ({"file": b"x", "metadata": {"when": datetime.now(UTC)}}, "metadata"),
        ({"file": b"x", "metadata": ["a"]}, "metadata"),
        ({"file": b"x", "purpose": "homework"}, "purpose"),
        ({"file": b"x", "filename": "a\r\nb"}, "filename"),
        ({"file": b"x", "idempotency_key": "has space"}, "idempotency_key"),
        ({"file": b"x", "timeout": 0}, "timeout"),
        ({"file": b"x", "max_retries": -1}, "max_retries"),
    ]
    for kwargs, name in cases:
        with pytest.raises(ValueError, match=name):
            await client.upload_file(**kwargs)
    assert emulator.requests == []


async def test_download_checks_its_arguments_first(
    client: AsyncClient, emulator: FilesEmulator, tmp_path: Path
) -> None:
    file_id = downloadable(emulator)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"dest": tmp_path}, "directory"),
        ({"dest": io.StringIO()}, "binary mode"),
        ({"dest": 3}, "dest"),
        ({"chunk_size": 0}, "chunk_size"),
        ({"timeout": -1}, "timeout"),
        ({"timeout": float("inf")}, "timeout"),
    ]
    for kwargs, name in cases:
        with pytest.raises(ValueError, match=name):
            await client.download_file(file_id, **kwargs)
    with pytest.raises(ValueError, match="idempotency_key"):
        await client.delete_file(file_id, idempotency_key="")
    with pytest.raises(FileNotFoundError):
        await client.download_file(file_id, tmp_path / "no-such-dir" / "x")
    assert emulator.requests == []
    assert listing(tmp_path) == []


# --- the wire exchange, precisely ---------------------------------------------------------------

BASE = "https://api.example.test/api/v1/cloud"
TOKEN = "pt-0123456789abcdefSECRET"
FILE_ID = "file_019e3bb8c1387743bf4ef115aae5acb1"
PRESIGNED = "https://storage.example.test/files/abc?Signature=s1"
FILE = {
    "created_at": "2026-05-18T15:33:44Z",
    "file_id": FILE_ID,
    "filename": "notes.md",
    "metadata": {"project": "demo"},
    "mime_type": "text/markdown",
    "purpose": "session_resource",
    "size_bytes": 5,
    "status": "ready",
    "updated_at": "2026-05-18T15:33:44Z",
}
LINK = {"expires_at": "2099-05-18T16:34:52Z", "url": PRESIGNED}


@pytest.fixture
def mocked() -> Iterator[aioresponses]:
    with aioresponses() as m:
        yield m


@pytest.fixture
async def wire_client() -> AsyncIterator[AsyncClient]:
    async with AsyncClient(
        TOKEN,
        base_url=BASE,
        retry=INSTANT,
        default_headers={"X-Trace": "t-1"},
        api_generation="g1",  # the exchanges below are the seed generation's, to the byte
    ) as c:
        yield c


def calls(m: aioresponses, method: str, url: str) -> list[Any]:
    return list(m.requests.get((method, URL(url)), []))


async def multipart_parts(call: Any) -> list[tuple[str | None, str | None, str, bytes]]:
    """(name, filename, content type, content) of each part of a recorded form body."""
    writer = call.kwargs["data"]()
    raw = await writer.as_bytes()
    head = f"Content-Type: {writer.content_type}\r\n\r\n".encode()
    message: Any = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + raw)
    return [
        (
            part.get_param("name", header="content-disposition"),
            part.get_filename(),
            part.get_content_type(),
            part.get_payload(decode=True),
        )
        for part in message.iter_parts()
    ]


async def test_upload_on_the_wire(mocked: aioresponses, wire_client: AsyncClient) -> None:
    url = f"{BASE}/files"
    mocked.post(url, exception=aiohttp.ServerDisconnectedError())
    mocked.post(url, status=503, body=b"")
    mocked.post(url, status=201, payload=FILE)
    uploaded = await wire_client.upload_file(
        b"# hi\n", purpose="session_resource", filename="notes.md", metadata={"project": "demo"}
    )
    assert uploaded.file_id == FILE_ID
    attempts = calls(mocked, "POST", url)
    assert len(attempts) == 3
    keys = {a.kwargs["headers"]["Idempotency-Key"] for a in attempts}
    assert len(keys) == 1
    assert UUID4.fullmatch(keys.pop())
    assert len({a.kwargs["headers"]["x-request-id"] for a in attempts}) == 1
    headers = attempts[0].kwargs["headers"]
    assert headers["Authorization"] == f"Bearer {TOKEN}"
    assert "Content-Type" not in headers  # aiohttp sets multipart/form-data with its boundary
    assert await multipart_parts(attempts[0]) == [
        ("file", "notes.md", "text/markdown", b"# hi\n"),
        ("purpose", None, "text/plain", b"session_resource"),
        ("metadata", None, "text/plain", b'{"project":"demo"}'),
    ]


async def test_upload_sends_a_given_key_and_only_the_fields_set(
    mocked: aioresponses, wire_client: AsyncClient
) -> None:
    url = f"{BASE}/files"
    mocked.post(url, status=201, payload=FILE)
    await wire_client.upload_file(b"data", idempotency_key="my-key-1")
    (attempt,) = calls(mocked, "POST", url)
    assert attempt.kwargs["headers"]["Idempotency-Key"] == "my-key-1"
    assert await multipart_parts(attempt) == [
        ("file", "upload.bin", "application/octet-stream", b"data")
    ]


async def test_a_fresh_key_per_call(mocked: aioresponses, wire_client: AsyncClient) -> None:
    url = f"{BASE}/files"
    mocked.post(url, status=201, payload=FILE, repeat=True)
    await wire_client.upload_file(b"a")
    await wire_client.upload_file(b"a")
    keys = [a.kwargs["headers"]["Idempotency-Key"] for a in calls(mocked, "POST", url)]
    assert len(set(keys)) == 2


async def test_get_file_on_the_wire(mocked: aioresponses, wire_client: AsyncClient) -> None:
    url = f"{BASE}/files/{FILE_ID}"
    g3 = {k: v for k, v in FILE.items() if k not in ("file_id", "purpose", "status")}
    mocked.get(url, payload={**g3, "id": FILE_ID, "type": "file", "scope": None})
    got = await wire_client.get_file(FILE_ID)
    assert (got.file_id, got.purpose, got.scope, got.downloadable, got.extra) == (
        FILE_ID,
        None,
        None,
        False,
        {},
    )
    (call,) = calls(mocked, "GET", url)
    assert call.kwargs["headers"]["Authorization"] == f"Bearer {TOKEN}"


async def test_download_link_from_a_302_is_not_followed(
    mocked: aioresponses, wire_client: AsyncClient
) -> None:
    url = f"{BASE}/files/{FILE_ID}/content"
    mocked.get(url, status=302, headers={"Location": PRESIGNED}, payload=LINK)
    link = await wire_client.get_download_url(FILE_ID)
    assert link == DownloadLink(
        url=PRESIGNED, expires_at=datetime(2099, 5, 18, 16, 34, 52, tzinfo=UTC)
    )
    (call,) = calls(mocked, "GET", url)
    assert call.kwargs["allow_redirects"] is False
    assert calls(mocked, "GET", PRESIGNED) == []


async def test_download_link_from_a_bare_302_and_from_200(
    mocked: aioresponses, wire_client: AsyncClient
) -> None:
    url = f"{BASE}/files/{FILE_ID}/content"
    mocked.get(url, status=302, headers={"Location": PRESIGNED}, body=b"")
    mocked.get(url, status=200, payload=LINK)
    assert await wire_client.get_download_url(FILE_ID) == DownloadLink(url=PRESIGNED)
    assert (await wire_client.get_download_url(FILE_ID)).url == PRESIGNED


async def test_download_on_the_wire(mocked: aioresponses, wire_client: AsyncClient) -> None:
    mocked.get(f"{BASE}/files/{FILE_ID}/content", status=302, headers={"Location": PRESIGNED})
    mocked.get(PRESIGNED, body=b"content")
    assert await wire_client.download_file(FILE_ID) == b"content"
    (presigned,) = calls(mocked, "GET", PRESIGNED)
    assert presigned.kwargs["headers"] == {"User-Agent": USER_AGENT}
    assert presigned.kwargs["allow_redirects"] is False


async def test_a_link_already_past_its_expiry_is_replaced(
    mocked: aioresponses, wire_client: AsyncClient
) -> None:
    stale = "https://storage.example.test/files/abc?Signature=old"
    content_url = f"{BASE}/files/{FILE_ID}/content"
    mocked.get(content_url, payload={"expires_at": "2020-01-01T00:00:00Z", "url": stale})
    mocked.get(content_url, payload=LINK)
    mocked.get(PRESIGNED, body=b"fresh")
    assert await wire_client.download_file(FILE_ID) == b"fresh"
    assert calls(mocked, "GET", stale) == []
    assert len(calls(mocked, "GET", content_url)) == 2


async def test_storage_redirects_are_followed_without_credentials(
    mocked: aioresponses, wire_client: AsyncClient
) -> None:
    regional = "https://eu.storage.example.test/files/abc?Signature=s1"
    mocked.get(f"{BASE}/files/{FILE_ID}/content", payload=LINK)
    mocked.get(PRESIGNED, status=307, headers={"Location": regional})
    mocked.get(regional, body=b"moved")
    assert await wire_client.download_file(FILE_ID) == b"moved"
    (call,) = calls(mocked, "GET", regional)
    assert call.kwargs["headers"] == {"User-Agent": USER_AGENT}


async def test_a_redirect_loop_ends(mocked: aioresponses, wire_client: AsyncClient) -> None:
    mocked.get(f"{BASE}/files/{FILE_ID}/content", payload=LINK)
    mocked.get(PRESIGNED, status=302, headers={"Location": PRESIGNED}, repeat=True)
    with pytest.raises(APIError) as info:
        await wire_client.download_file(FILE_ID)
    assert info.value.status_code == 302
    assert len(calls(mocked, "GET", PRESIGNED)) == 6


@pytest.mark.parametrize(
    ("status", "body"),
    [(204, b""), (200, b'{"id":"file_019e3bb8c1387743bf4ef115aae5acb1","type":"file_deleted"}')],
)
async def test_delete_on_the_wire(
    mocked: aioresponses, wire_client: AsyncClient, status: int, body: bytes
) -> None:
    url = f"{BASE}/files/{FILE_ID}"
    mocked.delete(url, exception=aiohttp.ServerDisconnectedError())
    mocked.delete(url, status=status, body=body)
    await wire_client.delete_file(FILE_ID)
    attempts = calls(mocked, "DELETE", url)
    assert len(attempts) == 2
    keys = {a.kwargs["headers"]["Idempotency-Key"] for a in attempts}
    assert len(keys) == 1
    assert UUID4.fullmatch(keys.pop())


async def test_delete_surfaces_a_conflict(mocked: aioresponses, wire_client: AsyncClient) -> None:
    mocked.delete(
        f"{BASE}/files/{FILE_ID}",
        status=409,
        payload={
            "type": "error",
            "error": {"type": "conflict_error", "message": "File is still referenced."},
        },
    )
    with pytest.raises(ConflictError, match="still referenced"):
        await wire_client.delete_file(FILE_ID)


# --- small pieces -------------------------------------------------------------------------------


def test_guess_mime_type() -> None:
    assert guess_mime_type("README.MD") == "text/markdown"
    assert guess_mime_type("a.yml") == "application/x-yaml"
    assert guess_mime_type("a.pdf") == "application/pdf"
    assert guess_mime_type("no-extension") == "application/octet-stream"


def test_upload_view(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"0123456789")
    with path.open("rb") as raw:
        view = UploadView(raw)
        assert view.readable()
        assert view.seekable()
        assert view.fileno() == raw.fileno()
        assert view.read(4) == b"0123"
        assert view.tell() == 4
        assert view.seek(-2, os.SEEK_END) == 8
        assert view.seek(1, os.SEEK_CUR) == 9
        assert view.seek(0) == 0
        view.close()
        assert not raw.closed
        raw.seek(3)
        offset = UploadView(raw)
        assert offset.read() == b"3456789"
        with pytest.raises(io.UnsupportedOperation):
            offset.fileno()
    with path.open("rb") as closed:
        pass
    assert not UploadView(closed).seekable()  # seekable() raises on a closed file
    once = UploadView(Pipe(b"abc"))
    assert not once.seekable()
    assert once.seek(0) == 0
    assert once.read(2) == b"ab"
    assert once.tell() == 2
    with pytest.raises(io.UnsupportedOperation):
        once.seek(0)


@G1_ONLY
async def test_large_in_memory_uploads_stream_without_warnings(client: AsyncClient) -> None:
    # More than aiohttp's 1 MiB threshold for raw bytes bodies; warnings are errors here.
    data = os.urandom(2 * 1024 * 1024 + 7)
    for source in (data, bytearray(data), io.BytesIO(data)):
        stored = await client.upload_file(source, filename="big.bin", purpose="tool_output")
        assert stored.size_bytes == len(data)
        assert await client.download_file(stored.file_id) == data


@pytest.mark.parametrize("name", ["my notes é.md", "résumé.txt", "100% done.txt", "a,b;c.csv"])
async def test_filenames_are_sent_as_they_are(client: AsyncClient, name: str) -> None:
    stored = await client.upload_file(b"hi", filename=name)
    assert stored.filename == name


async def test_newest_generation_one_file_calls() -> None:
    emulator = FilesEmulator(shape="g3")
    emulator.seed(20)
    async with emulator.serve() as url, AsyncClient(emulator.token, base_url=url) as client:
        uploaded = await client.upload_file(b"# notes\n", filename="notes.md")
        assert uploaded.purpose is None
        assert (uploaded.downloadable, uploaded.scope, uploaded.extra) == (False, None, {})
        assert await client.get_file(uploaded.file_id) == uploaded
        with pytest.raises(PermissionDeniedError, match="downloadable"):
            await client.download_file(uploaded.file_id)
        await client.delete_file(uploaded.file_id)  # 200 {id, type: "file_deleted"}
        with pytest.raises(NotFoundError):
            await client.get_file(uploaded.file_id)
        artifact = next(f for f in emulator.files.values() if f.downloadable)
        assert await client.download_file(artifact.file_id) == artifact.content
    statuses = {(r.method, r.path.rsplit("/", 1)[-1]) for r in emulator.requests}
    assert ("POST", "files") in statuses
