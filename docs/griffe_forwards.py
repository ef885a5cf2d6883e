"""Griffe extension for the API reference: document ``Client``'s forwarded methods.

``Client`` builds its methods from ``AsyncClient``'s at import time (``_blocking``,
``_paging`` and ``_streaming``), so reading the source shows only assignments. This extension
imports the module and replaces those assignments with the real functions: signature and
docstring included.
"""

from __future__ import annotations

from typing import Any

import griffe

_FORWARDERS = ("_blocking(", "_paging(", "_streaming(")


class BlockingForwards(griffe.Extension):
    """Replace forwarded-method assignments in ``qoder_files.sync.Client`` by the functions."""

    def on_class_members(self, *, cls: griffe.Class, **kwargs: Any) -> None:
        if cls.path != "qoder_files.sync.Client":
            return
        # ``Client`` reports the module users import it from, so inspect it there.
        live = griffe.inspect(
            "qoder_files", docstring_parser=cls.docstring.parser if cls.docstring else None
        )["Client"]
        for name, member in list(cls.members.items()):
            if member.is_attribute and str(member.value).startswith(_FORWARDERS):
                cls.set_member(name, live[name])
