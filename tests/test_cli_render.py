"""What the command line shows: server strings as text in every format, fields, ids only.

Hostile names come from a fixture server (the emulator with files added under those names);
terminal output is checked for the literal text and for the absence of raw ESC and BEL bytes.
"""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import select
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from qoder_files import File, Purpose
from qoder_files._convert import unstructure_file
from qoder_files.cli import _download, _render, main
from qoder_files.cli._context import PURPOSES
from qoder_files.cli._render import WireEncoder, visible
from qoder_files.testing import FilesEmulator, StoredFile

HOSTILE = [
    "report [final].md",
    "[bold]x[/bold]",
    "[link=https://evil.example]invoice.pdf[/link]",
    "log [/var/log].txt",
    "{task.fields}",
    "{0}",
    "\x1b]0;pwned\x07title.txt",
    "\x1b[2Jclear.txt",
    "bell\x07.txt",
    "line\nbreak.txt",
    "\u202etxt.exe",
]
CLEAN_ENV = {"QODER_PAT": None, "QODER_BASE_URL": None, "QODER_LOG": None}
ROOT = Path(__file__).resolve().parents[1]


def hostile_emulator(content: bytes = b"# hostile\n") -> FilesEmulator:
    emulator = FilesEmulator()
    start = datetime(2026, 3, 1, tzinfo=UTC)
    for number, name in enumerate(HOSTILE):
        created = start + timedelta(minutes=number)
        emulator.add(
            StoredFile(
                file_id=f"file_{number:032x}",
                filename=name,
                mime_type="text/markdown",
                purpose="tool_output",
                content=content,
                metadata={"note": name},
                created_at=created,
                updated_at=created,
            )
        )
    return emulator


@pytest.fixture
def hostile() -> Iterator[tuple[FilesEmulator, str]]:
    emulator = hostile_emulator()
    with emulator.serve_in_thread() as url:
        yield emulator, url


def run(served: tuple[FilesEmulator, str], *args: str, input: str | None = None) -> Result:
    emulator, url = served
    argv = ["--token", emulator.token, "--base-url", url, *args]
    return CliRunner().invoke(main, argv, env=CLEAN_ENV, input=input)


def assert_safe_for_a_terminal(text: str, token: str) -> None:
    assert "\x1b" not in text
    assert "\x07" not in text
    assert "\u202e" not in text
    assert token not in text


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_render, "_is_terminal", lambda stream: True)


@pytest.mark.parametrize("width", [200, 60])
def test_table_on_a_terminal_shows_every_name_as_text(
    hostile: tuple[FilesEmulator, str], terminal: None, width: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", str(width))
    result = run(hostile, "ls")
    assert result.exit_code == 0, result.output
    assert_safe_for_a_terminal(result.output, hostile[0].token)
    rows = unfold(result.stdout)
    for name in HOSTILE:
        assert any(row.endswith("  " + visible(name)) for row in rows), name
    assert "report [final].md" in "\n".join(rows)
    assert "\\x1b]0;pwned\\x07title.txt" in "\n".join(rows)
    assert rows[-1] == f"{len(HOSTILE)} files"
    folded = len(result.stdout.splitlines()) > len(HOSTILE) + 2
    assert folded == (width == 60)  # the name column folds within a narrow terminal


def unfold(table: str) -> list[str]:
    """The table's rows, with folded names joined back."""
    rows: list[str] = []
    for line in table.splitlines():
        if line.startswith(" ") and rows:
            rows[-1] += line.lstrip(" ")
        else:
            rows.append(line)
    return rows


def test_csv_on_a_terminal_is_visible_and_exact_through_a_pipe(
    hostile: tuple[FilesEmulator, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    piped = run(hostile, "ls", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(piped.stdout, newline="")))
    assert sorted(row["filename"] for row in rows) == sorted(HOSTILE)
    assert {json.loads(row["metadata"])["note"] for row in rows} == set(HOSTILE)
    monkeypatch.setattr(_render, "_is_terminal", lambda stream: True)
    shown = run(hostile, "ls", "--format", "csv")
    assert shown.exit_code == 0, shown.output
    assert_safe_for_a_terminal(shown.output, hostile[0].token)
    assert "\\x1b[2Jclear.txt" in shown.stdout
    assert "[bold]x[/bold]" in shown.stdout


@pytest.mark.parametrize("output_format", ["jsonl", "json"])
def test_json_keeps_exact_values_and_escapes_for_a_terminal(
    hostile: tuple[FilesEmulator, str], monkeypatch: pytest.MonkeyPatch, output_format: str
) -> None:
    def names(result: Result) -> list[str]:
        if output_format == "json":
            return [f["filename"] for f in json.loads(result.stdout)]
        return [json.loads(line)["filename"] for line in result.stdout.splitlines()]

    piped = run(hostile, "ls", "--format", output_format)
    assert sorted(names(piped)) == sorted(HOSTILE)
    monkeypatch.setattr(_render, "_is_terminal", lambda stream: True)
    shown = run(hostile, "ls", "--format", output_format)
    assert_safe_for_a_terminal(shown.output, hostile[0].token)
    assert names(shown) == names(piped)


def test_get_and_errors_are_visible_text(
    hostile: tuple[FilesEmulator, str], terminal: None
) -> None:
    emulator, _ = hostile
    file_id = next(i for i, f in emulator.files.items() if f.filename.startswith("\x1b]"))
    shown = run(hostile, "get", file_id)
    assert shown.exit_code == 0, shown.output
    assert_safe_for_a_terminal(shown.output, emulator.token)
    assert json.loads(shown.stdout)["filename"] == emulator.files[file_id].filename


def test_quiet_prints_ids_and_fields_select_keys(hostile: tuple[FilesEmulator, str]) -> None:
    emulator, _ = hostile
    quiet = run(hostile, "ls", "-q")
    assert quiet.stdout.split() == emulator.ids()
    picked = run(hostile, "ls", "--format", "jsonl", "--fields", "filename,file_id,nope", "-n", "2")
    objects = [json.loads(line) for line in picked.stdout.splitlines()]
    assert [list(o) for o in objects] == [["filename", "file_id", "nope"]] * 2
    assert [o["file_id"] for o in objects] == emulator.ids()[:2]
    assert objects[0]["nope"] is None
    table = run(hostile, "ls", "--format", "table", "--fields", "size_bytes,filename")
    assert table.stdout.splitlines()[0].split() == ["SIZE_BYTES", "FILENAME"]
    columns = run(hostile, "ls", "--format", "csv", "--fields", "file_id,metadata", "-n", "1")
    assert columns.stdout.splitlines()[0] == "file_id,metadata"
    assert run(hostile, "ls", "--fields", "a b").exit_code == 2


def test_the_cli_purposes_are_the_sdk_purposes() -> None:
    assert list(PURPOSES) == [p.value for p in Purpose]


def _file(**changes: object) -> File:
    values: dict[str, object] = {
        "file_id": "file_1",
        "filename": "a.txt",
        "size_bytes": 3,
        "mime_type": "text/plain",
        "purpose": Purpose.TOOL_OUTPUT,
        "status": "ready",
        "metadata": {"k": [1, 2]},
        "created_at": datetime(2026, 1, 1, tzinfo=UTC),
        "updated_at": datetime(2026, 1, 1, 0, 0, 0, 1234, tzinfo=UTC),
        **changes,
    }
    return File(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize("use_orjson", [True, False])
@pytest.mark.parametrize(
    "file",
    [
        _file(),
        _file(purpose=None, status=None, updated_at=None),
        _file(purpose="future_purpose"),
        _file(created_at=datetime(2026, 1, 1, 2, tzinfo=timezone(timedelta(hours=2)))),
        _file(extra={"type": "file", "downloadable": True, "scope": None, "filename": "x"}),
        _file(filename="\ud800 lone surrogate", metadata={"big": 2**70}),
    ],
)
def test_the_fast_wire_path_writes_what_the_converter_writes(file: File, use_orjson: bool) -> None:
    encoder = WireEncoder(use_orjson=use_orjson)
    expected = unstructure_file(file)
    [line] = encoder.encode_objects([encoder.wire(file)])
    assert json.loads(line) == json.loads(json.dumps(expected))
    assert json.loads(json.dumps(encoder.wire(file), default=str)).keys() == expected.keys()


def test_download_progress_shows_the_name_as_text(tmp_path: Path) -> None:
    emulator = hostile_emulator(content=b"x" * 300_000)
    with emulator.serve_in_thread() as url:
        for file_id in emulator.ids():
            output = _download_on_a_terminal(emulator.token, url, file_id, tmp_path)
            name = emulator.files[file_id].filename
            assert_safe_for_a_terminal(output, emulator.token)
            shown = visible(name)[:20]
            assert shown in output, (name, output)
    saved = sorted(p.name for p in tmp_path.iterdir())
    assert len(saved) == len(HOSTILE)
    assert all(name.isprintable() and not name.startswith(".") for name in saved)
    assert "report [final].md" in saved


def _download_on_a_terminal(token: str, url: str, file_id: str, directory: Path) -> str:
    """Run ``download`` with its stderr on a pseudo-terminal; return what the terminal got."""
    primary, secondary = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("QODER_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.update(QODER_PAT=token, QODER_BASE_URL=url, COLUMNS="120")
    code = (
        "import sys; from qoder_files.cli import _download, main; "
        "_download.LARGE_DOWNLOAD = 1; "
        "main(sys.argv[1:], prog_name='qoder-files')"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code, "download", file_id, "-o", f"{directory}{os.sep}"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=secondary,
        env=env,
    )
    os.close(secondary)
    received = b""
    while True:
        ready, _, _ = select.select([primary], [], [], 30)
        if not ready:
            break
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # the other end closed
            break
        if not chunk:
            break
        received += chunk
    os.close(primary)
    assert process.wait(timeout=30) == 0, received
    return received.decode("utf-8", "replace")


def test_a_download_never_writes_through_a_planted_link(
    hostile: tuple[FilesEmulator, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator, _ = hostile
    file_id = next(i for i, f in emulator.files.items() if f.filename == "report [final].md")
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (tmp_path / ".report [final].md.part").symlink_to(victim)
    monkeypatch.setattr(_download, "LARGE_DOWNLOAD", 1)
    monkeypatch.setattr(_render, "_is_terminal", lambda stream: True)
    result = run(hostile, "download", file_id, "-o", str(tmp_path / "report [final].md"))
    assert result.exit_code == 0, result.output
    assert victim.read_text() == "keep me"
    assert (tmp_path / "report [final].md").read_bytes() == b"# hostile\n"
    assert not list(tmp_path.glob(".qoder-files-*"))
