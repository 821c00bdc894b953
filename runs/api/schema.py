"""OpenAPI (drf-spectacular) description of our authentication: the API key
header langgraph-sdk sends. (DRF's token and session schemes are built in;
the local demo is not part of the published API.) And of strict bodies."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension, OpenApiSerializerExtension


class APIKeyScheme(OpenApiAuthenticationExtension):
    target_class = "runs.api.auth.APIKeyAuthentication"
    name = "apiKeyAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "x-api-key"}


class StrictBodies(OpenApiSerializerExtension):
    """A strict body (runs.api.serializers.StrictSerializer) says so in the
    schema: no property but its own (`additionalProperties: false`), so that
    clients, and fuzzers, know an unknown field is refused."""

    target_class = "runs.api.serializers.StrictSerializer"
    match_subclasses = True

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        return {**schema, "additionalProperties": False}
