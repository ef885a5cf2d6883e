"""The pytest plugin: its fixtures used directly, and in fresh pytest sessions (pytester)."""

from __future__ import annotations

import textwrap
from importlib.metadata import entry_points

import pytest

from qoder_files import AsyncClient, Client, File
from qoder_files.testing import Fault
from qoder_files.testing.pytest_plugin import SEED_FILES, RunningEmulator

pytest_plugins = ["pytester"]

PLUGIN = "qoder_files.testing.pytest_plugin"


def plugin_args(config: pytest.Config) -> list[str]:
    """Load the plugin explicitly when the package is not installed (no entry point)."""
    return [] if config.pluginmanager.has_plugin("qoder_files") else ["-p", PLUGIN]


def test_the_entry_point_names_the_plugin() -> None:
    (entry,) = [e for e in entry_points(group="pytest11") if e.name == "qoder_files"]
    assert entry.value == PLUGIN


def test_qoder_emulator_is_seeded_and_served(qoder_emulator: RunningEmulator) -> None:
    assert len(qoder_emulator.files) == SEED_FILES
    assert qoder_emulator.base_url.startswith("http://127.0.0.1:")
    assert qoder_emulator.base_url.endswith("/api/v1/cloud")


def test_qoder_sync_client(qoder_emulator: RunningEmulator, qoder_sync_client: Client) -> None:
    files = qoder_sync_client.list_files(limit=100).collect(unbounded=True)
    assert [f.file_id for f in files] == qoder_emulator.ids()
    assert qoder_sync_client.base_url == qoder_emulator.base_url


async def test_qoder_client(qoder_emulator: RunningEmulator, qoder_client: AsyncClient) -> None:
    qoder_emulator.add_fault(Fault.error(503), route="list", times=1)
    files: list[File] = [f async for f in qoder_client.list_files(purpose="tool_output")]
    assert [f.file_id for f in files] == qoder_emulator.ids("tool_output")
    assert len(qoder_emulator.requests) >= 2


def test_fixtures_in_a_fresh_strict_mode_session(
    pytester: pytest.Pytester, request: pytest.FixtureRequest
) -> None:
    pytester.makepyfile(
        textwrap.dedent(
            """
            import pytest

            def test_sync(qoder_emulator, qoder_sync_client):
                qoder_emulator.seed(5)
                assert len(qoder_sync_client.list_files(max_items=500).collect()) == 105

            @pytest.mark.asyncio
            async def test_async(qoder_client):
                page = await qoder_client.get_page(limit=3)
                assert len(page.data) == 3

            def test_fresh_emulator_per_test(qoder_emulator):
                assert len(qoder_emulator.files) == 100
            """
        )
    )
    result = pytester.runpytest(
        "-p",
        "no:cacheprovider",
        "-o",
        "asyncio_mode=strict",
        "-o",
        "asyncio_default_fixture_loop_scope=function",
        *plugin_args(request.config),
    )
    result.assert_outcomes(passed=3)


def test_the_plugin_loads_without_pytest_asyncio(
    pytester: pytest.Pytester, request: pytest.FixtureRequest
) -> None:
    # A plugin loaded first hides pytest-asyncio, as if it were not installed.
    pytester.makepyfile(
        hide_asyncio="import sys\nsys.modules['pytest_asyncio'] = None\n",
        test_user=textwrap.dedent(
            """
            def test_sync(qoder_sync_client):
                assert len(qoder_sync_client.get_page(limit=2).data) == 2

            def test_async_fixture(qoder_client):
                pass
            """
        ),
    )
    result = pytester.runpytest_subprocess(
        "-p",
        "hide_asyncio",
        "-p",
        "no:asyncio",
        "-p",
        "no:cacheprovider",
        *plugin_args(request.config),
    )
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*qoder_client fixture needs pytest-asyncio*"])
