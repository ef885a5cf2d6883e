"""A small storage server that moves content slowly, stalls, cuts off, or takes uploads.

For the transfer tests: it serves the few API routes a client needs to reach content
(``GET files/{id}``, ``GET files/{id}/content``, ``POST files``) under ``/api/v1/cloud``, and
the presigned route ``/blob/{id}`` itself. Each file follows a ``Plan``: its size, how its
body goes out (pieces every so often, a stall after some bytes, a cut-off), and whether the
headers name it. Content is generated from its offset, so even a large file is never held;
uploads are hashed as they arrive, never kept. It records what it saw, for assertions.

``serve_in_thread()`` runs it on a loopback port from a background thread, so a client in a
child process (measuring its own memory) can use it as well as one in the test's own loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import attrs
from aiohttp import BodyPartReader, web

__all__ = ["TOKEN", "Plan", "SlowStorage", "content", "digest"]

TOKEN = "pt-slow-storage"
_PREFIX = "/api/v1/cloud"
_BLOCK = hashlib.sha256(b"slow storage").digest() * 2047  # 65,504 bytes: chunks never align


def content(offset: int, size: int) -> bytes:
    """``size`` bytes of the generated content, from ``offset``."""
    start = offset % len(_BLOCK)
    out = bytearray()
    while len(out) < size:
        out += _BLOCK[start : start + size - len(out)]
        start = 0
    return bytes(out)


def digest(size: int, piece: int = 1 << 20) -> str:
    """The SHA-256 of a generated content of ``size`` bytes, computed piece by piece."""
    hasher = hashlib.sha256()
    for offset in range(0, size, piece):
        hasher.update(content(offset, min(piece, size - offset)))
    return hasher.hexdigest()


@attrs.frozen(kw_only=True)
class Plan:
    """How one file's content goes out.

    Attributes:
        size: Bytes of content.
        piece: Bytes written at a time.
        interval: Seconds to wait before each piece after the first.
        stall_after: Bytes sent before the body stops for good (the connection stays open).
        cut_after: Bytes sent before the connection is closed mid-body.
        cut_times: How many fetches are cut (later ones complete).
        fail_first: Statuses answered by the first fetches, one per fetch, before any body.
        retry_after: Seconds those answers ask the client to wait (``retry-after-ms``).
        named: Whether ``Content-Disposition`` names the file.
        json_interval: Seconds between the bytes of the metadata JSON (a dribbled API answer).
    """

    size: int
    piece: int = 65536
    interval: float = 0.0
    stall_after: int | None = None
    cut_after: int | None = None
    cut_times: int = 1
    fail_first: tuple[int, ...] = ()
    retry_after: float | None = None
    named: bool = True
    json_interval: float = 0.0


class SlowStorage:
    """Serves files by their ``Plan`` (``{file_id: plan}``) and takes uploads."""

    def __init__(self, plans: dict[str, Plan]) -> None:
        self.plans = plans
        self.fetches: dict[str, int] = {}
        self.finished: dict[str, int] = {}
        self.disconnected: dict[str, int] = {}
        self.api_requests: list[str] = []
        self.uploads: list[dict[str, Any]] = []
        self.upload_chunk_sizes: list[int] = []
        self.base = ""

    # --- API -------------------------------------------------------------------------------

    def _wire_file(self, file_id: str, size: int) -> dict[str, Any]:
        return {
            "file_id": file_id,
            "filename": f"{file_id}.bin",
            "size_bytes": size,
            "mime_type": "application/octet-stream",
            "purpose": "tool_output",
            "status": "ready",
            "metadata": {},
            "created_at": "2026-05-18T15:33:44Z",
        }

    def _plan(self, request: web.Request) -> tuple[str, Plan]:
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            raise web.HTTPUnauthorized()
        file_id = request.match_info["file_id"]
        plan = self.plans.get(file_id)
        if plan is None:
            raise web.HTTPNotFound(
                text=json.dumps({"type": "not_found_error", "message": "no such file"}),
                content_type="application/json",
            )
        return file_id, plan

    async def get_file(self, request: web.Request) -> web.StreamResponse:
        self.api_requests.append(request.path)
        file_id, plan = self._plan(request)
        body = json.dumps(self._wire_file(file_id, plan.size)).encode()
        if not plan.json_interval:
            return web.Response(body=body, content_type="application/json")
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.content_length = len(body)
        await response.prepare(request)
        with contextlib.suppress(ConnectionError):
            for index in range(len(body)):
                await response.write(body[index : index + 1])
                await asyncio.sleep(plan.json_interval)
        return response

    async def link(self, request: web.Request) -> web.Response:
        self.api_requests.append(request.path)
        file_id, _ = self._plan(request)
        return web.json_response({"url": f"{self.base}/blob/{file_id}", "expires_at": None})

    async def upload(self, request: web.Request) -> web.Response:
        self.api_requests.append(request.path)
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            raise web.HTTPUnauthorized()
        reader = await request.multipart()
        hasher = hashlib.sha256()
        size = 0
        filename = "upload"
        while (part := await reader.next()) is not None:
            assert isinstance(part, BodyPartReader)  # a form holds no nested multipart
            if part.name != "file":
                await part.release()
                continue
            filename = part.filename or filename
            while chunk := await part.read_chunk():
                self.upload_chunk_sizes.append(len(chunk))
                hasher.update(chunk)
                size += len(chunk)
        record = {
            "size": size,
            "sha256": hasher.hexdigest(),
            "filename": filename,
            "content_length": request.headers.get("Content-Length"),
            "chunked": request.headers.get("Transfer-Encoding", "").lower() == "chunked",
        }
        self.uploads.append(record)
        wire = self._wire_file(f"file_{len(self.uploads):032x}", size)
        wire |= {"filename": filename, "metadata": {"sha256": record["sha256"]}}
        return web.json_response(wire, status=201)

    # --- storage ---------------------------------------------------------------------------

    async def blob(self, request: web.Request) -> web.StreamResponse:
        file_id = request.match_info["file_id"]
        plan = self.plans[file_id]
        fetch = self.fetches.get(file_id, 0)
        self.fetches[file_id] = fetch + 1
        if fetch < len(plan.fail_first):
            wait = {}
            if plan.retry_after is not None:
                wait["retry-after-ms"] = f"{plan.retry_after * 1000:g}"
            return web.Response(status=plan.fail_first[fetch], text="try again", headers=wait)
        headers = {"Content-Type": "application/octet-stream"}
        if plan.named:
            headers["Content-Disposition"] = f'attachment; filename="{file_id}.bin"'
        response = web.StreamResponse(headers=headers)
        response.content_length = plan.size
        await response.prepare(request)
        cut = plan.cut_after if fetch - len(plan.fail_first) < plan.cut_times else None
        sent = 0
        try:
            while sent < plan.size:
                if sent and plan.interval:
                    await asyncio.sleep(plan.interval)
                if plan.stall_after is not None and sent >= plan.stall_after:
                    await asyncio.sleep(3600)
                if cut is not None and sent >= cut:
                    assert request.transport is not None
                    request.transport.close()
                    return response
                piece = min(plan.piece, plan.size - sent)
                await response.write(content(sent, piece))
                sent += piece
            await response.write_eof()
        except (ConnectionError, asyncio.CancelledError):
            self.disconnected[file_id] = self.disconnected.get(file_id, 0) + 1
            raise
        self.finished[file_id] = self.finished.get(file_id, 0) + 1
        return response

    # --- serving ---------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get(_PREFIX + "/files/{file_id}", self.get_file)
        app.router.add_get(_PREFIX + "/files/{file_id}/content", self.link)
        app.router.add_post(_PREFIX + "/files", self.upload)
        app.router.add_get("/blob/{file_id}", self.blob)
        return app

    @contextlib.asynccontextmanager
    async def serve(self) -> AsyncIterator[str]:
        """Run on a free loopback port of the running loop; yield the API root URL."""
        # Cancel handlers whose client left, as a production server would.
        runner = web.AppRunner(self.app(), access_log=None, handler_cancellation=True)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base = f"http://127.0.0.1:{port}"
        try:
            yield self.base + _PREFIX
        finally:
            await runner.cleanup()

    @contextlib.contextmanager
    def serve_in_thread(self) -> Iterator[str]:
        """Run on a free loopback port from a background thread; yield the API root URL."""
        ready = threading.Event()
        url: list[str] = []
        loop = asyncio.new_event_loop()
        stop = loop.create_future()

        async def main() -> None:
            async with self.serve() as base_url:
                url.append(base_url)
                ready.set()
                await stop

        thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
        thread.start()
        ready.wait(10)
        try:
            yield url[0]
        finally:
            loop.call_soon_threadsafe(stop.set_result, None)
            thread.join(10)
            loop.close()
