"""DjangoStore's semantics, as LangGraph's stores define them: put, get,
update, delete; what is refused; owners apart; a batch's reads before its
writes; TTL expiry, sweeping and refresh; search (prefix, order, paging) and
namespace listing (prefix, suffix, wildcards, max_depth, paging); the async
methods through run_sync; connections and transactions."""

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from io import StringIO
from uuid import UUID

import pytest
from django.core.management import call_command
from django.db import connections, transaction
from django.utils import timezone
from langgraph.store.base import (
    GetOp,
    InvalidNamespaceError,
    ListNamespacesOp,
    MatchCondition,
    PutOp,
    SearchItem,
    SearchOp,
)

from store.backend import DjangoStore, sweep_expired
from store.models import Item as ItemRow

pytestmark = pytest.mark.django_db


def keys(items):
    return [(item.namespace, item.key) for item in items]


def expire(*, namespace=None, key=None, ago=timedelta(seconds=1)):
    """Make items' TTL run out (as if their time had passed)."""
    rows = ItemRow.objects.all()
    if namespace is not None:
        rows = rows.filter(namespace=".".join(namespace))
    if key is not None:
        rows = rows.filter(key=key)
    assert rows.update(expires_at=timezone.now() - ago)


# --- put, get, update, delete ---------------------------------------------------


def test_put_get_update_delete(store):
    assert store.get(("users", "alice"), "prefs") is None
    store.put(("users", "alice"), "prefs", {"theme": "dark", "lang": "en"})
    item = store.get(("users", "alice"), "prefs")
    assert item.namespace == ("users", "alice") and item.key == "prefs"
    assert item.value == {"theme": "dark", "lang": "en"}
    assert item.created_at == item.updated_at
    assert item.created_at.tzinfo is not None
    assert abs(item.created_at - datetime.now(UTC)) < timedelta(seconds=10)

    store.put(("users", "alice"), "prefs", {"theme": "blue"})
    updated = store.get(("users", "alice"), "prefs")
    assert updated.value == {"theme": "blue"}  # the whole value is replaced
    assert updated.created_at == item.created_at  # kept, as LangGraph's PostgreSQL store
    assert updated.updated_at > item.updated_at
    assert ItemRow.objects.count() == 1

    store.delete(("users", "alice"), "prefs")
    assert store.get(("users", "alice"), "prefs") is None
    store.delete(("users", "alice"), "prefs")  # deleting a missing item is fine
    assert not ItemRow.objects.exists()


def test_the_longest_namespace_and_key(store):
    namespace, key = ("a" * 511, "é" * 256), "k" * 1024  # 1024 bytes each
    store.put(namespace, key, {"v": 1})
    assert store.get(namespace, key).value == {"v": 1}


def test_keys_and_labels_are_text_as_given(store):
    odd = ("Ünïcode", "with space", "a/b", "*", "50%_off", "'quote\"")
    store.put(odd, "", {"empty": "key"})
    store.put(odd, "k.with.dots", {"dots": True})
    assert store.get(odd, "").value == {"empty": "key"}
    assert store.get(odd, "k.with.dots").value == {"dots": True}
    assert store.get(odd[:-1], "") is None
    assert sorted(keys(store.search(odd))) == [(odd, ""), (odd, "k.with.dots")]


def test_values_are_stored_as_json(store):
    when = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    uid = UUID("12345678-1234-5678-1234-567812345678")
    value = {"t": (1, 2), "when": when, "id": uid, "n": None, "deep": {"x": [{"y": 1.5}]}}
    store.put(("docs",), "d", value)
    assert store.get(("docs",), "d").value == {
        "t": [1, 2],
        "when": "2024-05-01T12:00:00Z",
        "id": str(uid),
        "n": None,
        "deep": {"x": [{"y": 1.5}]},
    }


@pytest.mark.parametrize(
    "namespace, key, value, error",
    [
        (("a.b",), "k", {}, InvalidNamespaceError),
        (("a", ""), "k", {}, InvalidNamespaceError),
        (("a", 1), "k", {}, InvalidNamespaceError),
        ((), "k", {}, InvalidNamespaceError),
        (("langgraph", "x"), "k", {}, InvalidNamespaceError),
        (("a\x00",), "k", {}, InvalidNamespaceError),
        (("a\ud800",), "k", {}, ValueError),
        (("a",), "k\x00", {}, ValueError),
        (("a",), "k", ["not", "a", "mapping"], ValueError),
        (("a",), "k", {"x": float("nan")}, ValueError),
        (("a",), "k", {"x": float("inf")}, ValueError),
        (("a",), "k", {"x": object()}, ValueError),
        (("a",), "k", {("tuple", "key"): 1}, ValueError),
        (("a",), "k", {"x": "nul\x00"}, ValueError),
        (("a",), "k", {"nul\x00": 1}, ValueError),
        (("a",), "k", {"x": ["\udfff"]}, ValueError),
        (("a",), "é" * 513, {}, ValueError),  # 1026 bytes: too long to index
        (("a" * 512, "é" * 256), "k", {}, ValueError),
    ],
)
def test_refused_puts_write_nothing(store, namespace, key, value, error):
    with pytest.raises(error):
        store.put(namespace, key, value)
    with pytest.raises(error):  # the same through batch (no BaseStore checks first)
        store.batch([PutOp(("ok",), "first", {"a": 1}), PutOp(namespace, key, value)])
    assert not ItemRow.objects.exists()


def test_refused_reads(store):
    with pytest.raises(InvalidNamespaceError):
        store.get(("a.b",), "k")
    with pytest.raises(InvalidNamespaceError):
        store.search(("a", ""))
    with pytest.raises(InvalidNamespaceError):
        store.list_namespaces(prefix=("a.b",))
    with pytest.raises(ValueError, match="key must be a string"):
        store.batch([GetOp(("a",), 1)])
    with pytest.raises(ValueError, match="Semantic search"):
        store.search(("a",), query="milk")
    for bad in ({"limit": -1}, {"offset": -1}):
        with pytest.raises(ValueError):
            store.search(("a",), **bad)
        with pytest.raises(ValueError):
            store.list_namespaces(**bad)
    for depth in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="max_depth"):
            store.list_namespaces(max_depth=depth)
    with pytest.raises(ValueError, match="Unsupported match type"):
        store.batch([ListNamespacesOp(match_conditions=(MatchCondition("infix", ("a",)),))])
    with pytest.raises(ValueError, match="Unknown operation"):
        store.batch([("get", "a")])


def test_index_is_ignored(store):
    store.put(("docs",), "a", {"text": "x"}, index=False)
    store.put(("docs",), "b", {"text": "y"}, index=["text"])
    assert keys(store.search(("docs",))) == [(("docs",), "b"), (("docs",), "a")]


def test_a_store_needs_an_owner():
    with pytest.raises(TypeError):
        DjangoStore(None)


# --- owners -----------------------------------------------------------------------


def test_two_owners_never_see_each_others_items(alice, bob):
    mine, theirs = DjangoStore(alice.pk), DjangoStore(bob.pk)
    mine.put(("users", "prefs"), "k", {"who": "alice"})
    theirs.put(("users", "prefs"), "k", {"who": "bob"})
    theirs.put(("bob", "only"), "k", {"who": "bob"})
    assert mine.get(("users", "prefs"), "k").value == {"who": "alice"}
    assert theirs.get(("users", "prefs"), "k").value == {"who": "bob"}
    assert mine.get(("bob", "only"), "k") is None
    assert [i.value for i in mine.search(())] == [{"who": "alice"}]
    assert mine.search((), filter={"who": "bob"}) == []
    assert mine.list_namespaces() == [("users", "prefs")]
    assert theirs.list_namespaces() == [("bob", "only"), ("users", "prefs")]

    mine.delete(("users", "prefs"), "k")
    assert theirs.get(("users", "prefs"), "k").value == {"who": "bob"}
    theirs.put(("t",), "ttl", {}, ttl=1)
    expire(namespace=("t",))
    mine.put(("x",), "write", {})  # sweeps alice's expired items, not bob's
    assert ItemRow.objects.filter(owner=bob, namespace="t").exists()

    alice.delete()  # a user's items go with the user
    assert list(ItemRow.objects.values_list("owner", flat=True).distinct()) == [bob.pk]


# --- batch ------------------------------------------------------------------------


def test_a_batch_reads_before_it_writes_and_the_last_put_wins(store):
    store.put(("a",), "k", {"v": 1})
    results = store.batch(
        [
            PutOp(("a",), "k", {"v": 2}),
            GetOp(("a",), "k"),
            SearchOp(("a",)),
            PutOp(("a",), "new", {"v": 3}),
            PutOp(("a",), "new", {"v": 4}),
            ListNamespacesOp(),
            GetOp(("a",), "missing"),
            PutOp(("b",), "gone", {"v": 5}),
            PutOp(("b",), "gone", None),
        ]
    )
    assert results[0] is None and results[3] is None
    assert results[1].value == {"v": 1}
    assert [i.value for i in results[2]] == [{"v": 1}]
    assert results[5] == [("a",)]
    assert results[6] is None
    assert store.get(("a",), "k").value == {"v": 2}
    assert store.get(("a",), "new").value == {"v": 4}
    assert store.get(("b",), "gone") is None


def test_a_batch_of_gets_is_one_query(store, django_assert_num_queries):
    for ns in (("a",), ("b", "c")):
        for key in ("x", "y"):
            store.put(ns, key, {"at": [*ns, key]})
    ops = [GetOp(("a",), "x"), GetOp(("b", "c"), "y"), GetOp(("a",), "z"), GetOp(("b", "c"), "x")]
    with django_assert_num_queries(1):
        results = store.batch(ops)
    assert [r and r.value for r in results] == [
        {"at": ["a", "x"]},
        {"at": ["b", "c", "y"]},
        None,
        {"at": ["b", "c", "x"]},
    ]


def test_a_batch_joins_the_callers_transaction(store):
    with pytest.raises(RuntimeError), transaction.atomic():
        store.put(("a",), "k", {"v": 1})
        assert store.get(("a",), "k").value == {"v": 1}
        raise RuntimeError("roll back")
    assert store.get(("a",), "k") is None


# --- TTL ----------------------------------------------------------------------------


def test_ttl_expires_items_from_every_read(store):
    store.put(("t",), "short", {"v": 1}, ttl=1)
    store.put(("t",), "forever", {"v": 2})
    row = ItemRow.objects.get(key="short")
    assert row.ttl_minutes == 1
    assert timedelta(seconds=50) < row.expires_at - timezone.now() <= timedelta(minutes=1)
    assert ItemRow.objects.get(key="forever").expires_at is None

    store.put(("gone",), "k", {"v": 3}, ttl=1)
    expire(key="short")
    expire(namespace=("gone",))
    assert store.get(("t",), "short") is None
    assert keys(store.search(("t",))) == [(("t",), "forever")]
    assert store.search((), filter={"v": 1}) == []
    assert store.list_namespaces() == [("t",)]
    assert ItemRow.objects.count() == 3  # invisible, not yet deleted


def test_a_write_sweeps_the_owners_expired_items_and_a_put_starts_anew(store):
    store.put(("t",), "k", {"v": 1}, ttl=1)
    first = store.get(("t",), "k")
    store.put(("t",), "other", {"v": 2}, ttl=1)
    expire()
    store.put(("t",), "k", {"v": 3})
    assert list(ItemRow.objects.values_list("key", flat=True)) == ["k"]  # "other" swept
    again = store.get(("t",), "k")
    assert again.value == {"v": 3} and again.created_at > first.created_at
    assert ItemRow.objects.get().expires_at is None  # a put without ttl has none


def test_ttl_zero_expires_at_once(store):
    store.put(("t",), "k", {"v": 1}, ttl=0)
    assert store.get(("t",), "k") is None


def test_reads_refresh_the_ttl_unless_told_not_to(store, monkeypatch):
    store.put(("t",), "a", {"v": 1}, ttl=10)
    store.put(("t",), "b", {"v": 2}, ttl=30)
    store.put(("t",), "c", {"v": 3})
    before = {row.key: row for row in ItemRow.objects.all()}
    later = timezone.now() + timedelta(minutes=5)
    monkeypatch.setattr(timezone, "now", lambda: later)

    assert store.get(("t",), "a", refresh_ttl=False).value == {"v": 1}
    assert store.search(("t",), refresh_ttl=False)
    assert ItemRow.objects.get(key="a").expires_at == before["a"].expires_at

    store.get(("t",), "a")  # refresh_ttl defaults to True
    assert ItemRow.objects.get(key="a").expires_at == later + timedelta(minutes=10)
    assert ItemRow.objects.get(key="b").expires_at == before["b"].expires_at

    store.search(("t",), filter={"v": {"$gte": 2}})
    rows = {row.key: row for row in ItemRow.objects.all()}
    assert rows["b"].expires_at == later + timedelta(minutes=30)
    assert rows["c"].expires_at is None
    # a refresh is not an update
    assert all(rows[k].updated_at == before[k].updated_at for k in rows)

    # TTLConfig: refresh_on_read False makes False the default
    quiet = DjangoStore(store.owner_id, ttl={"refresh_on_read": False})
    even_later = later + timedelta(minutes=1)
    monkeypatch.setattr(timezone, "now", lambda: even_later)
    quiet.get(("t",), "a")
    assert ItemRow.objects.get(key="a").expires_at == later + timedelta(minutes=10)
    quiet.get(("t",), "a", refresh_ttl=True)
    assert ItemRow.objects.get(key="a").expires_at == even_later + timedelta(minutes=10)


def test_an_expired_item_is_not_refreshed_back(store):
    store.put(("t",), "k", {"v": 1}, ttl=1)
    expire()
    assert store.get(("t",), "k") is None
    assert ItemRow.objects.get().expires_at < timezone.now()


def test_default_ttl_and_ttl_none(alice):
    store = DjangoStore(alice.pk, ttl={"default_ttl": 60})
    store.put(("t",), "default", {})
    store.put(("t",), "never", {}, ttl=None)
    store.put(("t",), "own", {}, ttl=1.5)
    rows = {row.key: row.ttl_minutes for row in ItemRow.objects.all()}
    assert rows == {"default": 60, "never": None, "own": 1.5}


@pytest.mark.parametrize("ttl", [-1, float("nan"), float("inf"), 10**12, "5", True])
def test_bad_ttls_are_refused(store, ttl):
    with pytest.raises(ValueError, match="ttl"):
        store.batch([PutOp(("t",), "k", {}, ttl=ttl)])
    assert not ItemRow.objects.exists()


def test_sweep_expired_deletes_every_owners_expired_items(alice, bob):
    DjangoStore(alice.pk).put(("t",), "a", {}, ttl=1)
    DjangoStore(bob.pk).put(("t",), "b", {}, ttl=1)
    DjangoStore(bob.pk).put(("t",), "alive", {}, ttl=1)
    DjangoStore(bob.pk).put(("t",), "forever", {})
    expire(key="a")
    expire(key="b")
    assert sweep_expired() == 2
    assert sorted(ItemRow.objects.values_list("key", flat=True)) == ["alive", "forever"]


# --- search ----------------------------------------------------------------------------


@pytest.fixture
def users(store):
    """The platform transcript's items, written in this order."""
    store.put(("users", "bob"), "prefs", {"theme": "light", "lang": "fr"})
    store.put(("users", "alice", "notes"), "n1", {"text": "buy milk", "tags": ["todo"]})
    store.put(("docs",), "d1", {"text": "hello"})
    store.put(("users", "alice"), "prefs", {"theme": "blue"})
    return store


def test_search_a_prefix_at_any_depth_newest_first(users):
    assert keys(users.search(("users",))) == [
        (("users", "alice"), "prefs"),
        (("users", "alice", "notes"), "n1"),
        (("users", "bob"), "prefs"),
    ]
    assert keys(users.search(("users", "alice"))) == [
        (("users", "alice"), "prefs"),
        (("users", "alice", "notes"), "n1"),
    ]
    assert keys(users.search(("users", "alice", "notes", "deeper"))) == []
    assert keys(users.search(("nothing",))) == []
    everything = users.search(())
    assert len(everything) == 4 and keys(everything)[-1] == (("users", "bob"), "prefs")
    assert all(type(i) is SearchItem and i.score is None for i in everything)
    times = [i.updated_at for i in everything]
    assert times == sorted(times, reverse=True)


def test_search_prefixes_end_at_a_label(store):
    for ns in [("user",), ("users",), ("usersX", "a"), ("Users", "a"), ("a_b",), ("aXb", "c")]:
        store.put(ns, "k", {})
    store.put(("a%",), "k", {})
    store.put(("ab", "x"), "k", {})
    assert keys(store.search(("users",))) == [(("users",), "k")]
    assert keys(store.search(("user",))) == [(("user",), "k")]
    assert keys(store.search(("a_b",))) == [(("a_b",), "k")]  # _ is not LIKE's wildcard
    assert keys(store.search(("a%",))) == [(("a%",), "k")]  # nor is %
    assert keys(store.search(("Users",))) == [(("Users", "a"), "k")]  # case matters


def test_search_pages_and_updates_move_items_to_the_front(users):
    assert keys(users.search(("users",), limit=1, offset=1)) == [
        (("users", "alice", "notes"), "n1")
    ]
    assert keys(users.search(("users",), limit=2, offset=2)) == [(("users", "bob"), "prefs")]
    assert users.search(("users",), offset=3) == []
    assert users.search(("users",), limit=0) == []
    users.put(("users", "bob"), "prefs", {"theme": "dark"})
    assert keys(users.search(("users",), limit=1)) == [(("users", "bob"), "prefs")]


def test_search_with_a_filter(users):
    found = users.search(("users",), filter={"theme": "light"})
    assert keys(found) == [(("users", "bob"), "prefs")]
    found = users.search(("users",), filter={"tags": ["todo"]})
    assert keys(found) == [(("users", "alice", "notes"), "n1")]
    assert users.search((), filter={"theme": {"$eq": "blue"}})[0].value == {"theme": "blue"}
    assert len(users.search((), filter={"theme": {"$ne": "blue"}})) == 3
    assert users.search(("docs",), filter={"theme": "blue"}) == []


# --- namespaces ----------------------------------------------------------------------


@pytest.fixture
def tree(store):
    for ns in [
        ("a", "b", "c"),
        ("a", "b", "d", "e"),
        ("a", "b", "d", "i"),
        ("a", "b", "f"),
        ("a", "c", "f"),
        ("a-c",),
        ("users", "alice"),
        ("users", "alice", "notes"),
        ("users", "bob"),
        ("alice",),
    ]:
        store.put(ns, "k", {})
        store.put(ns, "k2", {})  # two items: a namespace is listed once
    return store


def test_list_namespaces_sorted_as_tuples(tree):
    assert tree.list_namespaces() == [
        ("a", "b", "c"),
        ("a", "b", "d", "e"),
        ("a", "b", "d", "i"),
        ("a", "b", "f"),
        ("a", "c", "f"),
        ("a-c",),  # after ("a", ...) although "a-c" < "a.b" as text
        ("alice",),
        ("users", "alice"),
        ("users", "alice", "notes"),
        ("users", "bob"),
    ]
    assert tree.list_namespaces(limit=2, offset=5) == [("a-c",), ("alice",)]
    assert tree.list_namespaces(offset=10) == []


def test_list_namespaces_prefix_suffix_and_wildcards(tree):
    assert tree.list_namespaces(prefix=("users",)) == [
        ("users", "alice"),
        ("users", "alice", "notes"),
        ("users", "bob"),
    ]
    assert tree.list_namespaces(prefix=("users", "alice")) == [
        ("users", "alice"),
        ("users", "alice", "notes"),
    ]
    assert tree.list_namespaces(prefix=("a",)) == tree.list_namespaces()[:5]
    assert tree.list_namespaces(suffix=("alice",)) == [("alice",), ("users", "alice")]
    assert tree.list_namespaces(suffix=("f",)) == [("a", "b", "f"), ("a", "c", "f")]
    assert tree.list_namespaces(prefix=("a", "*", "f")) == [("a", "b", "f"), ("a", "c", "f")]
    assert tree.list_namespaces(prefix=("*", "alice")) == [
        ("users", "alice"),
        ("users", "alice", "notes"),
    ]
    assert tree.list_namespaces(suffix=("*", "f")) == [("a", "b", "f"), ("a", "c", "f")]
    # a wildcard is one whole label, never a part of one or none at all
    assert tree.list_namespaces(prefix=("users", "*", "*")) == [("users", "alice", "notes")]
    assert tree.list_namespaces(suffix=("*", "*", "*", "*")) == [
        ("a", "b", "d", "e"),
        ("a", "b", "d", "i"),
    ]
    assert tree.list_namespaces(prefix=("a", "b"), suffix=("e",)) == [("a", "b", "d", "e")]
    assert tree.list_namespaces(prefix=("use",)) == []
    assert tree.list_namespaces(suffix=("ice",)) == []


def test_list_namespaces_max_depth(tree):
    assert tree.list_namespaces(max_depth=1) == [("a",), ("a-c",), ("alice",), ("users",)]
    assert tree.list_namespaces(prefix=("a", "b"), max_depth=3) == [
        ("a", "b", "c"),
        ("a", "b", "d"),
        ("a", "b", "f"),
    ]
    assert tree.list_namespaces(prefix=("users",), max_depth=2) == [
        ("users", "alice"),
        ("users", "bob"),
    ]
    assert tree.list_namespaces(max_depth=2, limit=2, offset=1) == [("a", "c"), ("a-c",)]


def test_list_namespaces_labels_are_literal(store):
    odd = [("a+b",), ("a(b)",), ("[x]", "y"), ("^$",), ("a\\d",), ("a b", "new\nline")]
    for ns in odd:
        store.put(ns, "k", {})
    store.put(("aab",), "k", {})
    store.put(("x", "y"), "k", {})
    for ns in odd:
        assert store.list_namespaces(prefix=ns) == [ns]
        assert store.list_namespaces(suffix=ns) == [ns]
    assert store.list_namespaces(suffix=("line",)) == []
    assert store.list_namespaces(suffix=("new",)) == []


# --- async -------------------------------------------------------------------------------


async def test_async_methods_run_on_run_sync(run_sync, alice):
    store = DjangoStore(alice.pk, run_sync=run_sync)
    await store.aput(("users", "alice"), "prefs", {"theme": "dark"}, ttl=5)
    await store.aput(("users", "alice", "notes"), "n1", {"text": "milk", "n": 2})
    item = await store.aget(("users", "alice"), "prefs")
    assert item.value == {"theme": "dark"}
    found = await store.asearch(("users",), filter={"n": {"$gt": 1}})
    assert [i.key for i in found] == ["n1"]
    assert await store.alist_namespaces(prefix=("users",), max_depth=2) == [("users", "alice")]
    await store.adelete(("users", "alice"), "prefs")
    assert await store.aget(("users", "alice"), "prefs") is None
    results = await store.abatch(
        op for op in [GetOp(("users", "alice", "notes"), "n1"), SearchOp(("nothing",))]
    )
    assert results[0].value == {"text": "milk", "n": 2} and results[1] == []
    assert run_sync.calls == 8  # one hop per call


async def test_async_methods_by_default_use_sync_to_async(transactional_db, alice):
    store = DjangoStore(alice.pk)
    await store.aput(("a",), "k", {"v": 1})
    assert (await store.aget(("a",), "k")).value == {"v": 1}


@pytest.mark.django_db(transaction=True)
def test_calls_give_their_connections_back_unless_told_to_keep_them(alice):
    def call(store):
        store.put(("a",), "k", {"v": 1})
        store.get(("a",), "k")
        try:
            return connections["default"].connection is not None
        finally:
            connections.close_all()

    with ThreadPoolExecutor(1) as pool:
        assert not pool.submit(call, DjangoStore(alice.pk)).result()
        assert pool.submit(call, DjangoStore(alice.pk, close_connections=False)).result()


def test_the_sweep_store_command(alice):
    DjangoStore(alice.pk).put(("t",), "a", {}, ttl=1)
    DjangoStore(alice.pk).put(("t",), "b", {}, ttl=1)
    expire(key="a")
    out = StringIO()
    call_command("sweep_store", stdout=out)
    assert out.getvalue().strip() == "1 expired store items deleted"
    assert list(ItemRow.objects.values_list("key", flat=True)) == ["b"]
