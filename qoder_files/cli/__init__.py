"""``qoder-files``: the command line, a thin layer over the blocking ``Client``.

This package owns what a terminal adds to the SDK: option parsing (click), output formats,
progress lines, and exit codes. This module holds the root command, the global options (those
given before the command) and the one place where errors become exit codes:

- 0: success; also when the reader of the output goes away early (``qoder-files ls | head``);
- 1: an API or network error, or a local file error, printed as one visible line on stderr;
- 2: a usage error (a bad option or argument, no token);
- 130: interrupted by Ctrl-C.

Each command lives in a module of its own (``_listing``, ``_files``, ``_download``,
``_emulator``, ``_completion``) that lists its commands in ``COMMANDS``; adding a command is
adding it to one of those lists, or a module to ``_COMMAND_MODULES``. Commands import the SDK,
its converter and the HTTP stack only when they run, so ``--help`` and ``--version`` load
neither aiohttp nor cattrs. The token is never printed.
"""

from __future__ import annotations

import os
import sys
from typing import Any

try:
    import click
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "the qoder-files command line needs its extra: pip install 'qoder-files[cli]'"
    ) from exc

from qoder_files._version import __version__

from . import _bulk, _completion, _download, _emulator, _files, _listing
from ._context import DEMO_FILES, Options, fail

__all__ = ["main"]

_COMMAND_MODULES = (_listing, _files, _download, _bulk, _emulator, _completion)


def _silence_stdout() -> None:
    # Point stdout at the null device so the interpreter's final flush does not fail again.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real file descriptor (an in-memory stream)
        pass


class _Group(click.Group):
    """Maps errors to exit codes (see the module docstring)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            # The reader went away (`| head`): stop quietly, as other command-line tools do.
            _silence_stdout()
            ctx.exit(0)
        except KeyboardInterrupt:
            click.echo("qoder-files: interrupted", err=True)
            ctx.exit(130)
        except ValueError as error:
            raise click.UsageError(str(error), ctx) from None
        except Exception as error:
            from qoder_files.errors import QoderError  # noqa: PLC0415 - not for --help

            if not isinstance(error, QoderError | OSError):
                raise
            fail(error)


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
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=30.0,
    show_default=True,
    metavar="SECONDS",
    help="Time allowed for one attempt of one request.",
)
@click.option(
    "--max-retries",
    type=click.IntRange(min=0),
    default=2,
    show_default=True,
    metavar="N",
    help="Retries of a request that failed on the network, 429 or 5xx.",
)
@click.option(
    "--proxy",
    metavar="URL",
    help="Proxy for every request (default: HTTPS_PROXY / HTTP_PROXY / NO_PROXY).",
)
@click.option("-v", "--verbose", is_flag=True, help="Log every request on stderr (no token).")
@click.option(
    "--emulator",
    is_flag=True,
    help=f"Run the command against an in-process emulator seeded with {DEMO_FILES} files.",
)
@click.version_option(__version__, "-V", "--version", prog_name="qoder-files")
@click.pass_context
def main(
    ctx: click.Context,
    *,
    token: str | None,
    base_url: str | None,
    timeout: float,
    max_retries: int,
    proxy: str | None,
    verbose: bool,
    emulator: bool,
) -> None:
    """Work with the files of a Qoder Cloud Agents account.

    Try it without an account: qoder-files --emulator ls
    """
    ctx.obj = Options(
        token=token,
        base_url=base_url,
        emulator=emulator,
        timeout=timeout,
        max_retries=max_retries,
        proxy=proxy,
        verbose=verbose,
    )


for _module in _COMMAND_MODULES:
    for _command in _module.COMMANDS:
        main.add_command(_command)
