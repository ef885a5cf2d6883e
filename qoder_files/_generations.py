"""The API generations a server may speak, how to tell them apart, and how a listing reads in each.

The published docs describe two listing dialects that no single request satisfies:

- ``g1``, the seed generation (and G2/CN, which keep its shape): items carry ``file_id`` and
  ``purpose``; the list route knows ``purpose``, ``limit``, ``after`` and ``before``.
- ``g3``, the newest: items carry ``id`` and ``type``, the envelope always has ``next_page``;
  the list route knows ``page``, ``after_id``, ``before_id``, ``limit``, ``name`` (a filename
  prefix) and ``scope_id``, and has no ``purpose``.

A strict server of either kind silently ignores the other kind's parameters, so a request in
the wrong dialect does not fail: it returns the wrong page. The SDK therefore builds listing
requests in one neutral vocabulary (``_cursor``), learns the generation from the first list
response it reads (or from a one-time probe, see ``needs_probe``), and renders each request
into the server's dialect just before it is sent. A filter the server's generation cannot apply
and the SDK cannot apply for it raises ``ValueError`` before anything is handed out.

Pure: no I/O, no asyncio, no aiohttp.
"""

from __future__ import annotations

from typing import Any

from . import _convert
from ._wire import Request, Response, decipher
from .models import File, Page

__all__ = [
    "AUTO",
    "G1",
    "G3",
    "GENERATIONS",
    "Dialect",
    "check_generation",
    "decipher_objects_page_generation",
    "decipher_page_generation",
    "detect",
]

AUTO = "auto"
G1 = "g1"
G3 = "g3"
GENERATIONS = (AUTO, G1, G3)

# Parameters whose meaning depends on the generation: a request carrying one of them is not
# sent before the generation is known.
_DEPENDENT = frozenset({"after", "before", "purpose", "name", "scope_id"})
_G3_NAMES = {"after": "after_id", "before": "before_id"}


def check_generation(value: object) -> str:
    """``api_generation`` must be ``"auto"``, ``"g1"`` or ``"g3"``."""
    if value not in GENERATIONS:
        raise ValueError(f"api_generation must be one of 'auto', 'g1' or 'g3', got {value!r}")
    return str(value)


def detect(payload: Any) -> str:
    """The generation a decoded list response was written in.

    The first item decides when there is one (``file_id``: g1; ``id`` with ``type``: g3);
    an empty page is g3 when its envelope has the ``next_page`` key newer servers always send.
    """
    if isinstance(payload, dict):
        data = payload.get("data")
        if isinstance(data, list) and data and isinstance(data[0], dict):
            first = data[0]
            if "file_id" in first:
                return G1
            if "id" in first and "type" in first:
                return G3
        if "next_page" in payload:
            return G3
    return G1


def decipher_page_generation(response: Response) -> tuple[Page[File], str]:
    """Read a list response into a ``Page[File]``, with the generation it was written in."""

    def build(payload: Any, request_id: str | None) -> tuple[Page[File], str]:
        return _convert.structure_page(payload, request_id), detect(payload)

    return decipher(response, build, "list response")


def decipher_objects_page_generation(
    response: Response,
) -> tuple[Page[dict[str, Any]], str]:
    """Like ``decipher_page_generation``, but the items stay the JSON objects as sent."""

    def build(payload: Any, request_id: str | None) -> tuple[Page[dict[str, Any]], str]:
        return _convert.structure_objects_page(payload, request_id), detect(payload)

    return decipher(response, build, "list response")


class Dialect:
    """One client's knowledge of its server's generation: pinned, or learned once.

    Attributes:
        generation: ``"g1"``, ``"g3"``, or ``None`` while unknown.
        pinned: Whether the caller fixed it (then responses never change it).
    """

    __slots__ = ("generation", "pinned")

    def __init__(self, api_generation: str = AUTO) -> None:
        self.pinned = api_generation != AUTO
        self.generation: str | None = api_generation if self.pinned else None

    def learn(self, generation: str) -> None:
        """Remember the generation a response showed (the first one wins; a pin always does)."""
        if self.generation is None:
            self.generation = generation

    def needs_probe(self, request: Request) -> bool:
        """Whether ``request`` must wait until the generation is known.

        A listing's first request without a cursor or a filter is read the same way by both
        generations, and its answer tells which one it was; anything else would be misread
        by one of them. That costs a one-time probe (``GET files?limit=1``) per client, only
        for clients whose first listing starts from a cursor or with a filter.
        """
        return self.generation is None and any(name in _DEPENDENT for name, _ in request.params)

    def render(self, request: Request) -> Request:
        """``request`` in the server's dialect (the generation must be known, or the request
        must not depend on it).

        Raises:
            ValueError: the request filters by something this generation has no data for:
                ``purpose`` on g3, ``scope_id`` on g1.
        """
        if self.generation == G3:
            params: list[tuple[str, str]] = []
            for name, value in request.params:
                if name == "purpose":
                    raise ValueError(
                        "purpose cannot filter this listing: the server speaks the newest API "
                        "generation (g3), whose files have no purpose; use name= or scope_id="
                    )
                params.append((_G3_NAMES.get(name, name), value))
            return Request(method=request.method, path=request.path, params=tuple(params))
        names = [name for name, _ in request.params]
        if "scope_id" in names:
            raise ValueError(
                "scope_id cannot filter this listing: the server speaks the seed API "
                "generation (g1), whose files carry no scope"
            )
        if "name" in names:  # the SDK filters by name itself: the server would ignore it
            kept = tuple(pair for pair in request.params if pair[0] != "name")
            return Request(method=request.method, path=request.path, params=kept)
        return request

    def filters_names_itself(self) -> bool:
        """Whether a ``name`` filter is applied by the SDK (the server cannot apply it)."""
        return self.generation != G3
