"""The documentation is product: every Python example in README.md and docs/ runs as written.

Each ```python block runs in a fresh interpreter against its own running emulator, found
through ``QODER_PAT`` and ``QODER_BASE_URL`` as a reader's shell would provide them. A block
that defines ``test_*`` functions is run by pytest instead, with the package's fixtures. A
block that includes a file (``--8<-- "path"``, as the docs site does) runs that file's text, and
the example modules of ``docs/examples`` are importable, as they would be from a reader's copy.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest

from qoder_files.testing import FilesEmulator

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("**/*.md"))]
EXAMPLES = ROOT / "docs" / "examples"
PYTHON_BLOCK = re.compile(r"^```python[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
INCLUDE = re.compile(r'^--8<-- "([^"]+)"\n', re.MULTILINE)
EMULATOR_FILES = 300


def python_examples() -> Iterator[Any]:
    for document in DOCUMENTS:
        text = document.read_text(encoding="utf-8")
        for match in PYTHON_BLOCK.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            name = f"{document.relative_to(ROOT).as_posix()}:{line}"
            code = INCLUDE.sub(lambda m: (ROOT / m.group(1)).read_text(encoding="utf-8"), match[1])
            yield pytest.param(code, id=name)


def plugin_installed() -> bool:
    return any(e.name == "qoder_files" for e in entry_points(group="pytest11"))


@pytest.fixture
def reader_env() -> Iterator[dict[str, str]]:
    """A reader's environment: a running emulator, exported as QODER_PAT and QODER_BASE_URL."""
    emulator = FilesEmulator()
    emulator.seed(EMULATOR_FILES)
    with emulator.serve_in_thread() as base_url:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("QODER_", "PYTEST_"))}
        paths = [str(ROOT), str(EXAMPLES), env.get("PYTHONPATH")]
        env["PYTHONPATH"] = os.pathsep.join(filter(None, paths))
        env["QODER_PAT"] = emulator.token
        env["QODER_BASE_URL"] = base_url
        yield env


@pytest.mark.parametrize("code", list(python_examples()))
def test_python_example_runs(code: str, reader_env: dict[str, str], tmp_path: Path) -> None:
    if re.search(r"^(async )?def test_", code, re.MULTILINE):
        script = tmp_path / "test_example.py"
        plugin = [] if plugin_installed() else ["-p", "qoder_files.testing.pytest_plugin"]
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *plugin]
    else:
        script = tmp_path / "example.py"
        command = [sys.executable, "-W", "error"]
    script.write_text(code, encoding="utf-8")
    completed = subprocess.run(
        [*command, str(script)],
        cwd=tmp_path,
        env=reader_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_there_are_examples_in_every_page() -> None:
    pages_with_examples = {p.split(":")[0] for p in (e.id for e in python_examples())}
    expected = {"README.md", "docs/index.md", "docs/listing.md", "docs/sync.md"}
    expected |= {"docs/errors.md", "docs/testing.md", "docs/timeouts.md", "docs/webapps.md"}
    assert expected <= pages_with_examples


def test_readme_opens_with_the_two_commands() -> None:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("# ")
    opening = [line for line in lines[1:6] if line.strip()]
    assert opening[:4] == [
        "```bash",
        'pip install ".[cli]" && qoder-files --emulator ls',
        "pip install nox && nox -s tests",
        "```",
    ]


def test_docs_speak_only_about_the_project() -> None:
    machine_paths = re.compile(r"(/work/|/root/|/home/|/tmp/|/Users/|[A-Z]:\\\\)")
    for document in [*DOCUMENTS, ROOT / "mkdocs.yml"]:
        text = document.read_text(encoding="utf-8")
        assert not machine_paths.search(text), document.name


def test_every_page_is_in_the_navigation() -> None:
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    for page in (ROOT / "docs").glob("*.md"):
        assert f": {page.name}" in nav, page.name
