"""Websocket URL routes of the runs app."""

websocket_urlpatterns = []
