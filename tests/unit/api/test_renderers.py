"""The API's JSON renderer writes what DRF's writes (with orjson), falls back
to DRF's for what orjson refuses, and writes NaN as null."""

import datetime
import decimal
import math
import uuid

import pytest
from django.utils.translation import gettext_lazy
from rest_framework import renderers
from rest_framework.exceptions import ErrorDetail
from rest_framework.settings import api_settings

from runs.api.renderers import JSONRenderer

PAYLOAD = {
    "values": {
        "messages": [
            {"type": "human", "content": "héllo ✓ 日本", "id": "m1", "extra": None},
            {"type": "ai", "content": "line\u2028para\u2029end", "tool_calls": [], "n": 1.5},
        ]
    },
    "created_at": datetime.datetime(2026, 11, 27, 17, 1, 2, 345678, tzinfo=datetime.UTC),
    "day": datetime.date(2026, 11, 27),
    "amount": decimal.Decimal("1.25"),
    "id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "detail": ErrorDetail("Not found.", code="not_found"),
    "lazy": gettext_lazy("This field is required."),
    "pair": (1, 2),
    "flags": [True, False, 0, -3, 2**63 - 1],
}


def drf(data, media_type=None):
    return renderers.JSONRenderer().render(data, media_type, {})


def test_it_writes_the_bytes_drfs_renderer_writes():
    assert JSONRenderer().render(PAYLOAD, "application/json", {}) == drf(PAYLOAD)
    assert b"\\u2028" in drf(PAYLOAD) and b"\xe2\x80\xa8" not in drf(PAYLOAD)


@pytest.mark.parametrize(
    "data",
    [{"big": 2**70}, {1: "a key that is not a string"}, {"deep": [{"big": -(2**64)}]}],
    ids=["beyond-64-bits", "int-key", "nested"],
)
def test_what_orjson_refuses_is_rendered_by_drf(data):
    assert JSONRenderer().render(data, "application/json", {}) == drf(data)


def test_an_indent_asked_for_is_drfs():
    indented = JSONRenderer().render({"a": [1]}, "application/json; indent=2", {})
    assert indented == drf({"a": [1]}, "application/json; indent=2")
    assert indented == b'{\n  "a": [\n    1\n  ]\n}'


def test_nan_is_null_where_drf_failed():
    with pytest.raises(ValueError):
        drf({"score": math.nan})
    assert JSONRenderer().render({"score": math.nan, "top": math.inf}, None, {}) == (
        b'{"score":null,"top":null}'
    )


def test_no_data_is_no_body():
    assert JSONRenderer().render(None) == b""


def test_it_is_the_apis_json_renderer():
    assert api_settings.DEFAULT_RENDERER_CLASSES[0] is JSONRenderer
