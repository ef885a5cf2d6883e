"""pytest fixtures backed by the Files API emulator, registered by the ``pytest11`` entry point.

Installing ``qoder-files`` makes three fixtures available to every test suite, with no import:

- ``qoder_emulator``: a ``RunningEmulator`` (a ``FilesEmulator`` seeded with
  ``SEED_FILES`` files and served from a background thread); ``base_url`` says where.
  Seed more, add faults, or inspect ``requests`` on it.
- ``qoder_client``: an ``AsyncClient`` bound to it, closed after the test. It needs
  pytest-asyncio; without it the plugin still loads and only this fixture fails.
- ``qoder_sync_client``: a blocking ``Client`` bound to it, closed after the test.

Every fixture is function-scoped, so each test starts from the same deterministic files.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import NoReturn

import pytest

from qoder_files.client import AsyncClient
from qoder_files.sync import Client
from qoder_files.testing._emulator import FilesEmulator

__all__ = ["SEED_FILES", "RunningEmulator"]

SEED_FILES = 100
"""How many files ``qoder_emulator`` starts with."""


class RunningEmulator(FilesEmulator):
    """A ``FilesEmulator`` that is being served.

    Attributes:
        base_url: The API root to hand to a client (``http://127.0.0.1:<port>/api/v1/cloud``).
    """

    base_url: str


@pytest.fixture
def qoder_emulator() -> Iterator[RunningEmulator]:
    """A running emulator seeded with ``SEED_FILES`` deterministic files."""
    emulator = RunningEmulator()
    emulator.seed(SEED_FILES)
    with emulator.serve_in_thread() as base_url:
        emulator.base_url = base_url
        yield emulator


@pytest.fixture
def qoder_sync_client(qoder_emulator: RunningEmulator) -> Iterator[Client]:
    """A blocking ``Client`` bound to ``qoder_emulator``."""
    with Client(qoder_emulator.token, base_url=qoder_emulator.base_url) as client:
        yield client


try:
    import pytest_asyncio
except ImportError:  # pragma: no cover - exercised in a subprocess without pytest-asyncio

    @pytest.fixture(name="qoder_client")
    def _qoder_client_needs_pytest_asyncio() -> NoReturn:
        pytest.fail("the qoder_client fixture needs pytest-asyncio: pip install pytest-asyncio")

else:

    @pytest_asyncio.fixture
    async def qoder_client(qoder_emulator: RunningEmulator) -> AsyncIterator[AsyncClient]:
        """An ``AsyncClient`` bound to ``qoder_emulator``."""
        async with AsyncClient(qoder_emulator.token, base_url=qoder_emulator.base_url) as client:
            yield client
