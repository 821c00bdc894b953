"""The store through LangGraph's own Python client on a real server:
`client.store.put_item / get_item / delete_item / search_items /
list_namespaces` as in the platform transcript, its errors as HTTP errors,
and two users (the local demo user, an API key's user) with a store each."""

import asyncio

import httpx
import pytest
from langgraph_sdk import get_client

from runs.models import UserAPIKey
from store.models import Item
from tests.conftest import make_user, orm

pytestmark = pytest.mark.django_db(transaction=True)


async def status_of(call) -> int:
    with pytest.raises(httpx.HTTPStatusError) as error:
        await call
    return error.value.response.status_code


async def test_items_namespaces_and_search(sdk):
    store = sdk.store
    await store.put_item(["users", "bob"], "prefs", {"theme": "light", "lang": "fr"})
    await store.put_item(["users", "alice", "notes"], "n1", {"text": "buy milk", "tags": ["todo"]})
    await store.put_item(["docs"], "d1", {"text": "hello"})
    await store.put_item(["users", "alice"], "prefs", {"theme": "dark", "lang": "en"})
    await store.put_item(["users", "alice"], "prefs", {"theme": "blue"}, ttl=60, index=False)

    item = await store.get_item(["users", "alice"], "prefs")
    assert item["namespace"] == ["users", "alice"] and item["key"] == "prefs"
    assert item["value"] == {"theme": "blue"}
    assert item["created_at"] < item["updated_at"]
    assert await store.get_item(["users", "alice"], "nope") is None
    again = await store.get_item(["users", "alice"], "prefs", refresh_ttl=False)
    assert again == item

    found = await store.search_items(["users"])
    assert [(i["namespace"], i["key"]) for i in found["items"]] == [
        (["users", "alice"], "prefs"),
        (["users", "alice", "notes"], "n1"),
        (["users", "bob"], "prefs"),
    ]
    assert all(i["score"] is None for i in found["items"])
    light = await store.search_items(["users"], filter={"theme": "light"})
    assert [i["value"] for i in light["items"]] == [{"theme": "light", "lang": "fr"}]
    todo = await store.search_items([], filter={"tags": {"$eq": ["todo"]}})
    assert [i["key"] for i in todo["items"]] == ["n1"]
    second = await store.search_items(["users"], limit=1, offset=1)
    assert [i["key"] for i in second["items"]] == ["n1"]
    assert await store.search_items(["nothing"]) == {"items": []}

    everything = await store.list_namespaces()
    assert everything == {
        "namespaces": [["docs"], ["users", "alice"], ["users", "alice", "notes"], ["users", "bob"]]
    }
    users = await store.list_namespaces(prefix=["users"], max_depth=2)
    assert users["namespaces"] == [["users", "alice"], ["users", "bob"]]
    assert (await store.list_namespaces(suffix=["alice"]))["namespaces"] == [["users", "alice"]]
    wild = await store.list_namespaces(prefix=["users", "*", "notes"])
    assert wild["namespaces"] == [["users", "alice", "notes"]]
    assert (await store.list_namespaces(limit=1, offset=1))["namespaces"] == [["users", "alice"]]

    await store.delete_item(["users", "bob"], "prefs")
    await store.delete_item(["users", "bob"], "prefs")  # again: nothing to delete, still fine
    assert await store.get_item(["users", "bob"], "prefs") is None
    assert await orm(Item.objects.count)() == 3


async def test_errors(sdk):
    store = sdk.store
    assert await status_of(store.put_item([], "k", {"x": 1})) == 400
    assert await status_of(store.put_item(["x"], "k", "not an object")) == 422
    assert await status_of(store.put_item(["x"], "k", {"x": 1}, ttl=-5)) == 422
    assert await status_of(store.search_items(["x"], query="milk")) == 422
    assert await status_of(store.search_items(["x"], limit=1001)) == 422
    assert await status_of(store.search_items(["x"], filter={"n": {"$in": [1]}})) == 422
    assert await status_of(store.list_namespaces(max_depth=0)) == 422
    with pytest.raises(ValueError):  # the SDK itself refuses a label with a period
        await store.put_item(["a.b"], "k", {"x": 1})
    response = await sdk.http.client.get("/store/items", params={"namespace": "x"})
    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_request",
        "detail": "Key is required.",
        "field": "key",
    }
    assert not await orm(Item.objects.exists)()


async def test_each_user_has_their_own_store(live_server_url, sdk):
    user = await orm(make_user)("keyholder")
    _, key = await orm(UserAPIKey.objects.create_key)(user=user, name="sdk")
    theirs = get_client(url=live_server_url, api_key=key).store
    mine = sdk.store  # the local demo user
    await asyncio.gather(
        mine.put_item(["shared", "name"], "k", {"who": "demo"}),
        theirs.put_item(["shared", "name"], "k", {"who": "keyholder"}),
        theirs.put_item(["private"], "k", {"who": "keyholder"}),
    )
    assert (await mine.get_item(["shared", "name"], "k"))["value"] == {"who": "demo"}
    assert (await theirs.get_item(["shared", "name"], "k"))["value"] == {"who": "keyholder"}
    assert await mine.get_item(["private"], "k") is None
    assert [i["value"] for i in (await mine.search_items([]))["items"]] == [{"who": "demo"}]
    assert (await mine.list_namespaces())["namespaces"] == [["shared", "name"]]
    await mine.delete_item(["private"], "k")
    assert (await theirs.get_item(["private"], "k"))["value"] == {"who": "keyholder"}
