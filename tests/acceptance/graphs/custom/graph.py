"""A graph Doubletext has never seen, as a user would bring it.

Its state has no `messages`: a topic, notes added by several nodes (a list
with a reducer), a verdict. `research` writes a note (and a `custom` stream
part), then a conditional edge sends the run to `review`, a subgraph of its
own (`draft` then `polish`), until there are enough notes, and then to
`decide`. `config.configurable.delay` makes each node take that long, so a
run can be double-texted.
"""

import asyncio
import operator
from typing import Annotated, TypedDict

from langgraph.config import get_store, get_stream_writer
from langgraph.graph import END, START, StateGraph


class State(TypedDict, total=False):
    topic: str
    notes: Annotated[list[str], operator.add]
    verdict: str


async def pause(config) -> None:
    await asyncio.sleep(float((config.get("configurable") or {}).get("delay", 0)))


async def research(state: State, config) -> State:
    await pause(config)
    get_stream_writer()({"progress": "researching", "notes": len(state.get("notes", []))})
    return {"notes": [f"looked into {state['topic']}"]}


async def draft(state: State, config) -> State:
    await pause(config)
    return {"notes": [f"draft {len(state['notes'])}"]}


async def polish(state: State, config) -> State:
    await pause(config)
    return {"notes": [f"polished {len(state['notes'])}"]}


review_builder = StateGraph(State)
review_builder.add_node("draft", draft)
review_builder.add_node("polish", polish)
review_builder.add_edge(START, "draft")
review_builder.add_edge("draft", "polish")
review_builder.add_edge("polish", END)
review = review_builder.compile()


def enough(state: State) -> str:
    return "decide" if len(state["notes"]) >= 4 else "review"


async def decide(state: State, config) -> State:
    await pause(config)
    return {"verdict": f"{state['topic']}: {len(state['notes'])} notes"}


builder = StateGraph(State)
builder.add_node("research", research)
builder.add_node("review", review)
builder.add_node("decide", decide)
builder.add_edge(START, "research")
builder.add_conditional_edges("research", enough, ["review", "decide"])
builder.add_edge("review", "research")
builder.add_edge("decide", END)
graph = builder.compile()


class Memory(TypedDict, total=False):
    topic: str
    previous: str | None


async def remember(state: Memory) -> Memory:
    """Long-term memory across threads: the last topic of this user."""
    store = get_store()
    last = await store.aget(("memory", "topics"), "last")
    await store.aput(("memory", "topics"), "last", {"topic": state["topic"]})
    return {"previous": last.value["topic"] if last else None}


memory_builder = StateGraph(Memory)
memory_builder.add_node("remember", remember)
memory_builder.add_edge(START, "remember")
memory_builder.add_edge("remember", END)
memory = memory_builder.compile()
