"""Hostile input gets a clear 4xx with a JSON body, never a server error, and
nothing is written: text the databases refuse, deep nesting, odd metadata
keys, oversized bodies (a real server), other content types."""

import json

import httpx
import pytest

from runs.models import Run, Thread
from tests.conftest import make_thread, make_user

pytestmark = pytest.mark.django_db


def post_raw(api, url, text: str):
    return api.post(url, text.encode(), content_type="application/json")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        # PostgreSQL refuses NUL in text and jsonb; lone surrogates are not UTF-8.
        ('{"assistant_id": "agent", "input": {"messages": ["a\\u0000b"]}}', "input.messages[0]"),
        ('{"assistant_id": "agent", "metadata": {"k": "\\ud800"}}', "metadata.k"),
        ('{"assistant_id": "agent", "config": {"\\u0000": 1}}', "config"),
        ('{"assistant_id": "a\\u0000"}', "assistant_id"),
        # Deep nesting, under and over the interpreter's recursion limit.
        ('{"assistant_id": "agent", "metadata": ' + '{"a": ' * 40 + "1" + "}" * 41, "metadata.a"),
    ],
)
def test_unstorable_or_deep_json_is_422_naming_the_field(api, thread_id, body, field):
    response = post_raw(api, f"/threads/{thread_id}/runs", body)
    assert response.status_code == 422, response.content
    assert response.json()["field"].startswith(field)
    assert Run.objects.count() == 0


def test_json_deeper_than_the_parser_can_go_is_400(api, thread_id):
    response = post_raw(api, f"/threads/{thread_id}/runs", "[" * 100_000 + "]" * 100_000)
    assert response.status_code == 400
    assert response.json()["error"] == "parse_error"


@pytest.mark.parametrize(
    "text",
    ["", "{", "null", "[1, 2]", '"text"', "NaN", '{"assistant_id": NaN}', "\xff\xfe"],
)
def test_malformed_or_non_object_bodies(api, thread_id, text):
    response = api.post(
        f"/threads/{thread_id}/runs", text.encode("latin-1"), content_type="application/json"
    )
    assert 400 <= response.status_code < 500
    assert "detail" in response.json()
    assert Run.objects.count() == 0


def test_other_content_types_are_415(api, thread_id):
    response = api.post(
        f"/threads/{thread_id}/runs",
        "assistant_id=agent",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 415 and response.json()["error"] == "unsupported_media_type"
    assert not Run.objects.exists()


def test_json_sent_as_text_is_read_as_json(api, thread_id):
    """As the platform reads it: agent-chat-ui's proxy forwards bodies as text."""
    body = json.dumps({"assistant_id": "agent", "metadata": {"via": "text"}})
    response = api.post(f"/threads/{thread_id}/runs", body, content_type="text/plain;charset=UTF-8")
    assert response.status_code == 200, response.content
    assert response.json()["metadata"] == {"via": "text"}
    broken = api.post(f"/threads/{thread_id}/runs", "assistant_id=agent", content_type="text/plain")
    assert broken.status_code == 400  # not JSON, whatever its content type says


def test_a_message_over_the_limit_is_422(api, thread_id, settings):
    settings.RUNS_MAX_MESSAGE_CHARS = 100
    body = {"assistant_id": "agent", "input": {"messages": ["x" * 101]}}
    response = api.post(f"/threads/{thread_id}/runs", body, format="json")
    assert response.status_code == 422
    assert response.json()["field"] == "input.messages[0].content"


@pytest.mark.parametrize(
    "metadata",
    [
        {"a__contains": "x"},
        {"": 1},
        {"owner__username": "owner"},
        {"pct%s": None, "dot.ted": 1, "$[0]": 2},
        {"nested": {"deep": [1, {"x": True}]}},
    ],
)
def test_metadata_search_treats_keys_as_data(api, owner, metadata):
    make_thread(owner, metadata={"a": "x"})
    tagged = make_thread(owner, metadata=metadata)
    response = api.post("/threads/search", {"metadata": metadata}, format="json")
    assert response.status_code == 200
    assert [t["thread_id"] for t in response.json()] == [str(tagged.pk)]


def test_metadata_search_with_any_key_is_not_an_error(api):
    # (SQLite's JSON paths cannot name a key with a double quote: no match there.)
    for key in ['quote"d', "back\\slash", "\n", "' OR 1=1 --"]:
        response = api.post("/threads/search", {"metadata": {key: "x"}}, format="json")
        assert response.status_code == 200 and response.json() == []


@pytest.mark.django_db(transaction=True)
def test_bodies_over_the_limit_are_413_before_they_are_read(live_server_url):
    from runs.models import UserAPIKey

    _, key = UserAPIKey.objects.create_key(user=make_user(), name="t")
    headers = {"x-api-key": key, "content-type": "application/json"}
    big = json.dumps({"assistant_id": "agent", "metadata": {"x": "y" * (2 * 1024 * 1024)}})
    with httpx.Client(base_url=live_server_url, headers=headers, timeout=30) as client:
        response = client.post("/threads", content=big)
        assert response.status_code == 413
        assert response.json()["error"] == "request_too_large"

        def chunks():  # no Content-Length: chunked transfer encoding
            for i in range(0, len(big), 65536):
                yield big[i : i + 65536].encode()

        response = client.post("/threads", content=chunks())
        assert response.status_code == 413
        small = client.post("/threads", content=b"{}")
        assert small.status_code == 200
    assert Thread.objects.count() == 1


def test_a_body_without_a_content_type_is_read_as_json(live_server_url):
    """(The test client cannot leave the header out; a real request can.)"""
    with httpx.Client(base_url=live_server_url, timeout=30) as client:
        thread = client.post("/threads", content=b'{"metadata": {"via": "nothing"}}')
        assert "content-type" not in thread.request.headers
        assert thread.status_code == 200, thread.text
        assert thread.json()["metadata"] == {"via": "nothing"}
