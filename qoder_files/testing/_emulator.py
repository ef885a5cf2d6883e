"""``FilesEmulator``: an in-process aiohttp server of the Files API, for tests and demos.

It keeps files in memory, ordered by their time-ordered ids, and answers the documented routes
under ``/api/v1/cloud`` in either API generation (``shape="g1"``, the seed, or ``"g3"``):
bearer-token auth, the error envelope, ``x-request-id`` echoed, and scriptable faults.

Listing behaviour it picks where the published docs disagree: ``limit`` above 100 is capped
at 100 (not rejected); ``after``/``before`` and their ``after_id``/``before_id`` aliases are
accepted, plus ``page`` (equivalent to ``after``) in ``g3``; any two cursors are a 400.
Cursor ids that no longer exist still work, because ids sort by creation time.

One-file behaviour, per generation: upload answers 201 in ``g1`` and 200 in ``g3`` (both
documented); the content route answers 302 with ``Location`` and a JSON body in ``g1`` and 200
JSON in ``g3``; delete answers 204 in ``g1`` and 200 ``{"id", "type": "file_deleted"}`` in
``g3``. The presigned download route stands in for object storage: it answers in XML, refuses
expired or unknown links with 403 and any request carrying an Authorization header with 400.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import hashlib
import json
import mimetypes
import random
import secrets
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import attrs
from aiohttp import BodyPartReader, web
from multidict import CIMultiDict

from qoder_files.models import Purpose

from ._faults import Fault, FaultSchedule

__all__ = ["API_PREFIX", "FilesEmulator", "RecordedRequest", "StoredFile"]

API_PREFIX = "/api/v1/cloud"
DEFAULT_TOKEN = "pt-emulator"
_PURPOSE_VALUES = tuple(p.value for p in Purpose)
_DOWNLOADABLE = frozenset({Purpose.TOOL_OUTPUT.value, Purpose.SKILL_OUTPUT.value})
_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
_NAMES = ("report", "notes", "summary", "trace", "plan", "output", "config", "diff", "log", "data")
_TYPES = (
    (".md", "text/markdown"),
    (".txt", "text/plain"),
    (".json", "application/json"),
    (".csv", "text/csv"),
    (".py", "text/x-python"),
    (".yaml", "application/x-yaml"),
    (".log", "text/plain"),
    (".html", "text/html"),
)
_DOWNLOAD_PREFIX = f"{API_PREFIX}/files/_download/"
_MAX_UPLOAD_BYTES = 50 * 1024 * 1024  # per file (B6); nothing bigger is kept in memory
_MAX_METADATA_BYTES = 8 * 1024
_KNOWN_TYPES = dict(_TYPES) | {".yml": "application/x-yaml", ".toml": "application/x-toml"}
_HTML_PAGE = (
    b"<html><head><title>502 Bad Gateway</title></head>"
    b"<body><center><h1>502 Bad Gateway</h1></center></body></html>"
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _timestamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def make_file_id(created_at: datetime, rng: random.Random) -> str:
    """A time-ordered id: ``file_`` + 12 hex digits of milliseconds + 20 random hex digits."""
    millis = int(created_at.timestamp() * 1000)
    return f"file_{millis:012x}{rng.getrandbits(80):020x}"


@attrs.define(kw_only=True, eq=False)
class StoredFile:
    """One file in the emulator's store, with its content."""

    file_id: str
    filename: str
    mime_type: str
    purpose: str
    content: bytes
    metadata: dict[str, Any] = attrs.field(factory=dict)
    status: str = "ready"
    created_at: datetime
    updated_at: datetime
    _rendered: dict[str, bytes] = attrs.field(factory=dict, repr=False)

    @property
    def size_bytes(self) -> int:
        """Length of the content."""
        return len(self.content)

    def wire(self, shape: str) -> dict[str, Any]:
        """The file as the API of generation ``shape`` shows it."""
        if shape == "g3":
            return {
                "id": self.file_id,
                "type": "file",
                "filename": self.filename,
                "mime_type": self.mime_type,
                "size_bytes": self.size_bytes,
                "downloadable": self.purpose in _DOWNLOADABLE,
                "scope": None,
                "metadata": self.metadata,
                "created_at": _timestamp(self.created_at),
            }
        return {
            "created_at": _timestamp(self.created_at),
            "file_id": self.file_id,
            "filename": self.filename,
            "metadata": self.metadata,
            "mime_type": self.mime_type,
            "purpose": self.purpose,
            "size_bytes": self.size_bytes,
            "status": self.status,
            "updated_at": _timestamp(self.updated_at),
        }

    def rendered(self, shape: str) -> bytes:
        """The file's JSON, encoded once and cached (listing pages are joined from these)."""
        cached = self._rendered.get(shape)
        if cached is None:
            cached = self._rendered[shape] = json.dumps(
                self.wire(shape), separators=(",", ":")
            ).encode()
        return cached


@attrs.frozen(kw_only=True)
class RecordedRequest:
    """What the emulator saw of one request."""

    method: str
    path: str
    query: dict[str, str]
    headers: CIMultiDict[str]


class ApiError(Exception):
    """Raised inside handlers to answer with the documented error envelope."""

    def __init__(self, status: int, kind: str, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind
        self.message = message
        self.param = param


class FilesEmulator:
    """A faithful in-memory Files API server.

    Args:
        token: The one bearer token it accepts; any other gets 401.
        shape: ``"g1"`` (``file_id``, ``purpose``, the default) or ``"g3"`` (``id``/``type``,
            ``next_page``).
        download_ttl: Seconds a presigned download URL stays valid (an attribute, so a test
            can change it; zero or less hands out URLs that have already expired).

    Writes (upload, delete) honour ``Idempotency-Key`` (or ``X-Idempotency-Key``): a repeat
    with the same request replays the first success without running it again (marked with
    ``Idempotent-Replayed: true``); the same key with a different request is a 409. Multipart
    requests are compared by their parts, not their bytes, since every sender picks a new
    boundary for each attempt.

    Example::

        emulator = FilesEmulator()
        emulator.seed(250)
        async with emulator.serve() as base_url:
            async with AsyncClient(emulator.token, base_url=base_url) as client:
                files = await client.list_files().collect(unbounded=True)
    """

    def __init__(
        self, *, token: str = DEFAULT_TOKEN, shape: str = "g1", download_ttl: float = 3600.0
    ) -> None:
        if shape not in ("g1", "g3"):
            raise ValueError(f"shape must be 'g1' or 'g3', got {shape!r}")
        self.token = token
        self.shape = shape
        self.download_ttl = download_ttl
        self._links: dict[str, tuple[str, datetime]] = {}  # token -> (file id, expiry)
        self._replays: dict[str, _Outcome] = {}  # idempotency key -> first success
        self._rng = random.Random()
        self.files: dict[str, StoredFile] = {}
        self._ids: list[str] = []  # ascending, i.e. oldest first
        self._by_purpose: dict[str, list[str]] = {p: [] for p in _PURPOSE_VALUES}
        self._faults: list[FaultSchedule] = []
        self._counts: dict[str, int] = {}
        self._last_list: bytes | None = None
        self.requests: list[RecordedRequest] = []
        """Every request received, in order (for assertions on the wire exchange)."""

    # --- the store -----------------------------------------------------------------------

    def add(self, stored: StoredFile) -> StoredFile:
        """Put a file in the store (its id decides its place in listings)."""
        self.files[stored.file_id] = stored
        for index in (self._ids, self._by_purpose.setdefault(stored.purpose, [])):
            if not index or index[-1] < stored.file_id:
                index.append(stored.file_id)
            else:
                bisect.insort(index, stored.file_id)
        return stored

    def remove(self, file_id: str) -> None:
        """Delete a file from the store."""
        stored = self.files.pop(file_id)
        for index in (self._ids, self._by_purpose[stored.purpose]):
            del index[bisect.bisect_left(index, file_id)]

    def seed(
        self,
        n: int,
        *,
        purposes: Iterable[Purpose | str] | None = None,
        rng: random.Random | None = None,
        start: datetime = _EPOCH,
    ) -> list[StoredFile]:
        """Add ``n`` realistic files, deterministic for a given ``rng`` (default seed 0).

        Creation times start at ``start`` and advance 1 to 600 seconds per file, so ids and
        times agree on the order.
        """
        rng = rng or random.Random(0)
        choices = [Purpose(p).value for p in purposes] if purposes else list(_PURPOSE_VALUES)
        created = max(
            (f.created_at for f in self.files.values()), default=start - timedelta(seconds=1)
        )
        added = []
        for _ in range(n):
            created += timedelta(seconds=rng.randint(1, 600))
            stem = rng.choice(_NAMES)
            suffix, mime = rng.choice(_TYPES)
            size = rng.randint(16, 4096)
            content = (f"{stem} {rng.getrandbits(64):016x}\n" * (size // 24 + 1)).encode()[:size]
            added.append(
                self.add(
                    StoredFile(
                        file_id=make_file_id(created, rng),
                        filename=f"{stem}-{rng.randint(1, 9999):04d}{suffix}",
                        mime_type=mime,
                        purpose=rng.choice(choices),
                        content=content,
                        metadata={"project": "demo"} if rng.random() < 0.3 else {},
                        created_at=created,
                        updated_at=created,
                    )
                )
            )
        return added

    def ids(self, purpose: str | None = None) -> list[str]:
        """Every id in server order (newest first), optionally of one purpose."""
        index = self._ids if purpose is None else self._by_purpose.get(purpose, [])
        return index[::-1]

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
        """Make ``fault`` happen on requests ``start``, ``start + every``, ... of ``route``."""
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
        app.router.add_get(f"{API_PREFIX}/files", self._list, name="list")
        app.router.add_post(f"{API_PREFIX}/files", self._upload, name="upload")
        app.router.add_get(f"{_DOWNLOAD_PREFIX}{{token}}", self._download, name="download")
        app.router.add_get(f"{API_PREFIX}/files/{{file_id}}", self._get, name="get")
        app.router.add_delete(f"{API_PREFIX}/files/{{file_id}}", self._delete, name="delete")
        app.router.add_get(f"{API_PREFIX}/files/{{file_id}}/content", self._content, name="content")
        return app

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
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
            if not request.path.startswith(API_PREFIX + "/files/_download/"):
                self._authenticate(request)
            response = await handler(request)
        except ApiError as exc:
            response = self.error_response(exc, request_id)
        except web.HTTPException as exc:
            response = self.error_response(
                ApiError(exc.status, "not_found_error", exc.reason), request_id
            )
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
        if fault.kind == "repeat_page" and self._last_list is not None:
            return web.Response(body=self._last_list, content_type="application/json")
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

    # --- handlers ------------------------------------------------------------------------

    @staticmethod
    def _int_param(request: web.Request, name: str) -> int | None:
        raw = request.query.get(name)
        if raw is None:
            return None
        try:
            return int(raw)
        except ValueError:
            raise ApiError(
                400, "invalid_request_error", f"Field '{name}' must be an integer.", name
            ) from None

    def _cursor(self, request: web.Request) -> tuple[str | None, str | None]:
        query = request.query
        given = {
            name: query[name]
            for name in ("after", "after_id", "before", "before_id", "page")
            if name in query and (name != "page" or self.shape == "g3")
        }
        if len(given) > 1:
            names = " and ".join(sorted(given))
            raise ApiError(
                400, "invalid_request_error", f"Parameters {names} are mutually exclusive."
            )
        after = given.get("after") or given.get("after_id") or given.get("page")
        before = given.get("before") or given.get("before_id")
        return after, before

    async def _list(self, request: web.Request) -> web.Response:
        limit = self._int_param(request, "limit")
        if limit is None:
            limit = 20
        elif limit < 1:
            raise ApiError(
                400, "invalid_request_error", "Field 'limit' must be between 1 and 100.", "limit"
            )
        limit = min(limit, 100)
        purpose = request.query.get("purpose")
        if purpose is not None and purpose not in _PURPOSE_VALUES:
            raise ApiError(
                400,
                "invalid_request_error",
                f"Field 'purpose' must be one of {', '.join(_PURPOSE_VALUES)}.",
                "purpose",
            )
        after, before = self._cursor(request)
        index = self._ids if purpose is None else self._by_purpose[purpose]
        name = request.query.get("name")
        if name is not None:
            prefix = name.lower()
            index = [i for i in index if self.files[i].filename.lower().startswith(prefix)]
        if before is not None:
            lo = bisect.bisect_right(index, before)
            chunk = index[lo : lo + limit]
            has_more = lo + limit < len(index)
        else:
            hi = len(index) if after is None else bisect.bisect_left(index, after)
            chunk = index[max(0, hi - limit) : hi]
            has_more = hi - limit > 0
        chunk.reverse()
        body = self.render_page([self.files[i] for i in chunk], has_more)
        self._last_list = body
        return web.Response(body=body, content_type="application/json")

    def render_page(self, files: list[StoredFile], has_more: bool) -> bytes:
        """A list envelope around pre-rendered files (keys as the seed page orders them)."""
        first = json.dumps(files[0].file_id) if files else "null"
        last = json.dumps(files[-1].file_id) if files else "null"
        more = "true" if has_more else "false"
        data = b",".join(f.rendered(self.shape) for f in files)
        tail = f'],"first_id":{first},"has_more":{more},"last_id":{last}'
        if self.shape == "g3":
            tail += f',"next_page":{last if has_more else "null"}'
        return b'{"data":[' + data + (tail + "}").encode()

    def lookup(self, request: web.Request) -> StoredFile:
        """The file named in the path, or a 404 in the documented shape."""
        file_id = request.match_info["file_id"]
        stored = self.files.get(file_id)
        if stored is None:
            raise ApiError(404, "not_found_error", f"File '{file_id}' was not found.")
        return stored

    async def _get(self, request: web.Request) -> web.Response:
        stored = self.lookup(request)
        return web.Response(body=stored.rendered(self.shape), content_type="application/json")

    # --- writes --------------------------------------------------------------------------

    def _idempotent(
        self,
        request: web.Request,
        fingerprint: str,
        execute: Callable[[], tuple[int, bytes]],
    ) -> web.Response:
        """Run a write once per idempotency key; a repeat replays the first success.

        ``execute`` does not await, so checking for a saved outcome and saving a new one
        cannot interleave with another request carrying the same key.
        """
        key = request.headers.get("Idempotency-Key") or request.headers.get("X-Idempotency-Key")
        saved = self._replays.get(key) if key else None
        if saved is not None:
            if saved.fingerprint != fingerprint:
                raise ApiError(
                    409,
                    "conflict_error",
                    "Idempotency key reused with a different request body.",
                )
            return saved.response(replayed=True)
        status, body = execute()
        outcome = _Outcome(fingerprint=fingerprint, status=status, body=body)
        if key:
            self._replays[key] = outcome
        return outcome.response(replayed=False)

    async def _upload(self, request: web.Request) -> web.Response:
        parts = await self._read_form(request)
        digest = hashlib.sha256(b"POST files")
        for part in parts:
            for text in (part.name, part.filename or "", part.content_type or ""):
                digest.update(text.encode() + b"\0")
            digest.update(hashlib.sha256(part.data).digest())
        return self._idempotent(request, digest.hexdigest(), lambda: self._store_upload(parts))

    @staticmethod
    async def _read_form(request: web.Request) -> list[_Part]:
        if not request.content_type.startswith("multipart/"):
            raise ApiError(400, "invalid_request_error", "Field 'file' is required.", "file")
        parts: list[_Part] = []
        total = 0
        try:
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                if not isinstance(part, BodyPartReader):
                    raise ApiError(
                        400, "invalid_request_error", "Nested multipart bodies are not accepted."
                    )
                data = bytearray()
                while chunk := await part.read_chunk():
                    total += len(chunk)
                    if total > _MAX_UPLOAD_BYTES:
                        raise ApiError(
                            400, "invalid_request_error", "File exceeds the 50 MB limit.", "file"
                        )
                    data += chunk
                parts.append(
                    _Part(
                        name=part.name or "",
                        filename=part.filename,
                        content_type=part.headers.get("Content-Type"),
                        data=bytes(data),
                    )
                )
        except ValueError:
            raise ApiError(
                400, "invalid_request_error", "Request body must be valid multipart/form-data."
            ) from None
        return parts

    def _store_upload(self, parts: list[_Part]) -> tuple[int, bytes]:
        upload = next((p for p in parts if p.name == "file"), None)
        if upload is None:
            raise ApiError(400, "invalid_request_error", "Field 'file' is required.", "file")
        fields = {p.name: p.data.decode("utf-8", "replace") for p in reversed(parts)}
        purpose = fields.get("purpose", Purpose.USER_UPLOAD.value)
        if purpose not in _PURPOSE_VALUES:
            raise ApiError(
                400,
                "invalid_request_error",
                f"Field 'purpose' must be one of {', '.join(_PURPOSE_VALUES)}.",
                "purpose",
            )
        metadata = _parse_metadata(fields.get("metadata"))
        name = fields.get("name")
        filename = _clean_name(name if name is not None else upload.filename or "upload")
        if filename is None:
            raise ApiError(
                400,
                "invalid_request_error",
                "Field 'name' must be 1 to 255 bytes and not '.' or '..'.",
                "name",
            )
        file_id, created = self._new_id()
        stored = self.add(
            StoredFile(
                file_id=file_id,
                filename=filename,
                mime_type=_guess_type(filename),
                purpose=purpose,
                content=upload.data,
                metadata=metadata,
                created_at=created,
                updated_at=created,
            )
        )
        # 201 as in G1/G2; the newest generation documents 200.
        return (200 if self.shape == "g3" else 201), stored.rendered(self.shape)

    def _new_id(self) -> tuple[str, datetime]:
        """A time-ordered id later than every stored one, and its creation time."""
        created = datetime.now(UTC)
        try:
            newest_millis = int(self._ids[-1][5:17], 16) if self._ids else -1
        except ValueError:  # ids this emulator did not make: order them by time alone
            newest_millis = -1
        if created.timestamp() * 1000 < newest_millis + 1:
            created = datetime.fromtimestamp((newest_millis + 1) / 1000, UTC)
        file_id = make_file_id(created, self._rng)
        while int(file_id[5:17], 16) <= newest_millis:  # float rounding lost a millisecond
            created += timedelta(milliseconds=1)
            file_id = make_file_id(created, self._rng)
        return file_id, created

    async def _delete(self, request: web.Request) -> web.Response:
        def execute() -> tuple[int, bytes]:
            stored = self.lookup(request)
            self.remove(stored.file_id)
            if self.shape == "g3":
                return 200, json.dumps({"id": stored.file_id, "type": "file_deleted"}).encode()
            return 204, b""

        return self._idempotent(request, f"DELETE {request.path}", execute)

    # --- downloads -----------------------------------------------------------------------

    async def _content(self, request: web.Request) -> web.Response:
        stored = self.lookup(request)
        if stored.purpose not in _DOWNLOADABLE:
            raise ApiError(
                403,
                "permission_error",
                f"File '{stored.file_id}' is not downloadable: only tool_output and "
                "skill_output files can be downloaded.",
            )
        token = secrets.token_urlsafe(24)
        expires = datetime.now(UTC) + timedelta(seconds=self.download_ttl)
        self._links[token] = (stored.file_id, expires)
        url = str(
            request.url.with_path(f"{_DOWNLOAD_PREFIX}{token}").with_query(
                {
                    "expires": str(int(expires.timestamp())),
                    "response-content-disposition": f'attachment; filename="{stored.filename}"',
                }
            )
        )
        body = json.dumps({"expires_at": _timestamp(expires), "url": url}).encode()
        if self.shape == "g3":
            return web.Response(body=body, content_type="application/json")
        return web.Response(
            status=302, body=body, content_type="application/json", headers={"Location": url}
        )

    async def _download(self, request: web.Request) -> web.Response:
        """The storage side: serves content for a valid presigned token, answers like S3/OSS."""
        if "Authorization" in request.headers:
            return _storage_error(
                400,
                "InvalidArgument",
                "Only one auth mechanism allowed; a presigned URL must be sent without an "
                "Authorization header.",
            )
        link = self._links.get(request.match_info["token"])
        if link is None:
            return _storage_error(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
            )
        file_id, expires = link
        if datetime.now(UTC) >= expires:
            return _storage_error(403, "AccessDenied", "Request has expired.")
        stored = self.files.get(file_id)
        if stored is None:
            return _storage_error(404, "NoSuchKey", "The specified key does not exist.")
        return web.Response(
            body=stored.content,
            content_type=stored.mime_type,
            headers={
                "Content-Disposition": f"attachment; filename*=UTF-8''{quote(stored.filename)}"
            },
        )

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


@attrs.frozen(kw_only=True)
class _Part:
    """One part of a multipart request body."""

    name: str
    filename: str | None
    content_type: str | None
    data: bytes


@attrs.frozen(kw_only=True)
class _Outcome:
    """A write's answer, kept to replay for a repeated idempotency key."""

    fingerprint: str
    status: int
    body: bytes

    def response(self, *, replayed: bool) -> web.Response:
        response = web.Response(
            status=self.status,
            body=self.body or None,
            content_type="application/json" if self.body else None,
        )
        if replayed:
            response.headers["Idempotent-Replayed"] = "true"
        return response


def _parse_metadata(raw: str | None) -> dict[str, Any]:
    if raw is None:
        return {}
    if len(raw.encode()) > _MAX_METADATA_BYTES:
        raise ApiError(
            400, "invalid_request_error", "Field 'metadata' must be at most 8 KB.", "metadata"
        )
    try:
        metadata = json.loads(raw)
    except ValueError:
        metadata = None
    if not isinstance(metadata, dict):
        raise ApiError(
            400,
            "invalid_request_error",
            "Field 'metadata' must be a JSON object string.",
            "metadata",
        )
    return metadata


def _clean_name(name: str) -> str | None:
    """The stored name: the last path component, 1 to 255 bytes, not ``.`` or ``..``."""
    cleaned = name.replace("\\", "/").rsplit("/", 1)[-1].strip()
    if cleaned in ("", ".", "..") or len(cleaned.encode()) > 255:
        return None
    return cleaned


def _guess_type(filename: str) -> str:
    suffix = filename[filename.rfind(".") :].lower() if "." in filename else ""
    known = _KNOWN_TYPES.get(suffix)
    if known is not None:
        return known
    guessed, _ = mimetypes.guess_type(filename, strict=False)
    return guessed or "text/plain"


def _storage_error(status: int, code: str, message: str) -> web.Response:
    """An error as object storage words it: XML, not the API's JSON envelope."""
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    )
    return web.Response(status=status, text=body, content_type="application/xml")
