"""Runs: create (background, streamed, waited for), read, cancel, join, delete.

A view that waits for or streams a run subscribes to the thread's events
*before* it creates or reads the run, so nothing that happens in between is
missed.
"""

import asyncio
import json
import logging
import uuid

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.db import transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from runs.api import serializers as s
from runs.api.responses import CreatesRuns, SSEView, json_after, streaming, validated
from runs.api.sse import final_state, run_error, stream_run, stream_thread
from runs.bus.subscribe import ThreadSubscription, wait_for_run
from runs.models import RunStatus
from runs.services import rate_limit, runs, threads
from runs.services.actors import SYSTEM
from runs.services.errors import InvalidRequest, RateLimited
from runs.services.representation import run_dict

OBJECT = OpenApiTypes.OBJECT
logger = logging.getLogger(__name__)


# How a run executes and streams: kept with it, read by its executor.
EXECUTION_FIELDS = (
    "stream_mode",
    "stream_subgraphs",
    "stream_resumable",
    "command",
    "interrupt_before",
    "interrupt_after",
    "durability",
    "on_completion",
)


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
        kwargs={field: data.get(field) for field in EXECUTION_FIELDS if field in data},
        if_not_exists=data.get("if_not_exists"),
        checkpoint_id=data.get("checkpoint_id"),
        after_seconds=data.get("after_seconds"),
    )


def subscribed(thread_id, *, lifecycle_only: bool = False) -> ThreadSubscription:
    """Subscribe to a thread's events now, before the run exists
    (`lifecycle_only`: for a wait, no streamed part)."""
    return async_to_sync(ThreadSubscription(thread_id, lifecycle_only=lifecycle_only).open)()


def create_subscribed(thread_id, data, actor, *, lifecycle_only: bool = False):
    """Create a run with a subscription opened first, so no event is missed."""
    sub = subscribed(thread_id, lifecycle_only=lifecycle_only)
    try:
        return sub, create_run(thread_id, data, actor)
    except Exception:
        async_to_sync(sub.close)()
        raise


async def final_values(thread_id, run_id, sub=None, created: dict | None = None):
    """Wait for a run to end; the thread's values then (or the run's error),
    with the interrupts it stopped at, as the platform's `wait` returns them.
    `created`: the run just created, `sub` opened before (wait_for_run)."""
    run = await wait_for_run(thread_id, run_id, sub, created=created)
    if sub is not None:
        await sub.close()
    if run is not None and run["status"] == RunStatus.ERROR:
        return {"__error__": await run_error(run_id) or {"error": "Error"}}
    return await final_state(thread_id)


def stateless(thread_id, data):
    """Runs created without a thread get a new thread of their own, deleted
    after the run unless `on_completion` is "keep" (as on the platform)."""
    if thread_id is not None:
        if data.get("on_completion") is not None:
            raise InvalidRequest(
                "on_completion applies to runs created without a thread.", field="on_completion"
            )
        return thread_id, data
    data = {**data, "if_not_exists": "create"}
    data.setdefault("on_completion", "delete")
    return str(uuid.uuid4()), data


def located(response, thread_id, run_id, suffix: str | None = None):
    """The headers the platform's clients read: Content-Location (the run:
    the JS SDK takes run and thread ids from it) and Location (where to
    reconnect or join)."""
    run_url = f"/threads/{thread_id}/runs/{run_id}"
    response["Content-Location"] = run_url
    if suffix:
        response["Location"] = f"{run_url}/{suffix}"
    return response


def on_disconnect(body, thread_id, run_id, action: str | None):
    """The body of a stream or a wait; with `cancel`, a client that goes away
    before it ends cancels the run (interrupt)."""
    if action != "cancel":
        return body

    async def watched():
        finished = False
        try:
            async for chunk in body:
                yield chunk
            finished = True
        finally:
            if not finished:
                # The response task is being cancelled: cancel from a task of its own.
                asyncio.get_running_loop().create_task(cancel_quietly(thread_id, run_id))

    return watched()


class RunCollection(CreatesRuns):
    @extend_schema(request=s.RunCreateSerializer, responses=OBJECT, summary="Create a run")
    def post(self, request, thread_id=None):
        data = validated(s.RunCreateSerializer, request.data)
        thread_id, data = stateless(thread_id, data)
        run = create_run(thread_id, data, request.user)
        return located(Response(run_dict(run)), thread_id, run.pk)

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
        body = on_disconnect(body, thread_id, run.pk, data.get("on_disconnect"))
        return located(streaming(body, "text/event-stream"), thread_id, run.pk, "stream")


class RunWait(CreatesRuns):
    @extend_schema(request=s.RunCreateSerializer, responses=OBJECT, summary="Create a run, wait")
    def post(self, request, thread_id=None):
        data = validated(s.RunCreateSerializer, request.data)
        thread_id, data = stateless(thread_id, data)
        sub, run = create_subscribed(thread_id, data, request.user, lifecycle_only=True)
        # Just created, pending, with `sub` opened before: not read back.
        created = {"status": run.status}
        response = json_after(lambda: final_values(thread_id, run.pk, sub, created))
        response.streaming_content = on_disconnect(
            response.streaming_content, thread_id, run.pk, data.get("on_disconnect")
        )
        return located(response, thread_id, run.pk, "join")


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
    @extend_schema(
        parameters=[OpenApiParameter("cancel_on_disconnect", bool)],
        responses=OBJECT,
        summary="Wait for a run; the thread's values after it",
    )
    def get(self, request, thread_id, run_id):
        data = validated(s.JoinSerializer, request.query_params)
        runs.get_run(thread_id, run_id, actor=request.user)  # 404: unknown or rolled back
        response = json_after(lambda: final_values(thread_id, run_id))
        action = "cancel" if data["cancel_on_disconnect"] else None
        response.streaming_content = on_disconnect(
            response.streaming_content, thread_id, run_id, action
        )
        return located(response, thread_id, run_id, "join")


class RunJoinStream(SSEView):
    @extend_schema(
        parameters=[
            OpenApiParameter("stream_mode", str, many=True),
            OpenApiParameter("cancel_on_disconnect", bool),
            OpenApiParameter("Last-Event-ID", str, location=OpenApiParameter.HEADER),
        ],
        responses={(200, "text/event-stream"): OpenApiTypes.STR},
        summary="Attach to a run's stream (SSE), or replay a resumable one (Last-Event-ID)",
    )
    def get(self, request, thread_id, run_id):
        data = validated(s.JoinStreamSerializer, stream_query(request))
        sub = subscribed(thread_id)
        try:
            runs.get_run(thread_id, run_id, actor=request.user)
        except Exception:
            async_to_sync(sub.close)()
            raise
        body = stream_run(
            sub,
            thread_id,
            run_id,
            data.get("stream_mode"),
            attach=True,
            last_event_id=request.headers.get("Last-Event-ID"),
        )
        action = "cancel" if data["cancel_on_disconnect"] else None
        body = on_disconnect(body, thread_id, run_id, action)
        return located(streaming(body, "text/event-stream"), thread_id, run_id, "stream")


class ThreadStream(SSEView):
    @extend_schema(
        parameters=[
            OpenApiParameter(
                "stream_mode", str, many=True, enum=["run_modes", "lifecycle", "state_update"]
            )
        ],
        responses={(200, "text/event-stream"): OpenApiTypes.STR},
        summary="Every run of a thread as it streams (SSE), until the client leaves",
    )
    def get(self, request, thread_id):
        data = validated(s.ThreadStreamSerializer, stream_query(request))
        if request.headers.get("Last-Event-ID") is not None:
            raise InvalidRequest(
                "A thread's stream is live only: reconnect to a run's stream to replay it.",
                field="Last-Event-ID",
            )
        sub = subscribed(thread_id)
        try:
            threads.get_thread(thread_id, actor=request.user)
        except Exception:
            async_to_sync(sub.close)()
            raise
        body = stream_thread(sub, thread_id, data.get("stream_mode") or ["run_modes"])
        return streaming(body, "text/event-stream")


def stream_query(request) -> dict:
    """stream_mode as clients send it in a query: repeated, or (the JS SDK)
    one JSON-encoded list."""
    query = {k: v for k, v in request.query_params.items() if k != "stream_mode"}
    modes = request.query_params.getlist("stream_mode")
    if len(modes) == 1 and modes[0].startswith("["):
        try:
            modes = json.loads(modes[0])
        except ValueError:
            pass
    if modes:
        query["stream_mode"] = modes
    return query


async def cancel_quietly(thread_id, run_id) -> None:
    """Cancel a run whose client left (it may have ended meanwhile)."""
    try:
        await database_sync_to_async(runs.cancel_run)(
            thread_id, run_id, actor=SYSTEM, action="interrupt"
        )
    except Exception:
        logger.warning("could not cancel run %s after its client left", run_id, exc_info=True)


class RunBatch(CreatesRuns):
    @extend_schema(
        request=s.RunCreateSerializer(many=True),
        responses=OBJECT,
        summary="Create several thread-less runs at once",
    )
    def post(self, request):
        if not isinstance(request.data, list) or not 1 <= len(request.data) <= s.MAX_BATCH:
            raise InvalidRequest(f"Send a list of 1 to {s.MAX_BATCH} runs.", field="body")
        bodies = [validated(s.RunCreateSerializer, body) for body in request.data]
        # The request counted once against the rate limit; each further run counts too.
        for _ in bodies[1:]:
            wait = rate_limit.run_creation_wait(request.user)
            if wait is not None:
                raise RateLimited(f"Too many runs; try again in {wait:.0f} s.", retry_after=wait)
        with transaction.atomic():  # all of them, or none
            created = []
            for body in bodies:
                thread_id, body = stateless(None, body)
                created.append(create_run(thread_id, body, request.user))
        return Response([run_dict(run) for run in created])


class RunCancelMany(APIView):
    @extend_schema(
        request=s.CancelManySerializer,
        parameters=[OpenApiParameter("action", str, enum=["interrupt", "rollback"])],
        responses={204: None},
        summary="Cancel several runs: a thread's, or all of yours in a status",
    )
    def post(self, request):
        data = validated(s.CancelManySerializer, request.data)
        action = validated(s.CancelSerializer, request.query_params)["action"]
        runs.cancel_many(
            actor=request.user,
            thread_id=data.get("thread_id"),
            run_ids=data.get("run_ids"),
            status=data.get("status"),
            action=action,
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
