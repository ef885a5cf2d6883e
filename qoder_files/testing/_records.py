"""Bounded keyed records for the emulator: download links and idempotency outcomes.

``LruRecords`` keeps at most ``capacity`` entries, forgetting the least recently used first,
and (when given a lifetime) treats an entry older than that lifetime as absent. Whatever a
client sends, the emulator's memory for these records stays bounded. Pure data: no HTTP.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["LruRecords", "check_capacity"]

V = TypeVar("V")


def check_capacity(name: str, value: object) -> int:
    """``value`` if it is an int of at least 1 (not a bool), else a ``ValueError`` naming it."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an int of at least 1, got {value!r}")
    return value


class LruRecords(Generic[V]):
    """At most ``capacity`` values by string key, least recently used forgotten first.

    Args:
        capacity: How many entries are kept at most.
        lifetime: Seconds an entry lives after it is stored (``None``: until evicted).
        clock: The time source for ``lifetime`` (monotonic seconds).
    """

    def __init__(
        self,
        capacity: int,
        *,
        lifetime: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.capacity = capacity
        self.lifetime = lifetime
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, V]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> V | None:
        """The value stored under ``key`` (now the most recently used), or ``None``."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        stored_at, value = entry
        if self.lifetime is not None and self._clock() - stored_at >= self.lifetime:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return value

    def put(self, key: str, value: V) -> None:
        """Store ``value`` under ``key``, forgetting the least recently used beyond capacity."""
        self._entries[key] = (self._clock(), value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)
