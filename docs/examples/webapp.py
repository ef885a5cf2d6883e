"""An aiohttp.web service over the Files API: a listing page by page, content streamed both ways.

One ``AsyncClient`` serves the whole app (its connection pool is shared by every request);
nothing here holds a whole file in memory, whatever its size.

- ``GET /files?cursor=...`` answers one page as JSON, with the cursor of the next;
- ``GET /files/{file_id}/content`` streams the content to the browser as it arrives;
- ``POST /files`` (a multipart form whose first part is the file, named ``file``) streams the
  browser's upload through to the API.

Run it with ``QODER_PAT`` (and ``QODER_BASE_URL``, for the emulator) set::

    python -m aiohttp.web -H localhost -P 8080 webapp:make_app
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from urllib.parse import quote

from aiohttp import BodyPartReader, web

from qoder_files import (
    APIConnectionError,
    APIError,
    AsyncClient,
    TransferInterruptedError,
    converter,
)

CLIENT = web.AppKey("client", AsyncClient)


async def files_client(app: web.Application) -> AsyncIterator[None]:
    """One client for the app's life, closed when the app shuts down."""
    async with AsyncClient() as client:  # QODER_PAT and QODER_BASE_URL from the environment
        app[CLIENT] = client
        yield


@web.middleware
async def api_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """The API's refusals become the app's; anything else broken upstream is a 502."""
    try:
        return await handler(request)
    except TransferInterruptedError:
        # Headers and part of the body are already out: the only honest signal left is to
        # drop the connection, so the browser sees a short body, never a wrong one.
        raise
    except APIError as error:
        status = error.status_code if 400 <= error.status_code < 500 else 502
        return web.json_response({"error": error.message, "type": error.type}, status=status)
    except APIConnectionError as error:
        return web.json_response({"error": error.message}, status=502)
    except ValueError as error:  # a bad id, cursor or limit, refused before any request
        return web.json_response({"error": str(error)}, status=400)


async def list_files(request: web.Request) -> web.Response:
    """One page of the listing, newest first; pass ``next_cursor`` back for the next one."""
    page = await request.app[CLIENT].get_page(
        after=request.query.get("cursor") or None,
        limit=int(request.query.get("limit", "20")),
    )
    return web.json_response(
        {
            "data": [converter.unstructure(file) for file in page.data],
            "next_cursor": page.last_id if page.has_more else None,
        }
    )


async def download(request: web.Request) -> web.StreamResponse:
    """The content, streamed to the browser chunk by chunk as it arrives from storage."""
    file_id = request.match_info["file_id"]
    async with request.app[CLIENT].stream_file(file_id) as stream:
        # Errors up to here (no such file, not downloadable) become JSON answers: nothing
        # has been sent yet.
        response = web.StreamResponse(
            headers={
                "Content-Type": stream.content_type,
                "Content-Disposition": (
                    f"attachment; filename*=UTF-8''{quote(stream.filename or file_id)}"
                ),
            }
        )
        if stream.size is not None:
            response.content_length = stream.size
        await response.prepare(request)
        async for chunk in stream:
            # Waits while the browser is slower than storage, so memory stays flat. If the
            # browser leaves, this raises, and leaving the block releases the upstream fetch.
            await response.write(chunk)
    await response.write_eof()
    return response


async def upload(request: web.Request) -> web.Response:
    """The browser's upload, streamed through to the API part by part as it arrives."""
    reader = await request.multipart()
    part = await reader.next()
    if not isinstance(part, BodyPartReader) or part.name != "file" or not part.filename:
        return web.json_response(
            {"error": "send a multipart form whose first part is the file, named 'file'"},
            status=400,
        )

    async def chunks() -> AsyncIterator[bytes]:
        while chunk := await part.read_chunk():
            yield chunk

    file = await request.app[CLIENT].upload_file(
        chunks(), filename=part.filename, purpose=request.query.get("purpose")
    )
    return web.json_response(converter.unstructure(file), status=201)


def make_app(argv: list[str] | None = None) -> web.Application:
    """The application (``argv`` is what ``python -m aiohttp.web`` passes; unused)."""
    app = web.Application(middlewares=[api_errors])
    app.cleanup_ctx.append(files_client)
    app.router.add_get("/files", list_files)
    app.router.add_get("/files/{file_id}/content", download)
    app.router.add_post("/files", upload)
    return app
