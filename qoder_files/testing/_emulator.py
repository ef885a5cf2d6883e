"""``FilesEmulator``: an in-process aiohttp server of the Files API, for tests and demos.

It keeps files in memory, ordered by their time-ordered ids, and answers the documented routes
under ``/api/v1/cloud`` in either API generation (``shape="g1"``, the seed, or ``"g3"``):
bearer-token auth, the error envelope, ``x-request-id`` echoed, and scriptable faults.

This module owns the application around the routes: the middleware that records requests,
applies faults, checks the token and turns ``ApiError`` into the error envelope, the public
verbs (store, faults, page rendering, lookup) and serving on loopback. It answers no route
itself: the files live in ``_store``, the list route in ``_list_route`` and the one-file routes
in ``_file_routes``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from datetime import datetime
from typing import Any

import attrs
from aiohttp import web
from multidict import CIMultiDict

from qoder_files.models import Purpose

from ._faults import Fault, FaultSchedule
from ._file_routes import FileRoutes
from ._list_route import ListRoute
from ._protocol import API_PREFIX, DOWNLOAD_PREFIX, ApiError, error_type_for
from ._records import check_capacity
from ._store import EPOCH, FileStore, StoredFile

__all__ = ["FilesEmulator", "RecordedRequest"]

DEFAULT_TOKEN = "pt-emulator"
_HTML_PAGE = (
    b"<html><head><title>502 Bad Gateway</title></head>"
    b"<body><center><h1>502 Bad Gateway</h1></center></body></html>"
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@attrs.frozen(kw_only=True)
class RecordedRequest:
    """What the emulator saw of one request."""

    method: str
    path: str
    query: dict[str, str]
    headers: CIMultiDict[str]


class FilesEmulator:
    """A faithful in-memory Files API server.

    Args:
        token: The one bearer token it accepts; any other gets 401.
        shape: The API generation it speaks. ``"g1"`` (the default) is the seed: objects
            with ``file_id`` and ``purpose``; listing by ``purpose``, ``after``/``before`` (or
            ``after_id``/``before_id``), a ``limit`` over 100 capped; upload 201, delete 204.
            ``"g3"`` follows the newest docs strictly: objects with ``id``, ``type``,
            ``downloadable`` and ``scope``; listing by ``page`` (an opaque ``next_page``),
            ``after_id`` or ``before_id`` with the filters ``name`` and ``scope_id``; a
            ``limit`` over 100, and ``purpose``, ``after`` or ``before`` (on purpose stricter
            than a real server, which ignores them) are a 400 naming the parameter; uploads
            take ``name``, refuse ``purpose`` and any type outside the text-only list, and
            answer 200; delete answers 200 ``{"id", "type": "file_deleted"}``.
        download_ttl: Seconds a presigned download URL stays valid (an attribute, so a test
            can change it; zero or less hands out URLs that have already expired).
        max_recorded_requests: How many of the latest requests ``requests`` keeps.
        max_download_links: How many presigned links stay usable; beyond that the least
            recently used is forgotten and answers like a forged link.
        max_idempotency_keys: How many idempotency keys are remembered; beyond that the
            least recently used is forgotten.
        idempotency_ttl: Seconds an idempotency key is remembered (the API documents 24 h).

    Writes (upload, delete) honour ``Idempotency-Key`` (or ``X-Idempotency-Key``): a repeat
    with the same request replays the first success without running it again (marked with
    ``Idempotent-Replayed: true``); the same key with a different request is a 409. Multipart
    requests are compared by their parts, not their bytes, since every sender picks a new
    boundary for each attempt.

    Whatever a client sends, the emulator answers a bad request with a 4xx in the error
    envelope, never a 500, and its memory of requests, links and keys stays bounded. A method a
    route does not have is a 405 with ``Allow`` and the type ``invalid_request_error``.

    Raises:
        ValueError: An unknown ``shape`` or a bound that is not an int of at least 1.

    Example::

        emulator = FilesEmulator()
        emulator.seed(250)
        async with emulator.serve() as base_url:
            async with AsyncClient(emulator.token, base_url=base_url) as client:
                files = await client.list_files().collect(unbounded=True)
    """

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        shape: str = "g1",
        download_ttl: float = 3600.0,
        max_recorded_requests: int = 10_000,
        max_download_links: int = 10_000,
        max_idempotency_keys: int = 10_000,
        idempotency_ttl: float = 86_400.0,
    ) -> None:
        if shape not in ("g1", "g3"):
            raise ValueError(f"shape must be 'g1' or 'g3', got {shape!r}")
        self.token = token
        self.shape = shape
        self.download_ttl = download_ttl
        self._max_requests = check_capacity("max_recorded_requests", max_recorded_requests)
        self._store = FileStore()
        self.files: dict[str, StoredFile] = self._store.files  # the store's own dict, shared
        self._listing = ListRoute(self, self._store)
        self._file_routes = FileRoutes(
            self,
            self._store,
            max_links=check_capacity("max_download_links", max_download_links),
            max_replays=check_capacity("max_idempotency_keys", max_idempotency_keys),
            replay_lifetime=idempotency_ttl,
        )
        self._faults: list[FaultSchedule] = []
        self._counts: dict[str, int] = {}
        self.requests: list[RecordedRequest] = []
        """The latest requests received, oldest first, at most ``max_recorded_requests``
        (for assertions on the wire exchange)."""

    # --- the store -----------------------------------------------------------------------

    def add(self, stored: StoredFile) -> StoredFile:
        """Put a file in the store (its id decides its place in listings)."""
        return self._store.add(stored)

    def remove(self, file_id: str) -> None:
        """Delete a file from the store."""
        self._store.remove(file_id)

    def seed(
        self,
        n: int,
        *,
        purposes: Iterable[Purpose | str] | None = None,
        rng: random.Random | None = None,
        start: datetime = EPOCH,
    ) -> list[StoredFile]:
        """Add ``n`` realistic files, deterministic for a given ``rng`` (default seed 0).

        Creation times start at ``start`` and advance 1 to 600 seconds per file, so ids and
        times agree on the order. About one file in three belongs to one of four sessions
        (its ``scope``, which ``g3`` shows and filters by ``scope_id``), drawn from its id.
        """
        return self._store.seed(n, purposes=purposes, rng=rng, start=start)

    def ids(self, purpose: str | None = None) -> list[str]:
        """Every id in server order (newest first), optionally of one purpose."""
        return self._store.ids(purpose)

    # --- faults --------------------------------------------------------------------------

    def add_fault(
        self,
        fault: Fault,
        *,
        route: str = "*",
        every: int = 1,
        start: int = 1,
        times: int | None = None,
    ) -> FaultSchedule:
        """Make ``fault`` happen on requests ``start``, ``start + every``, ... of ``route``.

        Args:
            fault: What happens.
            route: ``list``, ``get``, ``upload``, ``content``, ``download``, ``delete`` or
                ``*`` (every route).
            every: Fire on every ``every``-th request of the route.
            start: The first request number (1-based) it fires on.
            times: Fire at most this many times (``None``: no limit).

        Returns:
            The schedule, whose ``fired`` counts how often it fired.

        Raises:
            ValueError: ``every`` or ``start`` below 1, or an unknown ``route``.
        """
        if every < 1 or start < 1:
            raise ValueError("every and start must be at least 1")
        schedule = FaultSchedule(fault=fault, route=route, every=every, start=start, times=times)
        self._faults.append(schedule)
        return schedule

    def clear_faults(self) -> None:
        """Remove every scheduled fault and reset the request counters."""
        self._faults.clear()
        self._counts.clear()

    # --- the application -----------------------------------------------------------------

    def app(self) -> web.Application:
        """The ``aiohttp.web.Application`` serving the API under ``/api/v1/cloud``."""
        app = web.Application(middlewares=[self._middleware])
        routes = self._file_routes
        app.router.add_get(f"{API_PREFIX}/files", self._listing.handle, name="list")
        app.router.add_post(f"{API_PREFIX}/files", routes.upload, name="upload")
        app.router.add_get(f"{DOWNLOAD_PREFIX}{{token}}", routes.download, name="download")
        app.router.add_get(f"{API_PREFIX}/files/{{file_id}}", routes.get, name="get")
        app.router.add_delete(f"{API_PREFIX}/files/{{file_id}}", routes.delete, name="delete")
        app.router.add_get(
            f"{API_PREFIX}/files/{{file_id}}/content", routes.content, name="content"
        )
        return app

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if len(self.requests) >= self._max_requests:
            # A list, not a deque, so tests can slice it; the move is cheap next to a request.
            del self.requests[: len(self.requests) - self._max_requests + 1]
        self.requests.append(
            RecordedRequest(
                method=request.method,
                path=request.path,
                query=dict(request.query),
                headers=CIMultiDict(request.headers),
            )
        )
        request_id = request.headers.get("x-request-id") or str(uuid.uuid4())
        route_name = request.match_info.route.name or "other"
        number = self._counts[route_name] = self._counts.get(route_name, 0) + 1
        lose_response = False
        try:
            for schedule in list(self._faults):
                if schedule.matches(route_name, number):
                    if schedule.fault.kind == "lose_response":
                        lose_response = True  # acted on once the handler has run
                        continue
                    response = await self._apply(schedule.fault, request, request_id)
                    if response is not None:
                        return response
            if not request.path.startswith(DOWNLOAD_PREFIX):
                self._authenticate(request)
            response = await handler(request)
        except ApiError as exc:
            response = self.error_response(exc, request_id)
        except web.HTTPException as exc:  # the router's own 404 and 405
            response = self.error_response(
                ApiError(exc.status, error_type_for(exc.status), exc.reason), request_id
            )
            if "Allow" in exc.headers:
                response.headers["Allow"] = exc.headers["Allow"]
        if lose_response:
            await self._break_connection(request, truncate=False)
        response.headers["x-request-id"] = request_id
        return response

    def _authenticate(self, request: web.Request) -> None:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            raise ApiError(401, "authentication_error", "Invalid API key or token.")

    def error_response(self, error: ApiError, request_id: str) -> web.Response:
        """The documented error envelope (``request_id`` included in ``g3``)."""
        detail: dict[str, Any] = {"type": error.kind, "message": error.message}
        if error.param is not None:
            detail["param"] = error.param
        body: dict[str, Any] = {"type": "error", "error": detail}
        if self.shape == "g3":
            body["request_id"] = request_id
        response = web.json_response(body, status=error.status)
        response.headers["x-request-id"] = request_id
        return response

    async def _apply(
        self, fault: Fault, request: web.Request, request_id: str
    ) -> web.StreamResponse | None:
        if fault.kind == "latency":
            await asyncio.sleep(fault.seconds)
            return None
        if fault.kind == "status":
            if fault.body is not None:
                response: web.StreamResponse = web.Response(status=fault.status, body=fault.body)
            else:
                kind = "rate_limit_error" if fault.status == 429 else "api_error"
                response = self.error_response(
                    ApiError(fault.status, kind, f"Injected {fault.status}."), request_id
                )
            if fault.retry_after is not None:
                response.headers["Retry-After"] = fault.retry_after
            return response
        if fault.kind == "html":
            return web.Response(status=fault.status, body=_HTML_PAGE, content_type="text/html")
        if fault.kind == "bad_json":
            return web.Response(
                status=200, body=b'{"data": [{"file_id": "file_', content_type="application/json"
            )
        if fault.kind == "null_cursor":
            return web.Response(
                body=b'{"data":[],"first_id":null,"has_more":true,"last_id":null}',
                content_type="application/json",
            )
        if fault.kind == "repeat_page" and self._listing.last_body is not None:
            return web.Response(body=self._listing.last_body, content_type="application/json")
        if fault.kind in ("reset", "truncate"):
            return await self._break_connection(request, truncate=fault.kind == "truncate")
        return None

    async def _break_connection(self, request: web.Request, *, truncate: bool) -> web.Response:
        transport = request.transport
        if truncate and transport is not None:
            body = (
                b'{"data":['
                + b",".join(f.rendered(self.shape) for f in list(self.files.values())[:5])
                + b'],"first_id":null,"has_more":false,"last_id":null}'
            )
            head = (
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n"
            ).encode()
            transport.write(head + body[: len(body) // 2])
            await asyncio.sleep(0.01)
        if transport is not None:
            transport.abort()
        # The connection is gone; aiohttp drops whatever is returned.
        raise asyncio.CancelledError

    # --- pages and lookups ---------------------------------------------------------------

    def render_page(
        self, files: list[StoredFile], has_more: bool, *, next_page: str | None = None
    ) -> bytes:
        """A list envelope around pre-rendered files (keys as the seed page orders them).

        In ``g3`` the envelope also carries ``next_page`` (``null`` unless given).
        """
        first = json.dumps(files[0].file_id) if files else "null"
        last = json.dumps(files[-1].file_id) if files else "null"
        more = "true" if has_more else "false"
        data = b",".join(f.rendered(self.shape) for f in files)
        tail = f'],"first_id":{first},"has_more":{more},"last_id":{last}'
        if self.shape == "g3":
            tail += f',"next_page":{json.dumps(next_page)}'
        return b'{"data":[' + data + (tail + "}").encode()

    def lookup(self, request: web.Request) -> StoredFile:
        """The file named in the path, or a 404 in the documented shape."""
        file_id = request.match_info["file_id"]
        stored = self.files.get(file_id)
        if stored is None:
            raise ApiError(404, "not_found_error", f"File '{file_id}' was not found.")
        return stored

    # --- serving -------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def serve(self, *, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
        """Serve on loopback (a free port by default); yields the base URL for a client."""
        runner = web.AppRunner(self.app(), access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound_host, bound_port = runner.addresses[0][:2]
        if ":" in bound_host:
            bound_host = f"[{bound_host}]"
        try:
            yield f"http://{bound_host}:{bound_port}{API_PREFIX}"
        finally:
            await runner.cleanup()

    @contextlib.contextmanager
    def serve_in_thread(self, *, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
        """Serve from a background thread with its own loop (for blocking tests and the CLI)."""
        loop = asyncio.new_event_loop()
        # Under `python -X dev` a busy machine makes the server's handlers trip asyncio's
        # slow-callback report (0.1 s); that is load on the test host, not a fault to show.
        loop.slow_callback_duration = 1.0
        ready: asyncio.Future[str] = loop.create_future()
        stop = asyncio.Event()

        async def main() -> None:
            try:
                async with self.serve(host=host, port=port) as base_url:
                    ready.set_result(base_url)
                    await stop.wait()
            except BaseException as exc:  # surface bind errors to the waiting thread
                if not ready.done():
                    ready.set_exception(exc)
                raise

        def run() -> None:
            with contextlib.suppress(BaseException):
                loop.run_until_complete(main())
            loop.close()

        thread = threading.Thread(target=run, name="qoder-files-emulator", daemon=True)
        thread.start()
        try:
            yield asyncio.run_coroutine_threadsafe(_wait(ready), loop).result(timeout=30)
        finally:
            loop.call_soon_threadsafe(stop.set)
            thread.join(timeout=30)


async def _wait(future: asyncio.Future[str]) -> str:
    return await future
