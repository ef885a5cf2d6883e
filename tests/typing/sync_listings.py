"""Checked by mypy, never run: what the blocking listings let a caller write.

A bulk scan merges several listings, so it has no server pages: calling ``pages()`` on it is
a type error. The ``type: ignore`` below is required, and strict mode's ``warn_unused_ignores``
makes mypy fail if the call ever type-checks again.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import assert_type

from qoder_files import Client, File, Page, SyncPager, SyncScan


def listing_has_pages(client: Client) -> Iterator[Page[File]]:
    assert_type(client.list_files(), SyncPager)
    return client.list_files(limit=10).pages()


def scan_has_no_pages(client: Client) -> object:
    assert_type(client.scan_files(), SyncScan)
    return client.scan_files().pages()  # type: ignore[attr-defined]


def both_iterate_and_collect(client: Client) -> list[File]:
    with client.list_files(max_items=5) as pager, client.scan_files(max_items=5) as scan:
        assert_type(pager, SyncPager)
        assert_type(scan, SyncScan)
        return [*pager, *scan.collect()]
