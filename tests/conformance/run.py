"""Run schemathesis against the emulator in one shape, described by ``docs/openapi/<shape>.yaml``.

Usage: ``python tests/conformance/run.py g1 [g3] [schemathesis options...]`` (``nox -s
conformance`` runs both shapes). For each shape, a fresh emulator is seeded with a few dozen
files and served on a free loopback port from a background thread; schemathesis runs every
check and every phase, stateful links included, with the emulator's bearer token. Every shape
runs even when one fails; the exit code is the worst of them.

What schemathesis reports that is a deliberate choice, not a fault (seeds 1 to 3 find some
of the first two in ``g1`` and of the first four in ``g3``, and nothing else):

- ``GET files`` with two or more cursors (even empty ones) is a 400, as documented; OpenAPI
  cannot say that parameters exclude each other, so this shows as "schema-valid request
  rejected" (ST202).
- An upload repeated with the same ``Idempotency-Key`` replays the first answer, even when that
  file has been deleted since; a stateful run that then asks for the file sees a 404 ("created
  resource not found", ST302).
- ``g3`` only: an upload whose filename has an extension off the text-only list is a 400
  whatever the part's type, as ``g3.yaml`` says. schemathesis makes up its own filenames
  (``file.png``, ``file.zip``) for binary parts, and OpenAPI cannot constrain a part's
  filename, so this shows as ST202.
- ``g3`` only: a multipart text part carries text whatever schemathesis meant it to be. A
  negative case that turns ``name`` into an array, a number or null sends that value's JSON
  text (``[319, [null]]``, ``null``), which is a valid stored name, so the 200 shows as
  "schema-violating request accepted" (ST201).
- ``g3`` only, and not met with seeds 1 to 3: a ``name`` that is nothing once its directory
  part and control characters are dropped, or ``.``/``..``, or more than 255 UTF-8 bytes, is a
  400, as documented. The limit counts bytes after that cleaning, which JSON Schema cannot say,
  so ``g3.yaml`` gives the rule in prose, and such a generated name would show as ST202.

Not faults either, and not counted as failures: the "failed to extract data" note for the
``GetFirstFile`` link when a page is empty, and aiohttp's log line for schemathesis's probe with a
NUL byte in a header (the server refuses it, which schemathesis records as a capability).

The run's verdict follows that list: every failure schemathesis reports (read from its JUnit
report) is matched against ``DELIBERATE`` below; the shape passes when all of them are
deliberate, and each shape's line says how many cases ran and which failures were found.

Presigned links are not followed (``--max-redirects 0``): in ``g1`` the content route answers
302, and following it would send the bearer token to storage, which refuses it by design.
"""

from __future__ import annotations

import itertools
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from xml.etree import ElementTree

from qoder_files.testing import FilesEmulator

__all__ = ["main", "run_shape"]

ROOT = Path(__file__).resolve().parents[2]
SHAPES = ("g1", "g3")

# (shapes, test case or None for any, check code, text the report must contain): the choices
# above. A stateful run meets the upload choices too, under "Stateful tests".
DELIBERATE = (
    (SHAPES, "GET /files", "ST202", "mutually exclusive"),
    (SHAPES, "Stateful tests", "ST302", "Created with      : `POST /files`"),
    (("g3",), None, "ST202", "is not a supported type"),
    (("g3",), None, "ST201", "at /properties/name"),
    (("g3",), None, "ST202", "Field 'name'"),
)


def classify(shape: str, report: Path) -> tuple[list[str], list[str]]:
    """The failures of a JUnit report: ``(deliberate, unexpected)``, one line each."""
    deliberate: list[str] = []
    unexpected: list[str] = []
    for case in ElementTree.parse(report).getroot().iter("testcase"):
        for failure in case.iter("failure"):
            code, text = failure.get("message", ""), failure.text or ""
            line = f"{case.get('name')}: {code}"
            known = any(
                shape in shapes
                and name in (None, case.get("name"))
                and code == check
                and needle in text
                for shapes, name, check, needle in DELIBERATE
            )
            (deliberate if known else unexpected).append(line)
    return deliberate, unexpected


def main(argv: list[str]) -> int:
    """Run schemathesis against the emulator in each shape named at the start of ``argv``."""
    shapes = list(itertools.takewhile(SHAPES.__contains__, argv))
    extra = argv[len(shapes) :]
    if not shapes or any(arg in SHAPES for arg in extra):
        print("usage: run.py g1 [g3] [schemathesis options...]", file=sys.stderr)
        return 2
    return max(run_shape(shape, extra) for shape in shapes)


def run_shape(shape: str, extra: list[str]) -> int:
    """Serve an emulator in ``shape`` and run schemathesis against its description."""
    print(f"--- conformance of the emulator's {shape} shape", flush=True)
    emulator = FilesEmulator(shape=shape)
    emulator.seed(60)
    schemathesis = Path(sys.executable).with_name("schemathesis")
    with emulator.serve_in_thread() as base_url:
        command = [
            str(schemathesis),
            "run",
            str(ROOT / "docs" / "openapi" / f"{shape}.yaml"),
            "--url",
            base_url,
            "--header",
            f"Authorization: Bearer {emulator.token}",
            "--checks",
            "all",
            "--max-redirects",
            "0",
            "--generation-database",
            "none",
            *extra,
        ]
        with tempfile.TemporaryDirectory() as scratch:
            report = Path(scratch) / "report.xml"
            command += ["--report", "junit", "--report-junit-path", str(report)]
            done = subprocess.run(command, check=False, capture_output=True, text=True)
            print(done.stdout, done.stderr, sep="", flush=True)
            if not report.exists():
                return done.returncode or 1
            deliberate, unexpected = classify(shape, report)
    cases = re.search(r"(\d+) generated", done.stdout)
    print(
        f"=== {shape}: {cases.group(1) if cases else '?'} cases; "
        f"{len(deliberate)} deliberate ({', '.join(deliberate) or 'none'}); "
        f"{len(unexpected)} unexpected ({', '.join(unexpected) or 'none'})",
        flush=True,
    )
    if done.returncode not in (0, 1):  # schemathesis itself failed
        return done.returncode
    return 1 if unexpected else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
