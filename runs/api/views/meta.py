"""Server information: `/ok`, `/info` (no authentication), `/metrics`."""

import functools
import hmac
from importlib import metadata

from django.conf import settings
from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from rest_framework.permissions import AllowAny, BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from runs.services import accounts, metrics
from runs.services.representation import iso


@functools.cache
def version(package: str) -> str:
    """An installed package's version, read once: importlib.metadata scans
    the installed distributions on each call, half of a `GET /info`."""
    return metadata.version(package)


class Ok(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(responses=OpenApiTypes.OBJECT, summary="The server answers")
    def get(self, request):
        return Response({"ok": True})


class Info(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(responses=OpenApiTypes.OBJECT, summary="Server information: what is enabled")
    def get(self, request):
        return Response(
            {
                "version": version("doubletext"),
                "langgraph_py_version": version("langgraph"),
                "flags": {
                    "assistants": True,
                    "crons": "crons" in settings.RUNS_FEATURES,
                    "store": True,
                    "resumable_streams": True,
                    "langsmith": False,
                },
                "host": {"kind": "self-hosted"},
                "time": iso(timezone.now()),
            }
        )


class CanReadMetrics(BasePermission):
    """A staff user, the scraper's token (`Authorization: Bearer $METRICS_TOKEN`),
    or the local demo (a client on this machine, DEBUG on)."""

    def has_permission(self, request, view):
        token = settings.METRICS_TOKEN
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if token and given and hmac.compare_digest(given, token):
            return True
        if accounts.demo_user_for(request.META.get("REMOTE_ADDR")) is not None:
            return True
        return bool(request.user and request.user.is_staff)


class Metrics(APIView):
    permission_classes = [CanReadMetrics]

    @extend_schema(responses={(200, "text/plain"): OpenApiTypes.STR}, summary="Prometheus metrics")
    def get(self, request):
        return HttpResponse(generate_latest(metrics.registry()), content_type=CONTENT_TYPE_LATEST)
