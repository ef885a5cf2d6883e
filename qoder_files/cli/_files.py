"""``get``, ``upload`` and ``rm``: one file or many, and the runner they share with ``download``.

``run_each`` runs one action per file id on a thread pool (the blocking ``Client`` is shared by
threads), hands the results back in the order of the ids as they complete, and keeps going
past a failed id: the caller prints each outcome and one summary, and exits 1 if any failed.
Every id is checked before the first request.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ._context import PURPOSES, CommandError, Options, file_ids, report
from ._render import WireEncoder, dumps_pretty, is_terminal, json_for_terminal, visible

if TYPE_CHECKING:
    from qoder_files.models import File

__all__ = ["COMMANDS", "concurrency_option", "echo_json", "run_each", "summary"]

T = TypeVar("T")

concurrency_option = click.option(
    "-c",
    "--concurrency",
    type=click.IntRange(1, 64),
    default=8,
    show_default=True,
    help="How many files at once.",
)


def run_each(
    ids: list[str], action: Callable[[str], T], concurrency: int
) -> Iterator[tuple[str, T | None, BaseException | None]]:
    """``(id, result, None)`` or ``(id, None, error)`` per id, in the order of ``ids``.

    API, network and file errors are handed back; anything else (a bug, Ctrl-C) propagates
    and cancels the ids not started yet.
    """
    from qoder_files.errors import QoderError  # noqa: PLC0415 - loaded by the client

    def attempt(file_id: str) -> tuple[str, T | None, BaseException | None]:
        try:
            return file_id, action(file_id), None
        except (QoderError, OSError, CommandError) as error:
            return file_id, None, error

    if len(ids) == 1 or concurrency == 1:
        yield from map(attempt, ids)
        return
    import concurrent.futures  # noqa: PLC0415 - not for --help

    pool = concurrent.futures.ThreadPoolExecutor(min(concurrency, len(ids)), "qoder-files-cli")
    try:
        futures = [pool.submit(attempt, file_id) for file_id in ids]
        for future in futures:
            yield future.result()
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def summary(done: int, failed: int, verb: str) -> None:
    """Print the summary line of a command over several ids; exit 1 if any failed."""
    total = done + failed
    if total > 1:
        text = f"qoder-files: {done} of {total} file{'' if total == 1 else 's'} {verb}"
        click.echo(text + (f", {failed} failed" if failed else ""), err=True)
    if failed:
        click.get_current_context().exit(1)


def echo_json(value: Any, *, pretty: bool = True) -> None:
    """Write ``value`` as JSON to stdout (escaped for a terminal when stdout is one)."""
    text = dumps_pretty(value) if pretty else json.dumps(value, ensure_ascii=False)
    click.echo(json_for_terminal(text) if is_terminal(sys.stdout) else text)


@click.command("get")
@click.argument("ids", nargs=-1, metavar="FILE_ID... | -")
@concurrency_option
@click.pass_obj
def get_command(options: Options, ids: tuple[str, ...], concurrency: int) -> None:
    """Show files' metadata as JSON: one object for one id, else one JSON line per file."""
    checked = file_ids(ids)
    client = options.client()
    encoder = WireEncoder(use_orjson=False)
    done = failed = 0
    for _, file, error in run_each(checked, client.get_file, concurrency):
        if error is not None:
            report(error)
            failed += 1
            continue
        assert file is not None  # run_each hands back a result or an error
        echo_json(encoder.wire(file), pretty=len(checked) == 1)
        done += 1
    summary(done, failed, "shown")


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


@click.command("upload")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--purpose",
    type=click.Choice(PURPOSES),
    help="The file's purpose (server default user_upload).",
)
@click.option("--metadata", metavar="JSON", callback=_parse_metadata, help="A JSON object.")
@click.option("-q", "--quiet", is_flag=True, help="Print only the new file's id.")
@click.pass_obj
def upload_command(
    options: Options, path: Path, purpose: str | None, metadata: dict[str, Any] | None, quiet: bool
) -> None:
    """Upload a file and show the stored file as JSON (or its id with -q)."""
    stored = options.client().upload_file(path, purpose=purpose, metadata=metadata)
    if quiet:
        click.echo(visible(stored.file_id))
    else:
        echo_json(WireEncoder(use_orjson=False).wire(stored))


def _confirm_delete(count: int) -> None:
    if not (is_terminal(sys.stdin) and is_terminal(sys.stderr)):
        raise click.UsageError(
            f"refusing to delete {count} files without a terminal to confirm on; pass --yes"
        )
    if not click.confirm(f"Delete {count} files for good?", err=True):
        click.echo("qoder-files: nothing deleted", err=True)
        click.get_current_context().exit(1)


_AGE = re.compile(r"(\d+)([smhdw])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _parse_age(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    if value is None:
        return None
    match = _AGE.fullmatch(value.strip())
    if match is None or int(match.group(1)) == 0:
        raise click.BadParameter("must be a positive age such as 90m, 12h, 30d or 2w")
    return int(match.group(1)) * _UNITS[match.group(2)]


@click.command("rm")
@click.argument("ids", nargs=-1, metavar="[FILE_ID... | -]")
@click.option("--purpose", type=click.Choice(PURPOSES), help="Delete the files of this purpose.")
@click.option(
    "--older-than",
    metavar="AGE",
    callback=_parse_age,
    help="Delete files created more than AGE ago (90m, 12h, 30d, 2w).",
)
@click.option("--name", metavar="PREFIX", help="Delete files whose name starts with this.")
@click.option("-y", "--yes", is_flag=True, help="Delete several files without asking.")
@click.option("--dry-run", is_flag=True, help="Show what would be deleted; delete nothing.")
@concurrency_option
@click.pass_obj
def remove_command(
    options: Options,
    *,
    ids: tuple[str, ...],
    purpose: str | None,
    older_than: float | None,
    name: str | None,
    yes: bool,
    dry_run: bool,
    concurrency: int,
) -> None:
    """Delete files for good: by id, or every file matching --purpose/--older-than/--name.

    Deleting several files asks for confirmation on a terminal first, and refuses without
    one, unless --yes. A file already gone counts as deleted, so an interrupted run can be
    repeated.
    """
    if purpose or older_than or name:
        if ids:
            raise click.UsageError(
                "give file ids or filters (--purpose, --older-than, --name), not both"
            )
        _remove_matching(
            options,
            purpose=purpose,
            older_than=older_than,
            name=name,
            yes=yes,
            dry_run=dry_run,
            concurrency=concurrency,
        )
        return
    checked = file_ids(ids)
    client = options.client()
    if dry_run:
        _each(checked, client.get_file, concurrency, "would be deleted", "would delete")
        return
    if len(checked) > 1 and not yes:
        _confirm_delete(len(checked))
    _each(checked, client.delete_file, concurrency, "deleted", "deleted")


def _each(
    ids: list[str], action: Callable[[str], Any], concurrency: int, verb: str, line: str
) -> None:
    """Run ``action`` per id, print ``line`` for each success (with the file's name when the
    action returns a file), report each failure, then the summary."""
    done = failed = 0
    for file_id, result, error in run_each(ids, action, concurrency):
        if error is not None:
            report(error)
            failed += 1
        else:
            name = f"  {_name(result)}" if result is not None else ""
            click.echo(f"{line} {file_id}{name}")
            done += 1
    summary(done, failed, verb)


def _remove_matching(
    options: Options,
    *,
    purpose: str | None,
    older_than: float | None,
    name: str | None,
    yes: bool,
    dry_run: bool,
    concurrency: int,
) -> None:
    from datetime import UTC, datetime, timedelta  # noqa: PLC0415 - not for --help

    from ._bulk import bulk_progress  # noqa: PLC0415

    client = options.client()
    cutoff = None if older_than is None else datetime.now(UTC) - timedelta(seconds=older_than)
    matching = [
        file
        for file in client.list_files(purpose=purpose, name=name, limit=100)
        if cutoff is None or file.created_at < cutoff
    ]
    if dry_run or not matching:
        for file in matching:
            click.echo(f"would delete {visible(file.file_id)}  {_name(file)}")
        click.echo(f"qoder-files: {len(matching)} files would be deleted", err=True)
        return
    if len(matching) > 1 and not yes:
        _confirm_delete(len(matching))
    with bulk_progress("Deleting", total=len(matching)) as advance:
        result = client.delete_files(
            [file.file_id for file in matching],
            concurrency=concurrency,
            progress=lambda file_id, outcome: advance(files=1),
        )
    for file_id in result.deleted:
        click.echo(f"deleted {visible(file_id)}")
    for file_id in result.already_gone:
        click.echo(f"already gone {visible(file_id)}")
    for failure in result.failed:
        click.echo(
            f"qoder-files: error: {visible(failure.file_id)}: {visible(failure.reason)}", err=True
        )
    gone = len(result.deleted) + len(result.already_gone)
    text = f"qoder-files: {gone} of {len(matching)} files deleted"
    click.echo(text + (f", {len(result.failed)} failed" if result.failed else ""), err=True)
    if result.failed:
        click.get_current_context().exit(1)


def _name(file: File | None) -> str:
    return "" if file is None else visible(file.filename)


COMMANDS = [get_command, upload_command, remove_command]
