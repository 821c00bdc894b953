"""Threads, their state and history."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from runs.api import serializers as s
from runs.api.responses import paged, validated
from runs.services import state, threads
from runs.services.representation import thread_dict

OBJECT = OpenApiTypes.OBJECT
PAGINATION_HEADERS = [
    OpenApiParameter(
        "x-pagination-total",
        int,
        OpenApiParameter.HEADER,
        description="offset + the page's size, + 1 if more threads follow (not the count)",
        response=True,
    ),
    OpenApiParameter(
        "x-pagination-next",
        int,
        OpenApiParameter.HEADER,
        description="the offset of the next page; absent on the last page",
        response=True,
    ),
]


class ThreadCreate(APIView):
    @extend_schema(request=s.ThreadCreateSerializer, responses=OBJECT, summary="Create a thread")
    def post(self, request):
        data = validated(s.ThreadCreateSerializer, request.data)
        thread = threads.create_thread(
            actor=request.user,
            thread_id=data.get("thread_id"),
            metadata=data.get("metadata"),
            if_exists=data.get("if_exists") or "raise",
            supersteps=data.get("supersteps"),
        )
        return Response(thread_dict(thread))


class ThreadSearch(APIView):
    @extend_schema(
        request=s.ThreadSearchSerializer,
        parameters=PAGINATION_HEADERS,
        responses={200: {"type": "array", "items": {"type": "object"}}},
        summary="Search threads",
    )
    def post(self, request):
        data = validated(s.ThreadSearchSerializer, request.data)
        page = threads.search_threads(actor=request.user, **data)
        return paged(page)


class ThreadCount(APIView):
    @extend_schema(
        request=s.ThreadCountSerializer, responses=OpenApiTypes.INT, summary="Count threads"
    )
    def post(self, request):
        data = validated(s.ThreadCountSerializer, request.data)
        return Response(threads.count_threads(actor=request.user, **data))


class ThreadPrune(APIView):
    @extend_schema(request=s.ThreadPruneSerializer, responses=OBJECT, summary="Prune threads")
    def post(self, request):
        data = validated(s.ThreadPruneSerializer, request.data)
        pruned = threads.prune_threads(
            data["thread_ids"], actor=request.user, strategy=data["strategy"]
        )
        return Response({"pruned_count": pruned})


class ThreadCopy(APIView):
    @extend_schema(request=None, responses=OBJECT, summary="Copy a thread with its history")
    def post(self, request, thread_id):
        return Response(thread_dict(threads.copy_thread(thread_id, actor=request.user)))


class ThreadDetail(APIView):
    @extend_schema(responses=OBJECT, summary="Get a thread")
    def get(self, request, thread_id):
        return Response(thread_dict(threads.get_thread(thread_id, actor=request.user)))

    @extend_schema(request=s.ThreadPatchSerializer, responses=OBJECT, summary="Update metadata")
    def patch(self, request, thread_id):
        data = validated(s.ThreadPatchSerializer, request.data)
        thread = threads.patch_thread(thread_id, actor=request.user, metadata=data["metadata"])
        return Response(thread_dict(thread))

    @extend_schema(responses={204: None}, summary="Delete a thread")
    def delete(self, request, thread_id):
        threads.delete_thread(thread_id, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ThreadState(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("subgraphs", bool)],
        responses=OBJECT,
        summary="The thread's current state",
        operation_id="threads_state",
    )
    def get(self, request, thread_id):
        data = validated(s.StateQuerySerializer, request.query_params)
        return Response(state.get_state(thread_id, actor=request.user, subgraphs=data["subgraphs"]))

    @extend_schema(request=s.StateUpdateSerializer, responses=OBJECT, summary="Update state")
    def post(self, request, thread_id):
        data = validated(s.StateUpdateSerializer, request.data)
        written = state.update_state(
            thread_id,
            actor=request.user,
            values=data["values"],
            as_node=data.get("as_node"),
            checkpoint_id=data.get("checkpoint_id"),
        )
        return Response(written)


class ThreadStateAt(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("subgraphs", bool)],
        responses=OBJECT,
        summary="The thread's state at a checkpoint",
    )
    def get(self, request, thread_id, checkpoint_id):
        data = validated(s.StateQuerySerializer, request.query_params)
        return Response(
            state.get_state(
                thread_id,
                actor=request.user,
                checkpoint_id=checkpoint_id,
                subgraphs=data["subgraphs"],
            )
        )


class ThreadStateAtCheckpoint(APIView):
    @extend_schema(
        request=s.StateAtCheckpointSerializer,
        responses=OBJECT,
        summary="The thread's state at a checkpoint",
        operation_id="threads_state_checkpoint",
    )
    def post(self, request, thread_id):
        data = validated(s.StateAtCheckpointSerializer, request.data)
        return Response(
            state.get_state_at(
                thread_id,
                actor=request.user,
                checkpoint=data["checkpoint"],
                subgraphs=data["subgraphs"],
            )
        )


class ThreadHistory(APIView):
    def history(self, request, thread_id, data):
        return Response(
            state.history(
                thread_id,
                actor=request.user,
                limit=data["limit"],
                before=data.get("before"),
                metadata=data.get("metadata"),
                checkpoint=data.get("checkpoint"),
            )
        )

    @extend_schema(request=s.HistorySerializer, responses=OBJECT, summary="State history")
    def post(self, request, thread_id):
        return self.history(request, thread_id, validated(s.HistorySerializer, request.data))

    @extend_schema(
        parameters=[OpenApiParameter("limit", int), OpenApiParameter("before", str)],
        responses=OBJECT,
        summary="State history",
    )
    def get(self, request, thread_id):
        data = validated(s.HistorySerializer, request.query_params)
        return self.history(request, thread_id, data)
