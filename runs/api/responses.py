"""What the API's views share: body validation, streamed responses, the SSE
renderer, the run-creation rate limit."""

import asyncio
import json

from django.http import StreamingHttpResponse
from rest_framework.renderers import BaseRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from runs.api.renderers import JSONRenderer
from runs.services.paging import Page
from runs.services.rate_limit import RunCreationThrottle


class JSONText(str):
    """JSON already encoded (a stored column's text): a body sent as it is."""


class EventStreamRenderer(BaseRenderer):
    """Lets SSE endpoints accept `Accept: text/event-stream`. Their bodies are
    streamed as they are; an error before the stream starts is sent as JSON."""

    media_type = "text/event-stream"
    format = "sse"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return json.dumps(data, default=str).encode()


class CreatesRuns(APIView):
    """A view whose POST creates a run: rate limited per user (services.rate_limit)."""

    def get_throttles(self):
        return [RunCreationThrottle()] if self.request.method == "POST" else []


class SSEView(APIView):
    renderer_classes = [JSONRenderer, EventStreamRenderer]


def paged(page: Page) -> Response:
    """A page of search results with the platform's paging headers."""
    response = Response(page.items)
    response["x-pagination-total"] = str(page.total)
    if page.next_offset is not None:
        response["x-pagination-next"] = str(page.next_offset)
    return response


def validated(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def streaming(body, content_type: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(body, content_type=content_type)
    response["Cache-Control"] = "no-store"
    response["X-Accel-Buffering"] = "no"
    return response


# While a wait goes on, a newline this often (JSON allows leading whitespace):
# proxies and clients see the connection alive, as the platform's waits do.
KEEPALIVE_SECONDS = 5.0


def json_after(awaitable_factory) -> StreamingHttpResponse:
    """A JSON response whose body is computed by an async function (a wait)."""

    async def body():
        task = asyncio.ensure_future(awaitable_factory())
        try:
            while True:
                done, _ = await asyncio.wait({task}, timeout=KEEPALIVE_SECONDS)
                if done:
                    break
                yield b"\n"
            result = task.result()
            if isinstance(result, JSONText):
                yield result.encode()
            else:
                yield json.dumps(result, default=str).encode()
        finally:
            task.cancel()

    return streaming(body(), "application/json")
