"""The public surface is curated: a sorted ``__all__`` that this test pins."""

from __future__ import annotations

import importlib
import inspect
import pickle
import subprocess
import sys
import traceback
import typing
from datetime import UTC, datetime
from pathlib import Path

import pytest

import qoder_files

EXPECTED = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AsyncBody",
    "AsyncClient",
    "AsyncFileStream",
    "AsyncPager",
    "AsyncScan",
    "AsyncTransport",
    "AuthenticationError",
    "BadRequestError",
    "Client",
    "ClientClosedError",
    "ConflictError",
    "DeleteFailure",
    "DeleteSummary",
    "Direction",
    "DownloadLink",
    "FeatureNotAvailableError",
    "File",
    "GoneError",
    "HTTPRequest",
    "HTTPResponse",
    "InternalServerError",
    "InvalidResponseError",
    "InventoryStats",
    "InventorySummary",
    "MirrorEvent",
    "MirrorFailure",
    "MirrorSummary",
    "NotFoundError",
    "Page",
    "PaginationError",
    "PermissionDeniedError",
    "Purpose",
    "QoderError",
    "RateLimitError",
    "RedirectError",
    "RetryPolicy",
    "Scope",
    "SyncFileStream",
    "SyncPager",
    "SyncScan",
    "Timeout",
    "TransferInterruptedError",
    "__version__",
    "converter",
    "inventory_stats",
]


def test_all_is_pinned_and_sorted() -> None:
    assert qoder_files.__all__ == EXPECTED
    assert qoder_files.__all__ == sorted(qoder_files.__all__)


@pytest.mark.parametrize("name", EXPECTED)
def test_every_name_resolves(name: str) -> None:
    assert getattr(qoder_files, name) is not None


@pytest.mark.parametrize(
    "module",
    [
        "qoder_files.models",
        "qoder_files.errors",
        "qoder_files.client",
        "qoder_files.pager",
        "qoder_files.sync",
        "qoder_files.testing",
        "qoder_files._bridge",
        "qoder_files._convert",
        "qoder_files._cursor",
        "qoder_files._portal",
        "qoder_files._public",
        "qoder_files._retry",
        "qoder_files._scan",
        "qoder_files._aiohttp",
        "qoder_files._deletes",
        "qoder_files._generations",
        "qoder_files._inventory",
        "qoder_files._mirror",
        "qoder_files._sender",
        "qoder_files._seam",
        "qoder_files._content",
        "qoder_files._stream",
        "qoder_files._sync_stream",
        "qoder_files._timeout",
        "qoder_files._wire",
        "qoder_files._wire_files",
        "qoder_files.cli",
        "qoder_files.cli._completion",
        "qoder_files.cli._context",
        "qoder_files.cli._download",
        "qoder_files.cli._emulator",
        "qoder_files.cli._files",
        "qoder_files.cli._listing",
        "qoder_files.cli._progress",
        "qoder_files.cli._render",
        "qoder_files.cli._table",
        "qoder_files.cli._writers",
    ],
)
def test_every_module_declares_all_and_a_docstring(module: str) -> None:
    loaded = importlib.import_module(module)
    assert loaded.__doc__
    assert isinstance(loaded.__all__, list)
    for name in loaded.__all__:
        assert hasattr(loaded, name), f"{module}.{name}"


def test_version() -> None:
    assert qoder_files.__version__.count(".") == 2


def _exported(package: str) -> list[tuple[str, object]]:
    """The classes and functions a package exports, by name."""
    module = importlib.import_module(package)
    values = [(name, getattr(module, name)) for name in module.__all__]
    return [
        (name, value)
        for name, value in values
        if inspect.isclass(value) or inspect.isfunction(value)
    ]


@pytest.mark.parametrize("package", ["qoder_files", "qoder_files.testing"])
def test_exported_objects_report_the_path_users_import_from(package: str) -> None:
    exported = _exported(package)
    assert len(exported) >= 5
    assert {name: value.__module__ for name, value in exported} == {
        name: package for name, _ in exported
    }


def test_a_direct_import_reports_the_public_path_too() -> None:
    # The clients and pagers load on first use; importing their modules directly must give the
    # same answer as going through the package.
    code = (
        "from qoder_files.client import AsyncClient\n"
        "from qoder_files.sync import Client, SyncPager, SyncScan\n"
        "from qoder_files.pager import AsyncPager\n"
        "from qoder_files._scan import AsyncScan\n"
        "from qoder_files._stream import AsyncFileStream\n"
        "from qoder_files._sync_stream import SyncFileStream\n"
        "print(sorted({c.__module__ for c in (AsyncClient, Client, SyncPager, SyncScan,"
        " AsyncPager, AsyncScan, AsyncFileStream, SyncFileStream)}))\n"
        "print(Client.list_files.__module__, Client.close.__module__)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.split("\n")[:2] == ["['qoder_files']", "qoder_files qoder_files"]


def test_tracebacks_and_pickles_name_the_public_path() -> None:
    error = qoder_files.NotFoundError("no such file", status_code=404)
    shown = "".join(traceback.format_exception_only(error))
    assert shown.startswith("qoder_files.NotFoundError: ")
    file = qoder_files.File(
        file_id="file_0",
        filename="a.txt",
        size_bytes=1,
        mime_type="text/plain",
        purpose=qoder_files.Purpose.TOOL_OUTPUT,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    assert b"qoder_files.models" not in pickle.dumps(file)
    assert pickle.loads(pickle.dumps(file)) == file
    assert (
        pickle.loads(pickle.dumps(qoder_files.Direction.BACKWARD)) is qoder_files.Direction.BACKWARD
    )


@pytest.mark.parametrize(
    "cls",
    [
        qoder_files.File,
        qoder_files.Scope,
        qoder_files.Page,
        qoder_files.DownloadLink,
        qoder_files.RetryPolicy,
    ],
)
def test_type_hints_of_moved_classes_still_resolve(cls: type) -> None:
    # get_type_hints() evaluates string annotations in the namespace ``__module__`` names; the
    # annotations were resolved in their own module before the move.
    hints = typing.get_type_hints(cls)
    assert hints == {name: hints[name] for name in inspect.get_annotations(cls)}
    assert not any(isinstance(hint, str) for hint in hints.values())


def test_type_hints_of_the_testing_classes_resolve() -> None:
    from qoder_files.testing import Fault, FaultSchedule, RecordedRequest, StoredFile

    assert typing.get_type_hints(Fault)["body"] == bytes | None
    for cls in (FaultSchedule, RecordedRequest, StoredFile):
        assert typing.get_type_hints(cls)
    assert typing.get_type_hints(qoder_files.File)["created_at"] is datetime


def test_every_lazy_name_is_visible_to_static_readers() -> None:
    """Type checkers and the API reference read ``__init__`` without running it: every name of
    ``__all__`` must be imported there under ``TYPE_CHECKING``."""
    import ast

    source = Path(qoder_files.__file__).read_text(encoding="utf-8")
    imported = {
        alias.asname or alias.name
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    assert set(qoder_files.__all__) - imported == set()
