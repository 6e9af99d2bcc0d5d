"""The ASGI face of :class:`MockService` (served by uvicorn)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from mock_server.service import RESULTS, MockService

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]]


def create_app(service: MockService) -> ASGIApp:
    """An ASGI app over ``service``; no lifespan hooks (httpx's ASGI transport does not run them)."""

    async def app(scope: Scope, receive: Callable[[], Awaitable[Message]],
                  send: Callable[[Message], Awaitable[None]]) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        host = headers.get("host") or "{}:{}".format(*(scope.get("server") or ("127.0.0.1", 80)))
        base = f"{scope.get('scheme', 'http')}://{host}"
        args = (scope["method"], scope["path"], scope.get("query_string", b"").decode(), body, base)
        # a result video may be rendered (about a second): off the loop, so polls are answered meanwhile
        reply = await asyncio.to_thread(service.handle, *args) if scope["path"].startswith(RESULTS) \
            else service.handle(*args)
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.drop:
            # promise a body, send part of it, stop: the client sees the connection cut mid-answer
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json"), (b"content-length", b"64")]})
            await send({"type": "http.response.body", "body": b'{"status": "sta', "more_body": False})
            return
        raw_headers = [(k.encode(), v.encode()) for k, v in reply.headers.items()]
        raw_headers.append((b"content-length", str(len(reply.body)).encode()))
        await send({"type": "http.response.start", "status": reply.status, "headers": raw_headers})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else reply.body})

    return app
