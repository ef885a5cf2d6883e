"""``qoder-files download``: content into files (or stdout), never through a planted path.

Where a file goes: ``-o PATH`` for one id; ``-o DIR/`` (or an existing directory) for any
number, each under its server name made safe, as the mirror names files; the current
directory by default.
A name taken from the server never replaces a file already there without ``--force``. Only
``tool_output`` and ``skill_output`` files (``downloadable`` on newer servers) can be
downloaded; others are refused before the content is asked for.

``save_content`` is the one place that writes content. Without a progress line it hands the
path to the SDK, which writes through an exclusively created temporary file and renames it
into place. With one, it does the same itself: a hidden temporary file with a random name,
created with ``O_EXCL`` (never following a link planted there) in the target's directory,
renamed over the target only once complete, and removed on any failure.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast

import click

from ._context import CommandError, Options, file_ids, report
from ._files import concurrency_option, run_each, summary
from ._render import is_terminal, stdout_bytes, visible, write_bytes
from ._table import human_size

if TYPE_CHECKING:
    from qoder_files.models import File
    from qoder_files.sync import Client

    from ._progress import ProgressLine

__all__ = ["COMMANDS", "LARGE_DOWNLOAD", "save_content"]

LARGE_DOWNLOAD = 1 << 20
"""A single download shows a progress line (on a terminal) from this size on, in bytes."""


class _ProgressSink:
    """A binary file object that reports every write to a progress line."""

    def __init__(self, out: IO[bytes], progress: ProgressLine) -> None:
        self._out = out
        self._progress = progress

    def write(self, data: bytes) -> int:
        written = self._out.write(data)
        self._progress.update(self._out.tell())
        return written

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._out.tell()

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return self._out.seek(offset, whence)

    def truncate(self, size: int | None = None) -> int:
        return self._out.truncate(size)


def _exclusive_temp(target: Path) -> tuple[int, Path]:
    import secrets  # noqa: PLC0415 - not for --help
    import stat  # noqa: PLC0415

    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    flags |= getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    partial = target.with_name(f".qoder-files-{secrets.token_hex(8)}.part")
    descriptor = os.open(partial, flags, 0o666)
    with contextlib.suppress(OSError):  # a replaced file keeps its permission bits
        mode = os.stat(target).st_mode
        if stat.S_ISREG(mode):
            os.chmod(descriptor, stat.S_IMODE(mode))
    return descriptor, partial


def save_content(
    client: Client, file_id: str, target: Path, progress: ProgressLine | None = None
) -> None:
    """Write a file's content to ``target``, replacing it only once the content is complete.

    Args:
        client: The client to download with.
        file_id: The file's id.
        target: Where the content goes.
        progress: A progress line to update while the content arrives, or ``None``.
    """
    if progress is None:
        client.download_file(file_id, target)  # exclusive temporary file, then a rename
        return
    descriptor, partial = _exclusive_temp(target)
    try:
        with os.fdopen(descriptor, "wb") as out, progress:
            client.download_file(file_id, cast("IO[bytes]", _ProgressSink(out, progress)))
        os.replace(partial, target)
    except BaseException:
        with contextlib.suppress(OSError):
            partial.unlink()
        raise


def _check_downloadable(file: File) -> None:
    if not file.downloadable:  # sent by newer servers, derived from the purpose by older ones
        purpose = file.purpose
        kind = f"a {visible(str(purpose))} file" if purpose is not None else "not downloadable"
        raise CommandError(
            f"{file.file_id} is {kind}: only tool_output and skill_output files can be downloaded"
        )


def _directory(output: str | None, count: int) -> Path | None:
    if output is None:
        return Path.cwd()
    path = Path(output)
    if path.is_dir():
        return path
    if output.endswith(("/", os.sep)):
        raise click.UsageError(f"-o {output}: no such directory")
    if count > 1:
        raise click.UsageError("with several file ids, -o must name a directory")
    return None


class _Download:
    """One download: where it goes, and whether it shows progress."""

    def __init__(
        self, client: Client, output: str | None, directory: Path | None, force: bool, single: bool
    ) -> None:
        self.client = client
        self.output = output
        self.directory = directory
        self.force = force
        self.single = single

    def __call__(self, file_id: str) -> tuple[Path, int]:
        file = self.client.get_file(file_id)
        _check_downloadable(file)
        if self.directory is None:
            target = Path(cast(str, self.output))
        else:
            from qoder_files._mirror import local_name  # noqa: PLC0415 - not for --help

            target = self.directory / local_name(file.filename, file_id)
            if not self.force and os.path.lexists(target):
                raise CommandError(
                    f"{visible(str(target))} exists here; pass -o PATH, or --force to replace it"
                )
        progress = None
        if self.single and file.size_bytes >= LARGE_DOWNLOAD and is_terminal(sys.stderr):
            from ._progress import ProgressLine  # noqa: PLC0415

            label = file.filename  # shown as visible text, never interpreted
            progress = ProgressLine(sys.stderr, label, total=file.size_bytes, unit="bytes")
        save_content(self.client, file_id, target, progress)
        return target, file.size_bytes


@click.command("download")
@click.argument("ids", nargs=-1, metavar="FILE_ID... | -")
@click.option(
    "-o",
    "--output",
    type=click.Path(allow_dash=True),
    help="A file to write (one id), - for stdout, or a directory DIR/ (default: here).",
)
@click.option("-f", "--force", is_flag=True, help="Replace files already there of the same name.")
@concurrency_option
@click.pass_obj
def download_command(
    options: Options, ids: tuple[str, ...], output: str | None, force: bool, concurrency: int
) -> None:
    """Download files' content, each under its own name unless -o says where."""
    checked = file_ids(ids)
    if output == "-" and len(checked) > 1:
        raise click.UsageError("-o - (stdout) takes one file id")
    directory = None if output == "-" else _directory(output, len(checked))
    client = options.client()
    if output == "-":
        # Streamed as it arrives: a large file never sits whole in memory on its way out.
        out = stdout_bytes()
        with client.stream_file(checked[0]) as stream:
            for chunk in stream:
                write_bytes(out, chunk)
        return
    action = _Download(client, output, directory, force, single=len(checked) == 1)
    done = failed = 0
    result: Any
    for _, result, error in run_each(checked, action, concurrency):
        if error is not None:
            report(error)
            failed += 1
            continue
        target, size = result
        click.echo(f"saved {visible(str(target))} ({human_size(size)})", err=True)
        done += 1
    summary(done, failed, "downloaded")


COMMANDS = [download_command]
