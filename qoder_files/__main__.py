"""``python -m qoder_files``: the ``qoder-files`` command line (needs the ``cli`` extra)."""

from __future__ import annotations

__all__: list[str] = []

if __name__ == "__main__":
    from qoder_files.cli import main

    main(prog_name="qoder-files")
