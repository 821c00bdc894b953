"""The worker's database side: claiming runs, leases, steps, completion, recovery.

Every function here is synchronous and one transaction (or one per thread
settled); the executor calls them on its database threads
(chatapp/platform/db_threads.py). Whatever changes a thread's runs or
checkpoints locks the thread row first (the same lock the strategy service
takes), so a checkpoint can never be written for a run that a concurrent
rollback is deleting, and two runs of a thread can never both be `running`
(also guarded by the partial unique index `one_running_run_per_thread`).

Recovery policy for a worker that died (lease expired): the run is marked
`error` ("WorkerLost") and not retried; the thread's next pending run
proceeds. The steps it completed stay in the thread's state; a run that had
been asked to interrupt becomes `interrupted` as it would have. A worker
stopped gracefully (SIGTERM) first gives its runs RUNS_SHUTDOWN_GRACE_SECONDS
to finish, then settles the rest the same way at once ("WorkerStopped",
`release_runs`) instead of leaving them to their leases.

This differs from LangGraph Platform on purpose. There, a queue worker
records a heartbeat in Redis while it handles a run; on graceful shutdown it
gives runs a limited time to finish and puts the unfinished ones back in the
queue, and after a hard crash a sweeper re-queues runs whose heartbeat went
stale, so another worker makes a new attempt at the run
(https://langchain-ai.github.io/langgraph/concepts/scalability_and_resilience/).
We do not retry: a run of the demo or an LLM agent is not idempotent (a
retry would repeat tool calls and re-stream an answer the user already saw
part of, with a different text), and our leases and recovery live in
PostgreSQL rather than Redis. The user sees the failed run and can simply
send the message again.
"""

import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from runs.models import Checkpoint, Run, RunStatus, Thread, ThreadStatus
from runs.services import chat_messages as msgs
from runs.services.actors import SYSTEM
from runs.services.checkpoints import latest_checkpoint, write_checkpoint
from runs.services.representation import run_dict
from runs.services.threads import lock_thread

logger = logging.getLogger(__name__)


@dataclass
class ClaimedRun:
    """What the executor needs to execute a run, read once at claim time."""

    run: dict  # run_dict of the run, status running
    run_id: str
    thread_id: str
    assistant_id: str
    input: dict | None
    options: dict
    values: dict  # the thread's state when the run starts


def lease_expiry():
    return timezone.now() + timedelta(seconds=settings.RUNS_LEASE_SECONDS)


def _claimable_threads():
    """Threads with a pending run and nothing running.

    Driven by the pending runs (few, found through the (status, ...) index),
    not by the threads: `Exists(pending)` made SQLite scan every thread of the
    database, with two correlated subqueries each, on every claim attempt.
    """
    pending = Run.objects.filter(status=RunStatus.PENDING).values("thread_id")
    running = Run.objects.filter(thread=OuterRef("pk"), status=RunStatus.RUNNING)
    return Thread.objects.filter(pk__in=pending).filter(~Exists(running))


def claim_next_run(worker_id: str, thread_id=None) -> ClaimedRun | None:
    """Atomically take the oldest pending run of a thread with nothing running.

    On PostgreSQL the thread row is locked with SKIP LOCKED, so concurrent
    workers pick different threads instead of waiting on each other.
    """
    try:
        with transaction.atomic():
            threads = _claimable_threads()
            if thread_id is not None:
                threads = threads.filter(pk=thread_id)
            if connection.features.has_select_for_update_skip_locked:
                threads = threads.select_for_update(skip_locked=True, of=("self",))
            thread = threads.order_by("updated_at").first()
            if thread is None:
                return None
            # Re-check under the lock: the thread may have changed since the
            # statement's snapshot.
            if thread.runs.filter(status=RunStatus.RUNNING).exists():
                return None
            run = thread.runs.filter(status=RunStatus.PENDING).order_by("seq").first()
            if run is None:
                return None
            now = timezone.now()
            run.status = RunStatus.RUNNING
            run.worker_id = worker_id
            run.lease_expires_at = lease_expiry()
            run.started_at = now
            run.save(
                update_fields=[
                    "status",
                    "worker_id",
                    "lease_expires_at",
                    "started_at",
                    "updated_at",
                ]
            )
            thread.status = ThreadStatus.BUSY
            thread.save(update_fields=["status", "updated_at"])
            checkpoint = latest_checkpoint(thread.pk)
            return ClaimedRun(
                run=run_dict(run),
                run_id=str(run.pk),
                thread_id=str(thread.pk),
                assistant_id=run.assistant_id,
                input=run.input,
                options=(run.kwargs.get("config") or {}).get("configurable") or {},
                values=dict(checkpoint.values) if checkpoint else {"messages": []},
            )
    except IntegrityError:
        # Another worker won the race for this thread's running slot.
        return None


def _owned_run(thread: Thread, run_id, worker_id: str) -> Run | None:
    """The run, if it still exists, is running, is ours and is not cancelled."""
    return (
        thread.runs.filter(pk=run_id, status=RunStatus.RUNNING, worker_id=worker_id)
        .exclude(cancel_action__gt="")
        .first()
    )


def write_step(
    thread_id, run_id, worker_id: str, *, values: dict, next: list, node: str, writes: dict
) -> Checkpoint | None:
    """Write the checkpoint of a finished step. None if the run was cancelled/lost."""
    with transaction.atomic():
        thread = lock_thread(thread_id, actor=SYSTEM)
        run = _owned_run(thread, run_id, worker_id)
        if run is None:
            return None
        # No lease renewal here: the heartbeat renews every lease every
        # RUNS_HEARTBEAT_SECONDS; one more UPDATE per step bought nothing.
        source = "input" if node == "__input__" else "loop"
        return write_checkpoint(
            thread, values=values, next=next, run=run, source=source, writes={node: writes}
        )


def finish_run(
    thread_id,
    run_id,
    worker_id: str,
    *,
    status: str,
    error: dict | None = None,
    partial_message: dict | None = None,
) -> dict | None:
    """Set a run's final status. Returns its run_dict, or None if it is gone
    (rolled back) or no longer ours (recovered after a lost lease).

    For `interrupted`, the partly streamed answer (if any) is kept in the
    state as an AI message marked interrupted.
    """
    with transaction.atomic():
        thread = lock_thread(thread_id, actor=SYSTEM)
        run = thread.runs.filter(pk=run_id, status=RunStatus.RUNNING, worker_id=worker_id).first()
        if run is None:
            return None
        if status == RunStatus.INTERRUPTED and partial_message is not None:
            base = latest_checkpoint(thread.pk)
            values = msgs.apply_update(base.values if base else {}, {"messages": [partial_message]})
            write_checkpoint(
                thread,
                values=values,
                next=[],
                run=run,
                writes={"model": {"messages": [partial_message]}},
                extra_metadata={"interrupted": True},
            )
        run.status = status
        run.error = error
        run.ended_at = timezone.now()
        run.lease_expires_at = None
        run.save(update_fields=["status", "error", "ended_at", "lease_expires_at", "updated_at"])
        _settle_thread(thread, status)
        return run_dict(run)


def _settle_thread(thread: Thread, last_status: str) -> None:
    if thread.in_flight_runs().exists():
        thread.status = ThreadStatus.BUSY
    elif last_status == RunStatus.ERROR:
        thread.status = ThreadStatus.ERROR
    else:
        thread.status = ThreadStatus.IDLE
    thread.save(update_fields=["status", "updated_at"])


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


def _settle_lost(thread: Thread, run: Run, now, error: dict) -> dict:
    """Settle a running run whose executor is gone (the thread is locked)."""
    if run.cancel_action == "interrupt":
        run.status = RunStatus.INTERRUPTED
    else:
        run.status = RunStatus.ERROR
        run.error = error
    run.ended_at = now
    run.lease_expires_at = None
    run.save(update_fields=["status", "error", "ended_at", "lease_expires_at", "updated_at"])
    _settle_thread(thread, run.status)
    logger.warning("settled run %s of thread %s as %s", run.pk, thread.pk, run.status)
    return run_dict(run)


def recover_expired_runs() -> list[dict]:
    """Settle runs whose worker stopped renewing its lease. Returns their run_dicts."""
    now = timezone.now()

    def lost(run):
        message = f"Worker {run.worker_id!r} stopped renewing its lease."
        return {"error": "WorkerLost", "message": message}

    expired = Run.objects.filter(status=RunStatus.RUNNING, lease_expires_at__lt=now)
    return _settle_each(expired, {"lease_expires_at__lt": now}, lost, now)


def release_runs(worker_id: str, run_ids: list[str]) -> list[dict]:
    """Settle our runs still running when we stop (graceful shutdown), now
    rather than after their leases. Returns their run_dicts."""
    now = timezone.now()

    def stopped(run):
        message = f"Worker {worker_id!r} shut down before the run finished."
        return {"error": "WorkerStopped", "message": message}

    owned = Run.objects.filter(pk__in=run_ids, worker_id=worker_id, status=RunStatus.RUNNING)
    return _settle_each(owned, {"worker_id": worker_id}, stopped, now)


def _settle_each(candidates, still: dict, error_for, now) -> list[dict]:
    """Settle each candidate run that, with its thread locked, is still running
    and still matches `still`."""
    settled = []
    for run_id, thread_id in list(candidates.values_list("pk", "thread_id")):
        with transaction.atomic():
            thread = lock_thread(thread_id, actor=SYSTEM)
            run = thread.runs.filter(pk=run_id, status=RunStatus.RUNNING, **still).first()
            if run is not None:
                settled.append(_settle_lost(thread, run, now, error_for(run)))
    return settled
