"""The API's request parsers: JSON, checked by runs.services.payloads,
whatever content type it comes with (application/json, text/plain, none)."""

from rest_framework import exceptions, parsers
from rest_framework.negotiation import DefaultContentNegotiation

from runs.services.payloads import PayloadError, check_json


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError("JSON parse error - nested too deeply.") from None
        try:
            check_json(data)
        except PayloadError as error:
            raise exceptions.ValidationError({error.field: [error.message]}) from None
        return data


class PlainTextJSONParser(JSONParser):
    """JSON sent as text/plain: a proxy that forwards bodies as strings
    (agent-chat-ui's /api passthrough) sends that."""

    media_type = "text/plain"


class JSONByDefault(DefaultContentNegotiation):
    """A body that comes with no content type is read as JSON, as the platform
    reads it (some proxies forward no headers but x-* ones). And what SDK
    clients accept (`*/*`, nothing, or exactly the view's first media type)
    gets the view's first renderer, as DRF would choose it, without building
    `request.headers` and parsing the header against each renderer: a tenth
    of a `runs.get`'s request thread in py-spy's samples, below the noise
    of its wall time (bench/README.md, twelfth round)."""

    def select_renderer(self, request, renderers, format_suffix=None):
        accept = request.META.get("HTTP_ACCEPT", "*/*")
        first = renderers[0] if renderers else None
        if (
            first is not None
            and accept in ("*/*", first.media_type)
            and not format_suffix
            and self.settings.URL_FORMAT_OVERRIDE not in request.query_params
        ):
            return first, first.media_type
        return super().select_renderer(request, renderers, format_suffix)

    def select_parser(self, request, parsers):
        if not request.content_type:
            return parsers[0]
        return super().select_parser(request, parsers)
