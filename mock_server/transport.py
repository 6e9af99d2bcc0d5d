"""The in-process face of :class:`MockService`: an httpx transport, sync and async, no sockets."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx

from mock_server.service import HttpReply, MockService


class MockTransport(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """Answers httpx requests from the mock service; any host name reaches it.

    ``sleep`` is how a sync request waits out a slow-response fault (by default it
    moves the service's manual clock, when it has one); async requests use
    ``asyncio.sleep``, which follows the virtual clock under ``run_virtual``.
    """

    def __init__(self, service: MockService, *, sleep: Callable[[float], object] | None = None) -> None:
        self.service = service
        self._sleep = sleep or service.advance_clock or (lambda s: None)

    def _call(self, request: httpx.Request, body: bytes) -> HttpReply:
        url = request.url
        base = f"{url.scheme}://{url.netloc.decode('ascii')}"
        return self.service.handle(request.method, url.path, url.query.decode("ascii"), body, base)

    @staticmethod
    def _response(reply: HttpReply, request: httpx.Request) -> httpx.Response:
        if reply.drop:
            raise httpx.RemoteProtocolError("Server disconnected without sending a complete response.",
                                            request=request)
        return httpx.Response(reply.status, headers=reply.headers, content=reply.body, request=request)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        reply = self._call(request, request.read())
        if reply.delay:
            self._sleep(reply.delay)
        return self._response(reply, request)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        # a result video may be rendered on the way (seconds of work in a worker process): in a thread, as the
        # ASGI adapter does, so other requests, and other renders, go on meanwhile; anything else at once
        reply = self._call(request, body) if self.service.answers_at_once(request.url.path) \
            else await asyncio.to_thread(self._call, request, body)
        if reply.delay:
            await asyncio.sleep(reply.delay)
        return self._response(reply, request)
