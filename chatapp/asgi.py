"""ASGI entry point: HTTP (Django) and websockets (Channels), served by Daphne."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatapp.settings")
django.setup(set_prefix=False)

from chatapp.platform.asgi_handler import OneHopASGIHandler  # noqa: E402

# Django's ASGI handler, with each request's sync part in one thread hop.
django_asgi_app = OneHopASGIHandler()

from django.urls import get_resolver  # noqa: E402

# Import every view now rather than on the first request (which would pay
# for importing DRF, the API and the admin: hundreds of milliseconds).
get_resolver().url_patterns  # noqa: B018

from runs.graphs.registry import registry  # noqa: E402

# And every graph of langgraph.json, which the first run would import.
registry().preload()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from runs.api.body_limit import RequestBodyLimitMiddleware  # noqa: E402
from runs.worker.embedded import EmbeddedExecutorMiddleware  # noqa: E402
from runs.ws.routing import websocket_urlpatterns  # noqa: E402

application = EmbeddedExecutorMiddleware(
    ProtocolTypeRouter(
        {
            "http": RequestBodyLimitMiddleware(django_asgi_app),
            "websocket": AllowedHostsOriginValidator(
                AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
            ),
        }
    )
)

from chatapp.startup_gc import freeze_startup_objects  # noqa: E402

# Last: everything imported and built above lives as long as the process.
freeze_startup_objects()
