"""Runs: create (background, streamed, waited for), read, cancel, join, delete.

A view that waits for or streams a run subscribes to the thread's events
*before* it creates or reads the run, so nothing that happens in between is
missed.
"""

import uuid

from asgiref.sync import async_to_sync
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from runs.api import serializers as s
from runs.api.responses import CreatesRuns, SSEView, json_after, streaming, validated
from runs.api.sse import current_values, run_error, stream_run
from runs.bus.subscribe import ThreadSubscription, wait_for_run
from runs.models import RunStatus
from runs.services import runs
from runs.services.representation import run_dict

OBJECT = OpenApiTypes.OBJECT


def create_run(thread_id, data: dict, actor):
    return runs.create_run(
        thread_id,
        actor=actor,
        assistant_id=data["assistant_id"],
        input=data.get("input"),
        multitask_strategy=data.get("multitask_strategy"),
        config=data.get("config"),
        context=data.get("context"),
        metadata=data.get("metadata"),
        kwargs={
            "stream_mode": data.get("stream_mode"),
            "stream_subgraphs": data.get("stream_subgraphs", False),
        },
        if_not_exists=data.get("if_not_exists"),
    )


def subscribed(thread_id) -> ThreadSubscription:
    """Subscribe to a thread's events now, before the run exists."""
    return async_to_sync(ThreadSubscription(thread_id).open)()


def create_subscribed(thread_id, data, actor):
    """Create a run with a subscription opened first, so no event is missed."""
    sub = subscribed(thread_id)
    try:
        return sub, create_run(thread_id, data, actor)
    except Exception:
        async_to_sync(sub.close)()
        raise


async def final_values(thread_id, run_id, sub=None):
    """Wait for a run to end; the thread's values then (or the run's error)."""
    run = await wait_for_run(thread_id, run_id, sub)
    if sub is not None:
        await sub.close()
    if run is not None and run["status"] == RunStatus.ERROR:
        return {"__error__": await run_error(run_id) or {"error": "Error"}}
    return await current_values(thread_id)


def stateless(thread_id, data):
    """Runs created without a thread get a new thread of their own."""
    if thread_id is not None:
        return thread_id, data
    return str(uuid.uuid4()), {**data, "if_not_exists": "create"}


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
        found = runs.list_runs(
            thread_id,
            actor=request.user,
            limit=data["limit"],
            offset=data["offset"],
            status=data.get("status"),
        )
        return Response([run_dict(r) for r in found])


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
        return Response(run_dict(runs.get_run(thread_id, run_id, actor=request.user)))

    @extend_schema(responses={204: None}, summary="Delete a run")
    def delete(self, request, thread_id, run_id):
        runs.delete_run(thread_id, run_id, actor=request.user)
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
        runs.cancel_run(thread_id, run_id, actor=request.user, action=data["action"])
        if not data["wait"]:
            return Response(status=status.HTTP_202_ACCEPTED)

        async def ended():
            return await wait_for_run(thread_id, run_id)

        return json_after(ended)


class RunJoin(APIView):
    @extend_schema(responses=OBJECT, summary="Wait for a run; the thread's values after it")
    def get(self, request, thread_id, run_id):
        runs.get_run(thread_id, run_id, actor=request.user)  # 404: unknown or rolled back
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
            runs.get_run(thread_id, run_id, actor=request.user)
        except Exception:
            async_to_sync(sub.close)()
            raise
        body = stream_run(sub, thread_id, run_id, data.get("stream_mode"), attach=True)
        return streaming(body, "text/event-stream")
