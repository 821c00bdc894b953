"""ASGI middleware: refuse request bodies over settings.RUNS_MAX_REQUEST_BYTES.

Django's ASGI handler reads a whole request body before the view runs,
spooling it to disk past FILE_UPLOAD_MAX_MEMORY_SIZE, whatever its size. This
answers 413 with a JSON body instead: at once when Content-Length says too
much, or as soon as a chunked body goes past the limit.
"""

import json

from django.conf import settings


async def too_large(send, limit: int) -> None:
    body = json.dumps(
        {"error": "request_too_large", "detail": f"Request bodies may be at most {limit} bytes."}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def header(scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value
    return None


class RequestBodyLimitMiddleware:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = settings.RUNS_MAX_REQUEST_BYTES
        length = header(scope, b"content-length")
        if length is not None:
            if not length.strip().isdigit() or int(length) > limit:
                return await too_large(send, limit)
            return await self.app(scope, receive, send)
        if header(scope, b"transfer-encoding") is None:
            return await self.app(scope, receive, send)
        # A chunked body: read it here, within the limit, then hand it on.
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            body += message.get("body", b"")
            if len(body) > limit:
                return await too_large(send, limit)
            if not message.get("more_body"):
                break
        pending = [{"type": "http.request", "body": bytes(body), "more_body": False}]

        async def replay():
            return pending.pop() if pending else await receive()

        return await self.app(scope, replay, send)
