"""OpenAPI (drf-spectacular) description of our authentication: the API key
header langgraph-sdk sends. (DRF's token and session schemes are built in;
the local demo is not part of the published API.)"""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class APIKeyScheme(OpenApiAuthenticationExtension):
    target_class = "runs.api.auth.APIKeyAuthentication"
    name = "apiKeyAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "x-api-key"}
