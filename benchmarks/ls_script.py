"""The hand-written contender of the command-line benchmark: list every file as JSON lines.

What a user would write instead of ``qoder-files ls --format jsonl --limit 100``: aiohttp for
the requests, orjson both ways, one write per page. No retries, no checks, no models.

    python benchmarks/ls_script.py BASE_URL TOKEN > files.jsonl
"""

from __future__ import annotations

import asyncio
import sys

import aiohttp
import orjson


async def main(base_url: str, token: str) -> None:
    out = sys.stdout.buffer
    headers = {"Authorization": f"Bearer {token}"}
    params = {"limit": "100"}
    async with aiohttp.ClientSession(headers=headers) as session:
        while True:
            async with session.get(f"{base_url}/files", params=params) as response:
                response.raise_for_status()
                page = orjson.loads(await response.read())
            items = page["data"]
            if items:
                out.write(b"".join(orjson.dumps(item) + b"\n" for item in items))
                out.flush()
            if not page["has_more"]:
                return
            params = {"limit": "100", "after": page["last_id"]}


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
