"""A small hostile HTTP server for tests: each route misbehaves in one chosen way.

Independent of the emulator: it knows only the routes a test gives it, answers them from
plain aiohttp.web handlers, and records what it saw. Also runnable as a script
(``python hostile.py bomb|endless``) that serves one hostile body and prints its base URL,
for tests that measure a client's memory in a separate process.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

__all__ = ["HostileServer", "gzip_bomb"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def gzip_bomb(inflated: int, block: int = 1 << 20) -> bytes:
    """A gzip stream of ``inflated`` zero bytes (about a thousand times smaller)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: gzip framing
    zeros = bytes(block)
    parts = [packer.compress(zeros) for _ in range(inflated // block)]
    parts.append(packer.flush())
    return b"".join(parts)


class HostileServer:
    """Serves ``routes`` ({(method, path): handler}) under ``/api/v1/cloud`` on loopback."""

    def __init__(self, routes: dict[tuple[str, str], Handler]) -> None:
        self.routes = routes
        self.seen: list[tuple[str, str, dict[str, str]]] = []

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        self.seen.append((request.method, request.path_qs, dict(request.headers)))
        handler = self.routes.get((request.method, request.path))
        if handler is None:
            return web.json_response({"type": "error"}, status=404)
        return await handler(request)

    @contextlib.asynccontextmanager
    async def serve(self) -> AsyncIterator[str]:
        """Run on a free loopback port; yield the API root URL."""
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        try:
            yield f"http://127.0.0.1:{port}/api/v1/cloud"
        finally:
            await runner.cleanup()


async def bomb_route(request: web.Request) -> web.StreamResponse:
    """A 2 GB body in a gzip stream of about 2 MB."""
    body: bytes = request.app["bomb"]
    return web.Response(
        body=body, headers={"Content-Encoding": "gzip", "Content-Type": "application/json"}
    )


async def endless_route(request: web.Request) -> web.StreamResponse:
    """A chunked body that never ends."""
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    chunk = b" " * 65536
    with contextlib.suppress(ConnectionError):
        while True:
            await response.write(chunk)
    return response


async def _main(kind: str) -> None:  # pragma: no cover - runs in a child process
    app = web.Application()
    if kind == "bomb":
        app["bomb"] = gzip_bomb(2 << 30)
    app.router.add_get("/api/v1/cloud/files", bomb_route if kind == "bomb" else endless_route)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    print(f"http://127.0.0.1:{port}/api/v1/cloud", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":  # pragma: no cover
    asyncio.run(_main(sys.argv[1]))
