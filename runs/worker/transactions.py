"""The worker's database side: claiming runs, leases, completion, recovery.

Every function here is synchronous and one transaction (or one per thread
settled); the executor calls them on its database threads
(chatapp/platform/db_threads.py).
Whatever changes a thread's runs locks the thread row first (the same lock the
strategy service takes), so two runs of a thread can never both be `running`
(also guarded by the partial unique index `one_running_run_per_thread`). A
run's checkpoints are written by its graph, through a checkpointer that takes
the same lock (runs/worker/saver.py).

Durable execution. A run whose worker died (its lease expired) goes back to
`pending`, first of its thread's queue, and the next worker to claim it
resumes it from its last checkpoint: the steps it completed are not run
again, the step it was in is. After settings.RUNS_MAX_ATTEMPTS executions the
run ends `error` ("WorkerLost") and the thread moves on. A worker stopped
gracefully (SIGTERM) gives its runs RUNS_SHUTDOWN_GRACE_SECONDS to finish,
then puts the rest back the same way at once (`release_runs`). As LangGraph
Platform does; a step that was cut off runs again, so a tool it calls may be
called twice, and an answer streamed again.
"""

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from langgraph.checkpoint.base import CheckpointTuple

from chatapp.platform.pipeline import pipelined
from chatapp.platform.prepared import select_later, update_fields
from checkpoints.models import Checkpoint as CheckpointRow
from runs.bus.protocol import Lifecycle
from runs.models import CancelAction, Run, RunStatus, Thread, ThreadStatus
from runs.services import persistence
from runs.services.actors import SYSTEM
from runs.services.errors import ThreadNotFound
from runs.services.representation import run_dict
from runs.services.threads import STATE_FIELDS, delete_thread, lock_thread, lock_thread_later
from runs.worker import sql

logger = logging.getLogger(__name__)


@dataclass
class ClaimedRun:
    """What the executor needs to execute a run, read once at claim time."""

    run: dict  # run_dict of the run, status running
    run_id: str
    thread_id: str
    graph_id: str
    assistant_id: str
    input: dict | None
    kwargs: dict  # config, context, stream_mode, stream_subgraphs, ...
    metadata: dict
    owner_id: int  # whose store the graph reads and writes (store.backend)
    attempt: int
    # It already wrote a checkpoint (an earlier attempt): resume from the
    # thread's last checkpoint instead of applying its input again.
    resume: bool
    # It asked to fork from a checkpoint that only the runs it double-texted
    # have moved past: it goes on from the latest one (runs.services.runs.create_run).
    from_head: bool = False
    # The thread's latest checkpoint, read right after the claim in the same
    # call (`read_head`), as a 1-tuple (its one item None: no checkpoint yet):
    # the graph's first read (RunSaver.aget_tuple). None: not read.
    head: tuple[CheckpointTuple | None] | None = None

    @property
    def reads_latest(self) -> bool:
        """Its graph starts from the thread's latest checkpoint (not a fork's)."""
        configurable = (self.kwargs.get("config") or {}).get("configurable") or {}
        return self.resume or self.from_head or not configurable.get("checkpoint_id")


def lease_expiry():
    return timezone.now() + timedelta(seconds=settings.RUNS_LEASE_SECONDS)


def _continues_from_head(thread_id, run: Run) -> bool:
    """A fork asked for while other runs were in flight (see create_run): is
    everything after the checkpoint those runs' work (or was it rolled back
    with them)? Then the run goes on from the thread's latest checkpoint."""
    guard = set(run.kwargs.get("fork_guard") or [])
    requested = ((run.kwargs.get("config") or {}).get("configurable") or {}).get("checkpoint_id")
    if not guard or not requested:
        return False
    writers = persistence.writers_since(thread_id, requested)
    if writers is None:
        return not persistence.checkpoint_exists(thread_id, requested)
    return writers <= guard


# Threads whose first pending run is delayed (after_seconds) that one claim
# steps over before it gives up until the next poll.
MAX_DELAYED_SKIPS = 5
_DELAYED = object()


def claim_next_run(
    worker_id: str,
    thread_id=None,
    *,
    read_head: bool | Callable[[str], CheckpointTuple | None] = False,
) -> ClaimedRun | None:
    """Atomically take the oldest pending run of a thread with nothing running,
    if it is due (a run created with after_seconds waits, and the runs queued
    behind it on its thread too: FIFO).

    On PostgreSQL the thread row is locked with SKIP LOCKED, so concurrent
    workers pick different threads instead of waiting on each other.

    `read_head`: then, after the claim's transaction, read the thread's latest
    checkpoint for the run's graph (`ClaimedRun.head`), which would otherwise
    read it in a database call of its own as it starts. Nothing else writes
    a checkpoint on the thread while the run is running: a second run cannot
    start, and updating or pruning the state is refused (409). A callable
    reads it, given the thread's id, where the caller has a cheaper way than
    `persistence.latest` (runs/worker/heads.py: what a run that ended in this
    process wrote last, decoded).
    """
    now = timezone.now()
    not_yet: list = []  # threads whose next run is delayed: FIFO waits for it
    for _ in range(MAX_DELAYED_SKIPS):
        claimed = _claim(worker_id, thread_id, now, not_yet)
        if claimed is _DELAYED:
            continue
        if claimed is not None and read_head and claimed.reads_latest:
            try:
                read = read_head if callable(read_head) else persistence.latest
                claimed.head = (read(claimed.thread_id),)
            except Exception:
                # The run is claimed (committed): its graph reads it again.
                logger.exception("reading the head of thread %s failed", claimed.thread_id)
        return claimed
    return None


def claim_runs(
    worker_id: str,
    limit: int,
    *,
    read_head: bool | Callable[[str], CheckpointTuple | None] = False,
) -> list[ClaimedRun]:
    """Claim up to `limit` runs (claim_next_run, each in its own transaction)."""
    claims = []
    while len(claims) < limit:
        try:
            claimed = claim_next_run(worker_id, read_head=read_head)
        except Exception:
            if not claims:
                raise
            # Those claimed are committed: they must start, or wait for their
            # leases to expire.
            logger.exception("claiming more runs failed; starting the %d claimed", len(claims))
            break
        if claimed is None:
            break
        claims.append(claimed)
    return claims


def first_pending_later(thread_id) -> Callable[[], list[Run]]:
    """The thread's first pending run (a list of at most one), sent now and
    read when called (prepared.select_later)."""
    return select_later(
        Run, {"thread": thread_id, "status": RunStatus.PENDING}, order_by=("seq",), limit=1
    )


def _claim(worker_id: str, thread_id, now, not_yet: list):
    if not connection.features.has_select_for_update_skip_locked and (
        sql.first_claimable_thread(now, thread_id, not_yet, lock=False) is None
    ):
        # Where a write transaction takes the database's one write lock
        # (SQLite's BEGIN IMMEDIATE), ask first without it: most claims find
        # nothing (the scheduler's fill tries once more after each run it
        # starts), and those then cost one read instead of locking out every
        # writer for three statements. Under the lock the question is asked
        # again.
        return None
    try:
        # Pipelined: the run's and the thread's updates go together.
        with transaction.atomic(), pipelined():
            # Under SQLite's write lock the answer cannot change before we
            # commit; on PostgreSQL the thread row is locked (SKIP LOCKED, so
            # concurrent workers pick different threads), and a run that got
            # running on it since the statement's snapshot makes our update
            # violate `one_running_run_per_thread` (IntegrityError below):
            # no re-check of the running runs needed.
            found = sql.first_claimable_thread(now, thread_id, not_yet, lock=True)
            if found is None:
                return None
            pk, owner_id = found
            pending = first_pending_later(pk)()
            if not pending:
                return None
            if not _due(pending[0], now):
                # Its first run is not due yet (a later one is): the queue waits.
                not_yet.append(pk)
                return _DELAYED
            return _start(pending[0], worker_id, pk, owner_id, thread_status=ThreadStatus.BUSY)
    except IntegrityError:
        # Another worker won the race for this thread's running slot.
        return None


def _due(run: Run, now) -> bool:
    return run.not_before is None or run.not_before <= now


def _start(
    run: Run, worker_id: str, thread_id, owner_id: int, *, thread_status: str | None
) -> ClaimedRun:
    """Make the thread's first pending run (locked thread, nothing running)
    running on `worker_id`; `thread_status`: the thread's new status, or None
    when the caller writes the thread's row itself (sql.start_run)."""
    run.status = RunStatus.RUNNING
    run.worker_id = worker_id
    run.lease_expires_at = lease_expiry()
    run.updated_at = timezone.now()
    run.started_at = run.started_at or run.updated_at
    run.attempt += 1
    sql.start_run(run, thread_status)
    resume = run.attempt > 1 and (
        CheckpointRow.objects.filter(thread_id=str(thread_id), run_id=str(run.pk)).exists()
    )
    from_head = not resume and _continues_from_head(thread_id, run)
    return ClaimedRun(
        run=run_dict(run),
        run_id=str(run.pk),
        thread_id=str(thread_id),
        graph_id=run.kwargs.get("graph_id") or run.assistant_id,
        assistant_id=run.assistant_id,
        input=run.input,
        kwargs=run.kwargs,
        metadata=run.metadata,
        owner_id=owner_id,
        attempt=run.attempt,
        resume=resume,
        from_head=from_head,
    )


@dataclass
class Finished:
    """A run settled by `finish_run`, and the thread's next run it handed over to."""

    run: dict  # run_dict of the finished run
    next: ClaimedRun | None = None


def finish_run(
    thread_id,
    run_id,
    worker_id: str,
    *,
    status: str,
    error: dict | None = None,
    pending: bool = False,
    state_writes: Callable[[], None] | None = None,
    head: Callable[[], CheckpointTuple | None] | None = None,
    hand_over: bool = False,
) -> Finished | None:
    """Set a run's final status and its thread's. Returns it (`Finished.run`,
    its run_dict), or None if it is gone (rolled back) or no longer ours
    (recovered after a lost lease). `pending`: the graph stopped with tasks
    left (`interrupt()`, `interrupt_before/after`): the thread waits,
    `interrupted`.

    `state_writes`: the checkpoint writes of an interrupted run's partial
    answer (RunSaver.defer_writes), made here under the thread lock once the
    run is known to be still ours, so they and the run's end commit together:
    no run of the thread can see it stopped without its answer, and a run
    rolled back meanwhile writes nothing. `head`: reads the thread's latest
    checkpoint, after the state writes (RunSaver.latest: the one the run
    wrote last, without reading it back), copied onto the thread.

    `hand_over`: also start the thread's next pending run, if it is due, on
    this worker (`Finished.next`), in the same transaction: the thread is
    locked already, its first pending run is asked for with the lock, and
    its start is one more write. A claim of its own after the end cost a
    BEGIN, the claim's lock and reads, and a COMMIT (a round trip each on
    PostgreSQL) before the next run could start. Under the thread's lock,
    which whatever starts a run takes first, no other worker can claim it
    meanwhile, and the run that ended was the thread's one running run: the
    start cannot lose a race, so it needs no savepoint. The next run starts
    from what this one wrote last, the checkpoint copied onto the thread
    (`ClaimedRun.head`), partial answer included.

    Pipelined (chatapp/platform/pipeline.py): on PostgreSQL the run (and the
    thread's first pending one) are asked for with the thread's lock, and the
    writes and updates wait for no answer but the next read's (the latest
    checkpoint's id, with the runs in flight unless the pending run answers
    that): an interrupted run's end with the next run's start is four round
    trips."""
    with transaction.atomic(), pipelined():
        # Not its state: the settle writes it (from the run's last checkpoint).
        # The run is asked for with the lock (one round trip), read once the
        # lock is taken.
        locked = lock_thread_later(thread_id, actor=SYSTEM, defer=STATE_FIELDS)
        ours = select_later(
            Run,
            {
                "pk": run_id,
                "thread": thread_id,
                "status": RunStatus.RUNNING,
                "worker_id": worker_id,
            },
            limit=1,
        )
        first = first_pending_later(thread_id) if hand_over else None
        thread, found = locked(), ours()
        # Read before any write (SQLite reads a result's rows as they are fetched).
        queued = first() if first is not None else None
        if not found:
            return None
        run = found[0]
        if state_writes is not None:
            state_writes()
        run.status = status
        run.error = error
        run.ended_at = run.updated_at = timezone.now()
        run.lease_expires_at = None
        update_fields(run, ["status", "error", "ended_at", "lease_expires_at", "updated_at"])
        if run.kwargs.get("on_completion") == "delete":
            grace = timedelta(seconds=settings.RUNS_TEMPORARY_THREAD_SECONDS)
            thread.expires_at = run.ended_at + grace
        # The one running run just ended: the runs in flight are the pending ones.
        in_flight = None if queued is None else (lambda: bool(queued))
        copied = _settle_thread(
            thread, status, pending=pending, error=error, read=head, in_flight=in_flight
        )
        finished = Finished(run_dict(run))
        if queued and _due(queued[0], run.ended_at):
            # The settle made the thread busy (it has a pending run) and wrote
            # its row: the start writes only the run's.
            claimed = _start(queued[0], worker_id, thread.pk, thread.owner_id, thread_status=None)
            if claimed.reads_latest:
                claimed.head = (copied,)
            finished.next = claimed
    return finished


def _settle_thread(
    thread: Thread,
    last_status: str,
    *,
    pending: bool = False,
    error: dict | None = None,
    read: Callable[[], CheckpointTuple | None] | None = None,
    in_flight: Callable[[], bool] | None = None,
) -> CheckpointTuple | None:
    """Set the thread's status after its run ended, and copy its latest
    checkpoint's values onto it (`read`, or persistence.latest); returns that
    checkpoint. The question of runs in flight (unless the caller knows the
    answer: `in_flight`) goes with the checkpoint's read (one round trip
    where pipelined)."""
    if in_flight is None:
        in_flight = sql.runs_in_flight_later(thread.pk)
    checkpoint = read() if read is not None else persistence.latest(thread.pk)
    if in_flight():
        status = ThreadStatus.BUSY
    elif last_status == RunStatus.ERROR:
        status = ThreadStatus.ERROR
    elif pending:
        status = ThreadStatus.INTERRUPTED
    else:
        status = ThreadStatus.IDLE
    persistence.refresh_thread(thread, status=status, error=error, read=lambda: checkpoint)
    if thread.expires_at is not None:
        # Not `save()`: it reads the UPDATE's row count, unknown while pipelined.
        update_fields(thread, ["expires_at"])
    return checkpoint


def delete_expired_threads() -> int:
    """Delete the thread-less runs' threads whose time is up (on_completion
    "delete"). Returns how many."""
    expired = Thread.objects.filter(expires_at__lte=timezone.now()).values_list("pk", flat=True)
    deleted = 0
    for thread_id in list(expired[:100]):
        try:
            delete_thread(thread_id, actor=SYSTEM)
            deleted += 1
        except ThreadNotFound:
            pass  # deleted meanwhile
    return deleted


def renew_leases(worker_id: str, run_ids: list[str]) -> dict[str, str | None]:
    """Heartbeat: extend the leases of our runs. Returns, for each run id, the
    cancel action it carries ("" for none) or None when the run is no longer
    ours (deleted by a rollback, or recovered by another worker)."""
    if not run_ids:
        return {}
    Run.objects.filter(pk__in=run_ids, worker_id=worker_id, status=RunStatus.RUNNING).update(
        lease_expires_at=lease_expiry()
    )
    found = dict(
        Run.objects.filter(
            pk__in=run_ids, worker_id=worker_id, status=RunStatus.RUNNING
        ).values_list("pk", "cancel_action")
    )
    return {run_id: found.get(uuid.UUID(str(run_id))) for run_id in run_ids}


def _settle_lost(thread: Thread, run: Run, now, error: dict) -> tuple[dict, str]:
    """Settle a running run whose executor is gone (the thread is locked):
    back to pending for another attempt, or ended. Returns (run_dict, what
    watchers are told)."""
    if run.cancel_action == CancelAction.INTERRUPT:
        run.status, told = RunStatus.INTERRUPTED, Lifecycle.INTERRUPTED
    elif run.attempt < settings.RUNS_MAX_ATTEMPTS:
        run.status, told = RunStatus.PENDING, Lifecycle.REQUEUED
        run.worker_id = ""
    else:
        run.status, told = RunStatus.ERROR, Lifecycle.ERROR
        run.error = error
    if run.status != RunStatus.PENDING:
        run.ended_at = now
    run.lease_expires_at = None
    run.save(
        update_fields=["status", "error", "worker_id", "ended_at", "lease_expires_at", "updated_at"]
    )
    _settle_thread(thread, run.status, error=run.error)
    logger.warning("settled run %s of thread %s: %s", run.pk, thread.pk, told)
    return run_dict(run), told


def recover_expired_runs() -> list[tuple[dict, str]]:
    """Settle runs whose worker stopped renewing its lease."""
    now = timezone.now()

    def lost(run):
        message = (
            f"Worker {run.worker_id!r} stopped renewing its lease "
            f"({run.attempt} attempts, settings.RUNS_MAX_ATTEMPTS={settings.RUNS_MAX_ATTEMPTS})."
        )
        return {"error": "WorkerLost", "message": message}

    expired = Run.objects.filter(status=RunStatus.RUNNING, lease_expires_at__lt=now)
    return _settle_each(expired, lost, now)


def release_runs(worker_id: str, run_ids: list[str]) -> list[tuple[dict, str]]:
    """Settle our runs still running when we stop (graceful shutdown), now
    rather than after their leases."""
    now = timezone.now()

    def stopped(run):
        message = f"Worker {worker_id!r} stopped before the run finished ({run.attempt} attempts)."
        return {"error": "WorkerStopped", "message": message}

    owned = Run.objects.filter(pk__in=run_ids, worker_id=worker_id, status=RunStatus.RUNNING)
    return _settle_each(owned, stopped, now)


def _settle_each(candidates, error_for, now) -> list[tuple[dict, str]]:
    """Settle each candidate run that, with its thread locked, still matches
    the candidates' conditions (asked again: it may have ended meanwhile)."""
    settled = []
    for run_id, thread_id in list(candidates.values_list("pk", "thread_id")):
        with transaction.atomic():
            thread = lock_thread(thread_id, actor=SYSTEM)
            run = candidates.filter(pk=run_id).order_by("pk").first()
            if run is not None:
                settled.append(_settle_lost(thread, run, now, error_for(run)))
    return settled
