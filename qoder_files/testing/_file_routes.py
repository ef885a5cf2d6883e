"""The emulator's one-file routes: get, upload, delete, the download link and the download.

Per generation: upload answers 201 in ``g1`` and 200 in ``g3`` (both documented), and in
``g3`` refuses ``purpose`` (removed there) and any type outside the text-only list; uploads have
no ``scope``, since no upload field for one is documented. The content
route answers 302 with ``Location`` and a JSON body in ``g1`` and 200 JSON in ``g3``; delete
answers 204 in ``g1`` and 200 ``{"id", "type": "file_deleted"}`` in ``g3``. The presigned
download route stands in for object storage: it answers in XML, refuses expired or unknown
links with 403 and any request carrying an Authorization header with 400.

Writes (upload, delete) honour ``Idempotency-Key`` (or ``X-Idempotency-Key``); the links
handed out and the outcomes kept for replay live here, both bounded: the least recently used
are forgotten first, and an outcome is forgotten after its lifetime. Reading an upload's body
belongs to ``_form``; auth, faults and the error envelope belong to ``FilesEmulator``, around
every route.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import quote

import attrs
from aiohttp import web

from qoder_files.models import Purpose

from ._form import Part, check_text_type, clean_name, guess_type, parse_metadata, read_form
from ._protocol import DOWNLOAD_PREFIX, ApiError, check_purpose, storage_error
from ._records import LruRecords
from ._store import FileStore, StoredFile, format_time

if TYPE_CHECKING:
    from ._emulator import FilesEmulator

__all__ = ["FileRoutes"]


class FileRoutes:
    """The one-file handlers of one emulator, with the download links and replays they keep."""

    def __init__(
        self,
        emulator: FilesEmulator,
        store: FileStore,
        *,
        max_links: int,
        max_replays: int,
        replay_lifetime: float,
    ) -> None:
        self._emulator = emulator
        self._store = store  # for new ids; files come and go through the emulator's own verbs
        # token -> (file id, expiry); a link evicted for room reads as a forged one.
        self._links: LruRecords[tuple[str, datetime]] = LruRecords(max_links)
        # idempotency key -> first success; past its lifetime the key is new again.
        self._replays: LruRecords[_Outcome] = LruRecords(max_replays, lifetime=replay_lifetime)

    async def get(self, request: web.Request) -> web.Response:
        """``GET files/{file_id}``: the file's metadata."""
        stored = self._emulator.lookup(request)
        return web.Response(
            body=stored.rendered(self._emulator.shape), content_type="application/json"
        )

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
            self._replays.put(key, outcome)
        return outcome.response(replayed=False)

    async def upload(self, request: web.Request) -> web.Response:
        """``POST files`` (multipart): store the file, answer with it."""
        parts = await read_form(request)
        # Parts, not bytes: every sender picks a new boundary for each attempt.
        digest = hashlib.sha256(b"POST files")
        for part in parts:
            for text in (part.name, part.filename or "", part.content_type or ""):
                # Undecodable header bytes arrive as lone surrogates; hash them as they came.
                digest.update(text.encode("utf-8", "surrogateescape") + b"\0")
            digest.update(hashlib.sha256(part.data).digest())
        return self._idempotent(request, digest.hexdigest(), lambda: self._store_upload(parts))

    def _store_upload(self, parts: list[Part]) -> tuple[int, bytes]:
        upload = next((p for p in parts if p.name == "file"), None)
        if upload is None:
            raise ApiError.invalid("Field 'file' is required.", "file")
        fields = {p.name: p for p in reversed(parts)}  # the first of a repeated field wins
        g3 = self._emulator.shape == "g3"
        if g3 and "purpose" in fields:  # removed in the newest docs ("do not send")
            raise ApiError.invalid(
                "Field 'purpose' is not supported by this version of the API.", "purpose"
            )
        text = {k: fields[k].text() for k in ("purpose", "metadata", "name") if k in fields}
        purpose = check_purpose(text.get("purpose", Purpose.USER_UPLOAD.value))
        metadata = parse_metadata(text.get("metadata"))
        name = text.get("name")
        filename = clean_name(name if name is not None else upload.filename or "upload")
        if filename is None and name is not None:
            raise ApiError.invalid(
                "Field 'name' must be 1 to 255 bytes and not '.' or '..'.", "name"
            )
        if filename is None:
            raise ApiError.invalid(
                "The file's filename must be 1 to 255 bytes of UTF-8 and not '.' or '..'.", "file"
            )
        if g3:
            check_text_type(filename, upload.content_type)
        file_id, created = self._store.new_id()
        stored = self._emulator.add(
            StoredFile(
                file_id=file_id,
                filename=filename,
                mime_type=guess_type(filename),
                purpose=purpose,
                content=upload.data,
                metadata=metadata,
                created_at=created,
                updated_at=created,
            )
        )
        # 201 as in G1/G2; the newest generation documents 200.
        shape = self._emulator.shape
        return (200 if shape == "g3" else 201), stored.rendered(shape)

    async def delete(self, request: web.Request) -> web.Response:
        """``DELETE files/{file_id}``: remove the file for good."""

        def execute() -> tuple[int, bytes]:
            stored = self._emulator.lookup(request)
            self._emulator.remove(stored.file_id)
            if self._emulator.shape == "g3":
                return 200, json.dumps({"id": stored.file_id, "type": "file_deleted"}).encode()
            return 204, b""

        return self._idempotent(request, f"DELETE {request.path}", execute)

    # --- downloads -----------------------------------------------------------------------

    async def content(self, request: web.Request) -> web.Response:
        """``GET files/{file_id}/content``: a presigned link to the content."""
        stored = self._emulator.lookup(request)
        if not stored.downloadable:
            reason = (
                "its 'downloadable' is false"
                if self._emulator.shape == "g3"
                else "only tool_output and skill_output files can be downloaded"
            )
            raise ApiError(
                403, "permission_error", f"File '{stored.file_id}' is not downloadable: {reason}."
            )
        token = secrets.token_urlsafe(24)
        expires = datetime.now(UTC) + timedelta(seconds=self._emulator.download_ttl)
        self._links.put(token, (stored.file_id, expires))
        url = str(
            request.url.with_path(f"{DOWNLOAD_PREFIX}{token}").with_query(
                {
                    "expires": str(int(expires.timestamp())),
                    "response-content-disposition": f'attachment; filename="{stored.filename}"',
                }
            )
        )
        body = json.dumps({"expires_at": format_time(expires), "url": url}).encode()
        if self._emulator.shape == "g3":
            return web.Response(body=body, content_type="application/json")
        return web.Response(
            status=302, body=body, content_type="application/json", headers={"Location": url}
        )

    async def download(self, request: web.Request) -> web.Response:
        """The storage side: serves content for a valid presigned token, answers like S3/OSS."""
        if "Authorization" in request.headers:
            return storage_error(
                400,
                "InvalidArgument",
                "Only one auth mechanism allowed; a presigned URL must be sent without an "
                "Authorization header.",
            )
        link = self._links.get(request.match_info["token"])
        if link is None:
            return storage_error(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
            )
        file_id, expires = link
        if datetime.now(UTC) >= expires:
            return storage_error(403, "AccessDenied", "Request has expired.")
        stored = self._emulator.files.get(file_id)
        if stored is None:
            return storage_error(404, "NoSuchKey", "The specified key does not exist.")
        return web.Response(
            body=stored.content,
            content_type=stored.mime_type,
            headers={
                "Content-Disposition": f"attachment; filename*=UTF-8''{quote(stored.filename)}"
            },
        )


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
