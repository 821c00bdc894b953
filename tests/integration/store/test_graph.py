"""Compiled LangGraph graphs whose nodes use the store, given a DjangoStore
the way the server gives it (`graph.copy(update={"store": ...})`), with
LangGraph's InMemorySaver as the checkpointer: the platform transcript's
`storey` graph (get_store() in an async node), a sync graph (a `store`
parameter, run on LangGraph's threads) and `runtime.store`. What one run
writes the next run, another thread and the owner's other stores read; another
owner's store sees nothing."""

from typing import Annotated, TypedDict

import pytest
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.config import get_store
from langgraph.graph import START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.runtime import Runtime
from langgraph.store.base import BaseStore

from store.backend import DjangoStore

MEMORIES = ("memories", "user-1")


class State(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]


async def remember(state: State):
    """The platform transcript's `storey` node."""
    store = get_store()
    previous = await store.aget(MEMORIES, "last")
    await store.aput(MEMORIES, "last", {"text": state["messages"][-1].content})
    found = await store.asearch(("memories",))
    prev = previous.value if previous else None
    return {"messages": [AIMessage(f"prev={prev}; n={len(found)}")]}


def count(state: State, store: BaseStore):
    """A sync node with a `store` parameter: a counter per word."""
    word = state["messages"][-1].content
    item = store.get(("counts",), word)
    n = (item.value["n"] if item else 0) + 1
    store.put(("counts",), word, {"n": n}, ttl=60)
    seen = store.list_namespaces(prefix=("counts",))
    return {"messages": [AIMessage(f"{word}={n}; namespaces={len(seen)}")]}


async def greet(state: State, runtime: Runtime):
    item = await runtime.store.aget(("profile",), "name")
    return {"messages": [AIMessage(f"hello {item.value['name'] if item else 'stranger'}")]}


def compiled(node):
    return StateGraph(State).add_node(node).add_edge(START, node.__name__).compile()


def with_store(graph, owner_id, **options):
    # What the server does: its own checkpointer, the run's owner's store.
    return graph.copy(
        update={"store": DjangoStore(owner_id, **options), "checkpointer": InMemorySaver()}
    )


def config(thread_id: str) -> dict:
    return {"configurable": {"thread_id": thread_id}}


def said(result) -> str:
    return result["messages"][-1].content


async def test_the_platform_transcripts_graph(run_sync, alice, bob):
    graph = with_store(compiled(remember), alice.pk, run_sync=run_sync)
    first = await graph.ainvoke({"messages": [HumanMessage("remember me")]}, config("t1"))
    assert said(first) == "prev=None; n=1"
    second = await graph.ainvoke({"messages": [HumanMessage("again")]}, config("t1"))
    assert said(second) == "prev={'text': 'remember me'}; n=1"
    assert run_sync.calls == 6  # three store calls a run

    # another thread of the same owner shares the memory
    other = await graph.ainvoke({"messages": [HumanMessage("elsewhere")]}, config("t2"))
    assert said(other) == "prev={'text': 'again'}; n=1"
    mine = DjangoStore(alice.pk, run_sync=run_sync)
    assert (await mine.aget(MEMORIES, "last")).value == {"text": "elsewhere"}
    assert await mine.alist_namespaces(prefix=("memories",)) == [MEMORIES]

    # another owner's run starts from nothing, and leaves alice's memory alone
    theirs = with_store(compiled(remember), bob.pk, run_sync=run_sync)
    result = await theirs.ainvoke({"messages": [HumanMessage("bob here")]}, config("t3"))
    assert said(result) == "prev=None; n=1"
    assert (await mine.aget(MEMORIES, "last")).value == {"text": "elsewhere"}


@pytest.mark.django_db(transaction=True)
def test_a_sync_graph_with_a_store_parameter(alice):
    graph = with_store(compiled(count), alice.pk)
    for expected in ("apple=1", "apple=2", "pear=1", "apple=3"):
        word = expected.split("=")[0]
        result = graph.invoke({"messages": [HumanMessage(word)]}, config("counting"))
        assert said(result) == f"{expected}; namespaces=1"
    counts = DjangoStore(alice.pk).search(("counts",))
    assert {item.key: item.value["n"] for item in counts} == {"apple": 3, "pear": 1}


async def test_runtime_store(run_sync, alice, bob):
    await DjangoStore(alice.pk, run_sync=run_sync).aput(("profile",), "name", {"name": "Alice"})
    graph = compiled(greet)
    hers = await with_store(graph, alice.pk, run_sync=run_sync).ainvoke(
        {"messages": [HumanMessage("hi")]}, config("g1")
    )
    his = await with_store(graph, bob.pk, run_sync=run_sync).ainvoke(
        {"messages": [HumanMessage("hi")]}, config("g2")
    )
    assert (said(hers), said(his)) == ("hello Alice", "hello stranger")
