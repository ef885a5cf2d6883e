"""The pure core loads neither asyncio nor aiohttp (checked in a fresh interpreter)."""

from __future__ import annotations

import subprocess
import sys

import pytest

PURE = [
    "qoder_files",
    "qoder_files.models",
    "qoder_files.errors",
    "qoder_files._checks",
    "qoder_files._convert",
    "qoder_files._wire",
    "qoder_files._wire_files",
    "qoder_files._cursor",
    "qoder_files._retry",
]


def test_pure_modules_import_no_io_libraries() -> None:
    code = (
        "import sys\n"
        + "".join(f"import {name}\n" for name in PURE)
        + "bad = [m for m in ('asyncio', 'aiohttp') if m in sys.modules]\n"
        + "print(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


def test_lazy_names_resolve() -> None:
    import qoder_files

    assert qoder_files.AsyncClient.__name__ == "AsyncClient"
    assert "AsyncClient" in dir(qoder_files)
    with pytest.raises(AttributeError, match="does_not_exist"):
        qoder_files.does_not_exist  # noqa: B018
