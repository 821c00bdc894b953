"""Real LangGraph graphs on the saver, where the conformance suite has gaps:
messages state run twice (sync and async), the state API (get_state,
get_state_history, update_state), a subgraph's namespaced checkpoints,
interrupt() and Command(resume=...), and what the server relies on:
delete_for_runs as a run's rollback, copy_thread, prune.

A graph's run_id reaches the saver as `config["metadata"]["run_id"]`, as the
LangGraph API passes it.
"""

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Annotated, TypedDict
from uuid import UUID

import pytest
from asgiref.sync import sync_to_async
from django.db import connections, transaction
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, ToolMessage
from langgraph.channels import DeltaChannel
from langgraph.checkpoint.base import empty_checkpoint
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.serde.types import INTERRUPT, RESUME
from langgraph.graph import START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.types import Command, Interrupt, Send, interrupt

from checkpoints.models import Checkpoint, CheckpointBlob, CheckpointWrite
from checkpoints.saver import DjangoCheckpointSaver


class State(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]


def reply(state: State):
    last = state["messages"][-1]
    return {"messages": [AIMessage(f"echo: {last.content}")]}


def chat_graph(saver):
    return StateGraph(State).add_node(reply).add_edge(START, "reply").compile(checkpointer=saver)


def think(state: State):
    call = {"name": "search", "args": {"q": state["messages"][-1].content}, "id": "call-1"}
    return {"messages": [AIMessage("thinking", tool_calls=[call])]}


def ask(state: State):
    answer = interrupt({"question": "approve?"})
    return {"messages": [HumanMessage(f"answer: {answer}")]}


def final(state: State):
    return {"messages": [AIMessage("done")]}


def agent_graph(saver):
    """A root graph calling a subgraph (namespaced checkpoints) that
    interrupts to ask a question."""
    sub = (
        StateGraph(State)
        .add_node(think)
        .add_node(ask)
        .add_edge(START, "think")
        .add_edge("think", "ask")
        .compile()
    )
    return (
        StateGraph(State)
        .add_node("sub", sub)
        .add_node(final)
        .add_edge(START, "sub")
        .add_edge("sub", "final")
        .compile(checkpointer=saver)
    )


def config(thread_id, run_id=None):
    value = {"configurable": {"thread_id": thread_id}}
    if run_id:
        value["metadata"] = {"run_id": run_id}
    return value


def contents(state):
    return [m.content for m in state.values["messages"]]


def assert_blobs_all_named():
    """Every blob is named by a checkpoint of its namespace (none left behind
    by a delete), and every checkpoint's blobs exist."""
    named = {
        (c.thread_id, c.checkpoint_ns, channel, str(version))
        for c in Checkpoint.objects.all()
        for channel, version in c.checkpoint["channel_versions"].items()
    }
    stored = set(
        CheckpointBlob.objects.values_list("thread_id", "checkpoint_ns", "channel", "version")
    )
    assert stored == named


# --- messages state, sync and async -----------------------------------------


@pytest.mark.django_db(transaction=True)
def test_messages_state_sync():
    graph = chat_graph(DjangoCheckpointSaver())
    cfg = config("chat-sync")
    graph.invoke({"messages": [HumanMessage("hello")]}, cfg)
    out = graph.invoke({"messages": [HumanMessage("again")]}, cfg)
    assert [m.content for m in out["messages"]] == ["hello", "echo: hello", "again", "echo: again"]

    state = graph.get_state(cfg)
    assert contents(state) == ["hello", "echo: hello", "again", "echo: again"]
    assert [m.type for m in state.values["messages"]] == ["human", "ai", "human", "ai"]
    assert state.next == () and state.metadata["step"] == 4

    history = list(graph.get_state_history(cfg))
    # per run: input checkpoint, then one for the step before and after "reply"
    assert [h.metadata["source"] for h in history] == ["loop", "loop", "input"] * 2
    assert contents(history[-1]) == []
    assert [h.config for h in history[1:]] == [h.parent_config for h in history[:-1]]

    updated = graph.update_state(cfg, {"messages": [HumanMessage("edited")]}, as_node="reply")
    state = graph.get_state(cfg)
    assert state.config == updated and state.metadata["source"] == "update"
    assert contents(state)[-1] == "edited"
    assert len(list(graph.get_state_history(cfg))) == len(history) + 1
    # The unchanged channel is stored once per version, not once per step.
    assert CheckpointBlob.objects.filter(channel="messages").count() == 5
    assert_blobs_all_named()


@pytest.mark.django_db(transaction=True)
def test_sync_graphs_give_their_connections_back():
    """A sync graph calls the saver on LangGraph's own threads: each call gives
    back the connection it opened, or a pooled database runs dry (on
    PostgreSQL the pool has DATABASE_POOL_SIZE connections, 10 by default)."""
    graph = chat_graph(DjangoCheckpointSaver())
    for i in range(12):
        graph.invoke({"messages": [HumanMessage(str(i))]}, config("many"))
    assert len(graph.get_state(config("many")).values["messages"]) == 24


@pytest.mark.django_db(transaction=True)
def test_a_thread_that_keeps_its_connection():
    """close_connections=False: the connection stays open for the next call
    (a caller with its own database threads)."""

    def calls(saver):
        saver.get_tuple(config("kept"))
        try:
            return connections["default"].connection is not None
        finally:
            connections.close_all()

    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(calls, DjangoCheckpointSaver(close_connections=False)).result()
        assert not pool.submit(calls, DjangoCheckpointSaver()).result()


async def test_messages_state_async(saver):
    graph = chat_graph(saver)
    cfg = config("chat-async")
    await graph.ainvoke({"messages": [HumanMessage("hello")]}, cfg)
    out = await graph.ainvoke({"messages": [HumanMessage("again")]}, cfg)
    assert [m.content for m in out["messages"]] == ["hello", "echo: hello", "again", "echo: again"]

    state = await graph.aget_state(cfg)
    assert contents(state) == ["hello", "echo: hello", "again", "echo: again"]
    history = [h async for h in graph.aget_state_history(cfg)]
    assert len(history) == 6
    limited = [h async for h in graph.aget_state_history(cfg, limit=2, before=history[1].config)]
    assert [h.config for h in limited] == [history[2].config, history[3].config]

    await graph.aupdate_state(cfg, {"messages": [HumanMessage("edited")]}, as_node="reply")
    out = await graph.ainvoke({"messages": [HumanMessage("third")]}, cfg)
    assert [m.content for m in out["messages"]][-3:] == ["edited", "third", "echo: third"]


async def test_alist_pages_through_run_sync(saver, monkeypatch):
    """alist reads a page per run_sync call, in order, without gaps."""
    graph = chat_graph(saver)
    cfg = config("paged")
    for text in ("a", "b", "c"):
        await graph.ainvoke({"messages": [HumanMessage(text)]}, cfg)
    expected = [t.config async for t in saver.alist(cfg)]
    calls = []
    run_sync = saver.run_sync

    async def counting(func, *args, **kwargs):
        calls.append(func.__name__)
        return await run_sync(func, *args, **kwargs)

    monkeypatch.setattr(saver, "run_sync", counting)
    monkeypatch.setattr(saver, "page_size", 2)
    assert [t.config async for t in saver.alist(cfg)] == expected
    assert len(expected) == 9 and calls == ["list_page"] * 5
    assert [t.config async for t in saver.alist(cfg, limit=3)] == expected[:3]


# --- values LangGraph stores --------------------------------------------------


async def test_values_round_trip(saver):
    """Channel values and writes of every kind LangGraph stores come back equal."""
    values = {
        "messages": [
            HumanMessage("hi", id="1"),
            AIMessage("", id="2", tool_calls=[{"name": "f", "args": {"x": 1}, "id": "c1"}]),
            ToolMessage("result", tool_call_id="c1", id="3"),
        ],
        "send": Send("node", {"arg": 1}),
        "interrupt": Interrupt(value={"question": "?"}, id="i1"),
        "bytes": b"\x00\xff binary",
        "when": datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC),
        "uuid": UUID("12345678-1234-5678-1234-567812345678"),
        "set": {1, 2, 3},
        "none": None,
        "text": "plain \u00e9",
    }
    versions = {channel: saver.get_next_version(None) for channel in values}
    checkpoint = {**empty_checkpoint(), "channel_values": values, "channel_versions": versions}
    stored = await saver.aput(config("values") | {"metadata": {}}, checkpoint, {}, versions)
    stored["configurable"]["checkpoint_ns"] = ""
    await saver.aput_writes(stored, list(values.items()), "task", "path")

    found = await saver.aget_tuple(stored)
    assert found.checkpoint["channel_values"] == values
    assert [(channel, value) for _, channel, value in found.pending_writes] == list(values.items())
    assert found.checkpoint["channel_versions"] == versions


# --- subgraph, interrupt, resume ---------------------------------------------


async def test_subgraph_interrupt_and_resume(saver):
    graph = agent_graph(saver)
    cfg = config("agent", "run-1")
    out = await graph.ainvoke({"messages": [HumanMessage("hi")]}, cfg)
    assert out["__interrupt__"][0].value == {"question": "approve?"}

    state = await graph.aget_state(cfg, subgraphs=True)
    assert state.next == ("sub",)
    (task,) = state.tasks
    assert task.interrupts[0].value == {"question": "approve?"}
    sub_state = task.state
    sub_ns = sub_state.config["configurable"]["checkpoint_ns"]
    assert sub_ns.startswith("sub:") and sub_state.next == ("ask",)
    assert sub_state.values["messages"][-1].tool_calls[0]["args"] == {"q": "hi"}

    # The subgraph's checkpoints are in their own namespace.
    namespaces = {
        t.config["configurable"]["checkpoint_ns"] async for t in saver.alist(config("agent"))
    }
    assert namespaces == {"", sub_ns}
    root = [
        t async for t in saver.alist({"configurable": {"thread_id": "agent", "checkpoint_ns": ""}})
    ]
    assert {t.config["configurable"]["checkpoint_ns"] for t in root} == {""}
    # The interrupt is a pending write of the latest checkpoint of each.
    latest_sub = await saver.aget_tuple(sub_state.config)
    assert [w[1] for w in latest_sub.pending_writes] == [INTERRUPT]
    assert latest_sub.pending_writes[0][2][0].value == {"question": "approve?"}

    out = await graph.ainvoke(Command(resume="yes"), config("agent", "run-2"))
    assert [m.content for m in out["messages"]] == ["hi", "thinking", "answer: yes", "done"]
    state = await graph.aget_state(config("agent"))
    assert state.next == () and not state.tasks


# --- delete_for_runs: a run's rollback ----------------------------------------


async def test_delete_for_runs_rolls_back_to_the_previous_run(saver):
    graph = chat_graph(saver)
    await graph.ainvoke({"messages": [HumanMessage("one")]}, config("rollback", "run-1"))
    before = [t.config async for t in saver.alist(config("rollback"))]
    await graph.ainvoke({"messages": [HumanMessage("two")]}, config("rollback", "run-2"))
    await graph.ainvoke({"messages": [HumanMessage("other")]}, config("other", "run-3"))

    await saver.adelete_for_runs(["run-2"])

    state = await graph.aget_state(config("rollback"))
    assert contents(state) == ["one", "echo: one"]
    assert state.config == before[0] and state.metadata["run_id"] == "run-1"
    assert [t.config async for t in saver.alist(config("rollback"))] == before
    assert contents(await graph.aget_state(config("other"))) == ["other", "echo: other"]
    await sync_check(assert_blobs_all_named)
    # The thread goes on from there.
    out = await graph.ainvoke({"messages": [HumanMessage("three")]}, config("rollback", "run-4"))
    assert [m.content for m in out["messages"]] == ["one", "echo: one", "three", "echo: three"]


async def test_rolling_back_a_resume_brings_the_interrupt_back(saver):
    """A resume stores its value on the interrupted checkpoint (of the run
    before): rolling the resume back deletes that write too, so the thread is
    interrupted again and can be resumed again."""
    graph = agent_graph(saver)
    await graph.ainvoke({"messages": [HumanMessage("hi")]}, config("resume", "run-1"))
    interrupted = await graph.aget_state(config("resume"))
    await graph.ainvoke(Command(resume="yes"), config("resume", "run-2"))

    await saver.adelete_for_runs(["run-2"])

    state = await graph.aget_state(config("resume"), subgraphs=True)
    assert state.config == interrupted.config and state.next == ("sub",)
    assert state.tasks[0].interrupts[0].value == {"question": "approve?"}
    latest = await saver.aget_tuple(config("resume"))
    assert RESUME not in {w[1] for w in latest.pending_writes}
    await sync_check(assert_blobs_all_named)
    out = await graph.ainvoke(Command(resume="no"), config("resume", "run-3"))
    assert [m.content for m in out["messages"]] == ["hi", "thinking", "answer: no", "done"]


@pytest.mark.django_db(transaction=True)
def test_delete_for_runs_inside_the_callers_transaction():
    """The server deletes a run and its checkpoints in one transaction: if it
    fails, the checkpoints are back."""
    saver = DjangoCheckpointSaver()
    graph = chat_graph(saver)
    graph.invoke({"messages": [HumanMessage("one")]}, config("tx", "run-1"))
    count = Checkpoint.objects.count()
    with pytest.raises(RuntimeError), transaction.atomic():
        saver.delete_for_runs(["run-1"])
        assert not Checkpoint.objects.exists()
        raise RuntimeError("the run's own delete failed")
    assert Checkpoint.objects.count() == count
    with transaction.atomic():
        saver.delete_for_runs(["run-1"])
    assert not Checkpoint.objects.exists() and not CheckpointWrite.objects.exists()
    assert not CheckpointBlob.objects.exists()


# --- copy_thread ------------------------------------------------------------


async def test_copy_thread(saver):
    graph = agent_graph(saver)
    await graph.ainvoke({"messages": [HumanMessage("hi")]}, config("source", "run-1"))
    await saver.acopy_thread("source", "copy")

    source = await graph.aget_state(config("source"), subgraphs=True)
    copy = await graph.aget_state(config("copy"), subgraphs=True)
    assert copy.values == source.values and copy.next == source.next
    assert copy.tasks[0].state.values == source.tasks[0].state.values
    assert len([t async for t in saver.alist(config("copy"))]) == len(
        [t async for t in saver.alist(config("source"))]
    )
    # The copy goes its own way.
    out = await graph.ainvoke(Command(resume="copied"), config("copy", "run-2"))
    assert out["messages"][-2].content == "answer: copied"
    assert (await graph.aget_state(config("source"))).next == ("sub",)
    # Rolling back the source's run leaves the copy alone.
    await saver.adelete_for_runs(["run-1"])
    assert await saver.aget_tuple(config("source")) is None
    assert contents(await graph.aget_state(config("copy")))[-1] == "done"


# --- prune --------------------------------------------------------------------


async def test_prune_keep_latest(saver):
    graph = agent_graph(saver)
    await graph.ainvoke({"messages": [HumanMessage("hi")]}, config("prune", "run-1"))
    await graph.ainvoke(Command(resume="yes"), config("prune", "run-2"))
    # A second call of the subgraph, interrupted: its namespace is in use.
    await graph.ainvoke({"messages": [HumanMessage("more")]}, config("prune", "run-3"))
    state = await graph.aget_state(config("prune"), subgraphs=True)
    current_call = state.tasks[0].state.config["configurable"]["checkpoint_ns"]
    await graph.ainvoke({"messages": [HumanMessage("kept")]}, config("kept", "run-4"))
    kept = [t.config async for t in saver.alist(config("kept"))]

    await saver.aprune(["prune"], strategy="keep_latest")

    after = [t async for t in saver.alist(config("prune"))]
    # The root's latest and the interrupted call's latest; the finished call is gone.
    assert sorted(t.config["configurable"]["checkpoint_ns"] for t in after) == ["", current_call]
    assert all(t.parent_config is None for t in after)
    pruned = await graph.aget_state(config("prune"), subgraphs=True)
    assert pruned.values == state.values and pruned.next == ("sub",)
    assert pruned.tasks[0].state.values == state.tasks[0].state.values
    assert [t.config async for t in saver.alist(config("kept"))] == kept
    await sync_check(assert_blobs_all_named)
    out = await graph.ainvoke(Command(resume="after prune"), config("prune", "run-5"))
    assert out["messages"][-2].content == "answer: after prune"

    await saver.aprune(["prune", "kept"], strategy="delete")
    assert await saver.aget_tuple(config("prune")) is None
    assert await saver.aget_tuple(config("kept")) is None


def extend(state, writes):
    return [*state, *(item for write in writes for item in write)]


class DeltaState(TypedDict):
    items: Annotated[list, DeltaChannel(extend, snapshot_frequency=3)]


def count(state: DeltaState):
    return {"items": [len(state["items"])]}


async def test_delta_channel_graph(saver):
    """A DeltaChannel value is rebuilt from ancestors' writes
    (get_delta_channel_history, the base class's walk): the same as in memory.
    keep_latest refuses such a thread, which needs its ancestors."""
    results = []
    for checkpointer in (InMemorySaver(), saver):
        graph = StateGraph(DeltaState).add_node(count).add_edge(START, "count")
        graph = graph.compile(checkpointer=checkpointer)
        for i in range(7):
            out = await graph.ainvoke({"items": [f"in{i}"]}, config("delta"))
        results.append(out["items"])
    assert results[0] == results[1] and len(results[1]) == 14
    with pytest.raises(NotImplementedError, match="DeltaChannel"):
        await saver.aprune(["delta"])
    assert len([t async for t in saver.alist(config("delta"))]) == 7 * 3


async def test_prune_refuses_a_delta_channel_thread(saver):
    cfg = {"configurable": {"thread_id": "delta", "checkpoint_ns": ""}}
    first = await saver.aput(cfg, empty_checkpoint(), {"step": 0}, {})
    metadata = {"step": 1, "counters_since_delta_snapshot": {"messages": [1, 1]}}
    await saver.aput(first, empty_checkpoint(), metadata, {})
    with pytest.raises(NotImplementedError, match="delta"):
        await saver.aprune(["delta"])
    assert len([t async for t in saver.alist(cfg)]) == 2
    with pytest.raises(ValueError):
        await saver.aprune(["delta"], strategy="keep_none")
    with pytest.raises(TypeError):
        await saver.aprune("delta")


# --- a subclass guarding writes ---------------------------------------------


class Cancelled(Exception):
    pass


class GuardedSaver(DjangoCheckpointSaver):
    """What the server does: each write in a transaction that first checks
    the run may still write."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.cancelled = set()
        self.checked = []

    def guard(self, config):
        run_id = (config.get("metadata") or {}).get("run_id")
        self.checked.append(run_id)
        if run_id in self.cancelled:
            raise Cancelled(run_id)

    def put(self, config, checkpoint, metadata, new_versions):
        with transaction.atomic():
            self.guard(config)
            return super().put(config, checkpoint, metadata, new_versions)

    def put_writes(self, config, writes, task_id, task_path=""):
        with transaction.atomic():
            self.guard(config)
            return super().put_writes(config, writes, task_id, task_path)


async def test_a_subclass_guards_the_async_writes(run_sync):
    saver = GuardedSaver(run_sync=run_sync)
    graph = chat_graph(saver)
    await graph.ainvoke({"messages": [HumanMessage("one")]}, config("guarded", "run-1"))
    assert set(saver.checked) == {"run-1"}
    saver.cancelled.add("run-2")
    with pytest.raises(Cancelled):
        await graph.ainvoke({"messages": [HumanMessage("two")]}, config("guarded", "run-2"))
    state = await graph.aget_state(config("guarded"))
    assert contents(state) == ["one", "echo: one"]


async def sync_check(func):
    """Run a sync assertion on the database from an async test."""

    def call():
        try:
            func()
        finally:
            connections.close_all()

    await sync_to_async(call, thread_sensitive=False)()
