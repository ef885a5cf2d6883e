"""Two strict Files API servers for tests, written from the API fact sheet alone.

They share no code with ``qoder_files`` (neither the client nor its emulator), so a test that
passes against them shows the client follows the published docs, not our own reading of them.

``StrictG1Server`` follows the seed generation (fact sheet sections 2a, 3, 4, 5, 6, 7, 8 as
documented for G1):

- ``GET files`` knows ``purpose``, ``limit``, ``after`` and ``before`` and silently ignores
  every other parameter; envelope ``{data, first_id, last_id, has_more}``; ``limit`` defaults
  to 20, 0, negative or not an integer is a 400, over 100 is capped at 100 (B9); both cursors
  is a 400; an unknown purpose is a 400;
- ``POST files`` (multipart, ``purpose`` optional, default ``user_upload``) answers 201;
- ``GET files/{id}/content`` answers 302 with ``Location`` and a JSON body, and 403 unless the
  purpose is ``tool_output`` or ``skill_output``;
- ``DELETE files/{id}`` answers 204 with no body.

``StrictG3Server`` follows the newest docs (sections 2b, 3, 4, 5, 6, 7, 8 as documented for
G3):

- ``GET files`` knows ``page`` (a previous ``next_page``), ``after_id``, ``before_id`` (any two
  is a 400), ``limit`` (over 100 is a 400), ``name`` (case-insensitive filename prefix) and
  ``scope_id``; anything else, ``purpose``, ``after`` and ``before`` included, is silently
  ignored, as real servers do. The envelope adds ``next_page``: an opaque string (never a file
  id), ``null`` on the last page and on backward pages;
- files are ``{id, type: "file", filename, size_bytes, mime_type, downloadable, scope,
  metadata, created_at}``, some with fractional-second timestamps;
- ``POST files`` takes ``file``, ``name`` and ``metadata`` (no purpose), text types only, and
  answers 200; the content route answers 200 JSON; delete answers 200
  ``{"id", "type": "file_deleted"}``; errors carry ``request_id``.

Both check the bearer token (401 envelope otherwise), list newest first by ``created_at`` and
then id (ids are random, not time-ordered, so a client cannot lean on their order), accept
cursors that name deleted files, log every request in ``requests`` and serve on a free loopback
port via ``serve()``, which yields the base URL ending ``/api/v1/cloud``. The presigned
download route refuses any request carrying an ``Authorization`` header.
"""

from __future__ import annotations

import contextlib
import json
import random
import re
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from aiohttp import BodyPartReader, web

__all__ = ["Record", "Seen", "StrictG1Server", "StrictG3Server", "Upload"]

PREFIX = "/api/v1/cloud"
STORAGE = "/storage/"
PURPOSES = ("user_upload", "tool_output", "skill_output", "session_resource", "agent_output")
DOWNLOADABLE_PURPOSES = frozenset({"tool_output", "skill_output"})
SESSIONS = ("sess_019e3bb8e6c47d18", "sess_019e3bb8f00a11c2", "sess_019e3bb9a2b4c6d8")
TEXT_TYPES = frozenset(
    {"application/json", "application/xml", "application/javascript"}
    | {"application/x-yaml", "application/x-toml"}
)
_SUFFIX_LIST = (  # section 3, "Accepted types"
    ".txt .md .csv .json .xml .yaml .yml .toml .ini .conf .cfg .env .log .html .htm .css .scss"
    " .less .js .jsx .ts .tsx .vue .svelte .py .go .rs .java .kt .scala .c .cpp .cc .h .hpp .rb"
    " .php .swift .r .lua .pl .sh .bash .zsh .fish .ps1 .sql .graphql .gql .proto .dockerfile"
    " .makefile .gitignore .editorconfig .eslintrc .prettierrc .tex .rst .adoc .org .svg"
)
_NAME_LIST = "dockerfile makefile gemfile rakefile procfile vagrantfile justfile brewfile"
TEXT_SUFFIXES = frozenset(_SUFFIX_LIST.split())
TEXT_NAMES = frozenset(_NAME_LIST.split())
_STEMS = ("Report", "notes", "summary", "trace", "plan", "output", "config", "diff")
_SUFFIXES = (".md", ".txt", ".json", ".csv", ".py", ".yaml")
_INTEGER = re.compile(r"-?[0-9]+")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Refusal(Exception):
    """Raised by a handler; the middleware answers with the error envelope."""

    def __init__(self, status: int, kind: str, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status, self.kind, self.message, self.param = status, kind, message, param


def _invalid(message: str, param: str | None = None) -> Refusal:
    return Refusal(400, "invalid_request_error", message, param)


@dataclass
class Record:
    """One stored file, with what either generation shows of it."""

    id: str
    filename: str
    mime_type: str
    content: bytes
    created_at: datetime
    purpose: str = "user_upload"
    downloadable: bool = False
    scope_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    deleted: bool = False

    @property
    def key(self) -> tuple[datetime, str]:
        """The listing order: newer ``created_at`` first, then the greater id."""
        return (self.created_at, self.id)


@dataclass(frozen=True)
class Upload:
    """The ``file`` part of an upload."""

    filename: str
    media_type: str
    content: bytes


@dataclass(frozen=True)
class Seen:
    """One request as the server received it."""

    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]

    @property
    def params(self) -> dict[str, str]:
        """The query as a dict (the last value wins)."""
        return dict(self.query)


class _StrictServer:
    """What both servers share: store, order, auth, error envelope, log, storage, serving."""

    with_request_id: ClassVar[bool] = False

    def __init__(self, *, token: str = "pt-strict") -> None:
        self.token = token
        self.records: dict[str, Record] = {}
        self.requests: list[Seen] = []
        self._links: dict[str, str] = {}  # storage key -> file id

    # --- the store -------------------------------------------------------------------------

    def seed(self, n: int, *, seed: int = 0) -> list[Record]:
        """Add ``n`` files, the same for the same ``seed``; some share a creation time."""
        rng = random.Random(seed)
        when = max(
            (r.created_at for r in self.records.values()),
            default=datetime(2026, 5, 18, 15, 0, tzinfo=UTC),
        )
        added = []
        for _ in range(n):
            when += timedelta(seconds=rng.choice((0, 0, 1, 7, 60, 3600)))
            purpose = rng.choice(PURPOSES)
            record = Record(
                id=f"file_{rng.getrandbits(128):032x}",
                filename=f"{rng.choice(_STEMS)}-{rng.randint(1, 999):03d}{rng.choice(_SUFFIXES)}",
                mime_type="text/plain",
                content=f"content {rng.getrandbits(32):08x}\n".encode() * rng.randint(1, 4),
                created_at=when.replace(microsecond=rng.choice((0, 0, 0, 616690, 5000))),
                purpose=purpose,
                downloadable=purpose in DOWNLOADABLE_PURPOSES,
                scope_id=rng.choice((None, *SESSIONS)),
                metadata={"project": "demo"} if rng.random() < 0.3 else {},
            )
            self.records[record.id] = record
            added.append(record)
        return added

    def live(self) -> list[Record]:
        """Every file not deleted, in listing order (newest first)."""
        return sorted((r for r in self.records.values() if not r.deleted), key=_key, reverse=True)

    def ids(self) -> list[str]:
        """Every live id in listing order."""
        return [r.id for r in self.live()]

    def new_record(self, **fields: Any) -> Record:
        """A file created now (later than every stored one), added to the store."""
        newest = max((r.created_at for r in self.records.values()), default=datetime.now(UTC))
        record = Record(
            id=f"file_{uuid.uuid4().hex}",
            created_at=max(datetime.now(UTC), newest + timedelta(milliseconds=1)),
            **fields,
        )
        self.records[record.id] = record
        return record

    def _lookup(self, request: web.Request) -> Record:
        record = self.records.get(request.match_info["file_id"])
        if record is None or record.deleted:
            name = request.match_info["file_id"]
            raise Refusal(404, "not_found_error", f"File '{name}' was not found.")
        return record

    # --- paging ----------------------------------------------------------------------------

    def _limit(self, request: web.Request, *, over_100_refused: bool) -> int:
        raw = request.query.get("limit")
        if raw is None:
            return 20
        if not _INTEGER.fullmatch(raw):
            raise _invalid("Field 'limit' must be an integer.", "limit")
        limit = int(raw)
        if limit < 1 or (limit > 100 and over_100_refused):
            raise _invalid("Field 'limit' must be between 1 and 100.", "limit")
        return min(limit, 100)

    def _window(
        self, items: list[Record], cursor: tuple[str, str] | None, limit: int
    ) -> tuple[list[Record], bool]:
        """One page of ``items`` (newest first) after or before a cursor ``(param, id)``."""
        if cursor is None:
            return items[:limit], len(items) > limit
        param, cursor_id = cursor
        anchor = self.records.get(cursor_id)
        if anchor is None:  # a deleted file still marks its place; an unknown one does not
            raise _invalid(f"Cursor '{cursor_id}' does not name a file.", param)
        if param.startswith("before"):
            newer = [r for r in items if r.key > anchor.key]
            return newer[-limit:], len(newer) > limit
        older = [r for r in items if r.key < anchor.key]
        return older[:limit], len(older) > limit

    # --- the application -------------------------------------------------------------------

    def render(self, record: Record) -> dict[str, Any]:
        """The file as this generation shows it."""
        raise NotImplementedError

    def routes(self, app: web.Application) -> None:
        """Add this generation's routes."""
        raise NotImplementedError

    def app(self) -> web.Application:
        """The aiohttp application serving the API under ``/api/v1/cloud``."""
        app = web.Application(middlewares=[self._middleware])
        self.routes(app)
        app.router.add_get(STORAGE + "{key}", self._storage)
        return app

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        self.requests.append(
            Seen(
                request.method,
                request.path,
                list(request.query.items()),
                dict(request.headers),
            )
        )
        request_id = request.headers.get("x-request-id") or f"req_{uuid.uuid4().hex}"
        try:
            authorized = request.headers.get("Authorization") == f"Bearer {self.token}"
            if not authorized and not request.path.startswith(STORAGE):
                raise Refusal(401, "authentication_error", "Invalid API key or token.")
            response = await handler(request)
        except Refusal as exc:
            detail: dict[str, Any] = {"type": exc.kind, "message": exc.message}
            if exc.param is not None:
                detail["param"] = exc.param
            body: dict[str, Any] = {"type": "error", "error": detail}
            if self.with_request_id:
                body["request_id"] = request_id
            response = web.json_response(body, status=exc.status)
        except web.HTTPException as exc:
            response = web.json_response(
                {"type": "error", "error": {"type": "not_found_error", "message": exc.reason}},
                status=exc.status,
            )
        response.headers["x-request-id"] = request_id
        return response

    def _link(self, request: web.Request, record: Record) -> dict[str, str]:
        key = secrets.token_urlsafe(16)
        self._links[key] = record.id
        expires = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
        url = request.url.with_path(STORAGE + key).with_query(
            {"response-content-disposition": f'attachment; filename="{record.filename}"'}
        )
        return {"expires_at": _time(expires, fraction=False), "url": str(url)}

    async def _storage(self, request: web.Request) -> web.Response:
        if "Authorization" in request.headers:
            return web.Response(status=400, text="<Error><Code>InvalidArgument</Code></Error>")
        file_id = self._links.get(request.match_info["key"])
        record = self.records.get(file_id) if file_id else None
        if record is None or record.deleted:
            return web.Response(status=403, text="<Error><Code>AccessDenied</Code></Error>")
        return web.Response(body=record.content, content_type=record.mime_type)

    async def _form(self, request: web.Request) -> tuple[Upload | None, dict[str, str]]:
        """The multipart body: the ``file`` part, and the other fields by name."""
        if not request.content_type.startswith("multipart/"):
            raise _invalid("Field 'file' is required.", "file")
        upload, fields = None, {}
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                raise _invalid("Nested multipart bodies are not accepted.")
            data = await part.read()
            if part.name == "file":
                media_type = part.headers.get("Content-Type", "").split(";")[0].strip().lower()
                upload = Upload(part.filename or "upload", media_type, bytes(data))
            elif part.name:
                fields[part.name] = bytes(data).decode("utf-8", "replace")
        return upload, fields

    @contextlib.asynccontextmanager
    async def serve(self) -> AsyncIterator[str]:
        """Serve on a free loopback port; yields the base URL (``.../api/v1/cloud``)."""
        runner = web.AppRunner(self.app(), access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        try:
            yield f"http://{host}:{port}{PREFIX}"
        finally:
            await runner.cleanup()


class StrictG1Server(_StrictServer):
    """The seed generation as documented: ``file_id``, ``purpose``, ``after``/``before``."""

    def routes(self, app: web.Application) -> None:
        """Add the seed generation's routes."""
        app.router.add_get(f"{PREFIX}/files", self._list)
        app.router.add_post(f"{PREFIX}/files", self._upload)
        app.router.add_get(f"{PREFIX}/files/{{file_id}}", self._get)
        app.router.add_get(f"{PREFIX}/files/{{file_id}}/content", self._content)
        app.router.add_delete(f"{PREFIX}/files/{{file_id}}", self._delete)

    def render(self, record: Record) -> dict[str, Any]:
        """Section 2a: whole-second times, ``status`` always ``ready``."""
        stamp = _time(record.created_at, fraction=False)
        return {
            "created_at": stamp,
            "file_id": record.id,
            "filename": record.filename,
            "metadata": record.metadata,
            "mime_type": record.mime_type,
            "purpose": record.purpose,
            "size_bytes": len(record.content),
            "status": "ready",
            "updated_at": stamp,
        }

    async def _list(self, request: web.Request) -> web.Response:
        query = request.query
        limit = self._limit(request, over_100_refused=False)
        purpose = query.get("purpose")
        if purpose is not None and purpose not in PURPOSES:
            raise _invalid(f"Field 'purpose' must be one of {', '.join(PURPOSES)}.", "purpose")
        cursors = [(name, query[name]) for name in ("after", "before") if name in query]
        if len(cursors) > 1:
            raise _invalid("Parameters after and before are mutually exclusive.")
        items = [r for r in self.live() if purpose is None or r.purpose == purpose]
        page, has_more = self._window(items, cursors[0] if cursors else None, limit)
        return web.json_response(
            {
                "data": [self.render(r) for r in page],
                "first_id": page[0].id if page else None,
                "has_more": has_more,
                "last_id": page[-1].id if page else None,
            }
        )

    async def _get(self, request: web.Request) -> web.Response:
        return web.json_response(self.render(self._lookup(request)))

    async def _content(self, request: web.Request) -> web.Response:
        record = self._lookup(request)
        if record.purpose not in DOWNLOADABLE_PURPOSES:
            raise Refusal(403, "permission_error", f"File '{record.id}' is not downloadable.")
        link = self._link(request, record)
        return web.json_response(link, status=302, headers={"Location": link["url"]})

    async def _delete(self, request: web.Request) -> web.Response:
        self._lookup(request).deleted = True
        return web.Response(status=204)

    async def _upload(self, request: web.Request) -> web.Response:
        upload, fields = await self._form(request)
        if upload is None:
            raise _invalid("Field 'file' is required.", "file")
        purpose = fields.get("purpose", "user_upload")
        if purpose not in PURPOSES:
            raise _invalid(f"Field 'purpose' must be one of {', '.join(PURPOSES)}.", "purpose")
        record = self.new_record(
            filename=upload.filename,
            mime_type=upload.media_type or "application/octet-stream",
            content=upload.content,
            purpose=purpose,
            downloadable=purpose in DOWNLOADABLE_PURPOSES,
            metadata=_metadata(fields.get("metadata")),
        )
        return web.json_response(self.render(record), status=201)


class StrictG3Server(_StrictServer):
    """The newest docs, exactly: ``id``/``type``, ``page``/``next_page``, ``name``, ``scope_id``."""

    with_request_id = True

    def __init__(self, *, token: str = "pt-strict") -> None:
        super().__init__(token=token)
        self._pages: dict[str, str] = {}  # next_page token -> the last file id of its page

    def routes(self, app: web.Application) -> None:
        """Add the newest generation's routes."""
        app.router.add_get(f"{PREFIX}/files", self._list)
        app.router.add_post(f"{PREFIX}/files", self._upload)
        app.router.add_get(f"{PREFIX}/files/{{file_id}}", self._get)
        app.router.add_get(f"{PREFIX}/files/{{file_id}}/content", self._content)
        app.router.add_delete(f"{PREFIX}/files/{{file_id}}", self._delete)

    def render(self, record: Record) -> dict[str, Any]:
        """Section 2b: no purpose, status or updated_at; fractions where the time has them."""
        scope = None if record.scope_id is None else {"id": record.scope_id, "type": "session"}
        return {
            "id": record.id,
            "type": "file",
            "filename": record.filename,
            "size_bytes": len(record.content),
            "mime_type": record.mime_type,
            "downloadable": record.downloadable,
            "scope": scope,
            "metadata": record.metadata,
            "created_at": _time(record.created_at, fraction=True),
        }

    async def _list(self, request: web.Request) -> web.Response:
        query = request.query
        given = [name for name in ("page", "after_id", "before_id") if name in query]
        if len(given) > 1:
            raise _invalid(f"Parameters {' and '.join(given)} are mutually exclusive.")
        limit = self._limit(request, over_100_refused=True)
        cursor: tuple[str, str] | None = None
        if given == ["page"]:
            anchor = self._pages.get(query["page"])
            if anchor is None:
                raise _invalid("Field 'page' is not a page token this server handed out.", "page")
            cursor = ("page", anchor)
        elif given:
            cursor = (given[0], query[given[0]])
        prefix = query.get("name", "").lower()
        scope_id = query.get("scope_id")
        items = [
            r
            for r in self.live()
            if r.filename.lower().startswith(prefix)
            and (scope_id is None or r.scope_id == scope_id)
        ]
        page, has_more = self._window(items, cursor, limit)
        next_page = None
        if has_more and given != ["before_id"]:
            next_page = f"pg_{secrets.token_urlsafe(18)}"
            self._pages[next_page] = page[-1].id
        return web.json_response(
            {
                "data": [self.render(r) for r in page],
                "first_id": page[0].id if page else None,
                "has_more": has_more,
                "last_id": page[-1].id if page else None,
                "next_page": next_page,
            }
        )

    async def _get(self, request: web.Request) -> web.Response:
        return web.json_response(self.render(self._lookup(request)))

    async def _content(self, request: web.Request) -> web.Response:
        record = self._lookup(request)
        if not record.downloadable:
            raise Refusal(403, "permission_error", f"File '{record.id}' is not downloadable.")
        return web.json_response(self._link(request, record))

    async def _delete(self, request: web.Request) -> web.Response:
        record = self._lookup(request)
        record.deleted = True
        return web.json_response({"id": record.id, "type": "file_deleted"})

    async def _upload(self, request: web.Request) -> web.Response:
        upload, fields = await self._form(request)
        if upload is None:
            raise _invalid("Field 'file' is required.", "file")
        name = fields.get("name", upload.filename).replace("\\", "/").rsplit("/", 1)[-1].strip()
        if name in ("", ".", "..") or len(name.encode()) > 255:
            raise _invalid("Field 'name' must be 1 to 255 bytes and not '.' or '..'.", "name")
        # How type and extension combine is not documented: either one on the list will do.
        suffix = name[name.rfind(".") :].lower() if "." in name else ""
        text_type = upload.media_type.startswith("text/") or upload.media_type in TEXT_TYPES
        if not text_type and suffix not in TEXT_SUFFIXES and name.lower() not in TEXT_NAMES:
            raise _invalid("Only text-based files can be uploaded.", "file")
        record = self.new_record(
            filename=name,
            mime_type=upload.media_type if text_type else "text/plain",
            content=upload.content,
            metadata=_metadata(fields.get("metadata")),
        )
        return web.json_response(self.render(record))


def _key(record: Record) -> tuple[datetime, str]:
    return record.key


def _time(value: datetime, *, fraction: bool) -> str:
    """RFC 3339 UTC with ``Z``; with ``fraction``, the microseconds that are not zero."""
    text = value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if fraction and value.microsecond:
        text += f".{value.microsecond:06d}".rstrip("0")
    return text + "Z"


def _metadata(raw: str | None) -> dict[str, Any]:
    if raw is None:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        value = None
    if not isinstance(value, dict) or len(raw.encode()) > 8 * 1024:
        raise _invalid("Field 'metadata' must be a JSON object string of at most 8 KB.", "metadata")
    return value
