"""The `/store` API in process: the platform transcript's requests get the
platform's answers (notes/reference/store.md), bad input gets Doubletext's
`{"error", "detail", "field"}` with the platform's status and writes
nothing, each user has their own store, and every route is in the schema."""

import pytest
import yaml
from rest_framework.test import APIClient

from store import urls as store_urls
from store.models import Item as ItemRow
from tests.conftest import make_user

pytestmark = pytest.mark.django_db

ELSEWHERE = "203.0.113.9"


def put(api, namespace, key, value, **extra):
    body = {"namespace": namespace, "key": key, "value": value, **extra}
    return api.put("/store/items", body, format="json")


def get(api, **params):
    return api.get("/store/items", params)


def search(api, body):
    return api.post("/store/items/search", body, format="json")


def namespaces(api, body):
    return api.post("/store/namespaces", body, format="json")


def delete(api, body):
    return api.delete("/store/items", body, format="json")


def refused(response, status, field):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["field"] == field and body["error"] and body["detail"], body
    return body


@pytest.fixture
def items(api):
    """The transcript's items, written in this order."""
    for namespace, key, value in [
        (["users", "bob"], "prefs", {"theme": "light", "lang": "fr"}),
        (["users", "alice", "notes"], "n1", {"text": "buy milk", "tags": ["todo"]}),
        (["docs"], "d1", {"text": "hello"}),
        (["x"], "k", {"a": 1}),
        (["users", "alice"], "prefs", {"theme": "dark", "lang": "en"}),
        (["users", "alice"], "prefs", {"theme": "blue"}),
    ]:
        assert put(api, namespace, key, value).status_code == 204
    return api


def test_put_then_get(items):
    response = get(items, namespace="users.alice", key="prefs")
    assert response.status_code == 200
    item = response.json()
    assert set(item) == {"namespace", "key", "value", "created_at", "updated_at"}  # no score
    assert item["namespace"] == ["users", "alice"] and item["key"] == "prefs"
    assert item["value"] == {"theme": "blue"}  # overwritten whole
    assert item["created_at"].endswith("+00:00") and item["created_at"] < item["updated_at"]
    assert get(items, key="d1", namespace="docs").json()["value"] == {"text": "hello"}


def test_put_with_ttl_index_and_an_empty_key(api):
    response = put(api, ["x"], "k", {"a": 1}, ttl=5, index=False)
    assert response.status_code == 204 and response.content == b""
    assert put(api, ["x"], "", {"a": 2}, ttl=None, index=["a"]).status_code == 204
    rows = {row.key: row.ttl_minutes for row in ItemRow.objects.all()}
    assert rows == {"k": 5, "": None}
    assert get(api, namespace="x", key="").json()["value"] == {"a": 2}


def test_get_of_nothing_is_null(items):
    for params in [
        {"namespace": "users.alice", "key": "nope"},
        {"namespace": "nowhere", "key": "prefs"},
        {"namespace": ["users", "alice"], "key": "prefs"},  # repeated: the last counts
    ]:
        response = get(items, **params)
        assert response.status_code == 200
        assert response["Content-Type"] == "application/json" and response.content == b"null"
    assert namespaces(items, {}).json()["namespaces"] == [  # a GET creates nothing
        ["docs"],
        ["users", "alice"],
        ["users", "alice", "notes"],
        ["users", "bob"],
        ["x"],
    ]


def test_reads_refresh_the_ttl_unless_told_not_to(api):
    put(api, ["t"], "k", {}, ttl=5)
    far = ItemRow.objects.get().expires_at.replace(year=2100)

    def renewed() -> bool:
        renewed = ItemRow.objects.get().expires_at != far
        ItemRow.objects.update(expires_at=far)
        return renewed

    ItemRow.objects.update(expires_at=far)
    get(api, namespace="t", key="k", refresh_ttl="false")
    search(api, {"refresh_ttl": False})
    assert not renewed()
    get(api, namespace="t", key="k", refresh_ttl="true")
    assert renewed()
    get(api, namespace="t", key="k")  # by default
    assert renewed()
    search(api, {"refresh_ttl": None})
    assert renewed()
    search(api, {})
    assert renewed()
    refused(get(api, namespace="t", key="k", refresh_ttl="maybe"), 422, "refresh_ttl")


def test_delete(items):
    body = {"namespace": ["users", "bob"], "key": "prefs"}
    assert delete(items, body).status_code == 204
    assert delete(items, body).status_code == 204  # missing: still 204
    assert get(items, namespace="users.bob", key="prefs").content == b"null"
    assert ItemRow.objects.count() == 4


def test_search(items):
    def keys(body):
        response = search(items, body)
        assert response.status_code == 200, response.content
        found = response.json()["items"]
        assert all(item["score"] is None for item in found)
        return [(".".join(item["namespace"]), item["key"]) for item in found]

    assert keys({"namespace_prefix": ["users"]}) == [
        ("users.alice", "prefs"),
        ("users.alice.notes", "n1"),
        ("users.bob", "prefs"),
    ]
    assert keys({"namespace_prefix": ["users"], "filter": {"theme": "light"}}) == [
        ("users.bob", "prefs")
    ]
    assert keys({"namespace_prefix": ["users"], "filter": {"tags": ["todo"]}}) == [
        ("users.alice.notes", "n1")
    ]
    assert keys({"namespace_prefix": ["users"], "limit": 1, "offset": 1}) == [
        ("users.alice.notes", "n1")
    ]
    assert keys({"namespace_prefix": ["nothing"]}) == []
    assert len(keys({})) == 5  # everything (a 500 on the platform's in-memory server)
    assert keys({"filter": {"theme": {"$eq": "blue"}}}) == [("users.alice", "prefs")]
    assert keys({"filter": {"a": {"$gte": 1}}, "namespace_prefix": None, "query": None}) == [
        ("x", "k")
    ]
    assert keys({"namespace_prefix": [], "limit": 1000, "refresh_ttl": False})[-1] == (
        "users.bob",
        "prefs",
    )


def test_namespaces(items):
    def listed(body):
        response = namespaces(items, body)
        assert response.status_code == 200, response.content
        return [".".join(ns) for ns in response.json()["namespaces"]]

    assert listed({}) == ["docs", "users.alice", "users.alice.notes", "users.bob", "x"]
    assert listed({"prefix": ["users"]}) == ["users.alice", "users.alice.notes", "users.bob"]
    assert listed({"suffix": ["alice"]}) == ["users.alice"]
    assert listed({"max_depth": 1}) == ["docs", "users", "x"]
    assert listed({"prefix": ["users"], "max_depth": 2}) == ["users.alice", "users.bob"]
    assert listed({"prefix": ["users", "*"]}) == [
        "users.alice",
        "users.alice.notes",
        "users.bob",
    ]
    assert listed({"limit": 1, "offset": 1}) == ["users.alice"]
    assert listed({"prefix": None, "suffix": None, "max_depth": None}) == listed({})


@pytest.mark.parametrize(
    "body, status, field",
    [
        ({"namespace": ["users", "a.b"], "key": "k", "value": {"x": 1}}, 422, "namespace"),
        ({"namespace": ["users", ""], "key": "k", "value": {"x": 1}}, 422, "namespace"),
        ({"namespace": [], "key": "k", "value": {"x": 1}}, 400, "namespace"),
        ({"namespace": "users", "key": "k", "value": {"x": 1}}, 422, "namespace"),
        ({"namespace": ["users", 1], "key": "k", "value": {"x": 1}}, 422, "namespace"),
        ({"key": "k", "value": {"x": 1}}, 422, "namespace"),
        ({"namespace": ["x"], "key": "k", "value": "not an object"}, 422, "value"),
        ({"namespace": ["x"], "key": "k", "value": None}, 422, "value"),
        ({"namespace": ["x"], "key": "k"}, 422, "value"),
        ({"namespace": ["x"], "value": {"a": 1}}, 422, "key"),
        ({"namespace": ["x"], "key": 12, "value": {"a": 1}}, 422, "key"),
        ({"namespace": ["x"], "key": None, "value": {"a": 1}}, 422, "key"),
        ({"namespace": ["langgraph"], "key": "k", "value": {"a": 1}}, 422, "namespace"),
        ({"namespace": ["x"], "key": "k", "value": {"a": 1}, "ttl": -1}, 422, "ttl"),
        ({"namespace": ["x"], "key": "k", "value": {"a": 1}, "ttl": "5"}, 422, "ttl"),
        ({"namespace": ["x"], "key": "k", "value": {"a": 1}, "ttl": True}, 422, "ttl"),
        ({"namespace": ["x"], "key": "k", "value": {"a": 1}, "ttl": 1e12}, 422, "ttl"),
        ({"namespace": ["x"], "key": "k", "value": {"a": 1}, "index": True}, 422, "index"),
        ({"namespace": ["x"], "key": "k", "value": {"a": 1}, "index": [1]}, 422, "index"),
        ({"namespace": ["x\u0000"], "key": "k", "value": {"a": 1}}, 422, "namespace[0]"),
        ({"namespace": ["x"], "key": "k", "value": {"a": "\u0000"}}, 422, "value.a"),
        ({"namespace": ["x"], "key": "k" * 1025, "value": {"a": 1}}, 422, "key"),
        ({"namespace": ["x" * 1025], "key": "k", "value": {"a": 1}}, 422, "namespace"),
    ],
)
def test_bad_puts(api, body, status, field):
    response = api.put("/store/items", body, format="json")
    assert response.status_code == status, response.content
    assert response.json().get("field") == field
    assert not ItemRow.objects.exists()


def test_bad_gets(items):
    body = refused(get(items, namespace="users.alice"), 400, "key")
    assert body["detail"] == "Key is required."
    refused(get(items, key="prefs"), 422, "namespace")
    refused(get(items, namespace="users..alice", key="prefs"), 422, "namespace")
    refused(get(items, namespace="users.", key="prefs"), 422, "namespace")
    refused(get(items, namespace="users\x00", key="prefs"), 422, "namespace")


def test_bad_deletes(items):
    refused(delete(items, {"namespace": ["users", "bob"]}), 422, "key")
    refused(delete(items, {"key": "prefs"}), 422, "namespace")
    refused(delete(items, {"namespace": [], "key": "prefs"}), 400, "namespace")
    refused(delete(items, {"namespace": ["a.b"], "key": "prefs"}), 422, "namespace")
    refused(items.delete("/store/items"), 422, "namespace")  # no body
    assert ItemRow.objects.count() == 5


@pytest.mark.parametrize(
    "body, field",
    [
        ({"limit": "x"}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"limit": 0}, "limit"),
        ({"offset": -1}, "offset"),
        ({"offset": 2**40}, "offset"),
        ({"query": "milk"}, "query"),
        ({"query": ""}, "query"),
        ({"namespace_prefix": ["a.b"]}, "namespace_prefix"),
        ({"namespace_prefix": "users"}, "namespace_prefix"),
        ({"filter": "theme=blue"}, "filter"),
        ({"filter": {"n": {"$in": [1]}}}, "filter.n.$in"),
        ({"filter": {"n": {"$gt": True}}}, "filter.n.$gt"),
        ({"filter": {"a": {"b": {"$gt": 1, "c": 2}}}}, "filter.a.b.c"),
        ({"refresh_ttl": "sometimes"}, "refresh_ttl"),
    ],
)
def test_bad_searches(items, body, field):
    refused(search(items, body), 422, field)


@pytest.mark.parametrize(
    "body, field",
    [
        ({"max_depth": 0}, "max_depth"),
        ({"max_depth": "deep"}, "max_depth"),
        ({"limit": 1001}, "limit"),
        ({"offset": -1}, "offset"),
        ({"prefix": ["a.b"]}, "prefix"),
        ({"suffix": [""]}, "suffix"),
        ({"suffix": "x"}, "suffix"),
    ],
)
def test_bad_namespace_listings(items, body, field):
    refused(namespaces(items, body), 422, field)


def test_each_user_has_their_own_store(items):
    bob = APIClient()
    bob.force_authenticate(make_user("bob"))
    assert get(bob, namespace="users.alice", key="prefs").content == b"null"
    assert search(bob, {}).json() == {"items": []}
    assert namespaces(bob, {}).json() == {"namespaces": []}
    assert delete(bob, {"namespace": ["users", "alice"], "key": "prefs"}).status_code == 204
    assert put(bob, ["users", "alice"], "prefs", {"theme": "bob's"}).status_code == 204
    assert get(items, namespace="users.alice", key="prefs").json()["value"] == {"theme": "blue"}
    assert get(bob, namespace="users.alice", key="prefs").json()["value"] == {"theme": "bob's"}
    assert [i["value"] for i in search(bob, {}).json()["items"]] == [{"theme": "bob's"}]


def test_without_credentials_it_is_401(settings):
    settings.LOCAL_DEMO = False
    client = APIClient(REMOTE_ADDR=ELSEWHERE)
    assert client.get("/store/items", {"namespace": "a", "key": "k"}).status_code == 401
    assert client.post("/store/items/search", {}, format="json").status_code == 401
    assert client.post("/store/namespaces", {}, format="json").status_code == 401
    body = {"namespace": ["a"], "key": "k", "value": {}}
    assert client.put("/store/items", body, format="json").status_code == 401
    assert client.delete("/store/items", body, format="json").status_code == 401
    assert not ItemRow.objects.exists()


def test_every_store_route_is_in_the_schema(client):
    schema = yaml.safe_load(client.get("/api/schema/").content)
    for pattern in store_urls.urlpatterns:
        assert "/" + str(pattern.pattern) in schema["paths"], pattern
    items = schema["paths"]["/store/items"]
    assert set(items) >= {"get", "put", "delete"}
    assert "requestBody" in items["delete"]  # DELETE takes its namespace and key in a body
