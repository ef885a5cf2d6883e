"""Type checks (mypy only, never run): streams and time limits keep exact types on both clients."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import assert_type

from qoder_files import AsyncClient, AsyncFileStream, Client, SyncFileStream, Timeout


async def async_stream(client: AsyncClient) -> int:
    async with client.stream_file("file_x", timeout=Timeout(read=5), deadline=60) as stream:
        assert_type(stream, AsyncFileStream)
        assert_type(stream.size, int | None)
        total = 0
        async for chunk in stream:
            assert_type(chunk, bytes)
            total += len(chunk)
    return total


def sync_stream(client: Client) -> int:
    with client.stream_file("file_x", chunk_size=1 << 20) as stream:
        assert_type(stream, SyncFileStream)
        return sum(len(chunk) for chunk in stream)


async def async_upload(client: AsyncClient, chunks: AsyncIterator[bytes]) -> str:
    file = await client.upload_file(chunks, filename="a.bin", size=3, timeout=Timeout(total=60))
    data = await client.download_file(file.file_id, timeout=30, deadline=120)
    assert_type(data, bytes)
    return file.file_id
