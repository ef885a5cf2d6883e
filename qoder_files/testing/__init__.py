"""Test helpers shipped to users: the Files API emulator, its faults, and a mock transport.

``FilesEmulator`` serves the Files API from memory on a loopback port, in either API
generation, with scriptable faults. ``MockTransport`` answers a client's requests with a
function, in memory, for unit tests. The pytest plugin (installed with the package) adds the
fixtures ``qoder_emulator``, ``qoder_client`` and ``qoder_sync_client``.

The emulator needs ``aiohttp.web``; it is loaded on first use, so a test suite that only uses
``MockTransport`` never imports aiohttp.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from qoder_files._public import publish

from ._mock import MockResponse, MockTransport

if TYPE_CHECKING:
    from ._emulator import FilesEmulator, RecordedRequest
    from ._faults import Fault, FaultSchedule
    from ._protocol import API_PREFIX
    from ._store import StoredFile

__all__ = [
    "API_PREFIX",
    "Fault",
    "FaultSchedule",
    "FilesEmulator",
    "MockResponse",
    "MockTransport",
    "RecordedRequest",
    "StoredFile",
]

_LAZY = {
    "API_PREFIX": "._protocol",
    "Fault": "._faults",
    "FaultSchedule": "._faults",
    "FilesEmulator": "._emulator",
    "RecordedRequest": "._emulator",
    "StoredFile": "._store",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'qoder_files.testing' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    publish(__name__, {name: value}, [name])
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


# Exported objects report ``qoder_files.testing`` as their module: the path users import from.
publish(__name__, globals(), ["MockResponse", "MockTransport"])
