"""What the saver asks the database: how many queries, and that each is an
index probe or an index range in the order wanted (EXPLAIN on SQLite and on
PostgreSQL), on a table of many threads, so that a full scan would show.

SQLite: every step is `SEARCH ... USING [COVERING] INDEX`, no `SCAN`, no
`USE TEMP B-TREE` (a sort). PostgreSQL: Index Scans on the expected index, no
Seq Scan, no Sort. A few thousand rows may still look cheaper to PostgreSQL to
scan, or to fetch with a bitmap and sort, than a real history would, so the
test transaction turns sequential scans, bitmap scans and sorts off: what
remains shows that an index serves the condition and the order (PostgreSQL
still sorts, or scans, when nothing else can).
"""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from langgraph.checkpoint.base import empty_checkpoint
from langgraph.checkpoint.base.id import uuid6

from checkpoints.models import Checkpoint, CheckpointBlob, CheckpointWrite
from checkpoints.saver import DjangoCheckpointSaver

pytestmark = pytest.mark.django_db

THREADS = 30
STEPS = 12  # per thread; thread-0 has LONG
LONG = 150
TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE")


def statements(queries):
    """The captured statements, without BEGIN/COMMIT (SQLite's IMMEDIATE
    transactions show them)."""
    return [q["sql"] for q in queries if not q["sql"].upper().startswith(TRANSACTION_CONTROL)]


def put_steps(saver, thread_id, steps, *, ns="", run_id=None, writes=True):
    """A thread the way a graph writes one: "messages" grows every step,
    "settings" never changes (one blob for all steps)."""
    config = {"configurable": {"thread_id": thread_id, "checkpoint_ns": ns}}
    checkpoint = empty_checkpoint()
    messages = []
    configs = []
    for step in range(steps):
        messages = [*messages, f"message {step}"]
        checkpoint = {
            **checkpoint,
            "id": str(uuid6()),
            "channel_values": {"messages": messages, "settings": {"model": "x"}},
        }
        versions = checkpoint["channel_versions"]
        new_versions = {"messages": saver.get_next_version(versions.get("messages"))}
        if "settings" not in versions:
            new_versions["settings"] = saver.get_next_version(None)
        checkpoint["channel_versions"] = {**versions, **new_versions}
        metadata = {"source": "loop", "step": step, "parents": {}}
        if run_id:
            metadata["run_id"] = run_id
        config = saver.put(config, checkpoint, metadata, new_versions)
        if writes:
            saver.put_writes(config, [("messages", ["next"]), ("flag", True)], "task-1", "path")
        configs.append(config)
    return configs


@pytest.fixture
def saver():
    return DjangoCheckpointSaver()


@pytest.fixture
def history(saver):
    """THREADS threads of STEPS checkpoints, but thread-0 of LONG, each with a
    subgraph namespace; returns the configs of thread-0. Analysed, and
    sequential scans off, on PostgreSQL."""
    configs = {}
    for t in range(THREADS):
        configs[t] = put_steps(saver, f"thread-{t}", LONG if t == 0 else STEPS, run_id=f"run-{t}")
        put_steps(saver, f"thread-{t}", 3, ns=f"child:{t}", run_id=f"run-{t}")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for model in (Checkpoint, CheckpointBlob, CheckpointWrite):
                cursor.execute(f"ANALYZE {model._meta.db_table}")
            for plan in ("seqscan", "bitmapscan", "sort"):
                cursor.execute(f"SET LOCAL enable_{plan} = off")
    return configs[0]


def index_name(model, name):
    """The database's name of an index or unique constraint of the model
    (SQLite names a table's unique constraints sqlite_autoindex_*)."""
    if connection.vendor != "sqlite":
        return name
    fields = next(
        c.fields for c in (*model._meta.constraints, *model._meta.indexes) if c.name == name
    )
    columns = [model._meta.get_field(f).column for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(f"PRAGMA index_list({model._meta.db_table})")
        for row in cursor.fetchall():
            cursor.execute(f"PRAGMA index_info({row[1]})")
            if [r[2] for r in cursor.fetchall()] == columns:
                return row[1]
    raise AssertionError(f"no index {name}")


def pg_nodes(node):
    yield node
    for child in node.get("Plans", ()):
        yield from pg_nodes(child)


def assert_index_plan(sql, model, *indexes, conditions=()):
    """The statement reads `model` through one of `indexes` only, with no
    sort; the columns in `conditions` are part of the index search (not
    filters)."""
    names = [index_name(model, index) for index in indexes]
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("EXPLAIN QUERY PLAN " + sql)
            details = [row[3] for row in cursor.fetchall()]
            assert not [d for d in details if d.startswith("SCAN")], details
            assert not [d for d in details if "TEMP B-TREE" in d], details
            searches = [d for d in details if d.startswith("SEARCH")]
            assert searches and all(
                any(f"USING INDEX {n} " in d or f"USING COVERING INDEX {n} " in d for n in names)
                for d in searches
            ), details
            for column in conditions:
                assert any(f"{column}=" in d or f"{column}<" in d for d in searches), details
        else:
            cursor.execute("EXPLAIN (FORMAT JSON) " + sql)
            (plan,) = cursor.fetchone()
            plan = json.loads(plan) if isinstance(plan, str) else plan
            nodes = list(pg_nodes(plan[0]["Plan"]))
            types = [n["Node Type"] for n in nodes]
            assert "Seq Scan" not in types and "Sort" not in types, types
            assert "Incremental Sort" not in types, types
            scans = [
                n
                for n in nodes
                if n.get("Relation Name") == model._meta.db_table
                and n["Node Type"] != "ModifyTable"
            ]
            assert scans and all(
                n["Node Type"] in ("Index Scan", "Index Only Scan") and n["Index Name"] in names
                for n in scans
            ), nodes
            for column in conditions:
                assert all(column in n.get("Index Cond", "") for n in scans), nodes


def test_get_tuple_latest_is_three_index_probes(saver, history):
    with CaptureQueriesContext(connection) as queries:
        found = saver.get_tuple({"configurable": {"thread_id": "thread-0", "checkpoint_ns": ""}})
    assert found.config == history[-1]
    assert found.checkpoint["channel_values"]["messages"][-1] == f"message {LONG - 1}"
    assert len(found.pending_writes) == 2
    checkpoint_sql, writes_sql, blobs_sql = statements(queries.captured_queries)
    assert "LIMIT 1" in checkpoint_sql and "ORDER BY" in checkpoint_sql
    assert_index_plan(
        checkpoint_sql,
        Checkpoint,
        "checkpoints_checkpoint_key",
        conditions=("thread_id", "checkpoint_ns"),
    )
    assert_index_plan(
        writes_sql,
        CheckpointWrite,
        "checkpoints_write_key",
        conditions=("thread_id", "checkpoint_ns", "checkpoint_id"),
    )
    assert_index_plan(
        blobs_sql,
        CheckpointBlob,
        "checkpoints_blob_key",
        conditions=("thread_id", "checkpoint_ns", "channel", "version"),
    )


def test_get_tuple_by_id_is_three_index_probes(saver, history):
    with CaptureQueriesContext(connection) as queries:
        found = saver.get_tuple(history[3])
    assert found.config == history[3] and found.parent_config == history[2]
    assert found.checkpoint["channel_values"]["messages"] == [f"message {i}" for i in range(4)]
    checkpoint_sql, _, _ = statements(queries.captured_queries)
    assert_index_plan(  # both have the three columns: one probe either way
        checkpoint_sql,
        Checkpoint,
        "checkpoints_checkpoint_key",
        "checkpoints_thread_order_idx",
        conditions=("thread_id", "checkpoint_ns", "checkpoint_id"),
    )


def test_get_tuple_of_a_checkpoint_without_channels_is_two_queries(saver, db):
    config = saver.put(
        {"configurable": {"thread_id": "t", "checkpoint_ns": ""}}, empty_checkpoint(), {}, {}
    )
    with CaptureQueriesContext(connection) as queries:
        assert saver.get_tuple(config).checkpoint["channel_values"] == {}
    assert len(statements(queries.captured_queries)) == 2


# A namespace's checkpoints, newest first: the key index has them in order;
# (thread_id, checkpoint_id, checkpoint_ns) does too, with the namespace checked
# in the index. PostgreSQL may take either when most of a thread is in one
# namespace (SQLite takes the key).
NAMESPACE_ORDER = ("checkpoints_checkpoint_key", "checkpoints_thread_order_idx")


def test_list_pages_through_the_index(saver, history):
    """before + limit: one index range, read backwards, cut by LIMIT."""
    with CaptureQueriesContext(connection) as queries:
        found = list(
            saver.list(
                {"configurable": {"thread_id": "thread-0", "checkpoint_ns": ""}},
                before=history[8],
                limit=3,
            )
        )
    assert [t.config for t in found] == history[5:8][::-1]
    checkpoint_sql, writes_sql, blobs_sql = statements(queries.captured_queries)
    assert "LIMIT 3" in checkpoint_sql
    assert_index_plan(
        checkpoint_sql,
        Checkpoint,
        *NAMESPACE_ORDER,
        conditions=("thread_id", "checkpoint_ns", "checkpoint_id"),
    )
    assert_index_plan(
        writes_sql,
        CheckpointWrite,
        "checkpoints_write_key",
        conditions=("thread_id", "checkpoint_ns", "checkpoint_id"),
    )
    assert_index_plan(
        blobs_sql,
        CheckpointBlob,
        "checkpoints_blob_key",
        conditions=("thread_id", "checkpoint_ns", "channel", "version"),
    )


def test_list_reads_pages_with_a_keyset_cursor(saver, history, monkeypatch):
    """A long history is read page by page, three queries a page, each page
    starting after the last row of the one before (no OFFSET)."""
    monkeypatch.setattr(saver, "page_size", 60)
    with CaptureQueriesContext(connection) as queries:
        found = list(saver.list({"configurable": {"thread_id": "thread-0", "checkpoint_ns": ""}}))
    assert [t.config for t in found] == history[::-1]
    sqls = statements(queries.captured_queries)
    assert len(sqls) == 3 * 3  # LONG checkpoints: pages of 60, 60 and 30
    assert not [s for s in sqls if "OFFSET" in s]
    assert_index_plan(
        sqls[3],
        Checkpoint,
        *NAMESPACE_ORDER,
        conditions=("thread_id", "checkpoint_ns", "checkpoint_id"),
    )


def test_list_of_a_thread_across_namespaces(saver, history, monkeypatch):
    """Without a namespace, the thread's order index serves the order and the
    cursor, which is (checkpoint_id, checkpoint_ns)."""
    monkeypatch.setattr(saver, "page_size", 40)
    with CaptureQueriesContext(connection) as queries:
        found = list(saver.list({"configurable": {"thread_id": "thread-0"}}))
    ids = [t.checkpoint["id"] for t in found]
    assert len(found) == LONG + 3 and ids == sorted(ids, reverse=True)
    assert {t.config["configurable"]["checkpoint_ns"] for t in found} == {"", "child:0"}
    sqls = statements(queries.captured_queries)
    for sql in (sqls[0], sqls[3]):  # the first page, and one after a cursor
        assert_index_plan(
            sql, Checkpoint, "checkpoints_thread_order_idx", conditions=("thread_id",)
        )


def test_list_with_a_metadata_filter_stays_in_the_thread_range(saver, history):
    with CaptureQueriesContext(connection) as queries:
        found = list(
            saver.list(
                {"configurable": {"thread_id": "thread-0", "checkpoint_ns": ""}},
                filter={"step": 4, "source": "loop"},
            )
        )
    assert [t.config for t in found] == [history[4]]
    assert_index_plan(
        statements(queries.captured_queries)[0],
        Checkpoint,
        *NAMESPACE_ORDER,
        conditions=("thread_id", "checkpoint_ns"),
    )


def test_put_is_two_statements_and_put_writes_one(saver, db):
    config = {"configurable": {"thread_id": "t", "checkpoint_ns": ""}}
    checkpoint = {
        **empty_checkpoint(),
        "channel_values": {"messages": ["hi"]},
        "channel_versions": {"messages": saver.get_next_version(None)},
    }
    with CaptureQueriesContext(connection) as queries:
        config = saver.put(config, checkpoint, {}, checkpoint["channel_versions"])
    assert len(statements(queries.captured_queries)) == 2  # blobs, checkpoint
    with CaptureQueriesContext(connection) as queries:
        saver.put_writes(config, [("a", 1), ("b", 2)], "task")
    assert len(statements(queries.captured_queries)) == 1


def test_delete_for_runs_finds_rows_by_run_id(saver, history):
    """The rollback's delete: run_id index on checkpoints and on writes, the
    key indexes for the rest."""
    with CaptureQueriesContext(connection) as queries:
        saver.delete_for_runs(["run-0"])
    sqls = statements(queries.captured_queries)
    by_run = [s for s in sqls if "run_id" in s]
    assert len(by_run) == 3  # writes; the checkpoints, read then deleted
    for sql in by_run:
        model = CheckpointWrite if "checkpointwrite" in sql else Checkpoint
        index = "checkpoints_write_run_idx" if model is CheckpointWrite else "checkpoints_run_idx"
        assert_index_plan(sql, model, index, conditions=("run_id",))
    assert not Checkpoint.objects.filter(thread_id="thread-0").exists()
    assert not CheckpointBlob.objects.filter(thread_id="thread-0").exists()
    assert Checkpoint.objects.filter(thread_id="thread-1").count() == STEPS + 3
