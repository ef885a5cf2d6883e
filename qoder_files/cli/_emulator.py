"""``qoder-files emulator``: serve a seeded Files API emulator on loopback until stopped.

Also the seeded emulator that the global ``--emulator`` option runs a command against. The
emulator (and with it aiohttp's server) is imported only when one of the two is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from ._context import DEMO_FILES, fail

if TYPE_CHECKING:
    from qoder_files.testing import FilesEmulator

__all__ = ["COMMANDS", "seeded_emulator"]


def seeded_emulator(files: int, shape: str = "g1") -> FilesEmulator:
    """A ``FilesEmulator`` of ``shape`` seeded with ``files`` files."""
    from qoder_files.testing import FilesEmulator  # noqa: PLC0415 - only when asked for

    emulator = FilesEmulator(shape=shape)
    emulator.seed(files)
    return emulator


@click.command("emulator")
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
    import asyncio  # noqa: PLC0415 - not for --help

    emulator = seeded_emulator(files, shape)
    try:
        asyncio.run(_serve(emulator, port, files))
    except KeyboardInterrupt:
        pass
    except OSError as error:
        fail(OSError(f"cannot serve on port {port}: {error.strerror or error}"))
    click.echo("emulator stopped", err=True)


async def _serve(emulator: FilesEmulator, port: int, files: int) -> None:
    import asyncio  # noqa: PLC0415 - not for --help
    import contextlib  # noqa: PLC0415
    import signal  # noqa: PLC0415

    stop = asyncio.Event()
    with contextlib.suppress(NotImplementedError):  # no signal handlers on Windows loops
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with emulator.serve(port=port) as base_url:
        click.echo(f"Files API emulator ({emulator.shape}) with {files} files at {base_url}")
        click.echo(f"  export QODER_BASE_URL={base_url}")
        click.echo(f"  export QODER_PAT={emulator.token}")
        click.echo("Press Ctrl-C to stop.")
        await stop.wait()


COMMANDS = [emulator_command]
