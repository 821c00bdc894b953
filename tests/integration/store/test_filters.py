"""Search filters: every case is run by the database (SQL on PostgreSQL, the
registered function on SQLite) and by `store.filters.matches`, which must
agree, and by LangGraph's InMemoryStore where it defines the answer (it
follows Python where we follow JSON: `True == 1`, and it cannot compare
strings or missing values). Filters it cannot match on are refused before a
query runs."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langgraph.store.base import PutOp
from langgraph.store.memory import InMemoryStore

from store.filters import check_filter, matches
from store.models import Item as ItemRow

pytestmark = pytest.mark.django_db

VALUES = {
    "int": {"n": 3, "s": "beta", "b": True, "z": None},
    "float": {"n": 2.5, "s": "alpha", "b": False},
    "one": {"n": 1, "s": "1", "b": 1},
    "one_float": {"n": 1.0},
    "big": {"n": 10**30, "s": "2024-05-01T10:00:00Z"},
    "nested": {"author": {"name": "x", "age": 40, "tags": ["a", "b"]}, "n": "3"},
    "list": {"tags": ["todo", {"k": 1, "extra": 2}], "n": [3]},
    "empty": {},
    "odd_keys": {'quote"d': 1, "dot.ted": 2, "ünï": 3, "back\\slash": 4, "$gt": 5, "0": 6},
    "unicode": {"s": "é", "n": -0.5},
}

# (filter, the values that match it, whether InMemoryStore agrees)
CASES = [
    ({}, set(VALUES), True),
    ({"n": 3}, {"int"}, True),
    ({"n": 1}, {"one", "one_float"}, True),  # 1 == 1.0, in JSON as in Python
    ({"n": 1.0}, {"one", "one_float"}, True),
    ({"n": 10**30}, {"big"}, True),
    ({"s": "1"}, {"one"}, True),  # "1" is not 1
    ({"b": True}, {"int"}, False),  # True is not 1 (Python says it is)
    ({"b": 1}, {"one"}, False),
    ({"b": False}, {"float"}, True),
    ({"z": None}, set(VALUES), True),  # null, or missing
    ({"b": None}, set(VALUES) - {"int", "float", "one"}, True),
    ({"n": "3"}, {"nested"}, True),
    ({"author": {"name": "x"}}, {"nested"}, True),  # an object matches by its keys
    ({"author": {"name": "x", "missing": None}}, {"nested"}, True),
    ({"author": {"name": "y"}}, set(), True),
    ({"author": {}}, {"nested"}, True),
    ({"author": {"tags": ["a", "b"]}}, {"nested"}, True),
    ({"author": {"tags": ["a"]}}, set(), True),  # a list matches all of it, in order
    ({"author": {"tags": ["b", "a"]}}, set(), True),
    ({"tags": ["todo", {"k": 1}]}, {"list"}, True),  # ...element objects by their keys
    ({"n": [3]}, {"list"}, True),
    ({"n": []}, set(), True),
    ({"author": {"age": {"$gte": 40}}}, {"nested"}, True),  # operators nest
    ({"n": {"$eq": 3}}, {"int"}, True),
    ({"n": {"$eq": None}}, {"empty", "odd_keys"}, True),
    ({"author": {"$eq": {"name": "x"}}}, set(), True),  # $eq is whole-value equality
    ({"author": {"$eq": {"name": "x", "age": 40.0, "tags": ["a", "b"]}}}, {"nested"}, True),
    ({"tags": {"$eq": ["todo", {"k": 1, "extra": 2}]}}, {"list"}, True),
    ({"tags": {"$eq": ["todo", {"k": 1}]}}, set(), True),
    ({"n": {"$ne": 3}}, set(VALUES) - {"int"}, True),  # missing is not equal to 3
    ({"n": {"$ne": None}}, set(VALUES) - {"empty", "odd_keys"}, True),
    ({"s": {"$ne": "beta"}}, set(VALUES) - {"int"}, True),
    ({"n": {"$gt": 2.5}}, {"int", "big"}, False),  # InMemoryStore fails on "3", [3]...
    ({"n": {"$gte": 2.5}}, {"int", "float", "big"}, False),
    ({"n": {"$lt": 1}}, {"unicode"}, False),
    ({"n": {"$lte": 1}}, {"one", "one_float", "unicode"}, False),
    ({"n": {"$gte": 1, "$lt": 3}}, {"float", "one", "one_float"}, False),
    ({"n": {"$gt": 10**29}}, {"big"}, False),
    ({"n": {"$gt": -1, "$ne": 1}}, {"int", "float", "big", "unicode"}, False),
    ({"s": {"$gt": "alpha"}}, {"int", "unicode"}, False),  # strings by code point
    ({"s": {"$gte": "2024-05-01", "$lt": "2024-06"}}, {"big"}, False),  # ISO dates as dates
    ({"s": {"$lt": "2024"}}, {"one"}, False),
    ({"s": {"$gt": "z"}}, {"unicode"}, False),  # "é" > "z"
    ({"b": {"$gt": 0}}, {"one"}, False),  # booleans are not numbers
    ({'quote"d': 1}, {"odd_keys"}, True),
    ({"dot.ted": 2}, {"odd_keys"}, True),  # a key, not a path
    ({"ünï": 3}, {"odd_keys"}, True),
    ({"back\\slash": 4}, {"odd_keys"}, True),
    ({"$gt": 5}, {"odd_keys"}, True),  # a top-level key is a key of the value
    ({"0": 6}, {"odd_keys"}, True),
    ({"n": 3, "s": "beta"}, {"int"}, True),
    ({"n": 3, "s": "alpha"}, set(), True),
]


@pytest.fixture
def stored(store):
    for key, value in VALUES.items():
        store.put(("v",), key, value)
    return store


def db_keys(store, filter, namespace=("v",)):
    return {item.key for item in store.search(namespace, filter=filter, limit=100)}


def test_each_case_matches_what_it_should(stored):
    for filter, expected, _ in CASES:
        assert db_keys(stored, filter) == expected, filter
        assert {k for k, v in VALUES.items() if matches(v, check_filter(filter))} == expected


def test_in_memory_store_agrees_where_it_defines_the_answer():
    memory = InMemoryStore()
    for key, value in VALUES.items():
        memory.put(("v",), key, value)
    for filter, expected, agrees in CASES:
        if agrees:
            found = {i.key for i in memory.search(("v",), filter=filter, limit=100)}
            assert found == expected, filter


def test_a_filter_combines_with_a_prefix_and_paging(store):
    for i in range(6):
        store.put(("p", str(i % 2)), f"k{i}", {"i": i, "even": i % 2 == 0})
    found = store.search(("p",), filter={"even": True, "i": {"$gte": 2}})
    assert [item.key for item in found] == ["k4", "k2"]
    assert [i.key for i in store.search(("p", "0"), filter={"i": {"$lt": 3}})] == ["k2", "k0"]
    assert [i.key for i in store.search(("p",), filter={"even": False}, limit=1, offset=1)] == [
        "k3"
    ]


@pytest.mark.parametrize(
    "filter, place",
    [
        ([("n", 1)], "filter"),
        ("n=1", "filter"),
        ({"n": {"$in": [1, 2]}}, r"filter\.n\.\$in"),
        ({"n": {"$gt": 1, "plain": 2}}, r"filter\.n\.plain"),
        ({"n": {"$gt": True}}, r"filter\.n\.\$gt"),
        ({"n": {"$gt": None}}, r"filter\.n\.\$gt"),
        ({"n": {"$lte": [1]}}, r"filter\.n\.\$lte"),
        ({"n": {"$gt": float("nan")}}, r"filter\.n\.\$gt"),
        ({"n": float("inf")}, r"filter\.n"),
        ({"n": {"a": [1, {"b": object()}]}}, r"filter\.n\.a\[1\]\.b"),
        ({1: "x"}, "filter"),
        ({"n": {"$eq": {1: "x"}}}, r"filter\.n\.\$eq"),
        ({f"k{i}": {"$ne": i} for i in range(129)}, "filter"),  # 258 parts
        ({"n": list(range(256))}, "filter"),
    ],
)
def test_filters_that_cannot_match_are_refused_naming_the_place(store, filter, place):
    with pytest.raises(ValueError, match=f"^{place}: "):
        check_filter(filter)
    with pytest.raises(ValueError, match=f"^{place}: "):
        store.search(("v",), filter=filter)


def test_the_largest_filter(store):
    filter = {f"k{i}": {"$ne": i} for i in range(128)}  # 256 parts
    store.put(("v",), "k", {"k0": -1})
    assert [i.key for i in store.search(("v",), filter=filter)] == ["k"]


def test_checked_filters_are_json(store):
    assert check_filter({"t": (1, (2, 3)), "n": {"$eq": (1,)}}) == {
        "t": [1, [2, 3]],
        "n": {"$eq": [1]},
    }
    store.put(("v",), "t", {"t": [1, [2, 3]]})
    assert [i.key for i in store.search(("v",), filter={"t": (1, (2, 3))})] == ["t"]


# --- generated cases -----------------------------------------------------------------

LABELS = st.sampled_from(["a", "b", "c"])
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.floats(-3, 3, allow_nan=False).map(lambda x: round(x, 1)),
    st.sampled_from(["", "a", "b", "é", "1", "2024-01-01", "2024-06"]),
)
# Values may have any keys; a filter's objects without operators may not start with "$".
VALUES_AT = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["a", "b", "$gt", "d.e", 'q"']), inner, max_size=3)
    ),
    max_leaves=6,
)
OPERATIONS = st.one_of(
    st.dictionaries(st.sampled_from(["$eq", "$ne"]), VALUES_AT, min_size=1),
    st.dictionaries(
        st.sampled_from(["$gt", "$gte", "$lt", "$lte"]),
        st.one_of(st.integers(-3, 3), st.sampled_from(["a", "2024-03", "é"])),
        min_size=1,
    ),
)
WANTED = st.recursive(
    SCALARS | OPERATIONS,
    lambda inner: (
        st.lists(inner, max_size=2)
        | st.dictionaries(st.sampled_from(["a", "b", "d.e", 'q"']), inner, max_size=2)
    ),
    max_leaves=4,
)


def derived(values: list[dict]):
    """A filter on what one of the values has: the value itself, or an
    operator on it (so that generated cases match some values, not none)."""
    present = [(k, v) for value in values for k, v in value.items()]
    if not present:
        return st.nothing()

    def around(pair):
        key, wanted = pair
        options = [st.just(wanted), st.just({"$eq": wanted}), st.just({"$ne": wanted})]
        if isinstance(wanted, int | float | str) and not isinstance(wanted, bool):
            options.append(st.sampled_from([{op: wanted} for op in ("$gt", "$gte", "$lt", "$lte")]))
        return st.one_of(options).map(lambda w: {key: w})

    return st.sampled_from(present).flatmap(around)


@settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    values=st.lists(st.dictionaries(LABELS, VALUES_AT, max_size=3), min_size=1, max_size=6),
    data=st.data(),
)
def test_the_database_agrees_with_matches_on_generated_cases(store, values, data):
    filter = data.draw(
        st.one_of(st.dictionaries(LABELS, WANTED, min_size=1, max_size=2), derived(values))
    )
    try:
        checked = check_filter(filter)
    except ValueError:  # a value with a "$..." key as a plain filter: operators it lacks
        with pytest.raises(ValueError):
            store.search(("g",), filter=filter)
        return
    ItemRow.objects.all().delete()
    store.batch([PutOp(("g",), str(i), value) for i, value in enumerate(values)])
    expected = {str(i) for i, value in enumerate(values) if matches(value, checked)}
    assert db_keys(store, filter, ("g",)) == expected
