"""Development sessions: ``nox -s tests lint typing docs`` (and ``bench``, ``conformance`` and
``interop``, not run by default).

Dependencies come from ``pyproject.toml`` (the project's extras and dependency groups), so
this file never repeats a version pin.
"""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "lint", "typing", "docs"]
nox.options.reuse_existing_virtualenvs = True
# ``tests`` runs once per Python the classifiers name; one that is not installed here is
# skipped, not failed. (Only ``tests`` names interpreters: the other sessions run on nox's
# own.) CI asks for the oldest and the newest explicitly, see ``.ci/run``.
nox.options.error_on_missing_interpreters = False

PYPROJECT = nox.project.load_toml("pyproject.toml")
PYTHONS = nox.project.python_versions(PYPROJECT)  # from the classifiers: 3.11 to 3.13


def group(name: str) -> list[str]:
    """The requirements of one ``[dependency-groups]`` entry."""
    return list(nox.project.dependency_groups(PYPROJECT, name))


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """Run the test suite with branch coverage on one Python (fails under the minimum).

    ``nox -s tests`` runs it on each installed Python the classifiers name; ``tests-3.13``
    picks one. Each run erases, combines and reports its own coverage data.
    """
    session.install("-e", ".[cli,speedups]", *group("test"))
    session.run("coverage", "erase")
    session.run(
        "coverage", "run", "-m", "pytest", *session.posargs, env={"COVERAGE_PROCESS_START": ""}
    )
    session.run("coverage", "combine", success_codes=[0, 1])
    session.run("coverage", "report")


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    session.install(*group("lint"))
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typing(session: nox.Session) -> None:
    """mypy --strict on the package and the tests."""
    session.install("-e", ".[cli,speedups]", *group("test"), *group("typing"))
    session.run("mypy")


@nox.session
def docs(session: nox.Session) -> None:
    """Build the documentation site with warnings as errors."""
    session.install("-e", ".[cli]", *group("docs"))
    session.run("mkdocs", "build", "--strict", "--site-dir", "site")


@nox.session
def bench(session: nox.Session) -> None:
    """The benchmark suite (not part of the default run): ``nox -s bench -- --quick``.

    Prints the figures and PASS/FAIL per bar and always exits 0 when it completes (shared
    machines are noisy); JSON results go to ``benchmarks/results/``.
    """
    session.install("-e", ".[cli,speedups]", *group("bench"))
    session.run("python", "benchmarks/bench.py", *session.posargs)


@nox.session
def conformance(session: nox.Session) -> None:
    """schemathesis against the emulator in each shape, from ``docs/openapi/``.

    Every check and phase, stateful links included; extra arguments go to schemathesis
    (``nox -s conformance -- --max-examples 200``). The seed is fixed so runs compare.
    """
    session.install("-e", ".", *group("conformance"))
    session.run("openapi-spec-validator", "docs/openapi/g1.yaml", "docs/openapi/g3.yaml")
    session.run(
        "python",
        "tests/conformance/run.py",
        "g1",
        "g3",
        "--seed",
        "1",
        "--continue-on-failure",
        *session.posargs,
    )


@nox.session
def interop(session: nox.Session) -> None:
    """The vendor SDK (``qca-sdk``) against the emulator's g3 shape: ``tests/interop/``."""
    session.install("-e", ".", *group("test"), *group("interop"))
    session.run("pytest", "tests/interop", "-p", "no:cacheprovider", *session.posargs)
