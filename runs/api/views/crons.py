"""Crons: runs created on a schedule (runs.services.crons)."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from runs.api import serializers as s
from runs.api.responses import paged, validated
from runs.api.views.threads import PAGINATION_HEADERS
from runs.services import crons
from runs.services.representation import cron_dict

OBJECT = OpenApiTypes.OBJECT


def create(request, thread_id=None):
    data = dict(validated(s.CronCreateSerializer, request.data))
    cron = crons.create_cron(
        actor=request.user,
        thread_id=thread_id,
        assistant_id=data.pop("assistant_id"),
        schedule=data.pop("schedule"),
        timezone=data.pop("timezone", None),
        end_time=data.pop("end_time", None),
        enabled=data.pop("enabled", None),
        on_run_completed=data.pop("on_run_completed", None),
        payload=data,
    )
    return Response(cron_dict(cron))


class CronCreate(APIView):
    @extend_schema(
        request=s.CronCreateSerializer,
        responses=OBJECT,
        summary="Create a cron: a run on a new thread at each tick of its schedule",
    )
    def post(self, request):
        return create(request)


class ThreadCronCreate(APIView):
    @extend_schema(
        request=s.CronCreateSerializer,
        responses=OBJECT,
        summary="Create a cron on a thread: a run on it at each tick of its schedule",
    )
    def post(self, request, thread_id):
        return create(request, thread_id)


class CronDetail(APIView):
    @extend_schema(responses=OBJECT, summary="Get a cron")
    def get(self, request, cron_id):
        return Response(cron_dict(crons.get_cron(cron_id, actor=request.user)))

    @extend_schema(request=s.CronPatchSerializer, responses=OBJECT, summary="Update a cron")
    def patch(self, request, cron_id):
        changes = validated(s.CronPatchSerializer, request.data)
        cron = crons.update_cron(cron_id, actor=request.user, changes=dict(changes))
        return Response(cron_dict(cron))

    @extend_schema(responses={204: None}, summary="Delete a cron")
    def delete(self, request, cron_id):
        crons.delete_cron(cron_id, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class CronSearch(APIView):
    @extend_schema(
        request=s.CronSearchSerializer,
        parameters=PAGINATION_HEADERS,
        responses={200: {"type": "array", "items": {"type": "object"}}},
        summary="Search crons",
    )
    def post(self, request):
        data = validated(s.CronSearchSerializer, request.data)
        page = crons.search_crons(actor=request.user, **data)
        return paged(page)


class CronCount(APIView):
    @extend_schema(request=s.CronCountSerializer, responses=OpenApiTypes.INT, summary="Count crons")
    def post(self, request):
        data = validated(s.CronCountSerializer, request.data)
        return Response(crons.count_crons(actor=request.user, **data))
