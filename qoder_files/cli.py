"""``qoder-files``: the command line, a thin layer over the blocking ``Client``.

Every command is a few lines over one ``Client`` method; this module owns only what a terminal
adds: option parsing (click), output formats, progress bars on stderr (rich), and exit codes
(0 ok, 1 an API or network error printed as one line, 2 a usage error). With ``--emulator`` the
commands run against a seeded in-process ``FilesEmulator``, so a new user sees real output
without an account. The token is never printed.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import json
import os
import signal
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NoReturn, cast

try:
    import click
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
        TransferSpeedColumn,
    )
    from rich.table import Table
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "the qoder-files command line needs its extra: pip install 'qoder-files[cli]'"
    ) from exc

import attrs

from ._convert import converter
from ._version import __version__
from .errors import QoderError
from .models import File, Purpose
from .sync import Client, SyncPager, SyncScan

if TYPE_CHECKING:
    from .testing import FilesEmulator

__all__ = ["main"]

DEMO_FILES = 60
"""How many files ``--emulator`` seeds."""
PROGRESS_AFTER = 500
"""A listing shows a progress bar (on a terminal) once it has passed this many files."""
LARGE_DOWNLOAD = 1 << 20
"""A download shows a progress bar (on a terminal) from this size on, in bytes."""
FORMATS = ("table", "json", "jsonl", "csv")
CSV_COLUMNS = (
    "file_id",
    "filename",
    "purpose",
    "size_bytes",
    "mime_type",
    "status",
    "created_at",
    "updated_at",
    "metadata",
)
PURPOSES = click.Choice([p.value for p in Purpose])


def _is_terminal(stream: IO[Any]) -> bool:
    return stream.isatty()


@attrs.frozen
class _Options:
    """The global options, shared by every command through the root context."""

    token: str | None
    base_url: str | None
    emulator: bool

    def client(self) -> Client:
        """A ``Client`` for this invocation, closed (with any emulator) when it ends."""
        ctx = click.get_current_context().find_root()
        token, base_url = self.token, self.base_url
        if self.emulator:
            emulator = _seeded_emulator(DEMO_FILES)
            base_url = ctx.with_resource(emulator.serve_in_thread())
            token = emulator.token
        if not (token or "").strip():
            raise click.UsageError(
                "no token: pass --token or set QODER_PAT (or try --emulator for a demo)", ctx
            )
        return ctx.with_resource(Client(token, base_url=base_url))


def _seeded_emulator(files: int, shape: str = "g1") -> FilesEmulator:
    from .testing import FilesEmulator  # noqa: PLC0415 - only when asked for

    emulator = FilesEmulator(shape=shape)
    emulator.seed(files)
    return emulator


def _one_line(error: Exception, token: str | None) -> str:
    line = " ".join(f"{type(error).__name__}: {error}".split())
    # The SDK never puts the token in a message; this only guards against a future slip.
    return line.replace(token, "[token]") if token and len(token) >= 8 else line


def _silence_stdout() -> None:
    # Point stdout at the null device so the interpreter's final flush does not fail again.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real file descriptor (an in-memory stream)
        pass


class _Group(click.Group):
    """Maps errors to exit codes: ``QoderError`` and ``OSError`` 1, ``ValueError`` 2 (usage)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            # The reader went away (`| head`): stop quietly, as other command-line tools do.
            _silence_stdout()
            ctx.exit(1)
        except (QoderError, OSError) as error:
            options = ctx.find_object(_Options)
            token = options.token if options is not None else None
            click.echo(f"qoder-files: error: {_one_line(error, token)}", err=True)
            ctx.exit(1)
        except ValueError as error:
            raise click.UsageError(str(error), ctx) from None


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--token",
    envvar="QODER_PAT",
    show_envvar=True,
    metavar="PAT",
    help="Personal access token.",
)
@click.option(
    "--base-url",
    envvar="QODER_BASE_URL",
    show_envvar=True,
    metavar="URL",
    help="API root (default: the Qoder cloud).",
)
@click.option(
    "--emulator",
    is_flag=True,
    help=f"Run the command against an in-process emulator seeded with {DEMO_FILES} files.",
)
@click.version_option(__version__, prog_name="qoder-files")
@click.pass_context
def main(ctx: click.Context, token: str | None, base_url: str | None, emulator: bool) -> None:
    """Work with the files of a Qoder Cloud Agents account.

    Try it without an account: qoder-files --emulator ls
    """
    ctx.obj = _Options(token=token, base_url=base_url, emulator=emulator)


# --- ls ---------------------------------------------------------------------------------------


@main.command("ls")
@click.option("--purpose", type=PURPOSES, help="Only files with this purpose.")
@click.option("--limit", type=int, help="Page size on the wire, 1 to 100 (default 20).")
@click.option("--max-items", type=int, help="Stop after this many files.")
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
    type=click.Choice(FORMATS),
    help="Output format (default: table on a terminal, jsonl when piped).",
)
@click.pass_obj
def list_command(
    options: _Options,
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
) -> None:
    """List files, newest first (or from --before toward the newest)."""
    client = options.client()
    pager: SyncPager | SyncScan
    if all_purposes:
        if purpose or after or before:
            raise click.UsageError("--all-purposes takes no --purpose, --after or --before")
        pager = client.scan_files(
            limit=100 if limit is None else limit,
            max_items=max_items,
            name=name,
            scope_id=scope_id,
        )
    else:
        pager = client.list_files(
            purpose=purpose,
            limit=limit,
            after=after,
            before=before,
            max_items=max_items,
            name=name,
            scope_id=scope_id,
        )
    if output_format is None:
        output_format = "table" if _is_terminal(sys.stdout) else "jsonl"
    with pager:
        _WRITERS[output_format](_listing_progress(pager, max_items))


def _listing_progress(files: Iterable[File], total: int | None) -> Iterator[File]:
    """Pass ``files`` through, with a progress bar on a terminal once the listing is long."""
    if not _is_terminal(sys.stderr) or (total is not None and total < PROGRESS_AFTER):
        yield from files
        return
    progress = Progress(
        SpinnerColumn(),
        TextColumn("Listing"),
        BarColumn(),
        TextColumn("{task.completed:,} files"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
        redirect_stdout=_is_terminal(sys.stdout),
        redirect_stderr=False,
    )
    task = progress.add_task("listing", total=total)
    try:
        for count, file in enumerate(files, 1):
            if count == PROGRESS_AFTER:
                progress.start()
            progress.update(task, completed=count)
            yield file
    finally:
        progress.stop()


def _wire(file: File) -> dict[str, Any]:
    wire: dict[str, Any] = converter.unstructure(file)
    return wire


def _dumps(value: Any, indent: int | None = None) -> str:
    return json.dumps(value, ensure_ascii=False, indent=indent)


def _write_jsonl(files: Iterable[File]) -> None:
    for file in files:
        click.echo(_dumps(_wire(file)))


def _write_json(files: Iterable[File]) -> None:
    # One JSON array, streamed: each file is written as soon as it arrives.
    separator = "[\n  "
    for file in files:
        click.echo(separator + _dumps(_wire(file)), nl=False)
        separator = ",\n  "
    click.echo("[]" if separator.startswith("[") else "\n]")


class _Echo:
    """A text sink for ``csv.writer`` that goes through ``click.echo``."""

    def write(self, text: str) -> int:
        click.echo(text, nl=False)
        return len(text)


def _write_csv(files: Iterable[File]) -> None:
    writer = csv.writer(_Echo(), lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for file in files:
        wire = _wire(file)
        wire["metadata"] = _dumps(wire.get("metadata", {}))
        writer.writerow([wire.get(column, "") for column in CSV_COLUMNS])


def _size(size: int) -> str:
    amount = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if amount < 1000 or unit == "GB":
            return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1000
    raise AssertionError("unreachable")  # pragma: no cover


def _write_table(files: Iterable[File]) -> None:
    # A table written to a pipe or file gets room for every column instead of 80 columns.
    console = Console() if _is_terminal(sys.stdout) else Console(width=160)
    wide = console.width >= 100  # below that, the creation time makes way for the name
    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column("FILE ID", no_wrap=True, style="cyan", min_width=37)
    table.add_column("NAME", overflow="fold", min_width=8)
    table.add_column("PURPOSE", no_wrap=True)
    table.add_column("SIZE", justify="right", no_wrap=True)
    if wide:
        table.add_column("CREATED (UTC)", no_wrap=True)
    count = 0
    for file in files:
        count += 1
        row = [file.file_id, file.filename, str(file.purpose or ""), _size(file.size_bytes)]
        if wide:
            row.append(file.created_at.strftime("%Y-%m-%d %H:%M"))
        table.add_row(*row)
    table.caption = f"{count} file{'' if count == 1 else 's'}"
    console.print(table)


_WRITERS = {"table": _write_table, "json": _write_json, "jsonl": _write_jsonl, "csv": _write_csv}


# --- one file ---------------------------------------------------------------------------------


@main.command("get")
@click.argument("file_id")
@click.pass_obj
def get_command(options: _Options, file_id: str) -> None:
    """Show one file's metadata as JSON."""
    click.echo(_dumps(_wire(options.client().get_file(file_id)), indent=2))


def _parse_metadata(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    if value is None:
        return None
    try:
        metadata = json.loads(value)
    except ValueError:
        metadata = None
    if not isinstance(metadata, dict):
        raise click.BadParameter('must be a JSON object, e.g. \'{"project": "demo"}\'')
    return metadata


@main.command("upload")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--purpose", type=PURPOSES, help="The file's purpose (server default user_upload).")
@click.option("--metadata", metavar="JSON", callback=_parse_metadata, help="A JSON object.")
@click.pass_obj
def upload_command(
    options: _Options, path: Path, purpose: str | None, metadata: dict[str, Any] | None
) -> None:
    """Upload a file and show the stored file as JSON."""
    stored = options.client().upload_file(path, purpose=purpose, metadata=metadata)
    click.echo(_dumps(_wire(stored), indent=2))


class _ProgressSink:
    """A binary file object that reports every write to a progress bar."""

    def __init__(self, out: IO[bytes], progress: Progress, task: Any) -> None:
        self._out = out
        self._progress = progress
        self._task = task

    def write(self, data: bytes) -> int:
        written = self._out.write(data)
        self._progress.update(self._task, completed=self._out.tell())
        return written

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._out.tell()

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return self._out.seek(offset, whence)

    def truncate(self, size: int | None = None) -> int:
        return self._out.truncate(size)


def _download_with_progress(client: Client, file_id: str, output: Path, size: int) -> None:
    partial = output.with_name(f".{output.name}.part")
    progress = Progress(
        TextColumn(output.name),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    try:
        with progress, partial.open("wb") as out:
            sink = _ProgressSink(out, progress, progress.add_task("download", total=size))
            client.download_file(file_id, cast("IO[bytes]", sink))
        partial.replace(output)
    finally:
        partial.unlink(missing_ok=True)


@main.command("download")
@click.argument("file_id")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, allow_dash=True),
    help="Where to write; - for stdout (default: the file's own name, here).",
)
@click.option("-f", "--force", is_flag=True, help="Replace a file of the same name here.")
@click.pass_obj
def download_command(options: _Options, file_id: str, output: str | None, force: bool) -> None:
    """Download a file's content (an existing file is replaced only with -o or --force)."""
    client = options.client()
    if output == "-":
        with client.stream_file(file_id) as stream:
            for chunk in stream:  # written as it arrives, never held whole
                click.echo(chunk, nl=False)
        return
    info = client.get_file(file_id)
    target = Path(output) if output else Path(Path(info.filename).name or file_id)
    if output is None and not force and target.exists():
        raise click.ClickException(f"{target} exists here; pass -o PATH, or --force to replace it")
    if info.size_bytes >= LARGE_DOWNLOAD and _is_terminal(sys.stderr):
        _download_with_progress(client, file_id, target, info.size_bytes)
    else:
        client.download_file(file_id, target)
    click.echo(f"saved {target} ({_size(info.size_bytes)})", err=True)


@main.command("rm")
@click.argument("file_id")
@click.pass_obj
def remove_command(options: _Options, file_id: str) -> None:
    """Delete a file for good."""
    options.client().delete_file(file_id)
    click.echo(f"deleted {file_id}")


# --- emulator ---------------------------------------------------------------------------------


@main.command("emulator")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=0, help="Port to listen on (0: any free)."
)
@click.option(
    "--files", type=click.IntRange(min=0), default=DEMO_FILES, help="How many files to seed."
)
@click.option(
    "--shape",
    type=click.Choice(["g1", "g3"]),
    default="g1",
    show_default=True,
    help="API generation to speak: g1 (file_id, purpose) or g3 (id and type, strict).",
)
def emulator_command(port: int, files: int, shape: str) -> None:
    """Serve a seeded Files API emulator on loopback until Ctrl-C."""
    emulator = _seeded_emulator(files, shape)
    try:
        asyncio.run(_serve(emulator, port, files))
    except KeyboardInterrupt:
        pass
    except OSError as error:
        _fail(f"cannot serve on port {port}: {error.strerror or error}")
    click.echo("emulator stopped", err=True)


async def _serve(emulator: FilesEmulator, port: int, files: int) -> None:
    stop = asyncio.Event()
    with contextlib.suppress(NotImplementedError):  # no signal handlers on Windows loops
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with emulator.serve(port=port) as base_url:
        click.echo(f"Files API emulator ({emulator.shape}) with {files} files at {base_url}")
        click.echo(f"  export QODER_BASE_URL={base_url}")
        click.echo(f"  export QODER_PAT={emulator.token}")
        click.echo("Press Ctrl-C to stop.")
        await stop.wait()


def _fail(message: str) -> NoReturn:
    click.echo(f"qoder-files: error: {message}", err=True)
    sys.exit(1)
