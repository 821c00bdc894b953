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
    reads it (some proxies forward no headers but x-* ones)."""

    def select_parser(self, request, parsers):
        if not request.content_type:
            return parsers[0]
        return super().select_parser(request, parsers)
