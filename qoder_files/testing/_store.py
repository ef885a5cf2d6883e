"""The emulator's files in memory: ``StoredFile``, time-ordered ids, the listing indexes, seeding.

``FileStore`` keeps every file by id plus two ascending id indexes (all files, and one per
purpose), so a listing page is a bisect and a slice (a filter by name or scope first narrows the
index). Ids sort by creation time (``make_file_id``), which is why a cursor id that no longer
exists still finds its place. Every file has a ``scope``: ``None`` or the session it belongs to.

It never speaks HTTP: no requests, no responses, no error envelopes; the routes do that.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import random
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs

from qoder_files.models import Purpose

__all__ = [
    "DOWNLOADABLE",
    "EPOCH",
    "PURPOSE_VALUES",
    "SEED_SESSIONS",
    "SEED_TYPES",
    "FileStore",
    "StoredFile",
    "format_time",
    "make_file_id",
    "seed_scope",
]

PURPOSE_VALUES = tuple(p.value for p in Purpose)
DOWNLOADABLE = frozenset({Purpose.TOOL_OUTPUT.value, Purpose.SKILL_OUTPUT.value})
"""The purposes whose content may be downloaded."""
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
"""Where seeded creation times start by default."""
_NAMES = ("report", "notes", "summary", "trace", "plan", "output", "config", "diff", "log", "data")
SEED_TYPES = (
    (".md", "text/markdown"),
    (".txt", "text/plain"),
    (".json", "application/json"),
    (".csv", "text/csv"),
    (".py", "text/x-python"),
    (".yaml", "application/x-yaml"),
    (".log", "text/plain"),
    (".html", "text/html"),
)
"""``(suffix, media type)`` of seeded files."""
SEED_SESSIONS = tuple(
    f"sess_{hashlib.sha256(f'session {n}'.encode()).hexdigest()[:16]}" for n in range(4)
)
"""The sessions seeded files may belong to (their ``scope``)."""


def seed_scope(file_id: str) -> dict[str, str] | None:
    """The scope a seeded file gets: about one file in three belongs to one of the sessions.

    Drawn from the id alone, so adding scopes left every other seeded value as it was.
    """
    draw = random.Random(file_id)
    if draw.random() >= 1 / 3:
        return None
    return {"id": draw.choice(SEED_SESSIONS), "type": "session"}


def format_time(value: datetime) -> str:
    """A time as the API writes it: UTC, whole seconds, ``Z``."""
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
    scope: dict[str, str] | None = None
    """``None`` or what the file belongs to, ``{"id": "sess_...", "type": "session"}``."""
    _rendered: dict[str, bytes] = attrs.field(factory=dict, repr=False)

    @property
    def size_bytes(self) -> int:
        """Length of the content."""
        return len(self.content)

    @property
    def downloadable(self) -> bool:
        """Whether its content may be downloaded (decided by its purpose)."""
        return self.purpose in DOWNLOADABLE

    def wire(self, shape: str) -> dict[str, Any]:
        """The file as the API of generation ``shape`` shows it."""
        if shape == "g3":
            return {
                "id": self.file_id,
                "type": "file",
                "filename": self.filename,
                "mime_type": self.mime_type,
                "size_bytes": self.size_bytes,
                "downloadable": self.downloadable,
                "scope": self.scope,
                "metadata": self.metadata,
                "created_at": format_time(self.created_at),
            }
        return {
            "created_at": format_time(self.created_at),
            "file_id": self.file_id,
            "filename": self.filename,
            "metadata": self.metadata,
            "mime_type": self.mime_type,
            "purpose": self.purpose,
            "size_bytes": self.size_bytes,
            "status": self.status,
            "updated_at": format_time(self.updated_at),
        }

    def rendered(self, shape: str) -> bytes:
        """The file's JSON, encoded once and cached (listing pages are joined from these)."""
        cached = self._rendered.get(shape)
        if cached is None:
            cached = self._rendered[shape] = json.dumps(
                self.wire(shape), separators=(",", ":")
            ).encode()
        return cached


class FileStore:
    """Files by id, with the ascending id indexes that listings walk.

    Attributes:
        files: Every stored file by id.
    """

    def __init__(self) -> None:
        self.files: dict[str, StoredFile] = {}
        self._ids: list[str] = []  # ascending, i.e. oldest first
        self._by_purpose: dict[str, list[str]] = {p: [] for p in PURPOSE_VALUES}
        self._rng = random.Random()

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
        start: datetime = EPOCH,
    ) -> list[StoredFile]:
        """Add ``n`` realistic files, deterministic for a given ``rng`` (default seed 0).

        Creation times start at ``start`` and advance 1 to 600 seconds per file, so ids and
        times agree on the order.
        """
        rng = rng or random.Random(0)
        choices = [Purpose(p).value for p in purposes] if purposes else list(PURPOSE_VALUES)
        created = max(
            (f.created_at for f in self.files.values()), default=start - timedelta(seconds=1)
        )
        added = []
        for _ in range(n):
            created += timedelta(seconds=rng.randint(1, 600))
            stem = rng.choice(_NAMES)
            suffix, mime = rng.choice(SEED_TYPES)
            size = rng.randint(16, 4096)
            content = (f"{stem} {rng.getrandbits(64):016x}\n" * (size // 24 + 1)).encode()[:size]
            file_id = make_file_id(created, rng)
            added.append(
                self.add(
                    StoredFile(
                        file_id=file_id,
                        filename=f"{stem}-{rng.randint(1, 9999):04d}{suffix}",
                        mime_type=mime,
                        purpose=rng.choice(choices),
                        content=content,
                        metadata={"project": "demo"} if rng.random() < 0.3 else {},
                        created_at=created,
                        updated_at=created,
                        scope=seed_scope(file_id),
                    )
                )
            )
        return added

    def ids(self, purpose: str | None = None) -> list[str]:
        """Every id in server order (newest first), optionally of one purpose."""
        index = self._ids if purpose is None else self._by_purpose.get(purpose, [])
        return index[::-1]

    def new_id(self) -> tuple[str, datetime]:
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

    def window(
        self,
        *,
        purpose: str | None,
        name: str | None,
        scope_id: str | None,
        after: str | None,
        before: str | None,
        limit: int,
    ) -> tuple[list[StoredFile], bool]:
        """One listing page, newest first, and whether more files lie beyond it.

        Args:
            purpose: Only files of this (known) purpose.
            name: Only files whose name starts with this, ignoring case.
            scope_id: Only files whose scope has this id.
            after: The files older than this id (the newest of them).
            before: The files newer than this id (the oldest of them); wins over ``after``.
            limit: How many files at most.
        """
        index = self._ids if purpose is None else self._by_purpose[purpose]
        if name is not None:
            prefix = name.lower()
            index = [i for i in index if self.files[i].filename.lower().startswith(prefix)]
        if scope_id is not None:
            index = [i for i in index if (self.files[i].scope or {}).get("id") == scope_id]
        if before is not None:
            lo = bisect.bisect_right(index, before)
            chunk = index[lo : lo + limit]
            has_more = lo + limit < len(index)
        else:
            hi = len(index) if after is None else bisect.bisect_left(index, after)
            chunk = index[max(0, hi - limit) : hi]
            has_more = hi - limit > 0
        chunk.reverse()
        return [self.files[i] for i in chunk], has_more
