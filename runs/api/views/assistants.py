"""Assistants: the graphs the server runs, as LangGraph Platform's default
assistants (one per graph, named after it). `/graph` and `/schemas` come from
the graph itself."""

import warnings

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from pydantic import create_model
from rest_framework.response import Response
from rest_framework.views import APIView

from runs.api import serializers as s
from runs.api.responses import validated
from runs.graphs import registry
from runs.graphs.registry import graph_sync
from runs.services.errors import AssistantNotFound

OBJECT = OpenApiTypes.OBJECT
# The default assistants exist as long as the server: no creation time of their own.
SYSTEM_TIME = "2026-01-01T00:00:00+00:00"


def assistant_body(graph_id: str) -> dict:
    spec = registry.registry().specs[graph_id]
    return {
        "assistant_id": registry.assistant_uuid(graph_id),
        "graph_id": graph_id,
        "name": graph_id,
        "description": spec.description,
        "config": {},
        "context": {},
        "metadata": {"created_by": "system"},
        "version": 1,
        "created_at": SYSTEM_TIME,
        "updated_at": SYSTEM_TIME,
    }


def graph_id_of(assistant_id) -> str:
    graph_id = registry.resolve(assistant_id)
    if graph_id is None:
        raise AssistantNotFound(f"Assistant {assistant_id!r} not found.", field="assistant_id")
    return graph_id


class AssistantSearch(APIView):
    @extend_schema(
        request=s.AssistantSearchSerializer, responses=OBJECT, summary="Search assistants"
    )
    def post(self, request):
        data = validated(s.AssistantSearchSerializer, request.data)
        graph_id = data.get("graph_id")
        found = [g for g in registry.registry().ids() if not graph_id or g == graph_id]
        page = found[data["offset"] : data["offset"] + data["limit"]]
        return Response([assistant_body(g) for g in page])


class AssistantDetail(APIView):
    @extend_schema(responses=OBJECT, summary="Get an assistant")
    def get(self, request, assistant_id):
        return Response(assistant_body(graph_id_of(assistant_id)))


class AssistantGraph(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("xray", str)],
        responses=OBJECT,
        summary="An assistant's graph: nodes and edges",
    )
    def get(self, request, assistant_id):
        graph_id = graph_id_of(assistant_id)
        data = validated(s.GraphQuerySerializer, request.query_params)
        with graph_sync(graph_id, {"configurable": {}}) as graph:
            drawable = graph.get_graph(xray=data["xray"])
        return Response(drawable.to_json())


class AssistantSchemas(APIView):
    @extend_schema(
        responses=OBJECT, summary="An assistant's input, output, state and context schemas"
    )
    def get(self, request, assistant_id):
        graph_id = graph_id_of(assistant_id)
        with graph_sync(graph_id, {"configurable": {}}) as graph:
            return Response({"graph_id": graph_id, **graph_schemas(graph, graph_id)})


def graph_schemas(graph, graph_id: str) -> dict:
    def schema(build):
        try:
            with warnings.catch_warnings():
                # get_config_jsonschema: deprecated for context, still what the platform returns.
                warnings.simplefilter("ignore")
                return build()
        except Exception:  # a schema pydantic cannot describe
            return None

    def state_schema():
        """The state's keys with the types their channels take, as the
        platform describes it (whatever kind of class the state schema is)."""
        builder = getattr(graph, "builder", None)
        if builder is None:
            return None
        keys = builder.schemas.get(builder.state_schema, {})
        fields = {
            key: (builder.channels[key].UpdateType, None) for key in keys if key in builder.channels
        }
        return create_model(f"{graph_id}_state", **fields).model_json_schema()

    return {
        "input_schema": schema(graph.get_input_jsonschema),
        "output_schema": schema(graph.get_output_jsonschema),
        "state_schema": schema(state_schema),
        "config_schema": schema(graph.get_config_jsonschema),
        "context_schema": schema(graph.get_context_jsonschema),
    }
