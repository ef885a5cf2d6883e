"""qoder_files: the asyncio-first Python SDK for the Qoder Cloud Agents Files API.

Start with ``AsyncClient`` (or the blocking ``Client``) and ``list_files``::

    async with AsyncClient() as client:
        async for file in client.list_files(purpose="tool_output"):
            print(file.file_id, file.filename)

Every exported name loads on first use: importing ``qoder_files`` (or ``qoder_files.models``)
loads neither asyncio nor aiohttp, and the package alone not even cattrs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:
    from ._bridge import SyncPager, SyncScan
    from ._convert import converter
    from ._cursor import Direction
    from ._deletes import DeleteFailure, DeleteSummary
    from ._inventory import InventoryStats, InventorySummary, inventory_stats
    from ._mirror import MirrorEvent, MirrorFailure, MirrorSummary
    from ._retry import RetryPolicy
    from ._scan import AsyncScan
    from ._seam import AsyncBody, AsyncTransport, HTTPRequest, HTTPResponse
    from ._stream import AsyncFileStream
    from ._sync_stream import SyncFileStream
    from ._timeout import Timeout
    from .client import AsyncClient
    from .errors import (
        APIConnectionError,
        APIError,
        APITimeoutError,
        AuthenticationError,
        BadRequestError,
        ClientClosedError,
        ConflictError,
        FeatureNotAvailableError,
        GoneError,
        InternalServerError,
        InvalidResponseError,
        NotFoundError,
        PaginationError,
        PermissionDeniedError,
        QoderError,
        RateLimitError,
        RedirectError,
        TransferInterruptedError,
    )
    from .models import DownloadLink, File, Page, Purpose, Scope
    from .pager import AsyncPager
    from .sync import Client

__all__ = [
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

# Every name loads on first use, from the module that defines it (and that module makes its
# objects report ``qoder_files`` as their home, however they are imported). Importing the package
# itself costs next to nothing: ``qoder-files --help`` loads no cattrs, asyncio or aiohttp.
_LAZY = {
    **dict.fromkeys(["AsyncClient"], ".client"),
    **dict.fromkeys(["AsyncFileStream"], "._stream"),
    **dict.fromkeys(["AsyncPager"], ".pager"),
    **dict.fromkeys(["AsyncScan"], "._scan"),
    **dict.fromkeys(["AsyncBody", "AsyncTransport", "HTTPRequest", "HTTPResponse"], "._seam"),
    **dict.fromkeys(["Client"], ".sync"),
    **dict.fromkeys(["DeleteFailure", "DeleteSummary"], "._deletes"),
    **dict.fromkeys(["Direction"], "._cursor"),
    **dict.fromkeys(["DownloadLink", "File", "Page", "Purpose", "Scope"], ".models"),
    **dict.fromkeys(["InventoryStats", "InventorySummary", "inventory_stats"], "._inventory"),
    **dict.fromkeys(["MirrorEvent", "MirrorFailure", "MirrorSummary"], "._mirror"),
    **dict.fromkeys(["RetryPolicy"], "._retry"),
    **dict.fromkeys(["SyncFileStream"], "._sync_stream"),
    **dict.fromkeys(["SyncPager", "SyncScan"], "._bridge"),
    **dict.fromkeys(["Timeout"], "._timeout"),
    **dict.fromkeys(["converter"], "._convert"),
    **dict.fromkeys([name for name in __all__ if name.endswith("Error")], ".errors"),
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'qoder_files' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
