"""Server information: `/ok` and `/info` (no authentication)."""

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from runs.services.representation import iso


class Health(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(responses=OpenApiTypes.OBJECT, summary="Server information")
    def get(self, request):
        return Response(
            {
                "version": "0.1.0",
                "flags": {"assistants": True, "crons": False},
                "time": iso(timezone.now()),
            }
        )
