"""``mirror()``: put every downloadable file of an account in a directory, and keep it current.

What it keeps true, whatever stops it (an error, Ctrl-C, ``kill -9``):

- no partial file is ever visible under its final name: each download goes through a hidden
  temporary file (``.<name>.<8 hex>.part``) that is renamed into place once complete, and a
  run removes the stale temporary files an earlier, killed run left behind;
- the hidden manifest (``.qoder-mirror.json``) maps file ids to local names, sizes and update
  times; it is replaced atomically, and a file renamed into place before a crash could record
  it is recognised by its name and size on the next run, so nothing is fetched twice;
- a re-run downloads only what is missing locally or changed on the server (size or update
  time), so a complete re-run sends no download request at all;
- local names come from the server's names made safe (no path separators, no leading dots, no
  control characters, at most 200 bytes); two files claiming one name are told apart by the
  file id (``name.<file id>.ext``), decided by the manifest, so a name never changes owner.

A file that fails (an error from the API or storage after every retry, or a local write
that fails) is tried once more after the others; if it fails again it is recorded with its
reason and the job goes on with the others.
Progress is reported through an optional callback, one ``MirrorEvent`` per file.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import time
import unicodedata
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import attrs

from ._convert import format_timestamp
from ._public import publish
from .errors import QoderError
from .models import File

if TYPE_CHECKING:
    from ._scan import AsyncScan

__all__ = [
    "MANIFEST",
    "MirrorEvent",
    "MirrorFailure",
    "MirrorSummary",
    "is_downloadable",
    "local_name",
    "mirror",
]

MANIFEST = ".qoder-mirror.json"
_STALE = re.compile(r"^\..+\.[0-9a-f]{8}\.part$|^\.qoder-mirror\.json\.[0-9a-f]{8}\.tmp$")
_UNSAFE = frozenset('<>:"|?*/\\')  # special to some file system
_NAME_BYTES = 200
_SAVE_EVERY = 0.5  # seconds between manifest saves while downloading


@attrs.frozen(kw_only=True)
class MirrorEvent:
    """One step of a mirror, for progress reports.

    Attributes:
        kind: ``"downloaded"``, ``"skipped"`` (already current) or ``"failed"``.
        file: The file concerned.
        path: Its local path.
        reason: Why it failed (``kind == "failed"``), else ``None``.
    """

    kind: str
    file: File
    path: str
    reason: str | None = None


@attrs.frozen(kw_only=True)
class MirrorFailure:
    """A file the mirror could not download, with the last error's one-line message."""

    file_id: str
    filename: str
    reason: str


@attrs.frozen(kw_only=True)
class MirrorSummary:
    """What one ``mirror()`` run did.

    Attributes:
        downloaded: Files fetched in this run.
        skipped: Files already current locally.
        failed: Files that kept failing, with their reasons.
        bytes: Bytes fetched in this run.
    """

    downloaded: int = 0
    skipped: int = 0
    failed: tuple[MirrorFailure, ...] = ()
    bytes: int = 0

    @property
    def ok(self) -> bool:
        """Whether every downloadable file is in the directory."""
        return not self.failed


def is_downloadable(file: File) -> bool:
    """Whether the API lets ``file`` be downloaded (sent by newer servers, else by purpose)."""
    return file.downloadable


def local_name(filename: str, file_id: str) -> str:
    """A server's file name made safe as one local file name (``file_id`` when nothing is left).

    Only the last path segment is kept; characters that are not printable (control, bidi and
    other format characters) or are special to some file system become ``_``; leading dots and
    spaces are dropped (no hidden files, no ``..``), trailing spaces too; the name is cut to
    200 bytes, keeping a short extension.
    """
    name = unicodedata.normalize("NFC", filename.replace("\\", "/").rsplit("/", 1)[-1])
    name = "".join("_" if c in _UNSAFE or not c.isprintable() else c for c in name)
    name = name.lstrip(" .").rstrip(" ")
    if len(name.encode("utf-8", "surrogatepass")) > _NAME_BYTES:
        stem, dot, ext = name.rpartition(".")
        keep = f".{ext}" if dot and stem and 0 < len(ext.encode()) <= 16 else ""
        cut = (stem if keep else name).encode("utf-8", "surrogatepass")
        name = cut[: _NAME_BYTES - len(keep.encode())].decode("utf-8", "ignore") + keep
    return name or file_id


def _with_id(name: str, file_id: str) -> str:
    stem, dot, ext = name.rpartition(".")
    return f"{stem}.{file_id}.{ext}" if dot and stem else f"{name}.{file_id}"


class _Manifest:
    """The mirror's memory: id -> {name, size, updated}, saved atomically."""

    def __init__(self, directory: str) -> None:
        self.path = os.path.join(directory, MANIFEST)
        self.entries: dict[str, dict[str, Any]] = {}
        try:
            with open(self.path, encoding="utf-8") as handle:
                loaded = json.load(handle)
            if isinstance(loaded, dict) and isinstance(loaded.get("files"), dict):
                self.entries = {
                    k: v
                    for k, v in loaded["files"].items()
                    if isinstance(v, dict) and isinstance(v.get("name"), str)
                }
        except (OSError, ValueError):
            pass  # no manifest yet, or an unreadable one: start afresh, files are adopted
        self.owners = {entry["name"]: file_id for file_id, entry in self.entries.items()}
        self._saved = time.monotonic()

    def name_for(self, file: File) -> str:
        known = self.entries.get(file.file_id)
        if known is not None:
            return str(known["name"])
        name = local_name(file.filename, file.file_id)
        if self.owners.get(name, file.file_id) != file.file_id:
            name = _with_id(name, file.file_id)
        self.owners[name] = file.file_id
        return name

    def record(self, file: File, name: str) -> None:
        self.entries[file.file_id] = {
            "name": name,
            "size": file.size_bytes,
            "updated": _stamp(file),
        }
        self.owners[name] = file.file_id

    def save(self, *, force: bool = False) -> None:
        if not force and time.monotonic() - self._saved < _SAVE_EVERY:
            return
        directory = os.path.dirname(self.path)
        temp = os.path.join(directory, f"{MANIFEST}.{os.urandom(4).hex()}.tmp")
        with open(temp, "x", encoding="utf-8") as handle:
            json.dump({"version": 1, "files": self.entries}, handle, separators=(",", ":"))
        os.replace(temp, self.path)
        self._saved = time.monotonic()


def _stamp(file: File) -> str:
    return format_timestamp(file.updated_at or file.created_at)


def _current(manifest: _Manifest, file: File, path: str) -> bool:
    """Whether the local copy of ``file`` is complete and up to date."""
    try:
        size = os.stat(path).st_size
    except OSError:
        return False
    if size != file.size_bytes:
        return False
    entry = manifest.entries.get(file.file_id)
    if entry is None:
        return True  # renamed into place by a run killed before it saved the manifest
    return bool(entry.get("size") == file.size_bytes and entry.get("updated") == _stamp(file))


def _remove_stale(directory: str) -> None:
    with os.scandir(directory) as entries:
        for entry in entries:
            if _STALE.match(entry.name) and entry.is_file(follow_symlinks=False):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)


def _reason(error: BaseException) -> str:
    return " ".join(f"{type(error).__name__}: {error}".split())


async def mirror(
    listing: AsyncScan,
    download: Callable[[str, str], Awaitable[object]],
    directory: str,
    *,
    concurrency: int,
    progress: Callable[[MirrorEvent], object] | None = None,
) -> MirrorSummary:
    """Download every downloadable file of ``listing`` that is not current in ``directory``.

    ``download(file_id, path)`` fetches one file to a path atomically (the client's
    ``download_file``). At most ``concurrency`` downloads run at once.
    """
    os.makedirs(directory, exist_ok=True)
    _remove_stale(directory)
    manifest = _Manifest(directory)
    gate = asyncio.Semaphore(concurrency)
    counts = {"downloaded": 0, "skipped": 0, "bytes": 0}
    failures: list[MirrorFailure] = []
    second_chance: list[tuple[File, str, str]] = []
    tasks: set[asyncio.Task[None]] = set()

    def report(kind: str, file: File, path: str, reason: str | None = None) -> None:
        if progress is not None:
            progress(MirrorEvent(kind=kind, file=file, path=path, reason=reason))

    async def fetch(file: File, name: str, path: str, *, last_chance: bool = False) -> None:
        try:
            await download(file.file_id, path)
        except (QoderError, OSError, ValueError) as error:  # the server's or the disk's
            if not last_chance:  # tried again once the others are done
                second_chance.append((file, name, path))
                return
            failures.append(
                MirrorFailure(file_id=file.file_id, filename=file.filename, reason=_reason(error))
            )
            report("failed", file, path, _reason(error))
        else:
            manifest.record(file, name)
            manifest.save()
            counts["downloaded"] += 1
            counts["bytes"] += file.size_bytes
            report("downloaded", file, path)
        finally:
            gate.release()

    try:
        async with listing:
            async for file in listing:
                if not is_downloadable(file):
                    continue
                name = manifest.name_for(file)
                path = os.path.join(directory, name)
                if _current(manifest, file, path):
                    if file.file_id not in manifest.entries:
                        manifest.record(file, name)
                    counts["skipped"] += 1
                    report("skipped", file, path)
                    continue
                await gate.acquire()
                task = asyncio.ensure_future(fetch(file, name, path))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.gather(*tasks)
        # A file whose retries all failed gets one more round, after the others: a server
        # that fails every few requests rarely fails the same file twice in a row.
        for file, name, path in second_chance:
            await gate.acquire()
            task = asyncio.ensure_future(fetch(file, name, path, last_chance=True))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
        manifest.save(force=True)
    return MirrorSummary(
        downloaded=counts["downloaded"],
        skipped=counts["skipped"],
        failed=tuple(failures),
        bytes=counts["bytes"],
    )


# Exported from ``qoder_files``: tracebacks, reprs and the reference show that path.
publish("qoder_files", globals(), ["MirrorEvent", "MirrorFailure", "MirrorSummary"])
