"""``qoder-files ls``: a listing streamed a page at a time, that says how to resume when it stops.

The listing runs on the async client, on an event loop in the command's own thread. Each page
the SDK hands over is written with one write, in the chosen format, as soon as it arrives:
JSON and JSON lines take the server's objects as decoded (``json_batches()``), the table and
CSV take files (``batches()``). When the listing stops early (an API or network error after
the client's retries, or Ctrl-C) the writer still completes its document (``--format json``
closes its array), and stderr says how many files were written and the exact flag that
resumes after the last of them. Ctrl-C takes effect at the listing's next wait, never in the
middle of a page's write, so the count and the resume point are exact.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import click

from ._context import PURPOSES, Options, report
from ._render import is_terminal, stdout_bytes

if TYPE_CHECKING:
    from qoder_files._scan import AsyncScan
    from qoder_files.client import AsyncClient
    from qoder_files.pager import AsyncPager

    from ._progress import ProgressLine
    from ._writers import Writer

__all__ = ["COMMANDS", "PROGRESS_AFTER", "parse_fields"]

PROGRESS_AFTER = 500
"""A listing written to a file or pipe shows a progress line on a terminal after this many."""
FULL_PAGE = 100
"""The page size of a listing walked to its end, unless ``--limit`` says otherwise."""


def parse_fields(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    """``--fields a,b,c`` as a list of keys (``None`` when not given)."""
    if value is None:
        return None
    fields = [field.strip() for field in value.split(",") if field.strip()]
    if not fields or not all(field.isidentifier() for field in fields):
        raise click.BadParameter("must be comma-separated field names, e.g. file_id,filename")
    return fields


class _Resume:
    """What the resume hint needs: the direction flag, where the walk began, its cap."""

    def __init__(self, *, flag: str, start: str | None, max_items: int | None, scan: bool) -> None:
        self.flag = flag
        self.last = start
        self.max_items = max_items
        self.scan = scan
        self.written = 0

    def hint(self) -> str | None:
        """The line that says how to resume, or ``None`` when nothing was written."""
        if not self.written or self.last is None:
            return None
        done = f"{self.written} file{'' if self.written == 1 else 's'} written"
        flags = f"{self.flag} {self.last}"
        if self.max_items is not None:
            flags += f" --max-items {self.max_items - self.written}"
        if self.scan:
            return (
                f"qoder-files: {done}; to resume, run the same command without "
                f"--all-purposes and with {flags}"
            )
        return f"qoder-files: {done}; to resume, run the same command with {flags}"


def _progress_line(max_items: int | None) -> ProgressLine | None:
    # On a terminal the rows themselves show progress; a progress line is for output that
    # goes to a file or a pipe while stderr is a terminal.
    if is_terminal(sys.stdout) or not is_terminal(sys.stderr):
        return None
    if max_items is not None and max_items < PROGRESS_AFTER:
        return None
    from ._progress import ProgressLine  # noqa: PLC0415

    return ProgressLine(sys.stderr, "Listing", total=max_items, unit="files")


def _batches(
    listing: AsyncPager | AsyncScan, writer: Writer
) -> tuple[AsyncIterator[list[Any]], Callable[[Any], str]]:
    """The pages for ``writer``, and how to read the id of one of their items.

    A writer of JSON takes the server's own objects: a listing hands them over as decoded
    (``json_batches()``), without building a ``File`` only to write it back out. A scan
    merges files, so its files are written back as objects.
    """
    import operator  # noqa: PLC0415 - not for --help

    from qoder_files._convert import object_id  # noqa: PLC0415 - loaded by the client
    from qoder_files.pager import AsyncPager  # noqa: PLC0415

    if not writer.objects:
        return listing.batches(), operator.attrgetter("file_id")
    if isinstance(listing, AsyncPager):
        return listing.json_batches(), object_id
    from ._render import WireEncoder  # noqa: PLC0415

    wire = WireEncoder().wire

    async def objects() -> AsyncIterator[list[Any]]:
        async for batch in listing.batches():
            yield [wire(file) for file in batch]

    return objects(), object_id


async def _write_pages(
    client: AsyncClient,
    listing: AsyncPager | AsyncScan,
    writer: Writer,
    resume: _Resume,
    progress: ProgressLine | None,
) -> None:
    """Write each page as it arrives (one write per page; nothing awaits mid-page).

    Ctrl-C cancels this task through the event loop, so however often it is pressed, it
    takes effect between pages, never in the middle of one.
    """
    import asyncio  # noqa: PLC0415 - not for --help
    import signal  # noqa: PLC0415

    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    try:
        loop.add_signal_handler(signal.SIGINT, task.cancel)
        handled = True
    except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or no Unix
        handled = False
    try:
        async with client, listing:
            batches, id_of = _batches(listing, writer)
            async for batch in batches:
                writer.page(batch)
                if batch:
                    resume.written += len(batch)
                    resume.last = id_of(batch[-1])
                if progress is not None and resume.written >= PROGRESS_AFTER:
                    progress.update(resume.written)
    finally:
        if handled:
            loop.remove_signal_handler(signal.SIGINT)


def _stream(
    client: AsyncClient, listing: AsyncPager | AsyncScan, writer: Writer, resume: _Resume
) -> None:
    """Write every page of ``listing``; on an early stop, finish, say how to resume, exit.

    The listing runs on an event loop of its own in this thread: pages go from the socket to
    stdout without crossing threads. Ctrl-C cancels the loop's task at its next wait, never
    in the middle of a page's write, so the count and the resume point are exact.
    """
    import asyncio  # noqa: PLC0415 - not for --help

    progress = _progress_line(resume.max_items)
    interrupted = False
    stopped: Exception | None = None
    try:
        asyncio.run(_write_pages(client, listing, writer, resume, progress))
    except (KeyboardInterrupt, asyncio.CancelledError):  # Ctrl-C
        interrupted = True
    except BrokenPipeError:
        raise
    except Exception as error:
        from qoder_files.errors import QoderError  # noqa: PLC0415 - loaded by the client

        if not isinstance(error, QoderError | OSError):
            raise
        stopped = error
    if progress is not None:
        progress.close()
    writer.finish()  # once, however the listing ended: the document is complete
    if interrupted or stopped is not None:
        _stopped(resume, stopped)


def _stopped(resume: _Resume, error: Exception | None) -> None:
    """Say why the listing stopped early and how to resume it, then exit 130 or 1."""
    if error is None:
        click.echo("qoder-files: interrupted", err=True)
    else:
        report(error)
    hint = resume.hint()
    if hint is not None:
        click.echo(hint, err=True)
    click.get_current_context().exit(130 if error is None else 1)


@click.command("ls")
@click.option("--purpose", type=click.Choice(PURPOSES), help="Only files with this purpose.")
@click.option(
    "--limit", type=int, help="Page size on the wire, 1 to 100 (default 100, or --max-items)."
)
@click.option("-n", "--max-items", type=int, help="Stop after this many files.")
@click.option("--after", metavar="FILE_ID", help="Start after this file, toward older files.")
@click.option("--before", metavar="FILE_ID", help="Start before this file, toward newer files.")
@click.option("--name", metavar="PREFIX", help="Only files whose name starts with this (any case).")
@click.option(
    "--scope", "scope_id", metavar="SCOPE_ID", help="Only files of this scope (a session id)."
)
@click.option(
    "--all-purposes",
    is_flag=True,
    help="Scan every purpose concurrently and merge, newest first (fastest full listing).",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "json", "jsonl", "csv"]),
    help="Output format (default: table on a terminal, jsonl when piped).",
)
@click.option(
    "--fields",
    metavar="A,B,...",
    callback=parse_fields,
    help="Only these JSON keys or columns, in this order (e.g. file_id,filename,size_bytes).",
)
@click.option("-q", "--quiet", is_flag=True, help="Print only the file ids, one per line.")
@click.pass_obj
def list_command(
    options: Options,
    *,
    purpose: str | None,
    limit: int | None,
    max_items: int | None,
    after: str | None,
    before: str | None,
    name: str | None,
    scope_id: str | None,
    all_purposes: bool,
    output_format: str | None,
    fields: list[str] | None,
    quiet: bool,
) -> None:
    """List files, newest first (or from --before toward the newest)."""
    if limit is None:
        limit = FULL_PAGE if max_items is None or name else max(1, min(FULL_PAGE, max_items))
    client = options.async_client()
    listing: AsyncPager | AsyncScan
    if all_purposes:
        if purpose or after or before:
            raise click.UsageError("--all-purposes takes no --purpose, --after or --before")
        listing = client.scan_files(limit=limit, max_items=max_items, name=name, scope_id=scope_id)
    else:
        listing = client.list_files(
            purpose=purpose,
            limit=limit,
            after=after,
            before=before,
            max_items=max_items,
            name=name,
            scope_id=scope_id,
        )
    from ._writers import make_writer  # noqa: PLC0415 - not for --help

    terminal = is_terminal(sys.stdout)
    output_format = output_format or ("table" if terminal else "jsonl")
    writer = make_writer(
        output_format, stdout_bytes(), terminal=terminal, fields=fields, quiet=quiet
    )
    resume = _Resume(
        flag="--before" if before else "--after",
        start=before or after,
        max_items=max_items,
        scan=all_purposes,
    )
    _stream(client, listing, writer, resume)


COMMANDS = [list_command]
