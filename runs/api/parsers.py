"""The API's one request parser: JSON, checked by runs.services.payloads."""

from rest_framework import exceptions, parsers

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
