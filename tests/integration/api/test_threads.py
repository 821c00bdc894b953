"""Threads over REST: search (filters, sorts, select, extract, paging headers),
count, copy, prune, the state at a checkpoint, `state_updated_at` and `error`,
creation with supersteps, and the fields refused."""

import datetime
import uuid

import pytest
from django.utils import timezone

from checkpoints.models import Checkpoint
from runs.models import Run, RunStatus, Thread, ThreadStatus
from runs.services import runs as run_service
from runs.worker import transactions
from tests.conftest import make_thread, make_user

pytestmark = pytest.mark.django_db

T0 = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
HI = {"messages": [{"role": "user", "content": "hi"}]}


def post(api, url, body=None):
    return api.post(url, body, format="json")


def search(api, **body):
    response = post(api, "/threads/search", body)
    assert response.status_code == 200, response.content
    return response


def ids(response) -> list[str]:
    return [thread["thread_id"] for thread in response.json()]


def refused(response, status: int, field: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["field"] == field, body
    assert body["error"] and body["detail"]
    return body


def agent_thread(api, updates=1, **metadata) -> str:
    """A thread on the `agent` graph with `updates` checkpoints written by hand."""
    tid = post(api, "/threads", {"metadata": {"graph_id": "agent", **metadata}}).json()["thread_id"]
    for i in range(updates):
        message = {"role": "user", "content": f"message {i}"}
        written = post(api, f"/threads/{tid}/state", {"values": {"messages": [message]}})
        assert written.status_code == 200, written.content
    return tid


def history(api, tid) -> list[dict]:
    return post(api, f"/threads/{tid}/history", {"limit": 100}).json()


# Search: sorts


@pytest.fixture
def three(owner):
    """Three threads whose every sort gives another order:
    created a b c; updated c a b; state updated a c b; status b a c; id b c a."""
    specs = {
        "a": ("00000000-0000-0000-0000-000000000003", 0, 1, 0, ThreadStatus.IDLE),
        "b": ("00000000-0000-0000-0000-000000000001", 1, 2, 2, ThreadStatus.ERROR),
        "c": ("00000000-0000-0000-0000-000000000002", 2, 0, 1, ThreadStatus.INTERRUPTED),
    }
    names = {}
    for name, (pk, created, updated, state, status) in specs.items():
        make_thread(owner, thread_id=pk)
        Thread.objects.filter(pk=pk).update(
            created_at=T0 + datetime.timedelta(minutes=created),
            updated_at=T0 + datetime.timedelta(minutes=updated),
            state_updated_at=T0 + datetime.timedelta(minutes=state),
            status=status,
        )
        names[pk] = name
    return names


def named(response, names) -> str:
    return "".join(names[tid] for tid in ids(response))


@pytest.mark.parametrize(
    ("sort_by", "ascending"),
    [
        ("created_at", "abc"),
        ("updated_at", "cab"),
        ("state_updated_at", "acb"),
        ("status", "bac"),
        ("thread_id", "bca"),
    ],
)
def test_search_sorts_both_ways(api, three, sort_by, ascending):
    asc = search(api, sort_by=sort_by, sort_order="asc")
    assert named(asc, three) == ascending
    desc = search(api, sort_by=sort_by, sort_order="desc")
    assert named(desc, three) == ascending[::-1]
    # sort_by alone sorts descending, as on the platform
    assert named(search(api, sort_by=sort_by), three) == ascending[::-1]


def test_search_defaults_to_updated_at_descending(api, three):
    assert named(search(api), three) == "bac"
    assert named(search(api, sort_order="asc"), three) == "cab"
    assert named(search(api, sort_by=None, sort_order=None), three) == "bac"


def test_a_patch_moves_a_thread_to_the_top(api, three):
    post_patch = api.patch(
        "/threads/00000000-0000-0000-0000-000000000002", {"metadata": {}}, format="json"
    )
    assert post_patch.status_code == 200
    assert named(search(api), three) == "cba"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"sort_by": "bogus"}, "sort_by"),
        ({"sort_by": "metadata"}, "sort_by"),
        ({"sort_order": "up"}, "sort_order"),
        ({"status": "bogus"}, "status"),
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"offset": -1}, "offset"),
        ({"ids": ["not-a-uuid"]}, "ids[0]"),
        ({"metadata": ["x"]}, "metadata"),
        ({"values": "x"}, "values"),
        ({"select": ["bogus"]}, "select[0]"),
        ({"select": ["thread_id", "error"]}, "select[1]"),  # as on the platform: not selectable
        ({"select": "thread_id"}, "select"),
        ({"extract": ["values"]}, "extract"),
    ],
)
def test_search_refuses_invalid_bodies_naming_the_field(api, body, field):
    refused(post(api, "/threads/search", body), 422, field)


# Search: filters


@pytest.mark.parametrize(
    ("stored", "wanted", "matches"),
    [
        ({"user": "ann", "n": 1}, {"user": "ann"}, True),
        ({"user": "ann", "n": 1}, {"user": "ann", "n": 1}, True),
        ({"user": "ann"}, {"user": "bob"}, False),
        ({"user": "ann"}, {"user": "ann", "n": 1}, False),
        ({"user": "ann"}, {}, True),
        # nested values are compared whole, whatever the key order
        ({"o": {"a": 1, "b": [1, {"c": None}]}}, {"o": {"b": [1, {"c": None}], "a": 1}}, True),
        ({"o": {"a": 1, "b": 2}}, {"o": {"a": 1}}, False),
        ({"l": [1, 2]}, {"l": [1, 2]}, True),
        ({"l": [1, 2]}, {"l": [1]}, False),
        ({"l": [1, 2]}, {"l": [2, 1]}, False),
        # JSON types: true is not 1, "1" is not 1, 1 is 1.0
        ({"f": True}, {"f": True}, True),
        ({"f": True}, {"f": 1}, False),
        ({"f": 1}, {"f": True}, False),
        ({"s": "1"}, {"s": 1}, False),
        ({"n": 1}, {"n": 1.0}, True),
        ({"n": 2.5}, {"n": 2.5}, True),
        # null matches a key that is null, not a missing one
        ({"k": None}, {"k": None}, True),
        ({}, {"k": None}, False),
        ({"k": "é ü 中"}, {"k": "é ü 中"}, True),
        ({'quote"d': 1, "dot.ted": 2, "$[0]": 3}, {'quote"d': 1, "dot.ted": 2, "$[0]": 3}, True),
    ],
)
@pytest.mark.parametrize("column", ["metadata", "values"])
def test_metadata_and_values_filters_match_each_key(api, owner, column, stored, wanted, matches):
    thread = make_thread(owner)
    make_thread(owner, metadata={"other": True})
    Thread.objects.filter(pk=thread.pk).update(**{column: stored})
    found = ids(search(api, **{column: wanted}))
    expected = [str(thread.pk)] if matches else []
    if not wanted:  # the empty filter matches every thread
        assert str(thread.pk) in found and len(found) == 2
    else:
        assert found == expected
        assert post(api, "/threads/count", {column: wanted}).json() == len(expected)


def test_values_filter_reads_the_state_a_run_or_update_left(api):
    tid = agent_thread(api)
    messages = api.get(f"/threads/{tid}").json()["values"]["messages"]
    assert messages[0]["content"] == "message 0"
    assert ids(search(api, values={"messages": messages})) == [tid]
    assert ids(search(api, values={"messages": messages[:0]})) == []


def test_status_and_ids_filters(api, owner, three):
    assert named(search(api, status="interrupted"), three) == "c"
    assert named(search(api, status="idle"), three) == "a"
    assert search(api, status="busy").json() == []
    wanted = ["00000000-0000-0000-0000-000000000003", str(uuid.uuid4())]
    assert named(search(api, ids=wanted), three) == "a"  # unknown ids are skipped
    assert named(search(api, ids=wanted, status="error"), three) == ""
    assert named(search(api, ids=[]), three) == ""


def test_another_users_threads_are_neither_found_nor_counted(api, owner):
    mine = make_thread(owner, metadata={"tag": "x"})
    make_thread(make_user("bob"), metadata={"tag": "x"})
    assert ids(search(api, metadata={"tag": "x"})) == [str(mine.pk)]
    assert post(api, "/threads/count", {"metadata": {"tag": "x"}}).json() == 1


# Search: paging


@pytest.mark.parametrize(
    ("body", "page", "total", "next_offset"),
    [
        ({"limit": 2}, [0, 1], "3", "2"),
        ({"limit": 3}, [0, 1, 2], "4", "3"),
        ({"limit": 2, "offset": 1}, [1, 2], "4", "3"),
        ({}, list(range(10)), "10", None),
        ({"limit": 10}, list(range(10)), "10", None),
        ({"limit": 4, "offset": 8}, [8, 9], "10", None),
        ({"limit": 5, "offset": 5}, [5, 6, 7, 8, 9], "10", None),
        ({"offset": 10}, [], "10", None),
        ({"offset": 50}, [], "50", None),
    ],
)
def test_pagination_headers_are_the_platforms(api, owner, body, page, total, next_offset):
    """`x-pagination-total` is offset + the page + 1 if more follow, not the count."""
    threads = [make_thread(owner) for _ in range(10)]
    newest_first = [str(t.pk) for t in reversed(threads)]
    response = search(api, **body)
    assert ids(response) == [newest_first[i] for i in page]
    assert response.headers["x-pagination-total"] == total
    assert response.headers.get("x-pagination-next") == next_offset


# Search: select and extract


def test_select_returns_only_those_keys_in_the_platforms_order(api, owner):
    make_thread(owner, metadata={"m": 1})
    item = search(api, select=["status", "metadata", "thread_id"]).json()[0]
    assert list(item) == ["thread_id", "metadata", "status"]
    full = search(api).json()[0]
    assert list(full) == [
        "thread_id",
        "created_at",
        "updated_at",
        "state_updated_at",
        "metadata",
        "status",
        "config",
        "values",
        "error",
        "interrupts",
    ]
    every = ["thread_id", "created_at", "updated_at", "state_updated_at", "metadata"]
    every += ["config", "status", "values", "interrupts"]
    assert set(search(api, select=every).json()[0]) == set(every)


def test_extract_follows_paths_into_the_thread(api, owner):
    thread = make_thread(owner, metadata={"graph_id": "agent", "tags": ["a", "b"]})
    values = {"messages": [{"content": "first"}, {"content": "last"}], "count": 4}
    Thread.objects.filter(pk=thread.pk).update(values=values)
    extract = {
        "last": "values.messages[-1].content",
        "first": "values.messages[0].content",
        "dotted": "values.messages.1.content",
        "graph": "metadata.graph_id",
        "tag": "metadata.tags[1]",
        "all": "values.messages",
        "missing": "values.nope.deeper",
        "out of range": "values.messages[5]",
        "key of a list": "values.messages.content",
        "interrupts": "interrupts",
    }
    item = search(api, select=["thread_id"], extract=extract).json()[0]
    assert item == {
        "thread_id": str(thread.pk),
        "extracted": {
            "last": "last",
            "first": "first",
            "dotted": "last",
            "graph": "agent",
            "tag": "b",
            "all": values["messages"],
            "missing": None,
            "out of range": None,
            "key of a list": None,
            "interrupts": {},
        },
    }
    # without select: the whole thread and `extracted`
    whole = search(api, extract={"n": "values.count"}).json()[0]
    assert whole["extracted"] == {"n": 4} and whole["values"] == values


@pytest.mark.parametrize(
    ("extract", "field"),
    [
        ({"x": "owner.username"}, "extract.x"),
        ({"x": "thread_id"}, "extract.x"),
        ({"x": "values..messages"}, "extract.x"),
        ({"x": "values.messages[one]"}, "extract.x"),
        ({"x": "values.messages[-1]; DROP TABLE runs_thread"}, "extract.x"),
        ({"x": ""}, "extract.x"),
        ({"": "values"}, "extract"),
        ({f"a{i}": "values" for i in range(11)}, "extract"),
        ({"x": ["values"]}, "extract.x"),
    ],
)
def test_extract_refuses_paths_it_cannot_follow(api, owner, extract, field):
    make_thread(owner)
    refused(post(api, "/threads/search", {"extract": extract}), 422, field)


# Count


def test_count_is_a_bare_integer_with_the_same_filters(api, owner, three):
    response = post(api, "/threads/count", {})
    assert response.status_code == 200 and response.content == b"3"
    assert post(api, "/threads/count", {"status": "error"}).json() == 1
    make_thread(owner, metadata={"user": "ann"})
    assert post(api, "/threads/count", {"metadata": {"user": "ann"}}).json() == 1
    assert post(api, "/threads/count", {"metadata": {"user": "bob"}}).json() == 0
    refused(post(api, "/threads/count", {"status": "bogus"}), 422, "status")
    refused(post(api, "/threads/count", {"metadata": 1}), 422, "metadata")


# Copy


def test_copy_has_the_metadata_values_and_history(api, owner):
    tid = agent_thread(api, updates=2, user="ann")
    copied = post(api, f"/threads/{tid}/copy")
    assert copied.status_code == 200, copied.content
    copy = copied.json()
    original = api.get(f"/threads/{tid}").json()
    assert copy["thread_id"] != tid
    assert copy["metadata"] == original["metadata"] == {"graph_id": "agent", "user": "ann"}
    assert copy["values"] == original["values"]
    assert copy["status"] == original["status"] and copy["error"] is None
    assert Thread.objects.get(pk=copy["thread_id"]).owner == owner
    ours, theirs = history(api, tid), history(api, copy["thread_id"])
    assert len(ours) == 2
    assert [h["checkpoint_id"] for h in theirs] == [h["checkpoint_id"] for h in ours]
    assert [h["values"] for h in theirs] == [h["values"] for h in ours]
    assert {h["checkpoint"]["thread_id"] for h in theirs} == {copy["thread_id"]}
    # The copy goes its own way.
    post(api, f"/threads/{copy['thread_id']}/state", {"values": HI})
    assert len(history(api, copy["thread_id"])) == 3 and len(history(api, tid)) == 2
    assert ids(search(api, metadata={"user": "ann"})) == [copy["thread_id"], tid]


def test_copy_of_a_busy_thread_is_idle_without_its_run(api, owner):
    tid = agent_thread(api)
    run_service.create_run(tid, actor=owner, input=HI)
    copy = post(api, f"/threads/{tid}/copy").json()
    assert api.get(f"/threads/{tid}").json()["status"] == "busy"
    assert copy["status"] == "idle"
    assert not Run.objects.filter(thread_id=copy["thread_id"]).exists()


def test_copy_of_a_thread_the_actor_cannot_see_is_404(api):
    bobs = make_thread(make_user("bob"))
    for tid in (bobs.pk, uuid.uuid4(), "not-a-uuid"):
        refused(post(api, f"/threads/{tid}/copy"), 404, "thread_id")
    assert Thread.objects.count() == 1


# Prune


def test_prune_deletes_the_actors_threads_only(api, owner):
    mine = [agent_thread(api), agent_thread(api)]
    bobs = make_thread(make_user("bob"))
    body = {"thread_ids": [*mine, str(bobs.pk), str(uuid.uuid4())]}
    response = post(api, "/threads/prune", body)
    assert response.status_code == 200 and response.json() == {"pruned_count": 2}
    for tid in mine:
        assert api.get(f"/threads/{tid}").status_code == 404
        assert not Checkpoint.objects.filter(thread_id=tid).exists()
    assert Thread.objects.filter(pk=bobs.pk).exists()
    assert post(api, "/threads/prune", {"thread_ids": []}).json() == {"pruned_count": 0}


def test_prune_delete_rolls_back_runs_in_flight_as_delete_does(api, owner):
    tid = agent_thread(api)
    run = run_service.create_run(tid, actor=owner, input=HI)
    assert post(api, "/threads/prune", {"thread_ids": [tid]}).json() == {"pruned_count": 1}
    assert not Run.objects.filter(pk=run.pk).exists()
    assert not Thread.objects.filter(pk=tid).exists()


def test_prune_keep_latest_keeps_the_thread_and_its_state(api, owner):
    tid, other = agent_thread(api, updates=3), agent_thread(api, updates=2)
    state = api.get(f"/threads/{tid}/state").json()
    body = {"thread_ids": [tid], "strategy": "keep_latest"}
    assert post(api, "/threads/prune", body).json() == {"pruned_count": 1}
    kept = history(api, tid)
    assert [h["checkpoint_id"] for h in kept] == [state["checkpoint_id"]]
    assert api.get(f"/threads/{tid}/state").json()["values"] == state["values"]
    assert api.get(f"/threads/{tid}").json()["values"] == state["values"]
    assert len(history(api, other)) == 2


def test_prune_keep_latest_refuses_a_thread_with_a_run_in_flight(api, owner):
    idle, busy = agent_thread(api, updates=2), agent_thread(api, updates=2)
    run_service.create_run(busy, actor=owner, input=HI)
    body = {"thread_ids": [idle, busy], "strategy": "keep_latest"}
    error = refused(post(api, "/threads/prune", body), 409, "thread_ids")
    assert busy in error["detail"] and idle not in error["detail"]
    assert len(history(api, idle)) == 2 and len(history(api, busy)) == 2  # nothing pruned


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "thread_ids"),
        ({"thread_ids": "x"}, "thread_ids"),
        ({"thread_ids": [str(uuid.uuid4()), "x"]}, "thread_ids[1]"),
        ({"thread_ids": [], "strategy": "bogus"}, "strategy"),
    ],
)
def test_prune_refuses_invalid_bodies(api, body, field):
    refused(post(api, "/threads/prune", body), 422, field)


# State at a checkpoint


def test_state_at_a_checkpoint(api):
    tid = agent_thread(api, updates=2)
    newest, older = history(api, tid)
    for checkpoint in (
        {"checkpoint_id": older["checkpoint_id"]},
        {"checkpoint_id": older["checkpoint_id"], "checkpoint_ns": ""},
        older["checkpoint"],  # with its thread_id, as the SDKs pass a state's checkpoint
    ):
        response = post(api, f"/threads/{tid}/state/checkpoint", {"checkpoint": checkpoint})
        assert response.status_code == 200, response.content
        assert response.json() == older
    body = {"checkpoint": {"checkpoint_id": newest["checkpoint_id"]}, "subgraphs": True}
    assert post(api, f"/threads/{tid}/state/checkpoint", body).json()["values"] == newest["values"]


def test_state_at_an_unknown_checkpoint_is_empty(api):
    tid = agent_thread(api)
    body = {"checkpoint": {"checkpoint_id": "1f000000-0000-6000-8000-000000000000"}}
    state = post(api, f"/threads/{tid}/state/checkpoint", body).json()
    assert state["values"] == {} and state["next"] == [] and state["metadata"] is None


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"checkpoint_id": "x"}, 422, "checkpoint"),
        ({"checkpoint": {}}, 422, "checkpoint.checkpoint_id"),
        ({"checkpoint": "x"}, 422, "checkpoint"),
        ({"checkpoint": {"checkpoint_id": "x", "thread_id": str(uuid.uuid4())}}, 422, None),
        ({"checkpoint": {"checkpoint_id": "x", "checkpoint_map": {"": "y"}}}, 422, None),
        ({"checkpoint": {"checkpoint_id": "x"}, "select": ["values.messages"]}, 422, "select"),
    ],
)
def test_state_at_a_checkpoint_refuses_invalid_bodies(api, body, status, field):
    tid = agent_thread(api)
    response = post(api, f"/threads/{tid}/state/checkpoint", body)
    body_field = body.get("checkpoint", {})
    expected = field or f"checkpoint.{next(k for k in body_field if k != 'checkpoint_id')}"
    refused(response, status, expected)


def test_state_at_a_checkpoint_of_another_users_thread_is_404(api):
    bobs = make_thread(make_user("bob"), metadata={"graph_id": "agent"})
    body = {"checkpoint": {"checkpoint_id": "x"}}
    refused(post(api, f"/threads/{bobs.pk}/state/checkpoint", body), 404, "thread_id")


# state_updated_at and error


def moved(before: str, after: str) -> bool:
    return datetime.datetime.fromisoformat(after) > datetime.datetime.fromisoformat(before)


def test_state_updated_at_moves_with_the_state_not_the_metadata(api):
    tid = agent_thread(api, updates=0)
    created = api.get(f"/threads/{tid}").json()
    assert created["state_updated_at"] and created["error"] is None
    patched = api.patch(f"/threads/{tid}", {"metadata": {"x": 1}}, format="json").json()
    assert moved(created["updated_at"], patched["updated_at"])
    assert patched["state_updated_at"] == created["state_updated_at"]
    post(api, f"/threads/{tid}/state", {"values": HI})
    updated = api.get(f"/threads/{tid}").json()
    assert moved(patched["state_updated_at"], updated["state_updated_at"])


def finish(tid, **outcome):
    """Claim the thread's next run and end it as a worker would."""
    claim = transactions.claim_next_run("test-worker", thread_id=tid)
    assert claim is not None
    transactions.finish_run(tid, claim.run_id, "test-worker", **outcome)
    return claim


def test_a_failed_run_leaves_its_error_on_the_thread_until_it_settles(api, owner):
    tid = agent_thread(api)
    before = api.get(f"/threads/{tid}").json()
    run_service.create_run(tid, actor=owner, input=HI)
    failure = {"error": "ValueError", "message": "boom"}
    finish(tid, status=RunStatus.ERROR, error=failure)
    failed = api.get(f"/threads/{tid}").json()
    assert failed["status"] == "error" and failed["error"] == failure
    assert moved(before["state_updated_at"], failed["state_updated_at"])
    assert ids(search(api, status="error")) == [tid]

    # A run in flight keeps it (as the platform's busy thread); a success clears it.
    run_service.create_run(tid, actor=owner, input=HI)
    busy = api.get(f"/threads/{tid}").json()
    assert busy["status"] == "busy" and busy["error"] == failure
    finish(tid, status=RunStatus.SUCCESS)
    settled = api.get(f"/threads/{tid}").json()
    assert settled["status"] == "idle" and settled["error"] is None


def test_an_update_or_a_cancel_clears_the_error(api, owner):
    tid = agent_thread(api)
    run_service.create_run(tid, actor=owner, input=HI)
    finish(tid, status=RunStatus.ERROR, error={"error": "E", "message": "m"})
    post(api, f"/threads/{tid}/state", {"values": HI, "as_node": "model"})
    assert api.get(f"/threads/{tid}").json()["error"] is None

    run_service.create_run(tid, actor=owner, input=HI)
    finish(tid, status=RunStatus.ERROR, error={"error": "E", "message": "m"})
    run = run_service.create_run(tid, actor=owner, input=HI)
    run_service.cancel_run(tid, run.pk, actor=owner, action="interrupt")
    thread = api.get(f"/threads/{tid}").json()
    assert thread["status"] == "idle" and thread["error"] is None


def test_a_rollback_moves_state_updated_at(api, owner):
    tid = agent_thread(api)
    run = run_service.create_run(tid, actor=owner, input=HI)
    claim = transactions.claim_next_run("test-worker", thread_id=tid)
    assert claim.run_id == str(run.pk)
    before = api.get(f"/threads/{tid}").json()["state_updated_at"]
    run_service.cancel_run(tid, run.pk, actor=owner, action="rollback")
    assert moved(before, api.get(f"/threads/{tid}").json()["state_updated_at"])


def test_a_run_end_moves_state_updated_at(api, owner):
    tid = agent_thread(api)
    before = api.get(f"/threads/{tid}").json()["state_updated_at"]
    Thread.objects.filter(pk=tid).update(state_updated_at=timezone.now() - datetime.timedelta(1))
    run_service.create_run(tid, actor=owner, input=HI)
    assert api.get(f"/threads/{tid}").json()["state_updated_at"] < before  # not at creation
    finish(tid, status=RunStatus.SUCCESS)
    assert moved(before, api.get(f"/threads/{tid}").json()["state_updated_at"])


# Create: supersteps and ttl


def test_create_with_supersteps_applies_them_in_order(api):
    body = {
        "metadata": {"graph_id": "agent"},
        "supersteps": [
            {"updates": [{"values": HI, "as_node": "__input__"}]},
            {
                "updates": [
                    {
                        "values": {"messages": [{"role": "ai", "content": "hello"}]},
                        "as_node": "model",
                    }
                ]
            },  # noqa: E501
            {
                "updates": [
                    {
                        "values": {"messages": [{"role": "user", "content": "a"}]},
                        "as_node": "model",
                    },  # noqa: E501
                    {
                        "values": {"messages": [{"role": "ai", "content": "b"}]},
                        "as_node": "tools",
                        "command": None,
                    },  # noqa: E501
                ]
            },
        ],
    }
    response = post(api, "/threads", body)
    assert response.status_code == 200, response.content
    thread = response.json()
    # As on LangGraph's server: the input superstep's message is the graph's input,
    # which no node has read yet; the next superstep's update replaces it.
    contents = [m["content"] for m in thread["values"]["messages"]]
    assert contents == ["hello", "a", "b"]
    steps = history(api, thread["thread_id"])
    assert [h["metadata"]["source"] for h in steps] == ["update", "update", "input"]
    assert thread["status"] == ("interrupted" if steps[0]["next"] else "idle")
    assert thread["metadata"] == {"graph_id": "agent"}


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        (
            {"supersteps": [{"updates": [{"values": HI, "as_node": "model"}]}]},
            400,
            "metadata.graph_id",
        ),  # noqa: E501
        (
            {"supersteps": [{"updates": [{"values": HI, "as_node": "nope"}]}]},
            422,
            "supersteps[0].updates[0].as_node",
        ),  # noqa: E501
        ({"supersteps": [{"updates": []}]}, 422, "supersteps[0]"),
        ({"supersteps": [{}]}, 422, "supersteps[0]"),
        ({"supersteps": "x"}, 422, "supersteps"),
        ({"supersteps": [{"updates": [{"values": HI}]}]}, 422, "supersteps[0].updates[0].as_node"),  # noqa: E501
        (
            {"supersteps": [{"updates": [{"values": [HI], "as_node": "model"}]}]},
            422,
            "supersteps[0].updates[0].values",
        ),  # noqa: E501
        (
            {
                "supersteps": [
                    {"updates": [{"values": {"messages": [{"role": "robot"}]}, "as_node": "model"}]}
                ]
            },
            422,
            "supersteps[0].updates[0].values.messages[0].type",
        ),  # noqa: E501
        (
            {
                "supersteps": [
                    {"updates": [{"values": None, "as_node": "model", "command": {"resume": 1}}]}
                ]
            },
            422,
            "supersteps[0].updates[0].command",
        ),  # noqa: E501
        ({"ttl": {"strategy": "delete", "ttl": 60}}, 422, "ttl"),
        ({"ttl": 5}, 422, "ttl"),
    ],
)
def test_create_refuses_what_it_cannot_do_and_creates_nothing(api, body, status, field):
    if "ttl" not in body and "graph_id" not in field:
        body = {"metadata": {"graph_id": "agent"}, **body}
    thread_id = str(uuid.uuid4())
    refused(post(api, "/threads", {"thread_id": thread_id, **body}), status, field)
    assert not Thread.objects.filter(pk=thread_id).exists()
    assert not Checkpoint.objects.filter(thread_id=thread_id).exists()


def test_patch_refuses_ttl(api, thread_id):
    body = {"metadata": {"x": 1}, "ttl": {"strategy": "delete", "ttl": 5}}
    refused(api.patch(f"/threads/{thread_id}", body, format="json"), 422, "ttl")
    assert Thread.objects.get(pk=thread_id).metadata == {}
    ok = api.patch(f"/threads/{thread_id}", {"metadata": {"x": 1}, "ttl": None}, format="json")
    assert ok.status_code == 200 and ok.json()["metadata"] == {"x": 1}


def test_an_update_the_graph_refuses_is_422(api):
    """A graph's own code may refuse values (the agent's tool edge finds no
    messages): the client's error, not the server's."""
    tid = agent_thread(api, updates=0)
    response = post(api, f"/threads/{tid}/state", {"values": {"foo": 1}, "as_node": "model"})
    refused(response, 422, "as_node")
    body = {
        "metadata": {"graph_id": "agent"},
        "supersteps": [{"updates": [{"values": {}, "as_node": "model"}]}],
    }
    refused(post(api, "/threads", body), 422, "supersteps")


def test_create_with_ttl_null_or_no_supersteps_is_plain(api):
    response = post(api, "/threads", {"ttl": None, "supersteps": None})
    assert response.status_code == 200 and response.json()["values"] == {}
    assert post(api, "/threads", {"supersteps": []}).status_code == 200
