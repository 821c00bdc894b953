"""Runs: creating them with a double-texting strategy, cancelling, reading.

Every entry point (REST, websocket, admin) goes through `create_run` and
`cancel_run`. Each decision is one transaction with the thread row locked
(SELECT ... FOR UPDATE; on SQLite, an IMMEDIATE transaction), so it stays
correct with several server processes and workers. `apply_strategy` is the
one function that decides what a double-text does.

What happens to the thread's *other* runs follows LangGraph Platform: when a
run is created with `interrupt` or `rollback`, every run of the thread that is
in flight, the running one and any still pending (queued with `enqueue`), is
cancelled with that action; `reject` refuses if any run is pending or running;
`enqueue` only appends. So a double-text with interrupt/rollback means "forget
what was queued, answer this now".
"""

import uuid
from collections.abc import Callable
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from chatapp.platform.pipeline import pipelined
from chatapp.platform.prepared import insert, select_later, select_one, update_fields
from runs.bus import protocol
from runs.bus.publish import publish_sync, wake_workers_sync
from runs.graphs.validation import check_options
from runs.models import (
    ACTIVE_RUN_STATUSES,
    CancelAction,
    MultitaskStrategy,
    Run,
    RunStatus,
    Thread,
    ThreadStatus,
)
from runs.services import actors, assistants, metrics
from runs.services import chat_messages as msgs
from runs.services.cancellation import ExecutorSignals, cancel_locked, refresh_thread_status
from runs.services.errors import (
    Conflict,
    InvalidRequest,
    RunNotFound,
    ThreadBusy,
)
from runs.services.ids import new_thread_id, parse_id
from runs.services.representation import iso, run_dict
from runs.services.threads import (
    STATE_FIELDS,
    create_thread,
    get_thread,
    lock_thread,
    lock_thread_later,
)

# The timeline's status of a run that was rolled back (no RunStatus: the run is gone).
ROLLED_BACK = protocol.Lifecycle.ROLLED_BACK.value


def validate_strategy(strategy) -> str:
    if strategy is None:
        return MultitaskStrategy.ENQUEUE
    if strategy not in MultitaskStrategy.values:
        raise InvalidRequest(
            f"Unknown multitask_strategy {strategy!r}; use one of {MultitaskStrategy.values}.",
            field="multitask_strategy",
        )
    return strategy


def validate_action(action) -> str:
    if action is None:
        return CancelAction.INTERRUPT
    if action not in CancelAction.values:
        raise InvalidRequest(
            f"Unknown action {action!r}; use one of {CancelAction.values}.", field="action"
        )
    return action


def in_flight_later(thread_id) -> Callable[[], list[Run]]:
    """thread.in_flight_runs(), without the ORM's compiling (on every
    message), sent now and read when called (prepared.select_later)."""
    return select_later(
        Run, {"thread": thread_id, "status": ACTIVE_RUN_STATUSES}, order_by=("seq",)
    )


def apply_strategy(
    thread: Thread, strategy: str, in_flight: list[Run], *, by=None
) -> tuple[dict, ExecutorSignals | None]:
    """What a new run does to the runs in flight on its (locked) thread: the
    double-texting decision. Raises ThreadBusy for `reject` on a busy thread.
    `in_flight`: those runs, read under the thread's lock (`in_flight_later`).
    `by`: the new run's id, recorded on the runs it stops. Returns {id: status}
    of the runs that were in flight, as they were before it (taken first),
    and what the executors of the runs it stops must hear, for the caller to
    send once the new run is announced (None: it stops nothing)."""
    ids = {str(run.pk): run.status for run in in_flight}
    if not in_flight or strategy == MultitaskStrategy.ENQUEUE:
        return ids, None
    if strategy == MultitaskStrategy.REJECT:
        metrics.double_text(strategy, "rejected")
        raise ThreadBusy(
            "Thread is already running a run; the strategy is 'reject'.",
            field="multitask_strategy",
        )
    # interrupt or rollback
    return ids, cancel_locked(thread, in_flight, action=strategy, by=by, signal=False)


def create_run(
    thread_id,
    *,
    actor,
    assistant_id: str = "agent",
    input=None,
    multitask_strategy: str | None = None,
    config: dict | None = None,
    context: dict | None = None,
    metadata: dict | None = None,
    kwargs: dict | None = None,
    if_not_exists: str | None = None,
    checkpoint_id: str | None = None,
    after_seconds: float | None = None,
) -> Run:
    """Create a run on a thread of `actor`, applying the double-texting strategy.

    `assistant_id` names the graph (its id, or its default assistant's UUID)
    or an assistant of `actor`'s, whose config and context the run gets under
    its own (`assistants.resolve`, `assistants.merged_options`); the run and
    the thread's metadata record it (`graph_id`, `assistant_id`), as the
    platform does, so its state is read through that graph. `kwargs`: how the
    run executes and streams (stream_mode, stream_subgraphs, stream_resumable,
    command, interrupt_before/after, durability, on_completion).
    `checkpoint_id` (or `config.configurable.checkpoint_id`): the run forks
    from that checkpoint (time travel; see `fork_guard` below). `after_seconds`:
    no worker claims it before then. `if_not_exists="create"` creates the
    thread for the actor when it does not exist. Raises ThreadBusy (409) for
    `reject` on a busy thread, ThreadNotFound, AssistantNotFound or
    InvalidRequest for bad input; nothing is written then.

    A fork requested while runs are in flight (SDKs send the thread head they
    last saw with every message, so a double-text carries the checkpoint from
    before the run it interrupts) is recorded with those runs (`fork_guard`):
    when it executes, it continues from the thread's latest checkpoint instead
    if everything after the requested one was written by those runs (or was
    rolled back with them), so an interrupt keeps what the interrupted run did.
    See runs.worker.transactions.claim_next_run.
    """
    strategy = validate_strategy(multitask_strategy)
    assistant = assistants.resolve(assistant_id, actor=actor)
    graph_id = assistant.graph_id
    config, context = assistants.merged_options(assistant, config, context)
    check_options(graph_id, config, context)
    config = dict(config or {})
    if checkpoint_id:
        config["configurable"] = {
            **(config.get("configurable") or {}),
            "checkpoint_id": checkpoint_id,
        }
    forking = bool((config.get("configurable") or {}).get("checkpoint_id"))
    if metadata is not None and not isinstance(metadata, dict):
        raise InvalidRequest("metadata must be an object.", field="metadata")
    if if_not_exists not in (None, "reject", "create"):
        raise InvalidRequest("if_not_exists must be 'reject' or 'create'.", field="if_not_exists")
    try:
        run_input = msgs.normalise_input(input)
    except msgs.MessageError as error:
        raise InvalidRequest(error.message, field=error.field) from None

    if if_not_exists == "create":
        thread_id = new_thread_id(thread_id)
    # Pipelined (chatapp/platform/pipeline.py): on PostgreSQL the stops, the
    # thread's update and the new run go in one round trip.
    with transaction.atomic(), pipelined():
        if if_not_exists == "create" and not Thread.objects.filter(pk=thread_id).exists():
            create_thread(actor=actor, thread_id=thread_id, if_exists="do_nothing")
        # Not its state: decoding the whole conversation on every message
        # grew with the thread; a rollback rewrites it without reading it.
        # Its runs in flight are asked for with the lock (one round trip),
        # and read once it is taken.
        locked = lock_thread_later(thread_id, actor=actor, defer=STATE_FIELDS)
        runs_in_flight = in_flight_later(thread_id)
        thread = locked()
        # Its id before it exists: the runs it stops record who stopped them.
        run_id = uuid.uuid4()
        in_flight, signals = apply_strategy(thread, strategy, runs_in_flight(), by=run_id)
        if in_flight:
            transaction.on_commit(lambda: metrics.double_text(strategy, "accepted"))
        run_kwargs = {**(kwargs or {}), "config": config, "context": context, "graph_id": graph_id}
        if forking and in_flight:
            run_kwargs["fork_guard"] = list(in_flight)
        thread.run_counter += 1
        thread.status = ThreadStatus.BUSY
        thread.metadata = {
            **thread.metadata,
            "graph_id": graph_id,
            "assistant_id": assistant.assistant_id,
        }
        thread.updated_at = timezone.now()
        update_fields(thread, ["run_counter", "status", "metadata", "updated_at"])
        run = Run(
            id=run_id,
            thread=thread,
            seq=thread.run_counter,
            assistant_id=assistant.assistant_id,
            multitask_strategy=strategy,
            input=run_input,
            kwargs=run_kwargs,
            metadata=metadata or {},
            not_before=(
                timezone.now() + timedelta(seconds=after_seconds) if after_seconds else None
            ),
        )
        insert(run)
        payload = run_dict(run)
        # A run still running on the thread (interrupted, or enqueued behind)
        # hands the thread over to this one in the call that ends it
        # (runs.worker.transactions.finish_run; its worker wakes the others if
        # it cannot). Waking the workers only cost each of them a claim that
        # found the thread busy, queued before that very settle on the
        # executor's database thread.
        handed_over = (
            strategy != MultitaskStrategy.ROLLBACK and RunStatus.RUNNING in in_flight.values()
        )
        transaction.on_commit(
            lambda: _announce_created(thread.pk, payload, signals, wake=not handed_over)
        )
    return run


def _announce_created(thread_id, payload: dict, signals, *, wake: bool) -> None:
    """The new run to its watchers, then the stops of the runs it cancels to
    their executors, then the wake-up: an executor that stops a run hands
    the thread to this one at once, and its watchers must know of it first."""
    publish_sync(protocol.lifecycle_event(thread_id, payload, protocol.Lifecycle.CREATED))
    if signals is not None:
        signals.send()
    if wake:
        wake_workers_sync(thread_id)


def cancel_run(thread_id, run_id, *, actor, action: str | None = None) -> Run | None:
    """Cancel one run. Returns the run (None once rolled back, as it is gone).

    Cancelling a run that already ended is a no-op for interrupt; rollback of
    an ended run is refused (its effects are part of later state).
    """
    action = validate_action(action)
    with transaction.atomic():
        thread = lock_thread(thread_id, actor=actor)
        run = _run_of(thread, run_id)
        if not run.is_active:
            return run
        cancel_locked(thread, [run], action=action)
        refresh_thread_status(thread)
    return None if action == CancelAction.ROLLBACK else run


def cancel_thread_runs(thread_id, *, actor, action: str | None = None) -> int:
    """Cancel every in-flight run of a thread. Returns how many."""
    action = validate_action(action)
    with transaction.atomic():
        thread = lock_thread(thread_id, actor=actor)
        runs = list(thread.in_flight_runs())
        cancel_locked(thread, runs, action=action)
        refresh_thread_status(thread)
    return len(runs)


# What `cancel_many` may select by status ("all": both).
CANCELLABLE = {
    "pending": (RunStatus.PENDING,),
    "running": (RunStatus.RUNNING,),
    "all": ACTIVE_RUN_STATUSES,
}


def cancel_many(
    *, actor, thread_id=None, run_ids=None, status: str | None = None, action: str | None = None
) -> int:
    """Cancel several in-flight runs of `actor` (POST /runs/cancel): the given
    runs of one thread, or every run in a status. Each thread's runs are
    cancelled in one transaction with its row locked, as a single cancel is.
    Raises RunNotFound when nothing matched. Returns how many."""
    action = validate_action(action)
    if (thread_id is None) == (status is None):
        raise InvalidRequest(
            "Give either thread_id with run_ids, or status.",
            field="thread_id" if status else "status",
        )
    if status is not None and status not in CANCELLABLE:
        raise InvalidRequest(f"status must be one of {sorted(CANCELLABLE)}.", field="status")
    if thread_id is not None:
        wanted = [parse_id(r, field="run_ids", not_found=RunNotFound) for r in run_ids or []]
        if not wanted:
            raise InvalidRequest("run_ids: give the runs to cancel.", field="run_ids")
        per_thread = {parse_id(thread_id, field="thread_id"): wanted}
        statuses = ACTIVE_RUN_STATUSES
    else:
        statuses = CANCELLABLE[status]
        found = Run.objects.filter(status__in=statuses).filter(
            actors.thread_filter(actor, "thread__")
        )
        per_thread: dict = {}
        for run_id, owner_thread in found.values_list("pk", "thread_id"):
            per_thread.setdefault(owner_thread, []).append(run_id)
    cancelled = 0
    for each_thread, ids in per_thread.items():
        with transaction.atomic():
            thread = lock_thread(each_thread, actor=actor)
            runs = list(thread.in_flight_runs().filter(pk__in=ids, status__in=statuses))
            cancel_locked(thread, runs, action=action)
            refresh_thread_status(thread)
            cancelled += len(runs)
    if not cancelled:
        raise RunNotFound("No matching runs to cancel (in flight, of yours).", field="run_ids")
    return cancelled


def _run_of(thread: Thread, run_id) -> Run:
    run_pk = parse_id(run_id, field="run_id", not_found=RunNotFound)
    run = select_one(Run, {"pk": run_pk, "thread": thread.pk})
    if run is None:
        raise RunNotFound(f"Run {run_id} not found.", field="run_id")
    return run


def get_run(thread_id, run_id, *, actor) -> Run:
    """One query when found: the ownership check is part of it. A thread the
    actor cannot see is not found, whether it exists or not."""
    thread_pk = parse_id(thread_id, field="thread_id")
    run_pk = parse_id(run_id, field="run_id", not_found=RunNotFound)
    run = select_one(
        Run, {"pk": run_pk, "thread": thread_pk, **actors.owner_key(actor, "thread__")}
    )
    if run is None:
        get_thread(thread_pk, actor=actor)
        raise RunNotFound(f"Run {run_id} not found.", field="run_id")
    return run


def delete_run(thread_id, run_id, *, actor) -> None:
    """Delete a run that is not in flight (LangGraph refuses in-flight ones)."""
    with transaction.atomic():
        thread = lock_thread(thread_id, actor=actor)
        run = _run_of(thread, run_id)
        if run.is_active:
            raise Conflict("Cancel the run before deleting it.", field="run_id")
        # The thread's history stays as it is: only the run record goes.
        run.delete()


def list_runs(thread_id, *, actor, limit: int = 10, offset: int = 0, status: str | None = None):
    """A thread's runs, newest first."""
    runs = get_thread(thread_id, actor=actor).runs.all()
    if status:
        runs = runs.filter(status=status)
    return list(runs.order_by("-seq")[offset : offset + limit])


def timeline(thread_id, *, actor, limit: int = 50) -> list[dict]:
    """The thread's last `limit` runs, oldest first, as the chat's timeline
    shows them: each run as the API sends it, plus what stopped it
    (`cancel_action`, `cancelled_by`: the run whose double-text did), and the
    runs rolled back, which are gone from the API, as `rolled_back` entries
    naming the run that erased them (`rolled_back_by`; null: by hand)."""
    thread = get_thread(thread_id, actor=actor)
    entries = [
        {
            **run_dict(run),
            "seq": run.seq,
            "cancel_action": run.cancel_action or None,
            "cancelled_by": str(run.cancelled_by) if run.cancelled_by else None,
        }
        for run in thread.runs.order_by("-seq")[:limit]
    ]
    for gone in thread.rolled_back_runs.order_by("-seq")[:limit]:
        entries.append(
            {
                "run_id": str(gone.run_id),
                "thread_id": str(thread.pk),
                "seq": gone.seq,
                "status": ROLLED_BACK,
                "multitask_strategy": gone.multitask_strategy,
                "kwargs": {"input": gone.input},
                "created_at": iso(gone.created_at),
                "started_at": iso(gone.started_at),
                "ended_at": iso(gone.rolled_back_at),
                "was": gone.status,
                "cancel_action": CancelAction.ROLLBACK,
                "rolled_back_by": str(gone.rolled_back_by) if gone.rolled_back_by else None,
            }
        )
    entries.sort(key=lambda entry: entry["seq"])
    return entries[-limit:]
