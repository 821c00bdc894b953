"""Threads: create, read, search, count, update, copy, prune, delete; the thread lock.

Every change to a thread's runs or checkpoints happens with its row locked
(`lock_thread`: SELECT ... FOR UPDATE; on SQLite the transaction itself is
IMMEDIATE), so strategy decisions, executor steps and deletions never
interleave.
"""

from collections.abc import Callable

from django.db import transaction

from chatapp.platform.prepared import insert, select_later, select_one
from runs.models import ACTIVE_RUN_STATUSES, CancelAction, Run, Thread, ThreadStatus
from runs.services import actors, json_match, json_paths, persistence
from runs.services.cancellation import cancel_locked
from runs.services.errors import Conflict, InvalidRequest, ThreadNotFound
from runs.services.ids import new_thread_id, parse_id
from runs.services.paging import Page, Sorts, fetch_page, selected_fields
from runs.services.representation import THREAD_FIELDS, thread_dict


def _not_found(thread_id) -> ThreadNotFound:
    return ThreadNotFound(f"Thread {thread_id} not found.", field="thread_id")


# The thread's copy of its state: the whole conversation, as JSON.
STATE_FIELDS = ("values", "interrupts")


def lock_thread(thread_id, *, actor, defer: tuple[str, ...] = ()) -> Thread:
    """The thread, locked for the rest of the transaction (FOR UPDATE).
    Another user's thread is not found. `defer`: fields not read now (read
    on access), e.g. STATE_FIELDS for a caller that does not read the state."""
    return lock_thread_later(thread_id, actor=actor, defer=defer)()


def lock_thread_later(thread_id, *, actor, defer: tuple[str, ...] = ()) -> Callable[[], Thread]:
    """`lock_thread`, its lock sent now and the thread read when the function
    it returns is called (prepared.select_later): inside `pipelined()` a read
    sent in between (the thread's runs) shares that round trip, and still
    runs once the lock is taken."""
    pk = parse_id(thread_id, field="thread_id")
    rows = select_later(
        Thread, {"pk": pk, **actors.owner_key(actor)}, defer=defer, limit=1, lock=True
    )

    def locked() -> Thread:
        found = rows()
        if not found:
            raise _not_found(thread_id)
        return found[0]

    return locked


def get_thread(thread_id, *, actor) -> Thread:
    pk = parse_id(thread_id, field="thread_id")
    thread = select_one(Thread, {"pk": pk, **actors.owner_key(actor)})
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


def create_thread(
    *, actor, thread_id=None, metadata=None, if_exists="raise", supersteps=None
) -> Thread:
    """Create a thread of `actor` (its state is empty until a run or an update).

    `if_exists` follows LangGraph: "raise" (409) or "do_nothing" (return it);
    a thread id that another user's thread has is always a conflict.
    `supersteps` ([{"updates": [{"values", "as_node"}]}]) are applied to the
    new thread's state in order (state.apply_supersteps, through the graph of
    `metadata.graph_id`), in the same transaction: if one is refused, no
    thread is created.
    """
    owner = actors.owner_of_new_threads(actor)
    if if_exists not in ("raise", "do_nothing"):
        raise InvalidRequest("if_exists must be 'raise' or 'do_nothing'.", field="if_exists")
    if metadata is not None and not isinstance(metadata, dict):
        raise InvalidRequest("metadata must be an object.", field="metadata")
    with transaction.atomic():
        if thread_id is not None:
            thread_id = new_thread_id(thread_id)
            existing = select_one(Thread, {"pk": thread_id})
            if existing is not None:
                if if_exists == "do_nothing" and existing.owner_id == owner.pk:
                    return existing
                raise Conflict(f"Thread {thread_id} already exists.", field="thread_id")
        kwargs = {"metadata": metadata or {}, "owner": owner}
        if thread_id is not None:
            kwargs["id"] = thread_id
        thread = Thread(**kwargs)
        insert(thread)  # what create() writes, its INSERT not compiled each time
        if supersteps:
            from runs.services import state  # (state builds on this module)

            state.apply_supersteps(thread.pk, actor=actor, supersteps=supersteps)
            thread.refresh_from_db()
        return thread


# POST /threads/search's orders (their indexes: runs.models.Thread.Meta).
SORTS = Sorts(
    {
        "thread_id": "pk",
        "status": "status",
        "created_at": "created_at",
        "updated_at": "updated_at",
        "state_updated_at": "state_updated_at",
    },
    default="updated_at",
)
# What `select` may name: a thread's fields but `error`, as on the platform.
SELECTABLE = tuple(name for name in THREAD_FIELDS if name != "error")
# The model fields each returned field reads (what `.only()` loads).
_COLUMNS = {"thread_id": "id", "config": None}


def _json_object(value, field: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidRequest(f"{field} must be an object.", field=field)
    return value


def _matching(actor, *, metadata=None, values=None, status=None, ids=None):
    """The actor's threads whose metadata and values have each given key with
    that value (json_match: nested values compared whole), with that status,
    among `ids`."""
    threads = actors.visible_threads(actor)
    threads = json_match.contains(threads, "metadata", _json_object(metadata, "metadata"))
    threads = json_match.contains(threads, "values", _json_object(values, "values"))
    if status is not None:
        if status not in ThreadStatus.values:
            raise InvalidRequest(
                f"Unknown status {status!r}; use one of {ThreadStatus.values}.", field="status"
            )
        threads = threads.filter(status=status)
    if ids is not None:
        threads = threads.filter(pk__in=_uuids(ids, "ids"))
    return threads


def _uuids(values, field: str) -> list:
    if isinstance(values, str) or not isinstance(values, list | tuple):
        raise InvalidRequest(f"{field} must be a list of thread ids.", field=field)
    try:
        return sorted({new_thread_id(value) for value in values})
    except InvalidRequest:
        raise InvalidRequest(f"{field} must be a list of UUIDs.", field=field) from None


def search_threads(
    *,
    actor,
    metadata: dict | None = None,
    values: dict | None = None,
    status: str | None = None,
    ids=None,
    limit: int = 10,
    offset: int = 0,
    sort_by: str | None = None,
    sort_order: str | None = None,
    select: list[str] | None = None,
    extract: dict | None = None,
) -> Page:
    """The actor's threads matching the filters, a page of them in the given
    order, as dicts of the `select`ed fields (all by default) plus
    `extracted`: {alias: the value at its path} for each `extract` path."""
    threads = _matching(actor, metadata=metadata, values=values, status=status, ids=ids)
    threads = threads.order_by(*SORTS.order_by(sort_by, sort_order))
    fields = selected_fields(select, selectable=SELECTABLE, default=THREAD_FIELDS)
    paths = json_paths.parse_extract(extract)
    roots = {root for root, _ in paths.values()}
    if select is not None:
        columns = {_COLUMNS.get(name, name) for name in (*fields, *roots)} - {None}
        threads = threads.only("id", *columns)

    def render(thread):
        item = thread_dict(thread, fields)
        if paths:
            whole = thread_dict(thread, roots)
            item["extracted"] = {
                alias: json_paths.follow(whole[root], steps)
                for alias, (root, steps) in paths.items()
            }
        return item

    return fetch_page(threads, offset=offset, limit=limit, render=render)


def count_threads(*, actor, metadata=None, values=None, status=None) -> int:
    """How many of the actor's threads match (search_threads' filters)."""
    return _matching(actor, metadata=metadata, values=values, status=status).count()


def copy_thread(thread_id, *, actor) -> Thread:
    """A new thread of the same owner with the thread's metadata, values and
    whole history (the same checkpoint ids, on the new thread). A run in
    flight is not copied: the copy of a busy thread is idle, at the state its
    last checkpoint had."""
    with transaction.atomic():
        # Locked: the run writing to it waits, so the copy is of one moment.
        source = lock_thread(thread_id, actor=actor)
        busy = source.status == ThreadStatus.BUSY
        copy = Thread(
            owner_id=source.owner_id,
            metadata=source.metadata,
            values=source.values,
            interrupts=source.interrupts,
        )
        copy.set_status(ThreadStatus.IDLE if busy else source.status, error=source.error)
        copy.save()
        persistence.copy_thread(source.pk, copy.pk)
    return copy


PRUNE_STRATEGIES = ("delete", "keep_latest")


def prune_threads(thread_ids, *, actor, strategy: str = "delete") -> int:
    """Prune the actor's threads among `thread_ids` (others, and unknown ids,
    are not counted); returns how many. `delete` deletes them as DELETE does
    (runs in flight rolled back first); `keep_latest` keeps each thread and its
    state but deletes its history before the latest checkpoint. A thread with
    a run in flight is refused for `keep_latest` (409 naming it: its run may
    still roll back to a checkpoint the prune would delete), and then nothing
    is pruned."""
    if strategy not in PRUNE_STRATEGIES:
        raise InvalidRequest(f"strategy must be one of {list(PRUNE_STRATEGIES)}.", field="strategy")
    pks = _uuids(thread_ids, "thread_ids")
    with transaction.atomic():
        # Locked in one order, so two prunes cannot deadlock.
        threads = list(
            actors.visible_threads(actor).select_for_update().filter(pk__in=pks).order_by("pk")
        )
        if strategy == "delete":
            for thread in threads:
                _delete_locked(thread)
            return len(threads)
        busy = sorted(
            str(pk)
            for pk in Run.objects.filter(thread__in=threads, status__in=ACTIVE_RUN_STATUSES)
            .values_list("thread_id", flat=True)
            .distinct()
        )
        if busy:
            raise Conflict(
                f"Threads with a run in flight cannot be pruned to their latest checkpoint: "
                f"{', '.join(busy)}. Wait for their runs or cancel them.",
                field="thread_ids",
            )
        try:
            persistence.prune([thread.pk for thread in threads], strategy="keep_latest")
        except NotImplementedError as error:
            raise InvalidRequest(str(error), field="thread_ids") from None
    return len(threads)


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
        _delete_locked(lock_thread(thread_id, actor=actor))


def _delete_locked(thread: Thread) -> None:
    signals = cancel_locked(
        thread, list(thread.in_flight_runs()), action=CancelAction.ROLLBACK, signal=False
    )
    signals.wake = False  # no thread left whose next run a worker could claim
    transaction.on_commit(signals.send)
    persistence.delete_thread(thread.pk)
    thread.delete()
