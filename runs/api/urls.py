"""URL routes of the REST API, at the paths langgraph-sdk calls."""

from django.urls import path

from runs.api import views

T = "threads/<str:thread_id>"
R = f"{T}/runs/<str:run_id>"

urlpatterns = [
    path("ok", views.Health.as_view(), name="api-ok"),
    path("info", views.Health.as_view(), name="api-info"),
    path("assistants/search", views.AssistantSearch.as_view(), name="assistant-search"),
    path("assistants/<str:assistant_id>", views.AssistantDetail.as_view(), name="assistant"),
    path("assistants/<str:assistant_id>/graph", views.AssistantGraph.as_view()),
    path("assistants/<str:assistant_id>/schemas", views.AssistantSchemas.as_view()),
    path("threads", views.ThreadCreate.as_view(), name="thread-create"),
    path("threads/search", views.ThreadSearch.as_view(), name="thread-search"),
    path(T, views.ThreadDetail.as_view(), name="thread"),
    path(f"{T}/state", views.ThreadState.as_view(), name="thread-state"),
    path(f"{T}/state/<str:checkpoint_id>", views.ThreadStateAt.as_view(), name="thread-state-at"),
    path(f"{T}/history", views.ThreadHistory.as_view(), name="thread-history"),
    path(f"{T}/runs", views.RunCollection.as_view(), name="runs"),
    path(f"{T}/runs/stream", views.RunStream.as_view(), name="run-stream"),
    path(f"{T}/runs/wait", views.RunWait.as_view(), name="run-wait"),
    path(R, views.RunDetail.as_view(), name="run"),
    path(f"{R}/cancel", views.RunCancel.as_view(), name="run-cancel"),
    path(f"{R}/join", views.RunJoin.as_view(), name="run-join"),
    path(f"{R}/stream", views.RunJoinStream.as_view(), name="run-join-stream"),
    path(
        "runs",
        views.RunCollection.as_view(http_method_names=["post", "options"]),
        name="stateless-runs",
    ),
    path("runs/stream", views.RunStream.as_view(), name="stateless-run-stream"),
    path("runs/wait", views.RunWait.as_view(), name="stateless-run-wait"),
]
