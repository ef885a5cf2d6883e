"""qoder_files: the asyncio-first Python SDK for the Qoder Cloud Agents Files API.

Start with ``AsyncClient`` (or the blocking ``Client``) and ``list_files``::

    async with AsyncClient() as client:
        async for file in client.list_files(purpose="tool_output"):
            print(file.file_id, file.filename)
"""

from ._convert import converter
from ._cursor import Direction
from ._retry import RetryPolicy
from ._version import __version__
from .client import AsyncClient
from .errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
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
)
from .models import DownloadLink, File, Page, Purpose
from .pager import AsyncPager

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AsyncClient",
    "AsyncPager",
    "AuthenticationError",
    "BadRequestError",
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
    "__version__",
    "converter",
]
