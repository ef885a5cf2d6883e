"""The values the Files API hands out: ``File``, ``Scope``, ``Page``, ``DownloadLink``, ``Purpose``.

Everything here is a frozen attrs value with no I/O and no knowledge of the wire format;
``qoder_files._convert`` is the only place that turns JSON into these objects and back.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any, Generic, TypeVar

import attrs

from ._public import publish

__all__ = ["DownloadLink", "File", "Page", "Purpose", "Scope"]

T = TypeVar("T")


class Purpose(enum.StrEnum):
    """What a file is for, as documented by the API.

    A ``Purpose`` compares equal to its string value, so ``Purpose.TOOL_OUTPUT == "tool_output"``.
    Only ``tool_output`` and ``skill_output`` files can be downloaded.
    """

    USER_UPLOAD = "user_upload"
    TOOL_OUTPUT = "tool_output"
    SKILL_OUTPUT = "skill_output"
    SESSION_RESOURCE = "session_resource"
    AGENT_OUTPUT = "agent_output"

    @property
    def downloadable(self) -> bool:
        """Whether files of this purpose can be downloaded."""
        return self in (Purpose.TOOL_OUTPUT, Purpose.SKILL_OUTPUT)


_DOWNLOADABLE_PURPOSES = frozenset(purpose for purpose in Purpose if purpose.downloadable)


@attrs.frozen(slots=True)
class Scope:
    """What a file belongs to, as newer servers say: today a Session.

    Attributes:
        id: The owner's id, such as ``sess_019e3bb8e6c47d18``.
        type: The owner's kind, such as ``session``.
    """

    id: str
    type: str


@attrs.frozen(kw_only=True, slots=True)
class File:
    """One file's metadata, from whichever generation of the API the server follows.

    Attributes:
        file_id: The file's id (``file_`` + 32 hex digits, time-ordered). Newer servers send
            it as ``id``; it lands here either way.
        filename: The stored file name.
        size_bytes: Size of the content in bytes.
        mime_type: The content's media type.
        purpose: A ``Purpose``; an unknown future value is kept as a plain string; ``None`` when
            the server does not send it (newer API generations).
        status: ``uploading``, ``ready``, ``error`` or ``deleted``; ``None`` when not sent.
        metadata: The caller-supplied metadata object (empty by default).
        created_at: Creation time, timezone-aware (UTC).
        updated_at: Last update time, or ``None`` when the server does not send it.
        downloadable: Whether the content can be downloaded. Newer servers send it; for a
            server that does not, it follows from ``purpose`` (only ``tool_output`` and
            ``skill_output`` files are downloadable), and a file with neither is not. When
            not given here, it follows from ``purpose`` the same way.
        scope: What the file belongs to (a Session, for an agent's output), or ``None`` when
            it belongs to no one or the server does not say (older generations).
        extra: Fields this version of the SDK does not model (``session_id``, ``expires_at``...),
            kept as sent for forward compatibility. Newer servers' ``type`` is ``"file"`` on
            every file and is not kept; any other value of it is kept here.
    """

    file_id: str
    filename: str
    size_bytes: int
    mime_type: str
    purpose: Purpose | str | None = None
    status: str | None = None
    metadata: dict[str, Any] = attrs.field(factory=dict, hash=False)
    created_at: datetime
    updated_at: datetime | None = None
    downloadable: bool = attrs.field()
    scope: Scope | None = None
    extra: dict[str, Any] = attrs.field(factory=dict, hash=False)

    @downloadable.default
    def _downloadable_from_purpose(self) -> bool:
        return self.purpose in _DOWNLOADABLE_PURPOSES


@attrs.frozen(kw_only=True, slots=True)
class Page(Generic[T]):
    """One page of a listing, exactly as the server sent it.

    ``data`` is in the server's order (newest first) whichever direction the listing travels;
    only item iteration over a pager applies the order of travel.

    Attributes:
        data: The items of this page.
        first_id: Id of the first (newest) item, or ``None`` for an empty page.
        last_id: Id of the last (oldest) item, or ``None`` for an empty page.
        has_more: Whether more items exist in the direction of the request.
        next_page: Opaque forward cursor sent by newer servers, else ``None``.
        request_id: The server's request id, or the one this SDK sent.
    """

    data: list[T]
    first_id: str | None = None
    last_id: str | None = None
    has_more: bool = False
    next_page: str | None = None
    request_id: str | None = None


@attrs.frozen(kw_only=True, slots=True)
class DownloadLink:
    """A short-lived presigned URL for a file's content.

    Attributes:
        url: The presigned URL. Fetch it without the API token.
        expires_at: When the URL stops working, or ``None`` if the server did not say.
    """

    url: str
    expires_at: datetime | None = None


# Exported from ``qoder_files``: tracebacks, reprs, pickles and the reference show that path.
publish("qoder_files", globals(), __all__)
