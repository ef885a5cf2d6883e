"""What every command shares: the global options, the ``Client`` they build, and file ids.

``Options`` holds the options given before the command (``--token``, ``--timeout``...) and
builds one blocking ``Client`` per invocation, closed with it (and with the emulator that
``--emulator`` starts). The SDK is imported here only when a command asks for a client, so
``--help`` never loads it. ``-v`` sends the SDK's request log to stderr as visible text, with
the token replaced.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, NoReturn

import click

from ._render import one_line, visible

if TYPE_CHECKING:
    from qoder_files.client import AsyncClient
    from qoder_files.sync import Client

__all__ = ["DEMO_FILES", "PURPOSES", "CommandError", "Options", "fail", "file_ids", "report"]

DEMO_FILES = 60
"""How many files ``--emulator`` seeds."""
PURPOSES = ("user_upload", "tool_output", "skill_output", "session_resource", "agent_output")
"""The values of ``qoder_files.Purpose`` (a test keeps them equal), without loading the SDK."""


class CommandError(Exception):
    """A failure the command line itself found (shown as its message alone, exit 1)."""


class Options:
    """The global options, shared by every command through the root context.

    Args:
        token: The personal access token, or ``None``.
        base_url: The API root, or ``None`` for the default.
        emulator: Run against an in-process seeded emulator instead.
        timeout: Seconds for one attempt of one request.
        max_retries: Retries after a failed attempt.
        proxy: A proxy URL, or ``None`` for the environment's.
        verbose: Log every request on stderr.
    """

    __slots__ = ("base_url", "emulator", "max_retries", "proxy", "timeout", "token", "verbose")

    def __init__(
        self,
        *,
        token: str | None = None,
        base_url: str | None = None,
        emulator: bool = False,
        timeout: float = 30.0,
        max_retries: int = 2,
        proxy: str | None = None,
        verbose: bool = False,
    ) -> None:
        self.token = token
        self.base_url = base_url
        self.emulator = emulator
        self.timeout = timeout
        self.max_retries = max_retries
        self.proxy = proxy
        self.verbose = verbose

    def _connection(self) -> tuple[str, str | None]:
        """The token and base URL to use, starting the emulator when asked for."""
        ctx = click.get_current_context().find_root()
        token, base_url = self.token, self.base_url
        if self.emulator:
            from ._emulator import seeded_emulator  # noqa: PLC0415 - only when asked for

            emulator = seeded_emulator(DEMO_FILES)
            base_url = ctx.with_resource(emulator.serve_in_thread())
            token = self.token = emulator.token
        if token is None or not token.strip():
            raise click.UsageError(
                "no token: pass --token or set QODER_PAT (or try --emulator for a demo)", ctx
            )
        if self.verbose:
            self._log_requests(token)
        return token, base_url

    def client(self) -> Client:
        """A ``Client`` for this invocation, closed (with any emulator) when it ends.

        Raises:
            click.UsageError: no token was given.
            ValueError: an option the ``Client`` refuses (a usage error too).
        """
        from qoder_files.sync import Client  # noqa: PLC0415 - not for --help

        token, base_url = self._connection()
        client = Client(
            token,
            base_url=base_url,
            timeout=self.timeout,
            max_retries=self.max_retries,
            proxy=self.proxy,
        )
        return click.get_current_context().find_root().with_resource(client)

    def async_client(self) -> AsyncClient:
        """An ``AsyncClient`` for this invocation, for a command that runs its own event loop
        (it closes the client itself, with ``async with``).

        Raises:
            click.UsageError: no token was given.
            ValueError: an option the ``AsyncClient`` refuses (a usage error too).
        """
        from qoder_files.client import AsyncClient  # noqa: PLC0415 - not for --help

        token, base_url = self._connection()
        return AsyncClient(
            token,
            base_url=base_url,
            timeout=self.timeout,
            max_retries=self.max_retries,
            proxy=self.proxy,
        )

    def _log_requests(self, token: str | None) -> None:
        import logging  # noqa: PLC0415 - not for --help

        class SafeLog(logging.Formatter):
            """Log records as visible text, with the token replaced."""

            def format(self, record: logging.LogRecord) -> str:
                text = super().format(record)
                if token and len(token) >= 8:
                    text = text.replace(token, "[token]")
                return visible(text)

        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(SafeLog("qoder-files: %(levelname)s %(message)s"))
        logger = logging.getLogger("qoder_files")
        level = logger.level
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)

        def restore() -> None:
            logger.removeHandler(handler)
            logger.setLevel(level)

        click.get_current_context().find_root().call_on_close(restore)


def _stdin_ids() -> list[str]:
    return [line.strip() for line in sys.stdin if line.strip()]


def file_ids(arguments: tuple[str, ...]) -> list[str]:
    """The file ids of the command line, with ``-`` replaced by the ids read from stdin.

    Every id is checked before any request: one bad id stops the command with a usage error.

    Raises:
        click.UsageError: no id, or ``-`` more than once.
        ValueError: an id that cannot be a file id (also a usage error).
    """
    from qoder_files._checks import check_file_id  # noqa: PLC0415 - not for --help

    if arguments.count("-") > 1:
        raise click.UsageError("'-' (ids from stdin) may be given once")
    ids: list[str] = []
    for argument in arguments:
        ids.extend(_stdin_ids() if argument == "-" else [argument])
    if not ids:
        raise click.UsageError("no file id given (on stdin either)")
    for file_id in ids:
        check_file_id(file_id)
    return ids


def report(error: BaseException) -> None:
    """Print ``error`` as one visible line on stderr, ``qoder-files: error: Type: message``."""
    options = click.get_current_context().find_object(Options)
    token = options.token if options is not None else None
    line = one_line(error, token)
    if isinstance(error, CommandError):
        line = line.split(": ", 1)[1]
    click.echo(f"qoder-files: error: {line}", err=True)


def fail(error: BaseException) -> NoReturn:
    """``report(error)``, then exit 1."""
    report(error)
    click.get_current_context().exit(1)
