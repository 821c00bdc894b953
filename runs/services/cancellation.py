"""What cancelling does to a thread's in-flight runs.

Shared by the strategy decision (a double-text with interrupt or rollback
cancels what is in flight), explicit cancels and thread deletion. Call with
the thread row locked; watchers and executors hear of it after the commit.

- a pending run: interrupt marks it `interrupted`; rollback deletes it;
- a running run: interrupt asks its executor to stop (it keeps the partial
  answer and sets `interrupted`); rollback deletes the run and every
  checkpoint and write it made now, so the thread's state is at once what it
  was before the run, and tells the executor to drop what it was doing (its
  checkpointer refuses any later write: runs.worker.saver).

Watchers hear of every cancel before any executor does: an executor that
hears of it hands the thread to its next run at once, and a page told of
that run's start before the cancel would show the new exchange above the
one it replaced (the announcements and the executors' signals are sent, in
order, from one queue: runs.bus.publish.send_sync).
"""

from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from chatapp.platform.prepared import delete, insert, update_fields
from runs.bus import protocol
from runs.bus.publish import publish_sync, send_sync, wake_workers_sync
from runs.models import CancelAction, RolledBackRun, Run, RunStatus, Thread, ThreadStatus
from runs.services import persistence
from runs.services.representation import run_dict


@dataclass
class ExecutorSignals:
    """What the executors must hear of a cancel, after its watchers: the stop
    of each running run, and, when a running run was rolled back by hand, a
    wake-up for the thread's next run (an executor that finds its run rolled
    back does not claim the next one itself: it would start it before the
    rollback is announced)."""

    thread_id: object
    action: str
    stopped: list = field(default_factory=list)
    wake: bool = False

    def send(self) -> None:
        for run_id in self.stopped:
            send_sync(protocol.run_control_group(run_id), protocol.run_cancel(run_id, self.action))
        if self.wake:
            wake_workers_sync(self.thread_id)


def cancel_locked(
    thread: Thread, runs: list[Run], *, action: str, by=None, signal: bool = True
) -> ExecutorSignals:
    """Cancel in-flight runs of a locked thread with `action` (CancelAction).
    `by`: the id of the run being created whose strategy cancels them (None:
    a cancel by hand); recorded so the timeline can say who stopped what.
    The watchers are told after the commit; so are the executors, after
    them, unless `signal` is false: then the caller sends the returned
    signals after its own announcements (a new run's creation), and wakes
    the workers itself."""
    now = timezone.now()
    rolled_back = []
    signals = ExecutorSignals(thread.pk, action)
    for run in runs:
        payload = run_dict(run)
        run_id = run.pk
        if run.status == RunStatus.RUNNING:
            signals.stopped.append(run_id)
            signals.wake |= action == CancelAction.ROLLBACK and by is None
        if action == CancelAction.ROLLBACK:
            erased = RolledBackRun(
                run_id=run_id,
                thread=thread,
                seq=run.seq,
                multitask_strategy=run.multitask_strategy,
                input=run.input,
                status=run.status,
                created_at=run.created_at,
                started_at=run.started_at,
                rolled_back_at=now,
                rolled_back_by=by,
            )
            insert(erased)
            delete(Run, {"pk": run_id})
            rolled_back.append(run_id)
            status = protocol.Lifecycle.ROLLED_BACK
            payload["rolled_back_by"] = str(by) if by else None
        elif run.status == RunStatus.PENDING:
            run.status = RunStatus.INTERRUPTED
            run.cancel_action = action
            run.cancelled_by = by
            run.ended_at = run.updated_at = now
            update_fields(
                run, ["status", "cancel_action", "cancelled_by", "ended_at", "updated_at"]
            )
            status = protocol.Lifecycle.INTERRUPTED
            payload = run_dict(run)
        else:
            run.cancel_action = action
            run.cancelled_by = by
            run.updated_at = now
            update_fields(run, ["cancel_action", "cancelled_by", "updated_at"])
            status = protocol.Lifecycle.INTERRUPTING
        if action != CancelAction.ROLLBACK:
            # Watchers (the chat's timeline) learn at once which run stopped it.
            payload["cancelled_by"] = str(by) if by else None
        transaction.on_commit(
            lambda payload=payload, status=status: publish_sync(
                protocol.lifecycle_event(thread.pk, payload, status)
            )
        )
    if signal:
        transaction.on_commit(signals.send)
    if rolled_back:
        persistence.delete_runs(rolled_back)
        persistence.refresh_thread(thread)
    return signals


def refresh_thread_status(thread: Thread) -> None:
    """After a cancel: a thread with nothing left in flight is idle."""
    if not thread.in_flight_runs().exists():
        thread.save(update_fields=[*thread.set_status(ThreadStatus.IDLE), "updated_at"])
