"""REST endpoints, shaped like LangGraph Platform's so `langgraph-sdk` works.

Thin adapters: validate the body with a serializer, call the service
(runs.strategies / runs.state), render with runs.representation. Long waits
(join, wait, SSE streams) are async generators in a streaming response, so
no server thread is held while a run streams.
"""

import json
import uuid

from asgiref.sync import async_to_sync
from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from runs import access, agents, state, strategies
from runs.api import serializers as s
from runs.api.stream import current_values, run_error, stream_run
from runs.exceptions import AssistantNotFound
from runs.representation import iso, run_dict, state_dict, thread_dict
from runs.throttling import RunCreationThrottle
from runs.watch import ThreadSubscription, wait_for_run

OBJECT = OpenApiTypes.OBJECT


class EventStreamRenderer(BaseRenderer):
    """Lets SSE endpoints accept `Accept: text/event-stream`. Their bodies are
    streamed as they are; an error before the stream starts is sent as JSON."""

    media_type = "text/event-stream"
    format = "sse"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return json.dumps(data, default=str).encode()


class CreatesRuns(APIView):
    """A view whose POST creates a run: rate limited per user (runs.throttling)."""

    def get_throttles(self):
        return [RunCreationThrottle()] if self.request.method == "POST" else []


class SSEView(APIView):
    renderer_classes = [JSONRenderer, EventStreamRenderer]


def validated(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def thread_body(thread) -> dict:
    checkpoint = state.latest_checkpoint(thread.pk)
    return thread_dict(thread, checkpoint.values if checkpoint else {})


def streaming(body, content_type: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(body, content_type=content_type)
    response["Cache-Control"] = "no-store"
    response["X-Accel-Buffering"] = "no"
    return response


def json_after(awaitable_factory) -> StreamingHttpResponse:
    """A JSON response whose body is computed by an async function (a wait)."""

    async def body():
        yield json.dumps(await awaitable_factory(), default=str).encode()

    return streaming(body(), "application/json")


# --- assistants -------------------------------------------------------------


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


# --- threads --------------------------------------------------------------------


class ThreadCreate(APIView):
    @extend_schema(request=s.ThreadCreateSerializer, responses=OBJECT, summary="Create a thread")
    def post(self, request):
        data = validated(s.ThreadCreateSerializer, request.data)
        thread = state.create_thread(
            owner=request.user,
            thread_id=data.get("thread_id"),
            metadata=data.get("metadata"),
            if_exists=data.get("if_exists") or "raise",
        )
        return Response(thread_body(thread))


class ThreadSearch(APIView):
    @extend_schema(request=s.ThreadSearchSerializer, responses=OBJECT, summary="Search threads")
    def post(self, request):
        data = validated(s.ThreadSearchSerializer, request.data)
        threads = state.search_threads(
            access.visible_threads(request.user),
            metadata=data.get("metadata"),
            status=data.get("status"),
            ids=data.get("ids"),
            limit=data["limit"],
            offset=data["offset"],
        )
        return Response([thread_body(t) for t in threads])


class ThreadDetail(APIView):
    @extend_schema(responses=OBJECT, summary="Get a thread")
    def get(self, request, thread_id):
        return Response(thread_body(state.get_thread(thread_id)))

    @extend_schema(request=s.ThreadPatchSerializer, responses=OBJECT, summary="Update metadata")
    def patch(self, request, thread_id):
        data = validated(s.ThreadPatchSerializer, request.data)
        return Response(thread_body(state.patch_thread(thread_id, metadata=data["metadata"])))

    @extend_schema(responses={204: None}, summary="Delete a thread")
    def delete(self, request, thread_id):
        state.delete_thread(thread_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ThreadState(APIView):
    @extend_schema(
        responses=OBJECT, summary="The thread's current state", operation_id="threads_state"
    )
    def get(self, request, thread_id):
        return Response(state_dict(thread_id, state.current_state(thread_id)))

    @extend_schema(request=s.StateUpdateSerializer, responses=OBJECT, summary="Update state")
    def post(self, request, thread_id):
        data = validated(s.StateUpdateSerializer, request.data)
        checkpoint = state.update_state(
            thread_id, values=data["values"], as_node=data.get("as_node")
        )
        return Response({"checkpoint": state_dict(thread_id, checkpoint)["checkpoint"]})


class ThreadStateAt(APIView):
    @extend_schema(responses=OBJECT, summary="The thread's state at a checkpoint")
    def get(self, request, thread_id, checkpoint_id):
        return Response(state_dict(thread_id, state.checkpoint_at(thread_id, checkpoint_id)))


class ThreadHistory(APIView):
    def history(self, thread_id, data):
        before = data.get("before")
        if isinstance(before, dict):
            before = (before.get("configurable") or before).get("checkpoint_id")
        checkpoints = state.history(thread_id, limit=data["limit"], before=before)
        return Response([state_dict(thread_id, c) for c in checkpoints])

    @extend_schema(request=s.HistorySerializer, responses=OBJECT, summary="State history")
    def post(self, request, thread_id):
        return self.history(thread_id, validated(s.HistorySerializer, request.data))

    @extend_schema(
        parameters=[OpenApiParameter("limit", int), OpenApiParameter("before", str)],
        responses=OBJECT,
        summary="State history",
    )
    def get(self, request, thread_id):
        return self.history(thread_id, validated(s.HistorySerializer, request.query_params))


# --- runs ---------------------------------------------------------------------------


def create_run(thread_id, data: dict, owner):
    return strategies.create_run(
        thread_id,
        assistant_id=data["assistant_id"],
        input=data.get("input"),
        multitask_strategy=data.get("multitask_strategy"),
        config=data.get("config"),
        metadata=data.get("metadata"),
        kwargs={"stream_mode": data.get("stream_mode")},
        if_not_exists=data.get("if_not_exists"),
        owner=owner,
    )


def subscribed(thread_id) -> ThreadSubscription:
    """Subscribe to a thread's events now, before the run exists."""
    return async_to_sync(ThreadSubscription(thread_id).open)()


def create_subscribed(thread_id, data, owner):
    """Create a run with a subscription opened first, so no event is missed."""
    sub = subscribed(thread_id)
    try:
        return sub, create_run(thread_id, data, owner)
    except Exception:
        async_to_sync(sub.close)()
        raise


async def final_values(thread_id, run_id, sub=None):
    """Wait for a run to end; the thread's values then (or the run's error)."""
    run = await wait_for_run(thread_id, run_id, sub)
    if sub is not None:
        await sub.close()
    if run is not None and run["status"] == "error":
        return {"__error__": await run_error(run_id) or {"error": "Error"}}
    return await current_values(thread_id)


class RunCollection(CreatesRuns):
    @extend_schema(request=s.RunCreateSerializer, responses=OBJECT, summary="Create a run")
    def post(self, request, thread_id=None):
        data = validated(s.RunCreateSerializer, request.data)
        thread_id, data = stateless(thread_id, data)
        return Response(run_dict(create_run(thread_id, data, request.user)))

    @extend_schema(
        parameters=[
            OpenApiParameter("limit", int),
            OpenApiParameter("offset", int),
            OpenApiParameter("status", str),
        ],
        responses=OBJECT,
        summary="List a thread's runs",
        operation_id="threads_runs_list",
    )
    def get(self, request, thread_id=None):
        data = validated(s.RunListSerializer, request.query_params)
        runs = strategies.list_runs(
            thread_id, limit=data["limit"], offset=data["offset"], status=data.get("status")
        )
        return Response([run_dict(r) for r in runs])


def stateless(thread_id, data):
    """Runs created without a thread get a new thread of their own."""
    if thread_id is not None:
        return thread_id, data
    return str(uuid.uuid4()), {**data, "if_not_exists": "create"}


class RunStream(CreatesRuns, SSEView):
    @extend_schema(
        request=s.RunCreateSerializer,
        responses={(200, "text/event-stream"): OpenApiTypes.STR},
        summary="Create a run and stream it (SSE)",
    )
    def post(self, request, thread_id=None):
        data = validated(s.RunCreateSerializer, request.data)
        thread_id, data = stateless(thread_id, data)
        sub, run = create_subscribed(thread_id, data, request.user)
        body = stream_run(sub, thread_id, run.pk, data.get("stream_mode"))
        response = streaming(body, "text/event-stream")
        response["Content-Location"] = f"/threads/{thread_id}/runs/{run.pk}"
        return response


class RunWait(CreatesRuns):
    @extend_schema(request=s.RunCreateSerializer, responses=OBJECT, summary="Create a run, wait")
    def post(self, request, thread_id=None):
        data = validated(s.RunCreateSerializer, request.data)
        thread_id, data = stateless(thread_id, data)
        sub, run = create_subscribed(thread_id, data, request.user)
        response = json_after(lambda: final_values(thread_id, run.pk, sub))
        response["Content-Location"] = f"/threads/{thread_id}/runs/{run.pk}"
        return response


class RunDetail(APIView):
    @extend_schema(responses=OBJECT, summary="Get a run")
    def get(self, request, thread_id, run_id):
        return Response(run_dict(strategies.get_run(thread_id, run_id)))

    @extend_schema(responses={204: None}, summary="Delete a run")
    def delete(self, request, thread_id, run_id):
        strategies.delete_run(thread_id, run_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class RunCancel(APIView):
    @extend_schema(
        request=None,
        parameters=[OpenApiParameter("wait", bool), OpenApiParameter("action", str)],
        responses=OBJECT,
        summary="Cancel a run (interrupt or rollback)",
    )
    def post(self, request, thread_id, run_id):
        data = validated(s.CancelSerializer, request.query_params)
        strategies.cancel_run(thread_id, run_id, action=data["action"], owner=request.user)
        if not data["wait"]:
            return Response(status=status.HTTP_202_ACCEPTED)

        async def ended():
            return await wait_for_run(thread_id, run_id)

        return json_after(ended)


class RunJoin(APIView):
    @extend_schema(responses=OBJECT, summary="Wait for a run; the thread's values after it")
    def get(self, request, thread_id, run_id):
        strategies.get_run(thread_id, run_id)  # 404 for an unknown or rolled-back run
        return json_after(lambda: final_values(thread_id, run_id))


class RunJoinStream(SSEView):
    @extend_schema(
        parameters=[OpenApiParameter("stream_mode", str, many=True)],
        responses={(200, "text/event-stream"): OpenApiTypes.STR},
        summary="Attach to a run's stream (SSE)",
    )
    def get(self, request, thread_id, run_id):
        modes = request.query_params.getlist("stream_mode") or None
        data = validated(s.JoinStreamSerializer, {"stream_mode": modes} if modes else {})
        sub = subscribed(thread_id)
        try:
            strategies.get_run(thread_id, run_id)
        except Exception:
            async_to_sync(sub.close)()
            raise
        body = stream_run(sub, thread_id, run_id, data.get("stream_mode"), attach=True)
        return streaming(body, "text/event-stream")


class Health(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(responses=OBJECT, summary="Server information")
    def get(self, request):
        return Response(
            {
                "version": "0.1.0",
                "flags": {"assistants": True, "crons": False},
                "time": iso(timezone.now()),
            }
        )
