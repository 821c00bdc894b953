"""Websocket URL routes of the runs app."""

from django.urls import path

from runs.ws.consumer import ThreadConsumer

websocket_urlpatterns = [
    path("ws/threads/<str:thread_id>/", ThreadConsumer.as_asgi()),
]
