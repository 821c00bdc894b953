"""Assistants: the agents the server can run, as LangGraph Platform's
default assistants (one per graph)."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from runs import agents
from runs.api import serializers as s
from runs.api.responses import validated
from runs.services.errors import AssistantNotFound

OBJECT = OpenApiTypes.OBJECT


def assistant_body(agent) -> dict:
    return {
        "assistant_id": agents.assistant_uuid(agent.assistant_id),
        "graph_id": agent.assistant_id,
        "name": agent.name,
        "description": agent.description,
        "config": {},
        "context": {},
        "metadata": {"created_by": "system"},
        "version": 1,
        "created_at": "2026-01-01T00:00:00+00:00",
        "updated_at": "2026-01-01T00:00:00+00:00",
    }


def get_assistant(assistant_id):
    agent = agents.get_agent(assistant_id)
    if agent is None:
        raise AssistantNotFound(f"Assistant {assistant_id!r} not found.", field="assistant_id")
    return agent


class AssistantSearch(APIView):
    @extend_schema(
        request=s.AssistantSearchSerializer, responses=OBJECT, summary="Search assistants"
    )
    def post(self, request):
        data = validated(s.AssistantSearchSerializer, request.data)
        graph_id = data.get("graph_id")
        found = [a for a in agents.all_agents() if not graph_id or a.assistant_id == graph_id]
        page = found[data["offset"] : data["offset"] + data["limit"]]
        return Response([assistant_body(a) for a in page])


class AssistantDetail(APIView):
    @extend_schema(responses=OBJECT, summary="Get an assistant")
    def get(self, request, assistant_id):
        return Response(assistant_body(get_assistant(assistant_id)))


class AssistantGraph(APIView):
    @extend_schema(responses=OBJECT, summary="An assistant's graph")
    def get(self, request, assistant_id):
        get_assistant(assistant_id)
        nodes = ["__start__", "model", "tools", "__end__"]
        edges = [
            ("__start__", "model"),
            ("model", "tools"),
            ("tools", "model"),
            ("model", "__end__"),
        ]
        return Response(
            {
                "nodes": [{"id": n, "type": "runnable", "data": n} for n in nodes],
                "edges": [
                    {"source": a, "target": b, "conditional": a == "model"} for a, b in edges
                ],
            }
        )


class AssistantSchemas(APIView):
    @extend_schema(responses=OBJECT, summary="An assistant's schemas")
    def get(self, request, assistant_id):
        agent = get_assistant(assistant_id)
        messages = {"type": "object", "properties": {"messages": {"type": "array"}}}
        return Response(
            {
                "graph_id": agent.assistant_id,
                "input_schema": messages,
                "output_schema": messages,
                "state_schema": messages,
                "config_schema": {"type": "object"},
                "context_schema": None,
            }
        )
