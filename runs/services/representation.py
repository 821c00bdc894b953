"""Threads, runs and assistants as JSON-ready dicts, in LangGraph Platform's shapes.

One place for these shapes: the REST API, the websocket and the bus events
all send them. (States: runs.graphs.serialization.)
"""

from runs.models import Assistant, AssistantVersion, Cron, Run, Thread


def iso(value):
    return value.isoformat() if value else None


def run_dict(run: Run) -> dict:
    return {
        "run_id": str(run.pk),
        "thread_id": str(run.thread_id),
        "assistant_id": run.assistant_id,
        "created_at": iso(run.created_at),
        "updated_at": iso(run.updated_at),
        "started_at": iso(run.started_at),
        "ended_at": iso(run.ended_at),
        "status": run.status,
        "metadata": run.metadata,
        "kwargs": {**run.kwargs, "input": run.input},
        "multitask_strategy": run.multitask_strategy,
        "attempt": run.attempt,
    }


THREAD_FIELDS = (
    "thread_id",
    "created_at",
    "updated_at",
    "state_updated_at",
    "metadata",
    "status",
    "config",
    "values",
    "error",
    "interrupts",
)


def thread_dict(thread: Thread, fields=THREAD_FIELDS) -> dict:
    """A thread as the platform sends it; only `fields` of it (in the
    platform's order whatever theirs), reading only those attributes."""
    read = {
        "thread_id": lambda: str(thread.pk),
        "created_at": lambda: iso(thread.created_at),
        "updated_at": lambda: iso(thread.updated_at),
        "state_updated_at": lambda: iso(thread.state_updated_at),
        "metadata": lambda: thread.metadata,
        "status": lambda: thread.status,
        "config": lambda: {},
        "values": lambda: thread.values,
        "error": lambda: thread.error,
        "interrupts": lambda: thread.interrupts,
    }
    return {name: read[name]() for name in THREAD_FIELDS if name in fields}


ASSISTANT_FIELDS = (
    "assistant_id",
    "graph_id",
    "config",
    "context",
    "created_at",
    "updated_at",
    "metadata",
    "version",
    "name",
    "description",
)
# A version has no updated_at: it is never changed once written.
ASSISTANT_VERSION_FIELDS = tuple(name for name in ASSISTANT_FIELDS if name != "updated_at")


def assistant_dict(assistant: Assistant | AssistantVersion, fields=ASSISTANT_FIELDS) -> dict:
    """An assistant (or one of its versions) as the platform sends it; only
    `fields` of it, in the platform's order."""
    read = {
        "assistant_id": lambda: str(assistant.assistant_id),
        "graph_id": lambda: assistant.graph_id,
        "config": lambda: assistant.config,
        "context": lambda: assistant.context,
        "created_at": lambda: iso(assistant.created_at),
        "updated_at": lambda: iso(assistant.updated_at),
        "metadata": lambda: assistant.metadata,
        "version": lambda: assistant.version,
        "name": lambda: assistant.name,
        "description": lambda: assistant.description,
    }
    return {name: read[name]() for name in ASSISTANT_FIELDS if name in fields}


def assistant_version_dict(version: AssistantVersion) -> dict:
    return assistant_dict(version, ASSISTANT_VERSION_FIELDS)


CRON_FIELDS = (
    "cron_id",
    "assistant_id",
    "thread_id",
    "on_run_completed",
    "end_time",
    "schedule",
    "timezone",
    "created_at",
    "updated_at",
    "payload",
    "user_id",
    "next_run_date",
    "metadata",
    "enabled",
)


def cron_dict(cron: Cron, fields=CRON_FIELDS) -> dict:
    """A cron as the platform sends it (only `fields` of it): `user_id` is
    its owner's username, `timezone` null for UTC, `on_run_completed`
    null for a thread's cron."""
    read = {
        "cron_id": lambda: str(cron.pk),
        "assistant_id": lambda: cron.assistant_id,
        "thread_id": lambda: str(cron.thread_id) if cron.thread_id else None,
        "on_run_completed": lambda: cron.on_run_completed or None,
        "end_time": lambda: iso(cron.end_time),
        "schedule": lambda: cron.schedule,
        "timezone": lambda: cron.timezone or None,
        "created_at": lambda: iso(cron.created_at),
        "updated_at": lambda: iso(cron.updated_at),
        "payload": lambda: cron.payload,
        "user_id": lambda: cron.owner.get_username(),
        "next_run_date": lambda: iso(cron.next_run_date),
        "metadata": lambda: cron.metadata,
        "enabled": lambda: cron.enabled,
    }
    return {name: read[name]() for name in CRON_FIELDS if name in fields}
