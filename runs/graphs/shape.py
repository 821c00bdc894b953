"""The shape every built-in graph shares: `model` ⇄ `tools`.

`model` answers or calls tools; `tools` answers the calls and hands back to
`model`. The chat page and the tests rely on these node names, so the graphs
build them here, in one place. Graphs are compiled without a checkpointer:
the server attaches its own.
"""

from typing import Any

from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.prebuilt import tools_condition


def build(model: Any, tools: Any, context_schema: type | None = None) -> CompiledStateGraph:
    builder = StateGraph(MessagesState, context_schema=context_schema)
    builder.add_node("model", model)
    builder.add_node("tools", tools)
    builder.add_edge(START, "model")
    builder.add_conditional_edges("model", tools_condition, {"tools": "tools", END: END})
    builder.add_edge("tools", "model")
    return builder.compile()
