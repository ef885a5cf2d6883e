"""Run a script in a fresh interpreter under ``python -X dev``: the tests that check an
abandoned listing leaves nothing behind (no unclosed session, no never-retrieved exception)."""

from __future__ import annotations

import re
import subprocess
import sys

# Dev mode also reports callbacks slower than 0.1 s, which a busy host produces (a
# gc.collect() is enough): these tests check what is left behind, not timing.
_SLOW_CALLBACK = re.compile(r"^Executing <.*> took \d+\.\d+ seconds\n", re.MULTILINE)


def run_quietly(script: str, *, warnings: str = "error", timeout: float = 120) -> str:
    """Run ``script`` under ``-X dev -W warnings``; require exit 0 and nothing on stderr.

    Returns what it printed.
    """
    result = subprocess.run(
        [sys.executable, "-X", "dev", "-W", warnings, "-c", script],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert _SLOW_CALLBACK.sub("", result.stderr) == ""
    return result.stdout
