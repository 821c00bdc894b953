"""Assistants over REST: the platform's paths and shapes, the errors (unknown
fields, a default assistant changed, another user's), paging headers, and the
graph endpoints for a user's assistant."""

import pytest
from rest_framework.test import APIClient

from runs.graphs import registry
from tests.conftest import make_user

pytestmark = pytest.mark.django_db

AGENT = registry.assistant_uuid("agent")


def post(api, url, body=None):
    return api.post(url, body, format="json")


def refused(response, status: int, field: str | None) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert body.get("field") == field, body
    assert body["error"] and body["detail"]
    return body


def create(api, **body) -> dict:
    response = post(api, "/assistants", {"graph_id": "agent", **body})
    assert response.status_code == 200, response.content
    return response.json()


def test_create_get_and_the_platform_s_shape(api):
    made = create(api, name="terse", context={"reply_words": 3}, description="short answers")
    assert set(made) == {
        "assistant_id",
        "graph_id",
        "config",
        "context",
        "created_at",
        "updated_at",
        "metadata",
        "version",
        "name",
        "description",
    }
    assert made["version"] == 1 and made["config"] == {"configurable": {"reply_words": 3}}
    got = api.get(f"/assistants/{made['assistant_id']}")
    assert got.status_code == 200 and got.json() == made
    default = api.get("/assistants/agent").json()
    assert default["assistant_id"] == AGENT and default["metadata"] == {"created_by": "system"}


def test_unknown_fields_are_refused_naming_them(api):
    refused(post(api, "/assistants", {"graph_id": "agent", "temperature": 1}), 422, "temperature")
    made = create(api)
    aid = made["assistant_id"]
    refused(
        api.patch(f"/assistants/{aid}", {"if_exists": "raise"}, format="json"), 422, "if_exists"
    )
    refused(post(api, "/assistants/search", {"query": "x"}), 422, "query")
    refused(post(api, "/assistants/count", {"limit": 1}), 422, "limit")
    refused(post(api, f"/assistants/{aid}/versions", {"sort_by": "version"}), 422, "sort_by")
    refused(post(api, f"/assistants/{aid}/latest", {"version": 1, "x": 1}), 422, "x")
    refused(post(api, "/assistants/search", {"select": ["owner"]}), 422, "select[0]")
    refused(post(api, "/assistants/search", {"sort_by": "owner"}), 422, "sort_by")
    refused(post(api, "/assistants", {"graph_id": "nope"}), 404, "graph_id")
    refused(
        post(api, "/assistants", {"graph_id": "agent", "assistant_id": "x"}), 422, "assistant_id"
    )
    refused(post(api, "/assistants", {"graph_id": "agent", "config": []}), 422, "config")


def test_the_default_assistants_are_read_only(api):
    for response in (
        api.patch(f"/assistants/{AGENT}", {"name": "mine"}, format="json"),
        api.delete("/assistants/agent"),
        post(api, f"/assistants/{AGENT}/latest", {"version": 1}),
    ):
        refused(response, 403, "assistant_id")
    versions = post(api, f"/assistants/{AGENT}/versions", {}).json()
    assert [v["version"] for v in versions] == [1]


def test_update_versions_set_latest_and_delete(api):
    aid = create(api, metadata={"team": "red"}, context={"reply_words": 3})["assistant_id"]
    updated = api.patch(
        f"/assistants/{aid}", {"context": {"reply_words": 9}, "metadata": {"n": 2}}, format="json"
    ).json()
    assert updated["version"] == 2 and updated["metadata"] == {"team": "red", "n": 2}
    versions = post(api, f"/assistants/{aid}/versions", {"limit": 10}).json()
    assert [v["version"] for v in versions] == [2, 1]
    assert "updated_at" not in versions[0] and versions[1]["context"] == {"reply_words": 3}
    latest = post(api, f"/assistants/{aid}/latest", {"version": 1}).json()
    assert latest["version"] == 1 and latest["context"] == {"reply_words": 3}
    refused(post(api, f"/assistants/{aid}/latest", {"version": 7}), 404, "version")
    refused(post(api, f"/assistants/{aid}/latest", {}), 422, "version")
    assert api.delete(f"/assistants/{aid}?delete_threads=true").status_code == 204
    refused(api.get(f"/assistants/{aid}"), 404, "assistant_id")


def test_search_pages_with_the_platform_s_headers(api):
    for i in range(3):
        create(api, name=f"item{i}")
    first = post(api, "/assistants/search", {"limit": 2})
    assert first["x-pagination-total"] == "3" and first["x-pagination-next"] == "2"
    rest = post(api, "/assistants/search", {"limit": 4, "offset": 2})
    assert rest["x-pagination-total"] == "5" and "x-pagination-next" not in rest
    assert post(api, "/assistants/count", {"name": "ITEM"}).json() == 3
    names = post(api, "/assistants/search", {"sort_by": "name", "sort_order": "desc"}).json()
    assert [a["name"] for a in names][:3] == ["item2", "item1", "item0"]


def test_another_users_assistant_is_404_everywhere(api):
    aid = create(api, name="alice's")["assistant_id"]
    bob = APIClient()
    bob.force_authenticate(make_user("bob"))
    for response in (
        bob.get(f"/assistants/{aid}"),
        bob.patch(f"/assistants/{aid}", {"name": "bob's"}, format="json"),
        bob.delete(f"/assistants/{aid}"),
        post(bob, f"/assistants/{aid}/versions", {}),
        post(bob, f"/assistants/{aid}/latest", {"version": 1}),
        bob.get(f"/assistants/{aid}/graph"),
        bob.get(f"/assistants/{aid}/schemas"),
        bob.get(f"/assistants/{aid}/subgraphs"),
    ):
        refused(response, 404, "assistant_id")
    assert post(bob, "/assistants/count", {}).json() == 2
    taken = post(bob, "/assistants", {"graph_id": "agent", "assistant_id": aid})
    refused(taken, 409, "assistant_id")
    assert "alice" not in taken.content.decode()


def test_the_graph_endpoints_serve_a_users_assistant(api):
    aid = create(api, graph_id="hitl")["assistant_id"]
    graph = api.get(f"/assistants/{aid}/graph").json()
    assert {node["id"] for node in graph["nodes"]} >= {"model", "tools"}
    schemas = api.get(f"/assistants/{aid}/schemas").json()
    assert schemas["graph_id"] == "hitl" and "reply_words" in str(schemas["context_schema"])
    assert api.get(f"/assistants/{aid}/subgraphs?recurse=true").json() == {}
    assert api.get(f"/assistants/{aid}/subgraphs/tools").json() == {}
