"""Assistants: the graphs' default assistants and the users' own, versioned
(runs.services.assistants). `/graph`, `/schemas` and `/subgraphs` describe an
assistant's graph, built with the assistant's config (a graph factory gets it)."""

import warnings

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from pydantic import create_model
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from runs.api import serializers as s
from runs.api.responses import paged, validated
from runs.api.views.threads import PAGINATION_HEADERS
from runs.graphs.registry import graph_sync
from runs.services import assistants
from runs.services.representation import assistant_dict, assistant_version_dict

OBJECT = OpenApiTypes.OBJECT
ASSISTANT_ID = OpenApiParameter(
    "assistant_id",
    str,
    OpenApiParameter.PATH,
    description="The assistant's UUID, or a graph id for its default assistant",
)
LIST = {200: {"type": "array", "items": {"type": "object"}}}


class AssistantCreate(APIView):
    @extend_schema(
        request=s.AssistantCreateSerializer, responses=OBJECT, summary="Create an assistant"
    )
    def post(self, request):
        data = validated(s.AssistantCreateSerializer, request.data)
        assistant = assistants.create_assistant(actor=request.user, **data)
        return Response(assistant_dict(assistant))


class AssistantSearch(APIView):
    @extend_schema(
        request=s.AssistantSearchSerializer,
        parameters=PAGINATION_HEADERS,
        responses=LIST,
        summary="Search assistants",
    )
    def post(self, request):
        data = validated(s.AssistantSearchSerializer, request.data)
        page = assistants.search_assistants(actor=request.user, **data)
        return paged(page)


class AssistantCount(APIView):
    @extend_schema(
        request=s.AssistantCountSerializer, responses=OpenApiTypes.INT, summary="Count assistants"
    )
    def post(self, request):
        data = validated(s.AssistantCountSerializer, request.data)
        return Response(assistants.count_assistants(actor=request.user, **data))


class AssistantDetail(APIView):
    @extend_schema(parameters=[ASSISTANT_ID], responses=OBJECT, summary="Get an assistant")
    def get(self, request, assistant_id):
        return Response(assistant_dict(assistants.get_assistant(assistant_id, actor=request.user)))

    @extend_schema(
        parameters=[ASSISTANT_ID],
        request=s.AssistantPatchSerializer,
        responses=OBJECT,
        summary="Update an assistant: a new version",
    )
    def patch(self, request, assistant_id):
        data = validated(s.AssistantPatchSerializer, request.data)
        assistant = assistants.update_assistant(assistant_id, actor=request.user, **data)
        return Response(assistant_dict(assistant))

    @extend_schema(
        parameters=[ASSISTANT_ID, OpenApiParameter("delete_threads", bool)],
        responses={204: None},
        summary="Delete an assistant and its versions",
    )
    def delete(self, request, assistant_id):
        data = validated(s.AssistantDeleteQuerySerializer, request.query_params)
        assistants.delete_assistant(
            assistant_id, actor=request.user, delete_threads=data["delete_threads"]
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class AssistantVersions(APIView):
    @extend_schema(
        parameters=[ASSISTANT_ID],
        request=s.AssistantVersionsSerializer,
        responses=LIST,
        summary="An assistant's versions, newest first",
    )
    def post(self, request, assistant_id):
        data = validated(s.AssistantVersionsSerializer, request.data)
        versions = assistants.list_versions(assistant_id, actor=request.user, **data)
        return Response([assistant_version_dict(version) for version in versions])


class AssistantLatest(APIView):
    @extend_schema(
        parameters=[ASSISTANT_ID],
        request=s.AssistantLatestSerializer,
        responses=OBJECT,
        summary="Make a version of an assistant its current one",
    )
    def post(self, request, assistant_id):
        data = validated(s.AssistantLatestSerializer, request.data)
        assistant = assistants.set_latest(assistant_id, actor=request.user, version=data["version"])
        return Response(assistant_dict(assistant))


def assistant_graph(request, assistant_id):
    """`with assistant_graph(...) as (assistant, graph)`: the graph built with
    the assistant's config, as the platform builds it to describe it."""
    assistant = assistants.get_assistant(assistant_id, actor=request.user)
    config = {**assistant.config, "configurable": dict(assistant.config.get("configurable") or {})}
    return assistant, graph_sync(assistant.graph_id, config)


class AssistantGraph(APIView):
    @extend_schema(
        parameters=[ASSISTANT_ID, OpenApiParameter("xray", str)],
        responses=OBJECT,
        summary="An assistant's graph: nodes and edges",
    )
    def get(self, request, assistant_id):
        data = validated(s.GraphQuerySerializer, request.query_params)
        _, built = assistant_graph(request, assistant_id)
        with built as graph:
            drawable = graph.get_graph(xray=data["xray"])
        return Response(drawable.to_json())


class AssistantSchemas(APIView):
    @extend_schema(
        parameters=[ASSISTANT_ID],
        responses=OBJECT,
        summary="An assistant's input, output, state and context schemas",
    )
    def get(self, request, assistant_id):
        assistant, built = assistant_graph(request, assistant_id)
        with built as graph:
            schemas = graph_schemas(graph, assistant.graph_id)
        return Response({"graph_id": assistant.graph_id, **schemas})


class AssistantSubgraphs(APIView):
    @extend_schema(
        parameters=[ASSISTANT_ID, OpenApiParameter("recurse", bool)],
        responses=OBJECT,
        summary="The schemas of an assistant's subgraphs, by namespace",
    )
    def get(self, request, assistant_id):
        return self.subgraphs(request, assistant_id, None)

    def subgraphs(self, request, assistant_id, namespace):
        data = validated(s.SubgraphsQuerySerializer, request.query_params)
        _, built = assistant_graph(request, assistant_id)
        with built as graph:
            found = {
                name: graph_schemas(subgraph, name.replace("|", "_"))
                for name, subgraph in graph.get_subgraphs(
                    namespace=namespace, recurse=data["recurse"]
                )
            }
        return Response(found)


class AssistantSubgraphsOf(AssistantSubgraphs):
    @extend_schema(
        parameters=[ASSISTANT_ID, OpenApiParameter("recurse", bool)],
        responses=OBJECT,
        summary="The schemas of an assistant's subgraphs under a namespace",
        operation_id="assistants_subgraphs_of_namespace",
    )
    def get(self, request, assistant_id, namespace):
        return self.subgraphs(request, assistant_id, namespace)


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
