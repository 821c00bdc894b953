"""Agents the executor can drive, by assistant id.

Like LangGraph Platform, each graph has a default assistant whose id is a
UUID derived from the graph id; a run may name either.
"""

import uuid

from runs.agents import openai
from runs.agents.base import InvalidOption  # noqa: F401  (raised by check_options)
from runs.agents.demo import DemoAgent

_NAMESPACE = uuid.UUID("6ba7b821-9dad-11d1-80b4-00c04fd430c8")
_DEMO = DemoAgent()


def _agents() -> dict:
    """The built-in demo agent, plus the OpenAI-compatible one when configured."""
    registry = {"agent": _DEMO}
    backend = openai.from_settings()
    if backend is not None:
        registry[backend.assistant_id] = backend
    return registry


def assistant_uuid(graph_id: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, graph_id))


def resolve_graph_id(assistant_id: str) -> str | None:
    """The graph id an assistant id (graph id or its UUID) names, or None."""
    registry = _agents()
    if assistant_id in registry:
        return assistant_id
    for graph_id in registry:
        if assistant_uuid(graph_id) == str(assistant_id).lower():
            return graph_id
    return None


def get_agent(assistant_id: str):
    """The agent for an assistant id, or None."""
    graph_id = resolve_graph_id(assistant_id)
    return _agents()[graph_id] if graph_id else None


def all_agents():
    return list(_agents().values())
