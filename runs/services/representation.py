"""Threads and runs as JSON-ready dicts, in LangGraph Platform's shapes.

One place for these shapes: the REST API, the websocket and the bus events
all send them. (States: runs.graphs.serialization.)
"""

from runs.models import Run, Thread


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


def thread_dict(thread: Thread) -> dict:
    return {
        "thread_id": str(thread.pk),
        "created_at": iso(thread.created_at),
        "updated_at": iso(thread.updated_at),
        "metadata": thread.metadata,
        "status": thread.status,
        "config": {},
        "values": thread.values,
        "interrupts": thread.interrupts,
    }
