"""Errors of the runs service. Adapters map them: REST to a status code and a
JSON body, the websocket to an error frame."""


class RunsError(Exception):
    status_code = 400
    code = "invalid"

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field

    def as_dict(self) -> dict:
        body = {"error": self.code, "detail": self.message}
        if self.field:
            body["field"] = self.field
        return body


class RateLimited(RunsError):
    """Too many runs created (runs.services.rate_limit); `retry_after` in seconds."""

    status_code = 429
    code = "throttled"

    def __init__(self, message: str, *, retry_after: float):
        super().__init__(message)
        self.retry_after = retry_after

    def as_dict(self) -> dict:
        return {**super().as_dict(), "retry_after": self.retry_after}


class InvalidRequest(RunsError):
    status_code = 422
    code = "invalid_request"


class ThreadNotFound(RunsError):
    status_code = 404
    code = "thread_not_found"


class RunNotFound(RunsError):
    status_code = 404
    code = "run_not_found"


class AssistantNotFound(RunsError):
    status_code = 404
    code = "assistant_not_found"


class CronNotFound(RunsError):
    status_code = 404
    code = "cron_not_found"


class ThreadBusy(RunsError):
    """The thread has a run in flight and the strategy is `reject`."""

    status_code = 409
    code = "thread_busy"


class Conflict(RunsError):
    status_code = 409
    code = "conflict"


class GraphNotAssigned(RunsError):
    """A thread-level operation that needs the thread's graph, on a thread without one."""

    status_code = 400
    code = "graph_not_assigned"


class CheckpointNotFound(RunsError):
    status_code = 404
    code = "checkpoint_not_found"


class GraphNotFound(RunsError):
    """A graph id the server does not serve (its langgraph.json lists the graphs)."""

    status_code = 404
    code = "graph_not_found"


class AssistantReadOnly(RunsError):
    """A change to a graph's default assistant: the server's own, visible to
    every user, changed by none."""

    status_code = 403
    code = "assistant_read_only"


class VersionNotFound(RunsError):
    status_code = 404
    code = "version_not_found"
