"""The OpenAPI schema validates and lists every endpoint."""

import pytest
import yaml
from django.urls import get_resolver
from openapi_spec_validator import validate

from runs.api import urls as api_urls

pytestmark = pytest.mark.django_db


def test_schema_validates_and_lists_every_endpoint(client):
    response = client.get("/api/schema/")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    validate(schema)
    paths = set(schema["paths"])
    for pattern in api_urls.urlpatterns:
        route = "/" + str(pattern.pattern).replace("<str:", "{").replace(">", "}")
        assert route in paths, route
    assert "post" in schema["paths"]["/threads/{thread_id}/runs/stream"]


def test_docs_page(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    assert b"swagger" in response.content.lower()
    assert get_resolver()  # the URLconf imports cleanly
