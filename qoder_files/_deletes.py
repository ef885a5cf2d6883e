"""``delete_files()``: delete many files concurrently, idempotently, with one summary.

A 404 counts as already gone, so an interrupted bulk delete can simply be run again. Other
failures are recorded per file and the job goes on with the rest. Progress is reported through
an optional callback, once per file.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable

import attrs

from ._public import publish
from .errors import NotFoundError, QoderError

__all__ = ["DeleteFailure", "DeleteSummary", "delete_files"]


@attrs.frozen(kw_only=True)
class DeleteFailure:
    """A file that could not be deleted, with the error's one-line message."""

    file_id: str
    reason: str


@attrs.frozen(kw_only=True)
class DeleteSummary:
    """What one ``delete_files()`` run did.

    Attributes:
        deleted: Files deleted by this run.
        already_gone: Files the server no longer had (404), counted as done.
        failed: Files that kept failing, with their reasons.
    """

    deleted: tuple[str, ...] = ()
    already_gone: tuple[str, ...] = ()
    failed: tuple[DeleteFailure, ...] = ()

    @property
    def ok(self) -> bool:
        """Whether every file is gone."""
        return not self.failed


async def delete_files(
    file_ids: Iterable[str],
    delete: Callable[[str], Awaitable[None]],
    *,
    concurrency: int,
    progress: Callable[[str, str], object] | None = None,
) -> DeleteSummary:
    """Run ``delete(file_id)`` for every id, at most ``concurrency`` at once.

    ``progress(file_id, outcome)`` is called with ``"deleted"``, ``"gone"`` or ``"failed"``.
    """
    gate = asyncio.Semaphore(concurrency)
    deleted: list[str] = []
    gone: list[str] = []
    failed: list[DeleteFailure] = []

    async def one(file_id: str) -> None:
        async with gate:
            try:
                await delete(file_id)
            except NotFoundError:
                gone.append(file_id)
                outcome = "gone"
            except QoderError as error:
                reason = " ".join(f"{type(error).__name__}: {error}".split())
                failed.append(DeleteFailure(file_id=file_id, reason=reason))
                outcome = "failed"
            else:
                deleted.append(file_id)
                outcome = "deleted"
        if progress is not None:
            progress(file_id, outcome)

    await asyncio.gather(*(one(file_id) for file_id in dict.fromkeys(file_ids)))
    return DeleteSummary(deleted=tuple(deleted), already_gone=tuple(gone), failed=tuple(failed))


# Exported from ``qoder_files``: tracebacks, reprs and the reference show that path.
publish("qoder_files", globals(), ["DeleteFailure", "DeleteSummary"])
