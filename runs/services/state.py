"""A thread's state: the current one, its history, manual updates.

The state is the thread's latest checkpoint (runs.services.checkpoints).
"""

from django.db import transaction

from runs.models import Checkpoint
from runs.services import actors
from runs.services import chat_messages as msgs
from runs.services.checkpoints import latest_checkpoint, write_checkpoint
from runs.services.errors import CheckpointNotFound, InvalidRequest
from runs.services.ids import parse_id
from runs.services.threads import get_thread, lock_thread


def current_state(thread_id, *, actor) -> Checkpoint | None:
    """The thread's latest checkpoint; raises ThreadNotFound for a thread the
    actor cannot see. One query: the ownership check is part of it."""
    pk = parse_id(thread_id, field="thread_id")
    checkpoint = (
        Checkpoint.objects.filter(thread_id=pk)
        .filter(actors.thread_filter(actor, "thread__"))
        .order_by("-id")
        .first()
    )
    if checkpoint is None:
        get_thread(pk, actor=actor)  # not found, or a thread with no checkpoint
    return checkpoint


def thread_messages(thread_id, *, actor) -> list[dict]:
    checkpoint = current_state(thread_id, actor=actor)
    return list((checkpoint.values if checkpoint else {}).get("messages", []))


def update_state(thread_id, *, actor, values: dict | None, as_node: str | None = None):
    """Apply a manual update to the thread's state as a new checkpoint (no run)."""
    if values is not None and not isinstance(values, dict):
        raise InvalidRequest("values must be an object.", field="values")
    try:
        update = msgs.normalise_input(values)
    except msgs.MessageError as error:
        field = error.field.replace("input", "values", 1)
        raise InvalidRequest(error.message, field=field) from None
    with transaction.atomic():
        thread = lock_thread(thread_id, actor=actor)
        parent = latest_checkpoint(thread.pk)
        new_values = msgs.apply_update(parent.values if parent else {}, update)
        return write_checkpoint(
            thread,
            values=new_values,
            next=[],
            source="update",
            writes={as_node or "__input__": values},
        )


def history(thread_id, *, actor, limit: int = 10, before=None) -> list[Checkpoint]:
    """The thread's checkpoints, newest first (before a checkpoint id, if given)."""
    thread = get_thread(thread_id, actor=actor)
    checkpoints = Checkpoint.objects.filter(thread=thread)
    if before:
        anchor = checkpoints.filter(checkpoint_id=parse_id(before, field="before")).first()
        if anchor is not None:
            checkpoints = checkpoints.filter(id__lt=anchor.id)
    return list(checkpoints.order_by("-id")[:limit])


def checkpoint_at(thread_id, checkpoint_id, *, actor) -> Checkpoint:
    thread = get_thread(thread_id, actor=actor)
    checkpoint = Checkpoint.objects.filter(
        thread=thread, checkpoint_id=parse_id(checkpoint_id, field="checkpoint_id")
    ).first()
    if checkpoint is None:
        raise CheckpointNotFound(f"Checkpoint {checkpoint_id} not found.", field="checkpoint_id")
    return checkpoint
