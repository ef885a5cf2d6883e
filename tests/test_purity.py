"""The pure core loads neither asyncio nor aiohttp (checked in a fresh interpreter)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import qoder_files

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
    "qoder_files._seam",
    "qoder_files._timeout",
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


def _runtime_imports(tree: ast.Module) -> set[str]:
    """Top-level modules imported outside ``if TYPE_CHECKING:`` blocks."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and ast.unparse(node.test).endswith("TYPE_CHECKING"):
            return
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module.split(".")[0])
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def test_aiohttp_is_imported_by_the_adapter_alone() -> None:
    package = Path(qoder_files.__file__).parent
    importers = sorted(
        path.name
        for path in package.glob("*.py")
        if "aiohttp" in _runtime_imports(ast.parse(path.read_text(encoding="utf-8")))
    )
    assert importers == ["_aiohttp.py"]
