"""Thread state: checkpoints, the current state, history, manual updates.

The current state is the thread's latest checkpoint, found with the
(thread, -id) index: one index probe whatever the history length.
"""

import uuid

from django.db import transaction
from django.db.models.fields.json import KeyTransform

from runs import messages as msgs
from runs.exceptions import CheckpointNotFound, InvalidRequest, ThreadNotFound
from runs.models import Checkpoint, Run, Thread


def parse_id(value, *, field: str, not_found: type[Exception] = ThreadNotFound) -> uuid.UUID:
    """A UUID from a path/body value; a malformed id is simply not found."""
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except (ValueError, TypeError, AttributeError):
        raise not_found(f"{field} {value!r} not found.", field=field) from None


def latest_checkpoint(thread_id) -> Checkpoint | None:
    return Checkpoint.objects.filter(thread_id=thread_id).order_by("-id").first()


def lock_thread(thread_id, owner=None) -> Thread:
    """Lock the thread row for the rest of the transaction (FOR UPDATE).

    With `owner`, another user's thread is not found (runs.access)."""
    try:
        thread = Thread.objects.select_for_update().get(pk=parse_id(thread_id, field="thread_id"))
    except Thread.DoesNotExist:
        thread = None
    if thread is None or (owner is not None and thread.owner_id != owner.pk):
        raise ThreadNotFound(f"Thread {thread_id} not found.", field="thread_id")
    return thread


def latest_checkpoint_ref(thread_id) -> tuple[uuid.UUID, int] | None:
    """(checkpoint_id, step) of the thread's latest checkpoint, without
    loading its values (the whole conversation, decoded from JSON)."""
    return (
        Checkpoint.objects.filter(thread_id=thread_id)
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


def create_thread(*, owner, thread_id=None, metadata=None, if_exists="raise") -> Thread:
    """Create a thread of `owner` with its initial (empty) checkpoint.

    `if_exists` follows LangGraph: "raise" (409) or "do_nothing" (return it);
    a thread id that another user's thread has is always a conflict.
    """
    from runs.exceptions import Conflict

    if if_exists not in ("raise", "do_nothing"):
        raise InvalidRequest("if_exists must be 'raise' or 'do_nothing'.", field="if_exists")
    if metadata is not None and not isinstance(metadata, dict):
        raise InvalidRequest("metadata must be an object.", field="metadata")
    with transaction.atomic():
        if thread_id is not None:
            thread_id = new_thread_id(thread_id)
            existing = Thread.objects.filter(pk=thread_id).first()
            if existing is not None:
                if if_exists == "do_nothing" and existing.owner_id == owner.pk:
                    return existing
                raise Conflict(f"Thread {thread_id} already exists.", field="thread_id")
        kwargs = {"metadata": metadata or {}, "owner": owner}
        if thread_id is not None:
            kwargs["id"] = thread_id
        thread = Thread.objects.create(**kwargs)
        write_checkpoint(thread, values={"messages": []}, source="input")
    return thread


def get_thread(thread_id) -> Thread:
    try:
        return Thread.objects.get(pk=parse_id(thread_id, field="thread_id"))
    except Thread.DoesNotExist:
        raise ThreadNotFound(f"Thread {thread_id} not found.", field="thread_id") from None


def current_state(thread_id) -> Checkpoint | None:
    """The thread's latest checkpoint; raises ThreadNotFound for a missing thread."""
    checkpoint = latest_checkpoint(parse_id(thread_id, field="thread_id"))
    if checkpoint is None:
        get_thread(thread_id)
    return checkpoint


def thread_messages(thread_id) -> list[dict]:
    checkpoint = current_state(thread_id)
    return list((checkpoint.values if checkpoint else {}).get("messages", []))


def update_state(thread_id, *, values: dict | None, as_node: str | None = None) -> Checkpoint:
    """Apply a manual update to the thread's state as a new checkpoint (no run)."""
    if values is not None and not isinstance(values, dict):
        raise InvalidRequest("values must be an object.", field="values")
    try:
        update = msgs.normalise_input(values)
    except msgs.MessageError as error:
        field = error.field.replace("input", "values", 1)
        raise InvalidRequest(error.message, field=field) from None
    with transaction.atomic():
        thread = lock_thread(thread_id)
        parent = latest_checkpoint(thread.pk)
        new_values = msgs.apply_update(parent.values if parent else {}, update)
        return write_checkpoint(
            thread,
            values=new_values,
            next=[],
            source="update",
            writes={as_node or "__input__": values},
        )


def new_thread_id(value) -> uuid.UUID:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except (ValueError, TypeError, AttributeError):
        raise InvalidRequest("thread_id must be a UUID.", field="thread_id") from None


def search_threads(
    threads, *, metadata: dict | None = None, status=None, ids=None, limit=10, offset=0
) -> list[Thread]:
    """Those of `threads` (a queryset: the caller's own) matching metadata
    (key = value for each key), status and ids, newest first."""
    for i, (key, value) in enumerate((metadata or {}).items()):
        # The key as data, never as lookup syntax ("a__contains", "").
        threads = threads.alias(**{f"_meta_{i}": KeyTransform(key, "metadata")}).filter(
            **{f"_meta_{i}": value}
        )
    if status:
        threads = threads.filter(status=status)
    if ids:
        threads = threads.filter(pk__in=[parse_id(i, field="ids") for i in ids])
    return list(threads.order_by("-created_at")[offset : offset + limit])


def patch_thread(thread_id, *, metadata: dict) -> Thread:
    """Merge metadata into a thread's metadata."""
    if not isinstance(metadata, dict):
        raise InvalidRequest("metadata must be an object.", field="metadata")
    with transaction.atomic():
        thread = lock_thread(thread_id)
        thread.metadata = {**thread.metadata, **metadata}
        thread.save(update_fields=["metadata", "updated_at"])
    return thread


def delete_thread(thread_id) -> None:
    """Delete a thread with its runs and checkpoints; runs in flight are
    cancelled first so their executors stop."""
    from runs.strategies import cancel_thread_runs

    cancel_thread_runs(thread_id, action="rollback")
    with transaction.atomic():
        lock_thread(thread_id).delete()


def history(thread_id, *, limit: int = 10, before=None) -> list[Checkpoint]:
    """The thread's checkpoints, newest first (before a checkpoint id, if given)."""
    thread = get_thread(thread_id)
    checkpoints = Checkpoint.objects.filter(thread=thread)
    if before:
        anchor = checkpoints.filter(checkpoint_id=parse_id(before, field="before")).first()
        if anchor is not None:
            checkpoints = checkpoints.filter(id__lt=anchor.id)
    return list(checkpoints.order_by("-id")[:limit])


def checkpoint_at(thread_id, checkpoint_id) -> Checkpoint:
    checkpoint = Checkpoint.objects.filter(
        thread_id=parse_id(thread_id, field="thread_id"),
        checkpoint_id=parse_id(checkpoint_id, field="checkpoint_id"),
    ).first()
    if checkpoint is None:
        raise CheckpointNotFound(f"Checkpoint {checkpoint_id} not found.", field="checkpoint_id")
    return checkpoint
