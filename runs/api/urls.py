"""URL routes of the REST API, at the paths langgraph-sdk calls."""

from django.urls import path

from runs.api.views import assistants, crons, meta, runs, threads

A = "assistants/<str:assistant_id>"
T = "threads/<str:thread_id>"
R = f"{T}/runs/<str:run_id>"

urlpatterns = [
    path("ok", meta.Ok.as_view(), name="api-ok"),
    path("info", meta.Info.as_view(), name="api-info"),
    path("metrics", meta.Metrics.as_view(), name="metrics"),
    path("assistants", assistants.AssistantCreate.as_view(), name="assistant-create"),
    path("assistants/search", assistants.AssistantSearch.as_view(), name="assistant-search"),
    path("assistants/count", assistants.AssistantCount.as_view(), name="assistant-count"),
    path(A, assistants.AssistantDetail.as_view(), name="assistant"),
    path(f"{A}/versions", assistants.AssistantVersions.as_view(), name="assistant-versions"),
    path(f"{A}/latest", assistants.AssistantLatest.as_view(), name="assistant-latest"),
    path(f"{A}/graph", assistants.AssistantGraph.as_view(), name="assistant-graph"),
    path(f"{A}/schemas", assistants.AssistantSchemas.as_view(), name="assistant-schemas"),
    path(f"{A}/subgraphs", assistants.AssistantSubgraphs.as_view(), name="assistant-subgraphs"),
    path(
        f"{A}/subgraphs/<str:namespace>",
        assistants.AssistantSubgraphsOf.as_view(),
        name="assistant-subgraphs-of",
    ),
    path("threads", threads.ThreadCreate.as_view(), name="thread-create"),
    path("threads/search", threads.ThreadSearch.as_view(), name="thread-search"),
    path("threads/count", threads.ThreadCount.as_view(), name="thread-count"),
    path("threads/prune", threads.ThreadPrune.as_view(), name="thread-prune"),
    path(T, threads.ThreadDetail.as_view(), name="thread"),
    path(f"{T}/copy", threads.ThreadCopy.as_view(), name="thread-copy"),
    path(f"{T}/state", threads.ThreadState.as_view(), name="thread-state"),
    # Before state/<checkpoint_id>: "checkpoint" is this route, not an id.
    path(
        f"{T}/state/checkpoint",
        threads.ThreadStateAtCheckpoint.as_view(),
        name="thread-state-checkpoint",
    ),
    path(f"{T}/state/<str:checkpoint_id>", threads.ThreadStateAt.as_view(), name="thread-state-at"),
    path(f"{T}/history", threads.ThreadHistory.as_view(), name="thread-history"),
    path(f"{T}/stream", runs.ThreadStream.as_view(), name="thread-stream"),
    path(f"{T}/runs", runs.RunCollection.as_view(), name="runs"),
    path(f"{T}/runs/stream", runs.RunStream.as_view(), name="run-stream"),
    # Before runs/<run_id>: "crons" is this route, not a run id.
    path(f"{T}/runs/crons", crons.ThreadCronCreate.as_view(), name="thread-cron-create"),
    path(f"{T}/runs/wait", runs.RunWait.as_view(), name="run-wait"),
    path(R, runs.RunDetail.as_view(), name="run"),
    path(f"{R}/cancel", runs.RunCancel.as_view(), name="run-cancel"),
    path(f"{R}/join", runs.RunJoin.as_view(), name="run-join"),
    path(f"{R}/stream", runs.RunJoinStream.as_view(), name="run-join-stream"),
    path(
        "runs",
        runs.RunCollection.as_view(http_method_names=["post", "options"]),
        name="stateless-runs",
    ),
    path("runs/stream", runs.RunStream.as_view(), name="stateless-run-stream"),
    path("runs/batch", runs.RunBatch.as_view(), name="run-batch"),
    path("runs/cancel", runs.RunCancelMany.as_view(), name="run-cancel-many"),
    path("runs/wait", runs.RunWait.as_view(), name="stateless-run-wait"),
    path("runs/crons", crons.CronCreate.as_view(), name="cron-create"),
    path("runs/crons/search", crons.CronSearch.as_view(), name="cron-search"),
    path("runs/crons/count", crons.CronCount.as_view(), name="cron-count"),
    path("runs/crons/<str:cron_id>", crons.CronDetail.as_view(), name="cron"),
]
