"""Threads: create, read, search, update, delete; the thread lock.

Every change to a thread's runs or checkpoints happens with its row locked
(`lock_thread`: SELECT ... FOR UPDATE; on SQLite the transaction itself is
IMMEDIATE), so strategy decisions, executor steps and deletions never
interleave.
"""

from django.db import transaction
from django.db.models.fields.json import KeyTransform

from runs.models import CancelAction, Thread
from runs.services import actors, persistence
from runs.services.cancellation import cancel_locked
from runs.services.errors import Conflict, InvalidRequest, ThreadNotFound
from runs.services.ids import new_thread_id, parse_id


def _not_found(thread_id) -> ThreadNotFound:
    return ThreadNotFound(f"Thread {thread_id} not found.", field="thread_id")


def lock_thread(thread_id, *, actor) -> Thread:
    """The thread, locked for the rest of the transaction (FOR UPDATE).
    Another user's thread is not found."""
    pk = parse_id(thread_id, field="thread_id")
    thread = actors.visible_threads(actor).select_for_update().filter(pk=pk).first()
    if thread is None:
        raise _not_found(thread_id)
    return thread


def get_thread(thread_id, *, actor) -> Thread:
    pk = parse_id(thread_id, field="thread_id")
    thread = actors.visible_threads(actor).filter(pk=pk).first()
    if thread is None:
        raise _not_found(thread_id)
    return thread


def is_visible(thread_id, *, actor) -> bool:
    """Whether `actor` may see the thread (a malformed id is not visible)."""
    try:
        pk = parse_id(thread_id, field="thread_id")
    except ThreadNotFound:
        return False
    return actors.visible_threads(actor).filter(pk=pk).exists()


def create_thread(*, actor, thread_id=None, metadata=None, if_exists="raise") -> Thread:
    """Create a thread of `actor` (its state is empty until a run or an update).

    `if_exists` follows LangGraph: "raise" (409) or "do_nothing" (return it);
    a thread id that another user's thread has is always a conflict.
    """
    owner = actors.owner_of_new_threads(actor)
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
        return Thread.objects.create(**kwargs)


def search_threads(
    *, actor, metadata: dict | None = None, status=None, ids=None, limit=10, offset=0
) -> list[Thread]:
    """The actor's threads matching metadata (key = value for each key),
    status and ids, newest first."""
    threads = actors.visible_threads(actor)
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


def patch_thread(thread_id, *, actor, metadata: dict) -> Thread:
    """Merge metadata into a thread's metadata."""
    if not isinstance(metadata, dict):
        raise InvalidRequest("metadata must be an object.", field="metadata")
    with transaction.atomic():
        thread = lock_thread(thread_id, actor=actor)
        thread.metadata = {**thread.metadata, **metadata}
        thread.save(update_fields=["metadata", "updated_at"])
    return thread


def delete_thread(thread_id, *, actor) -> None:
    """Delete a thread with its runs and checkpoints. Runs in flight are
    rolled back first, in the same transaction, so their executors stop and
    their watchers hear of it."""
    with transaction.atomic():
        thread = lock_thread(thread_id, actor=actor)
        cancel_locked(thread, list(thread.in_flight_runs()), action=CancelAction.ROLLBACK)
        persistence.delete_thread(thread.pk)
        thread.delete()
