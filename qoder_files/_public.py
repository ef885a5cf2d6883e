"""Where public objects say they live: the import path users type, not the private module.

``publish()`` sets ``__module__`` on the classes and functions a package exports, so that
tracebacks, reprs, pickles and the API reference name ``qoder_files.File`` rather than
``qoder_files.models.File``. It keeps one thing true that a bare ``__module__`` assignment would
break: ``typing.get_type_hints()`` resolves a class's string annotations in the namespace of
the module ``__module__`` names, so those annotations are resolved first, in the module that
wrote them. This module imports nothing beyond the standard library and does no I/O.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Iterable, Mapping

__all__ = ["publish"]


def publish(module: str, namespace: Mapping[str, object], names: Iterable[str]) -> None:
    """Make the classes and functions among ``names`` report ``module`` as their home.

    Args:
        module: The public module name, such as ``"qoder_files"``.
        namespace: Where the names are bound (the calling module's ``globals()``).
        names: The exported names; values other than classes and functions are left alone.
    """
    for name in names:
        obj = namespace[name]
        if isinstance(obj, type):
            # Its methods follow it, so that documentation tools inspecting the live class
            # find them where the class is, not under a module that no longer claims it.
            for member in vars(obj).values():
                if isinstance(member, types.FunctionType) and member.__module__ == obj.__module__:
                    member.__module__ = module
            own = inspect.get_annotations(obj)
            if own:
                # Resolved while ``__module__`` still names the defining module, whose globals
                # hold what the strings refer to.
                hints = typing.get_type_hints(obj, include_extras=True)
                obj.__annotations__ = {key: hints[key] for key in own}
        elif not isinstance(obj, types.FunctionType):
            continue
        obj.__module__ = module
