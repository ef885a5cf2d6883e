"""A storage server for the streaming benchmark: one large file, served as fast as loopback goes.

It answers two requests over a bare asyncio protocol, so that the server is not what the
benchmark measures: ``GET .../files/{id}/content`` (a download link, 200 JSON, as the newest
API generation answers) and ``GET /blob/{id}`` (the content: ``--mb`` MiB from one pre-built
buffer, written in slices under the transport's flow control, never copied whole). Anything
else gets a 404.

Run it as a script; it prints ``READY <base_url>`` and serves until stdin closes::

    python benchmarks/blobserver.py --mb 100
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import threading

API_PREFIX = b"/api/v1/cloud"
FILE_ID = "file_0000000000000000000000000000b10b"
_SLICE = 256 * 1024


class BlobProtocol(asyncio.Protocol):
    """HTTP/1.1 keep-alive, one request at a time per connection (as clients use it)."""

    def __init__(self, content: memoryview, base: bytes, token: str) -> None:
        self.content = content
        self.base = base
        self.auth = f"Bearer {token}".encode()
        self.buffer = b""
        self.transport: asyncio.Transport | None = None
        self.sending: int | None = None  # the offset of the body being sent, if any
        self.paused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        self.pump()

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while self.sending is None and (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            head, self.buffer = self.buffer[:end], self.buffer[end + 4 :]
            self.answer(head)

    def answer(self, head: bytes) -> None:
        assert self.transport is not None
        lines = head.split(b"\r\n")
        target = lines[0].split(b" ", 2)[1]
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        path = target.partition(b"?")[0]
        if path == API_PREFIX + f"/files/{FILE_ID}/content".encode():
            if headers.get(b"authorization") != self.auth:
                self.reply(401, b'{"type":"error","error":{"type":"authentication_error"}}')
                return
            url = (self.base + f"/blob/{FILE_ID}".encode()).decode()
            self.reply(200, json.dumps({"url": url, "expires_at": None}).encode())
            return
        if path == f"/blob/{FILE_ID}".encode():
            self.transport.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                b'Content-Disposition: attachment; filename="bench.bin"\r\n'
                b"Content-Length: %d\r\n\r\n" % len(self.content)
            )
            self.sending = 0
            self.pump()
            return
        self.reply(404, b'{"type":"error","error":{"type":"not_found_error"}}')

    def reply(self, status: int, body: bytes) -> None:
        assert self.transport is not None
        self.transport.write(
            b"HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
            % (status, len(body))
            + body
        )

    def pump(self) -> None:
        while self.sending is not None and not self.paused and self.transport is not None:
            end = min(self.sending + _SLICE, len(self.content))
            self.transport.write(self.content[self.sending : end])
            self.sending = None if end == len(self.content) else end
        if self.sending is None and self.buffer:
            self.data_received(b"")


async def serve(mb: int, *, token: str, port: int) -> None:
    """Serve until stdin closes (the parent went away) and print ``READY <base_url>``."""
    content = memoryview(bytes(range(256)) * (mb * 4096))
    loop = asyncio.get_running_loop()
    base: list[bytes] = []
    server = await loop.create_server(
        lambda: BlobProtocol(content, base[0], token), "127.0.0.1", port
    )
    bound = server.sockets[0].getsockname()[1]
    base.append(f"http://127.0.0.1:{bound}".encode())
    print(f"READY http://127.0.0.1:{bound}{API_PREFIX.decode()} {FILE_ID}", flush=True)
    stop = asyncio.Event()

    def watch_stdin() -> None:
        sys.stdin.read()
        loop.call_soon_threadsafe(stop.set)

    threading.Thread(target=watch_stdin, daemon=True).start()
    async with server:
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=100, help="MiB of content (100)")
    parser.add_argument("--token", default="pt-emulator")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    asyncio.run(serve(args.mb, token=args.token, port=args.port))


if __name__ == "__main__":
    main()
