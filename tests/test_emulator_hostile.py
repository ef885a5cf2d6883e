"""The emulator against hostile requests: raw bytes on a socket, a 4xx envelope, bounded state."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from yarl import URL

from qoder_files.testing import Fault, FilesEmulator
from qoder_files.testing._protocol import error_type_for
from qoder_files.testing._records import LruRecords

TOKEN = "pt-emulator"
FILE_HEADER = b'Content-Disposition: form-data; name="file"; filename="a.txt"'


def multipart(*parts: tuple[bytes, bytes], boundary: bytes = b"xyz") -> bytes:
    """A multipart body built by hand, so any byte can go into a part header."""
    body = b""
    for headers, data in parts:
        body += b"--" + boundary + b"\r\n" + headers + b"\r\n\r\n" + data + b"\r\n"
    return body + b"--" + boundary + b"--\r\n"


def field(name: str, value: bytes) -> tuple[bytes, bytes]:
    return f'Content-Disposition: form-data; name="{name}"'.encode(), value


class Answer:
    def __init__(self, raw: bytes) -> None:
        head, _, self.body = raw.partition(b"\r\n\r\n")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        self.status = int(status_line.split()[1])
        self.headers = {k.lower(): v.strip() for k, _, v in (x.partition(":") for x in lines)}

    def json(self) -> Any:
        # Strict: NaN and Infinity are not JSON.
        return json.loads(self.body, parse_constant=lambda name: pytest.fail(f"{name} in body"))


async def send(
    url: str,
    method: str,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    token: bool = True,
) -> Answer:
    """One request as raw bytes on a fresh connection; the whole answer."""
    target = URL(url)
    reader, writer = await asyncio.open_connection(target.host, target.port)
    head = {
        "Host": f"{target.host}:{target.port}",
        "Content-Length": str(len(body)),
        "Connection": "close",
        **({"Authorization": f"Bearer {TOKEN}"} if token else {}),
        **(headers or {}),
    }
    request = f"{method} {target.path}{path} HTTP/1.1\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in head.items()
    )
    writer.write(request.encode("latin-1") + b"\r\n" + body)
    await writer.drain()
    raw = await reader.read()
    writer.close()
    await writer.wait_closed()
    return Answer(raw)


MULTIPART = {"Content-Type": "multipart/form-data; boundary=xyz"}


@pytest.fixture
def emulator() -> FilesEmulator:
    em = FilesEmulator()
    em.seed(10)
    return em


@pytest.fixture
async def url(emulator: FilesEmulator) -> AsyncIterator[str]:
    async with emulator.serve() as base_url:
        yield base_url


def assert_refused(answer: Answer, status: int = 400, param: str | None = None) -> dict[str, Any]:
    assert answer.status == status, answer.body
    body: dict[str, Any] = answer.json()
    assert body["type"] == "error"
    assert body["error"]["type"] == "invalid_request_error"
    assert body["error"]["message"]
    assert body["error"].get("param") == param
    return body


# --- never a 500 ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        b'Content-Disposition: form-data; name="file"; filename="a\x01.txt"',
        b'Content-Disposition: form-data; name="fi\x00le"; filename="a.txt"',
        FILE_HEADER + b"\r\nX-Odd\x07: 1",
    ],
    ids=["control in value", "nul in value", "control in name"],
)
async def test_a_control_character_in_a_part_header_is_a_400(
    emulator: FilesEmulator, url: str, header: bytes
) -> None:
    count = len(emulator.files)
    answer = await send(url, "POST", "/files", headers=MULTIPART, body=multipart((header, b"hi")))
    assert_refused(answer)
    assert len(emulator.files) == count


async def test_a_malformed_content_disposition_is_a_400(emulator: FilesEmulator, url: str) -> None:
    header = b"Content-Disposition: form-data; name=\"file\"; filename*=UTF-8''a%FF%00.txt"
    answer = await send(url, "POST", "/files", headers=MULTIPART, body=multipart((header, b"x")))
    assert "Content-Disposition" in assert_refused(answer)["error"]["message"]


async def test_a_filename_that_is_not_utf8_is_a_400(url: str) -> None:
    header = b'Content-Disposition: form-data; name="file"; filename="a\xff.txt"'
    answer = await send(url, "POST", "/files", headers=MULTIPART, body=multipart((header, b"x")))
    assert_refused(answer, param="file")


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
async def test_a_body_marked_compressed_that_is_not_is_a_400(
    emulator: FilesEmulator, url: str, encoding: str
) -> None:
    count = len(emulator.files)
    answer = await send(
        url,
        "POST",
        "/files",
        headers={**MULTIPART, "Content-Encoding": encoding},
        body=multipart((FILE_HEADER, b"plain text, not compressed")),
    )
    assert "Content-Encoding" in assert_refused(answer)["error"]["message"]
    assert len(emulator.files) == count


@pytest.mark.parametrize(
    ("metadata", "fragment"),
    [
        (b'{"a":' + b"[" * 1000 + b"]" * 1000 + b"}", "levels deep"),
        (b'{"a":' + b'{"b":' * 65 + b"1" + b"}" * 65 + b"}", "levels deep"),
        (b'{"a":NaN}', "NaN"),
        (b'{"a":Infinity}', "Infinity"),
        (b'{"a":[1,-Infinity]}', "-Infinity"),
        (b'{"a":"\\udcff"}', "Unicode"),
        (b'{"a":"\xff"}', "UTF-8"),
    ],
    ids=["1000 deep", "66 deep", "NaN", "Infinity", "-Infinity", "lone surrogate", "not utf-8"],
)
async def test_metadata_that_cannot_render_as_json_is_a_400(
    emulator: FilesEmulator, url: str, metadata: bytes, fragment: str
) -> None:
    count = len(emulator.files)
    body = multipart((FILE_HEADER, b"hi"), field("metadata", metadata))
    answer = await send(url, "POST", "/files", headers=MULTIPART, body=body)
    assert fragment in assert_refused(answer, param="metadata")["error"]["message"]
    assert len(emulator.files) == count
    listing = await send(url, "GET", "/files?limit=100")
    assert listing.status == 200
    assert len(listing.json()["data"]) == count  # every page still strict JSON


async def test_metadata_at_the_depth_limit_is_stored(emulator: FilesEmulator, url: str) -> None:
    deep = b'{"a":' * 64 + b"1" + b"}" * 64
    body = multipart((FILE_HEADER, b"hi"), field("metadata", deep))
    answer = await send(url, "POST", "/files", headers=MULTIPART, body=body)
    assert answer.status == 201
    listing = await send(url, "GET", "/files?limit=1")
    assert listing.json()["data"][0]["metadata"] == json.loads(deep)


# --- 405 ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/files", {"GET", "POST"}),
        ("PATCH", "/files/file_x", {"GET", "DELETE"}),
        ("POST", "/files/file_x/content", {"GET"}),
    ],
)
async def test_a_method_a_route_lacks_is_a_405_with_allow(
    url: str, method: str, path: str, allowed: set[str]
) -> None:
    answer = await send(url, method, path)
    assert_refused(answer, status=405)
    assert answer.headers["x-request-id"]
    assert allowed <= {m.strip() for m in answer.headers["allow"].split(",")}


# --- bounded state ------------------------------------------------------------------------------


async def test_the_request_log_keeps_the_latest(url: str, emulator: FilesEmulator) -> None:
    small = FilesEmulator(max_recorded_requests=25)
    small.seed(3)
    async with small.serve() as small_url:
        for n in range(60):
            await send(small_url, "GET", f"/files?limit=1&n={n}")
            assert len(small.requests) == min(n + 1, 25)
    assert [r.query["n"] for r in small.requests] == [str(n) for n in range(35, 60)]
    assert len(emulator.requests) == 0  # the default keeps far more than a test sends
    await send(url, "GET", "/files")
    assert len(emulator.requests) == 1


async def test_download_links_are_bounded() -> None:
    em = FilesEmulator(max_download_links=3)
    em.seed(20, purposes=["tool_output"])
    async with em.serve() as url:
        links = []
        for file_id in em.ids()[:6]:
            answer = await send(url, "GET", f"/files/{file_id}/content")
            links.append(URL(answer.json()["url"]))
        for n, link in enumerate(links):
            got = await send(url, "GET", link.path[len("/api/v1/cloud") :], token=False)
            if n < 3:  # forgotten to make room, so it reads as a forged link
                assert got.status == 403
                assert b"SignatureDoesNotMatch" in got.body
            else:
                assert got.status == 200
                assert got.body == em.files[em.ids()[n]].content


async def upload(url: str, key: str, content: bytes) -> Answer:
    body = multipart((FILE_HEADER, content))
    return await send(
        url, "POST", "/files", headers={**MULTIPART, "Idempotency-Key": key}, body=body
    )


async def test_idempotency_keys_are_bounded_least_recently_used_first() -> None:
    em = FilesEmulator(max_idempotency_keys=3)
    async with em.serve() as url:
        for key in ("a", "b", "c"):
            assert (await upload(url, key, key.encode())).status == 201
        assert (await upload(url, "a", b"a")).headers["idempotent-replayed"] == "true"
        await upload(url, "d", b"d")  # the least recently used, "b", makes room
        assert len(em.files) == 4
        again = await upload(url, "b", b"different now")
        assert again.status == 201  # a new key again: no 409, and it runs
        assert "idempotent-replayed" not in again.headers
        assert (await upload(url, "a", b"a")).headers["idempotent-replayed"] == "true"
        for n in range(200):
            await upload(url, f"many-{n}", b"x")
        assert len(em._file_routes._replays) == 3


async def test_idempotency_keys_expire() -> None:
    em = FilesEmulator(idempotency_ttl=0)
    async with em.serve() as url:
        await upload(url, "k", b"one")
        again = await upload(url, "k", b"two")
    assert again.status == 201
    assert len(em.files) == 2


def test_lru_records_forget_the_least_recently_used_and_the_expired() -> None:
    now = [0.0]
    records: LruRecords[int] = LruRecords(2, lifetime=10, clock=lambda: now[0])
    records.put("a", 1)
    records.put("b", 2)
    assert records.get("a") == 1
    records.put("c", 3)
    assert (records.get("a"), records.get("b"), records.get("c")) == (1, None, 3)
    now[0] = 10.0
    assert records.get("a") is None
    assert len(records) == 1


@pytest.mark.parametrize(
    "name", ["max_recorded_requests", "max_download_links", "max_idempotency_keys"]
)
@pytest.mark.parametrize("value", [0, -1, True, 2.5, "10"])
def test_bounds_must_be_positive_ints(name: str, value: object) -> None:
    with pytest.raises(ValueError, match=name):
        FilesEmulator(**{name: value})  # type: ignore[arg-type]


# --- faults -------------------------------------------------------------------------------------


def test_a_misspelt_fault_route_raises_naming_the_routes() -> None:
    em = FilesEmulator()
    with pytest.raises(ValueError, match="lists") as caught:
        em.add_fault(Fault.error(503), route="lists")
    for route in ("list", "get", "upload", "content", "download", "delete", "*"):
        assert route in str(caught.value)
    assert em.add_fault(Fault.error(503), route="list").route == "list"


def test_error_types_for_the_statuses_routing_answers() -> None:
    assert [error_type_for(s) for s in (400, 404, 405, 410, 413, 429, 500, 503)] == [
        "invalid_request_error",
        "not_found_error",
        "invalid_request_error",
        "not_found_error",
        "invalid_request_error",
        "rate_limit_error",
        "api_error",
        "api_error",
    ]
