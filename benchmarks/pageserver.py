"""A pre-rendered Files API list server, so that the server is not what a benchmark measures.

It seeds files exactly as ``FilesEmulator.seed(n)`` does (same generator, same seed), renders
every page a forward walk with ``limit=100`` can ask for (the whole listing and, unless told
otherwise, each purpose) once, up front, and then answers ``GET .../files`` from a dict keyed
by ``(purpose, limit, after)`` over a bare asyncio protocol: no routing, no JSON encoding,
one dict lookup per request. Anything it did not pre-render gets a 400 in the documented
error envelope, so a benchmark can never silently measure something else.

``check_against_emulator()`` walks this server and a real ``FilesEmulator`` side by side and
requires byte-identical bodies, so both share one set of cursor semantics.

Run it as a script; it prints ``READY <base_url>`` and serves until stdin closes::

    python benchmarks/pageserver.py --files 100000 [--latency 0.02] [--no-purposes]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import parse_qsl

from qoder_files.models import Purpose
from qoder_files.testing import FilesEmulator

API_PREFIX = b"/api/v1/cloud"
LIST_PATH = API_PREFIX + b"/files"
LIMIT = 100
_ERROR_HEAD = b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"

PageKey = tuple[str | None, int, str | None]


def seeded_files(n: int, chunk: int = 20_000) -> Iterator[tuple[str, str, bytes]]:
    """``(file_id, purpose, rendered JSON)`` of ``FilesEmulator().seed(n)``, oldest first.

    Seeds in chunks with one generator, so a million files never sit in memory with their
    content; each chunk continues the clock where the previous one stopped, which gives the
    same files as a single ``seed(n)`` call.
    """
    rng = random.Random(0)
    start = None
    left = n
    while left > 0:
        emulator = FilesEmulator()
        if start is None:
            added = emulator.seed(min(chunk, left), rng=rng)
        else:
            added = emulator.seed(min(chunk, left), rng=rng, start=start)
        for stored in added:
            yield stored.file_id, stored.purpose, stored.rendered("g1")
        start = added[-1].created_at + timedelta(seconds=1)
        left -= len(added)


def _envelope(items: list[tuple[str, bytes]], has_more: bool) -> bytes:
    # The emulator's list envelope, byte for byte (``check_against_emulator`` proves it).
    first = json.dumps(items[0][0]) if items else "null"
    last = json.dumps(items[-1][0]) if items else "null"
    more = "true" if has_more else "false"
    data = b",".join(body for _, body in items)
    tail = f'],"first_id":{first},"has_more":{more},"last_id":{last}}}'
    return b'{"data":[' + data + tail.encode()


def _walk_pages(
    newest_first: list[tuple[str, bytes]], purpose: str | None
) -> Iterator[tuple[PageKey, bytes]]:
    after = None
    for offset in range(0, max(len(newest_first), 1), LIMIT):
        items = newest_first[offset : offset + LIMIT]
        yield (purpose, LIMIT, after), _envelope(items, offset + LIMIT < len(newest_first))
        if items:
            after = items[-1][0]


def build_pages(n: int, *, purposes: bool = True, chunk: int = 20_000) -> dict[PageKey, bytes]:
    """Every page of the forward walks with ``limit=100``, keyed by ``(purpose, limit, after)``."""
    everything: list[tuple[str, bytes]] = []
    by_purpose: dict[str, list[tuple[str, bytes]]] = {p.value: [] for p in Purpose}
    for file_id, purpose, body in seeded_files(n, chunk):
        everything.append((file_id, body))
        if purposes:
            by_purpose[purpose].append((file_id, body))
    pages: dict[PageKey, bytes] = {}
    everything.reverse()
    pages.update(_walk_pages(everything, None))
    # The one-file page a client asks for to learn the server's API generation.
    pages[(None, 1, None)] = _envelope(everything[:1], len(everything) > 1)
    del everything
    if purposes:
        for purpose, files in by_purpose.items():
            files.reverse()
            pages.update(_walk_pages(files, purpose))
    return pages


def _response(status: int, reason: bytes, body: bytes, request_id: bytes | None) -> bytes:
    head = _ERROR_HEAD % (status, reason, len(body))
    if request_id is not None:
        head += b"x-request-id: " + request_id + b"\r\n"
    return head + b"\r\n" + body


def _error(status: int, reason: bytes, kind: str, message: str, rid: bytes | None) -> bytes:
    body = json.dumps({"type": "error", "error": {"type": kind, "message": message}}).encode()
    return _response(status, reason, body, rid)


class PageProtocol(asyncio.Protocol):
    """HTTP/1.1 keep-alive, one request at a time per connection (as clients use it)."""

    def __init__(
        self, pages: dict[PageKey, bytes], token: str, latency: float, stamp: bool = False
    ) -> None:
        self.pages = pages
        self.stamp = stamp
        self.auth = f"Bearer {token}".encode()
        self.latency = latency
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            head, self.buffer = self.buffer[:end], self.buffer[end + 4 :]
            answer = self.answer(head)
            if self.stamp and b"after=" not in head.split(b"\r\n", 1)[0]:
                # The first page of a walk: say when it leaves, for the first-row benchmark.
                print(f"FIRST {time.time():.6f}", flush=True)
            if self.latency:
                asyncio.get_running_loop().call_later(self.latency, self.write, answer)
            else:
                self.write(answer)

    def write(self, answer: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(answer)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None

    def answer(self, head: bytes) -> bytes:
        """The complete response to one request head."""
        lines = head.split(b"\r\n")
        method, target, _ = lines[0].split(b" ", 2)
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        rid = headers.get(b"x-request-id")
        path, _, query = target.partition(b"?")
        if method != b"GET" or path.rstrip(b"/") != LIST_PATH:
            return _error(404, b"Not Found", "not_found_error", "Not found.", rid)
        if headers.get(b"authorization") != self.auth:
            return _error(
                401, b"Unauthorized", "authentication_error", "Invalid API key or token.", rid
            )
        params = dict(parse_qsl(query.decode()))
        body = None
        if params.keys() <= {"purpose", "limit", "after"}:
            with contextlib.suppress(ValueError):
                limit = int(params.get("limit", "20"))
                body = self.pages.get((params.get("purpose"), limit, params.get("after")))
        if body is None:
            return _error(
                400,
                b"Bad Request",
                "invalid_request_error",
                f"benchmark server: no pre-rendered page for {query.decode()!r}",
                rid,
            )
        return _response(200, b"OK", body, rid)


async def serve(
    pages: dict[PageKey, bytes], *, token: str, latency: float, port: int, stamp: bool = False
) -> None:
    """Serve until stdin closes (the parent went away) and print ``READY <base_url>``.

    With ``stamp``, also print ``FIRST <unix time>`` as the first page of each walk is sent.
    """
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: PageProtocol(pages, token, latency, stamp), "127.0.0.1", port
    )
    bound = server.sockets[0].getsockname()[1]
    print(f"READY http://127.0.0.1:{bound}{API_PREFIX.decode()}", flush=True)
    stop = asyncio.Event()

    def watch_stdin() -> None:
        sys.stdin.read()
        loop.call_soon_threadsafe(stop.set)

    threading.Thread(target=watch_stdin, daemon=True).start()
    async with server:
        await stop.wait()


def check_against_emulator(n: int = 2_345, chunk: int = 700) -> None:
    """Walk this server's pages and a live ``FilesEmulator``'s side by side; bodies must match."""
    import aiohttp

    pages = build_pages(n, chunk=chunk)  # a small chunk crosses several chunk boundaries

    async def run() -> None:
        emulator = FilesEmulator()
        emulator.seed(n)
        headers = {"Authorization": f"Bearer {emulator.token}"}
        async with emulator.serve() as url, aiohttp.ClientSession(headers=headers) as http:
            async with http.get(f"{url}/files", params={"limit": "1"}) as response:
                if pages.get((None, 1, None)) != await response.read():
                    raise AssertionError("the one-file probe page differs from the emulator")
            checked = 1
            for purpose in [None, *(p.value for p in Purpose)]:
                after = None
                while True:
                    params = {"limit": str(LIMIT)}
                    if purpose is not None:
                        params["purpose"] = purpose
                    if after is not None:
                        params["after"] = after
                    async with http.get(f"{url}/files", params=params) as response:
                        expected = await response.read()
                    if pages.get((purpose, LIMIT, after)) != expected:
                        raise AssertionError(f"page {(purpose, after)} differs from the emulator")
                    checked += 1
                    page = json.loads(expected)
                    if not page["has_more"]:
                        break
                    after = page["last_id"]
            if checked != len(pages):
                raise AssertionError(f"{len(pages)} pages rendered, {checked} walked")

    asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, required=True)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per response")
    parser.add_argument("--no-purposes", action="store_true", help="only the unfiltered walk")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token", default="pt-emulator")
    parser.add_argument(
        "--stamp", action="store_true", help="print when each walk's first page goes"
    )
    args = parser.parse_args()
    pages = build_pages(args.files, purposes=not args.no_purposes)
    asyncio.run(
        serve(pages, token=args.token, latency=args.latency, port=args.port, stamp=args.stamp)
    )


if __name__ == "__main__":
    main()
