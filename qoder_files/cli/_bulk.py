"""``mirror`` and ``inventory``: the bulk jobs of the SDK as commands, with progress and summaries.

Each command is a few lines over one ``Client`` method (``mirror``, ``sync_inventory``, and
``inventory_stats``). On a terminal, a rich progress bar on stderr shows files, bytes, rate
and, when the total is known, the time left; nothing is drawn when stderr is piped. The bar
shows only counts the command computed, never a server string, so no file name can be read as
markup. Summaries go to stderr; failures are listed as visible text, and exit 1.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ._context import PURPOSES, Options
from ._files import echo_json
from ._render import is_terminal, visible
from ._table import human_size

if TYPE_CHECKING:
    from qoder_files import InventoryStats, InventorySummary, MirrorEvent

__all__ = ["COMMANDS", "bulk_progress"]

Advance = Callable[..., None]


@contextlib.contextmanager
def bulk_progress(label: str, *, total: int | None = None) -> Iterator[Advance]:
    """A progress bar on a terminal's stderr; ``advance(files=1, size=0)`` moves it on.

    Yields a function that does nothing when stderr is not a terminal.
    """
    if not is_terminal(sys.stderr):
        yield lambda **_: None
        return
    from rich.console import Console  # noqa: PLC0415 - not for --help
    from rich.progress import (  # noqa: PLC0415
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns: list[Any] = [SpinnerColumn(), TextColumn(label, markup=False)]
    if total is not None:
        columns += [BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()]
    else:
        columns.append(TextColumn("{task.completed:,.0f} files", markup=False))
    columns += [TextColumn("{task.fields[amount]}", markup=False), TimeElapsedColumn()]
    progress = Progress(*columns, console=Console(stderr=True), transient=True)
    task = progress.add_task(label, total=total, amount="")
    moved = {"size": 0}
    started = progress.get_time()

    def advance(files: int = 1, size: int = 0) -> None:
        moved["size"] += size
        elapsed = max(progress.get_time() - started, 1e-9)
        amount = ""
        if moved["size"]:
            rate = human_size(int(moved["size"] / elapsed))
            amount = f"{human_size(moved['size'])}  {rate}/s"
        progress.update(task, advance=files, amount=amount)

    with progress:
        yield advance


# --- mirror -----------------------------------------------------------------------------------


@click.command("mirror")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--purpose",
    "purposes",
    type=click.Choice(PURPOSES),
    multiple=True,
    help="Only this purpose (repeatable; default: every downloadable file).",
)
@click.option("--name", metavar="PREFIX", help="Only files whose name starts with this.")
@click.option("--scope", "scope_id", metavar="SCOPE_ID", help="Only files of this scope.")
@click.option(
    "-c",
    "--concurrency",
    type=click.IntRange(1, 64),
    default=8,
    show_default=True,
    help="How many downloads at once.",
)
@click.pass_obj
def mirror_command(
    options: Options,
    *,
    directory: Path,
    purposes: tuple[str, ...],
    name: str | None,
    scope_id: str | None,
    concurrency: int,
) -> None:
    """Download every downloadable file into DIRECTORY; a re-run fetches only what changed."""
    client = options.client()
    with bulk_progress("Mirroring") as advance:

        def moved(event: MirrorEvent) -> None:
            size = event.file.size_bytes if event.kind == "downloaded" else 0
            advance(files=1, size=size)

        summary = client.mirror(
            directory,
            purposes=list(purposes) or None,
            name=name,
            scope_id=scope_id,
            concurrency=concurrency,
            progress=moved,
        )
    click.echo(
        f"qoder-files: {summary.downloaded} downloaded ({human_size(summary.bytes)}), "
        f"{summary.skipped} already current, {len(summary.failed)} failed",
        err=True,
    )
    for failure in summary.failed:
        click.echo(
            f"qoder-files: failed: {visible(failure.file_id)} {visible(failure.filename)}: "
            f"{visible(failure.reason)}",
            err=True,
        )
    if summary.failed:
        click.get_current_context().exit(1)


# --- inventory --------------------------------------------------------------------------------


@click.group("inventory")
def inventory_group() -> None:
    """Keep a local SQLite inventory of the account's files, and report on it."""


@inventory_group.command("sync")
@click.argument("database", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--full", is_flag=True, help="Re-list everything and mark deleted files.")
@click.pass_obj
def inventory_sync_command(options: Options, database: Path, full: bool) -> None:
    """Bring DATABASE up to date (incremental unless --full; resumes an interrupted sync)."""
    import asyncio  # noqa: PLC0415 - not for --help

    client = options.async_client()

    async def sync(advance: Advance) -> InventorySummary:
        async with client:
            return await client.sync_inventory(
                database, full=full, progress=lambda n: advance(files=n)
            )

    # On an event loop of its own in this thread: the listing's pages reach the database
    # without crossing threads (Ctrl-C cancels the sync at its next wait).
    with bulk_progress("Syncing") as advance:
        summary = asyncio.run(sync(advance))
    resumed = ", resuming an interrupted sync" if summary.resumed else ""
    deleted = f", {summary.marked_deleted} marked deleted" if summary.full else ""
    click.echo(
        f"qoder-files: {summary.listed} listed, {summary.added} new{deleted}{resumed}",
        err=True,
    )


@inventory_group.command("stats")
@click.argument("database", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="A table with bars, or JSON for scripts.",
)
def inventory_stats_command(database: Path, output_format: str) -> None:
    """Counts and bytes per purpose and per month of the files in DATABASE."""
    from qoder_files import inventory_stats  # noqa: PLC0415 - not for --help

    stats = inventory_stats(database)
    if output_format == "json":
        echo_json(stats.as_dict())
        return
    _print_stats(stats)


def _print_stats(stats: InventoryStats) -> None:
    from rich.console import Console  # noqa: PLC0415 - not for --help
    from rich.table import Table  # noqa: PLC0415
    from rich.text import Text  # noqa: PLC0415

    console = Console() if is_terminal(sys.stdout) else Console(width=100, no_color=True)
    console.print(
        Text(f"{stats.files:,} files, {human_size(stats.bytes)} ({stats.deleted:,} marked deleted)")
    )
    for title, rows in (("PURPOSE", stats.by_purpose), ("MONTH", stats.by_month)):
        table = Table(box=None, header_style="bold", pad_edge=False)
        for heading, justify in ((title, "left"), ("FILES", "right"), ("BYTES", "right")):
            table.add_column(heading, justify=justify, no_wrap=True)  # type: ignore[arg-type]
        table.add_column("", no_wrap=True)
        largest = max((size for _, _, size in rows), default=0) or 1
        for key, files, size in rows:
            bar = "█" * max(1 if size else 0, round(24 * size / largest))
            label = "(none)" if key is None else visible(str(key))
            # Text values, never markup: a purpose from the server is shown as it is.
            table.add_row(Text(label), Text(f"{files:,}"), Text(human_size(size)), Text(bar))
        console.print()
        console.print(table)


COMMANDS = [mirror_command, inventory_group]
