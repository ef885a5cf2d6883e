"""Test helpers shipped to users: the Files API emulator and its faults.

``FilesEmulator`` serves the Files API from memory on a loopback port, in either API
generation, with scriptable faults. The pytest plugin (installed with the package) adds the
fixtures ``qoder_emulator``, ``qoder_client`` and ``qoder_sync_client``.
"""

from qoder_files._public import publish

from ._emulator import FilesEmulator, RecordedRequest
from ._faults import Fault, FaultSchedule
from ._protocol import API_PREFIX
from ._store import StoredFile

__all__ = ["API_PREFIX", "Fault", "FaultSchedule", "FilesEmulator", "RecordedRequest", "StoredFile"]

# Exported objects report ``qoder_files.testing`` as their module: the path users import from.
publish(__name__, globals(), __all__)
