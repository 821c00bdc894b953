"""Finding and writing a thread's checkpoints.

The current state is the thread's latest checkpoint, found with the
(thread, -id) index: one index probe whatever the history length. These
functions take a thread that the caller already found for its actor (and,
to write, locked).
"""

import uuid

from runs.models import Checkpoint, Run, Thread


def latest_checkpoint(thread_pk) -> Checkpoint | None:
    return Checkpoint.objects.filter(thread_id=thread_pk).order_by("-id").first()


def latest_checkpoint_ref(thread_pk) -> tuple[uuid.UUID, int] | None:
    """(checkpoint_id, step) of the thread's latest checkpoint, without
    loading its values (the whole conversation, decoded from JSON)."""
    return (
        Checkpoint.objects.filter(thread_id=thread_pk)
        .order_by("-id")
        .values_list("checkpoint_id", "step")
        .first()
    )


def write_checkpoint(
    thread: Thread,
    *,
    values: dict,
    next: list[str] | None = None,
    run: Run | None = None,
    source: str = "loop",
    writes: dict | None = None,
    extra_metadata: dict | None = None,
) -> Checkpoint:
    """Append a checkpoint to a thread. Call with the thread row locked."""
    parent = latest_checkpoint_ref(thread.pk)
    parent_id, step = (parent[0], parent[1] + 1) if parent else (None, -1)
    metadata = {
        "source": source,
        "step": step,
        "writes": writes,
        "parents": {},
        "thread_id": str(thread.pk),
    }
    if run is not None:
        metadata.update(
            {
                "run_id": str(run.pk),
                "assistant_id": run.assistant_id,
                "graph_id": run.kwargs.get("graph_id", run.assistant_id),
            }
        )
    metadata.update(extra_metadata or {})
    return Checkpoint.objects.create(
        thread=thread,
        run=run,
        parent_checkpoint_id=parent_id,
        step=step,
        values=values,
        next=next or [],
        metadata=metadata,
    )
