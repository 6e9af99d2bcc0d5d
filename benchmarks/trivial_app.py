"""The baseline for bench_mock_load: the smallest ASGI app answering the same JSON."""

BODY = b'{"status": "processing"}'


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]})
    await send({"type": "http.response.body", "body": BODY})
