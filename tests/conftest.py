"""Shared fixtures: a seeded emulator served on loopback and a client bound to it."""

from __future__ import annotations

import inspect
import types
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import aioresponses.core
import pytest

from qoder_files import AsyncClient
from qoder_files.testing import FilesEmulator

# These suites need packages the default run does not install (schemathesis, the vendor SDK);
# `nox -s conformance` and `nox -s interop` run them by path.
collect_ignore = ["conformance", "interop"]

if "stream_writer" in inspect.signature(aiohttp.ClientResponse.__init__).parameters:
    # aioresponses 0.7.x builds responses without the `stream_writer` argument that aiohttp
    # 3.14 made required; hand it a finished writer so its mocked responses construct.
    class _MockedResponse(aiohttp.ClientResponse):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs.setdefault("stream_writer", types.SimpleNamespace(output_size=0))
            super().__init__(*args, **kwargs)

    setattr(aioresponses.core, "ClientResponse", _MockedResponse)  # noqa: B010


@pytest.fixture
def emulator() -> FilesEmulator:
    """A g1 emulator with 2,500 deterministic files."""
    em = FilesEmulator()
    em.seed(2500)
    return em


@pytest.fixture
async def base_url(emulator: FilesEmulator) -> AsyncIterator[str]:
    """The emulator, running on a free loopback port."""
    async with emulator.serve() as url:
        yield url


@pytest.fixture
async def client(emulator: FilesEmulator, base_url: str) -> AsyncIterator[AsyncClient]:
    """A client bound to the running emulator, with instant retries."""
    from qoder_files import RetryPolicy

    async with AsyncClient(
        emulator.token, base_url=base_url, retry=RetryPolicy(backoff_base=0.0)
    ) as c:
        yield c
