"""Threads, runs and states as JSON-ready dicts, in LangGraph Platform's shapes.

One place for these shapes: the REST API, the websocket and the channel-layer
events all send them.
"""

from runs.models import Checkpoint, Run, Thread


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
    }


def checkpoint_ref(thread_id, checkpoint_id) -> dict | None:
    if checkpoint_id is None:
        return None
    return {
        "thread_id": str(thread_id),
        "checkpoint_ns": "",
        "checkpoint_id": str(checkpoint_id),
        "checkpoint_map": None,
    }


def state_dict(thread_id, checkpoint: Checkpoint | None) -> dict:
    if checkpoint is None:
        return {
            "values": {},
            "next": [],
            "tasks": [],
            "checkpoint": None,
            "parent_checkpoint": None,
            "metadata": {},
            "created_at": None,
            "interrupts": [],
        }
    return {
        "values": checkpoint.values,
        "next": checkpoint.next,
        "tasks": [
            {
                "id": f"{checkpoint.checkpoint_id}:{name}",
                "name": name,
                "path": [],
                "error": None,
                "interrupts": [],
                "checkpoint": None,
                "state": None,
                "result": None,
            }
            for name in checkpoint.next
        ],
        "checkpoint": checkpoint_ref(thread_id, checkpoint.checkpoint_id),
        "parent_checkpoint": checkpoint_ref(thread_id, checkpoint.parent_checkpoint_id),
        "metadata": checkpoint.metadata,
        "created_at": iso(checkpoint.created_at),
        "interrupts": [],
    }


def thread_dict(thread: Thread, values: dict | None = None) -> dict:
    return {
        "thread_id": str(thread.pk),
        "created_at": iso(thread.created_at),
        "updated_at": iso(thread.updated_at),
        "metadata": thread.metadata,
        "status": thread.status,
        "config": {},
        "values": values if values is not None else {},
        "interrupts": {},
    }
