"""qoder_files: the asyncio-first Python SDK for the Qoder Cloud Agents Files API.

Start with ``AsyncClient`` (or the blocking ``Client``) and ``list_files``::

    async with AsyncClient() as client:
        async for file in client.list_files(purpose="tool_output"):
            print(file.file_id, file.filename)

The models, errors and converter are imported eagerly; the clients, which need asyncio and
aiohttp, load on first use, so importing ``qoder_files.models`` stays free of both.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._convert import converter
from ._cursor import Direction
from ._public import publish
from ._retry import RetryPolicy
from ._seam import AsyncBody, AsyncTransport, HTTPRequest, HTTPResponse
from ._timeout import Timeout
from ._version import __version__
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

if TYPE_CHECKING:
    from ._bridge import SyncPager, SyncScan
    from ._deletes import DeleteFailure, DeleteSummary
    from ._inventory import InventoryStats, InventorySummary, inventory_stats
    from ._mirror import MirrorEvent, MirrorFailure, MirrorSummary
    from ._scan import AsyncScan
    from ._stream import AsyncFileStream
    from ._sync_stream import SyncFileStream
    from .client import AsyncClient
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

# Names whose modules import asyncio/aiohttp: loaded on first attribute access.
_LAZY = {
    "AsyncClient": ".client",
    "AsyncFileStream": "._stream",
    "AsyncPager": ".pager",
    "AsyncScan": "._scan",
    "Client": ".sync",
    "SyncFileStream": "._sync_stream",
    "SyncPager": "._bridge",
    "SyncScan": "._bridge",
    "MirrorEvent": "._mirror",
    "MirrorFailure": "._mirror",
    "MirrorSummary": "._mirror",
    "InventoryStats": "._inventory",
    "InventorySummary": "._inventory",
    "inventory_stats": "._inventory",
    "DeleteFailure": "._deletes",
    "DeleteSummary": "._deletes",
}

# Exported objects report ``qoder_files`` as their module; the lazy ones do so from their own
# modules, so that importing them directly gives the same answer.
publish(__name__, globals(), [name for name in __all__ if name not in _LAZY])


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'qoder_files' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
