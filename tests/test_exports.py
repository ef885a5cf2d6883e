"""The public surface is curated: a sorted ``__all__`` that this test pins."""

from __future__ import annotations

import importlib

import pytest

import qoder_files

EXPECTED = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AsyncClient",
    "AsyncPager",
    "AsyncScan",
    "AuthenticationError",
    "BadRequestError",
    "Client",
    "ConflictError",
    "Direction",
    "DownloadLink",
    "FeatureNotAvailableError",
    "File",
    "GoneError",
    "InternalServerError",
    "InvalidResponseError",
    "NotFoundError",
    "Page",
    "PaginationError",
    "PermissionDeniedError",
    "Purpose",
    "QoderError",
    "RateLimitError",
    "RetryPolicy",
    "SyncPager",
    "SyncScan",
    "__version__",
    "converter",
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
        "qoder_files._retry",
        "qoder_files._scan",
        "qoder_files._transport",
        "qoder_files._wire",
        "qoder_files._wire_files",
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
