"""``qoder-files completion bash|zsh|fish``: print the shell completion script.

The script asks ``qoder-files`` itself for completions (click's completion protocol, through
the ``_QODER_FILES_COMPLETE`` environment variable), so it stays right as commands change.
"""

from __future__ import annotations

import click

__all__ = ["COMMANDS", "COMPLETE_VAR"]

COMPLETE_VAR = "_QODER_FILES_COMPLETE"
SHELLS = ("bash", "zsh", "fish")


@click.command("completion")
@click.argument("shell", type=click.Choice(SHELLS))
@click.pass_context
def completion_command(ctx: click.Context, shell: str) -> None:
    """Print the completion script for SHELL.

    \b
    bash:  eval "$(qoder-files completion bash)"     (in ~/.bashrc)
    zsh:   eval "$(qoder-files completion zsh)"      (in ~/.zshrc)
    fish:  qoder-files completion fish > ~/.config/fish/completions/qoder-files.fish
    """
    from click.shell_completion import get_completion_class  # noqa: PLC0415

    completion_class = get_completion_class(shell)
    assert completion_class is not None  # every choice has one
    root = ctx.find_root().command
    click.echo(completion_class(root, {}, "qoder-files", COMPLETE_VAR).source())


COMMANDS = [completion_command]
