"""The run executor: claims pending runs and executes their graphs.

One `Executor` runs inside the server process (embedded mode) or inside each
`manage.py runworker_runs` process (production). It:

- claims pending runs atomically (runs/worker/transactions.py), up to its
  concurrency, oldest first per thread;
- executes each (`execute`): joins the run's control group, drives its graph
  (runs/worker/graph_run.py: every part onto the bus, stopped within one
  token when cancelled), settles the run and its thread, then hands the
  thread to its next pending run;
- listens on the bus for cancel signals, snapshot requests (a late watcher
  asking what a run has streamed so far) and wake-ups;
- renews the leases of its runs on a heartbeat and, as a fallback to the
  bus, picks up cancellations recorded in the database; recovers the runs of
  workers whose lease expired (another attempt, from their last checkpoint).
"""

import asyncio
import contextlib
import logging
import os
import socket
import uuid

from channels.layers import get_channel_layer
from django.conf import settings

from chatapp.platform.db_threads import DatabaseThreads
from runs.bus import protocol
from runs.bus.publish import publish, retry_once, wake_workers
from runs.models import CancelAction
from runs.services import crons
from runs.worker import heads, transactions
from runs.worker.graph_run import ActiveRun, Outcome, drive
from runs.worker.saver import RunCancelled
from store.backend import sweep_expired

logger = logging.getLogger(__name__)

# How long stopping waits for cancelled tasks and channel-layer cleanup.
STOP_TIMEOUT_SECONDS = 2.0


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Executor:
    def __init__(self, worker_id: str | None = None, concurrency: int | None = None):
        self.worker_id = worker_id or default_worker_id()
        self.concurrency = concurrency or settings.RUNS_WORKER_CONCURRENCY
        self.active: dict[str, ActiveRun] = {}
        # The checkpoint each thread's last run here ended on, decoded.
        self.heads = heads.KEPT
        self.tasks: set[asyncio.Task] = set()
        self.wakeup = asyncio.Event()
        self.channel: str | None = None
        self.layer = get_channel_layer()
        self._background: list[asyncio.Task] = []
        self._stopping = False
        # Our database calls run on threads of our own that keep their
        # connection (chatapp/platform/db_threads.py), not on the process's
        # shared sync thread.
        self.db = DatabaseThreads(name="runs-executor-db")

    # -- lifecycle ---------------------------------------------------------

    async def start(self) -> None:
        self.channel = await self.layer.new_channel()
        try:
            await self.layer.group_add(protocol.WORKERS_GROUP, self.channel)
        except Exception:
            # Redis down at start: poll the database meanwhile; the heartbeat
            # joins the group once the layer answers.
            logger.warning("channel layer unavailable at start; polling until it answers")
        self._background = [
            asyncio.create_task(self._listen(), name="runs-listen"),
            asyncio.create_task(self._schedule(), name="runs-schedule"),
            asyncio.create_task(self._heartbeat(), name="runs-heartbeat"),
        ]
        logger.info("run executor %s started", self.worker_id)

    async def stop(self) -> None:
        """Stop claiming and abandon runs in flight (their leases will expire)."""
        await self._stop_tasks()
        await self.db.close(STOP_TIMEOUT_SECONDS)

    async def _stop_tasks(self) -> None:
        self._stopping = True
        tasks = [*self._background, *self.tasks]
        for task in tasks:
            task.cancel()
        if tasks:
            # Bounded: a task stuck in a database or channel-layer call must not
            # keep the process from stopping.
            await asyncio.wait(tasks, timeout=STOP_TIMEOUT_SECONDS)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(
                self.layer.group_discard(protocol.WORKERS_GROUP, self.channel),
                STOP_TIMEOUT_SECONDS,
            )

    async def shutdown(self, grace: float | None = None) -> None:
        """Graceful stop (SIGTERM): claim nothing more, give the runs in flight
        `grace` seconds (RUNS_SHUTDOWN_GRACE_SECONDS) to finish, and settle the
        rest at once, as a lost worker's runs would be after their lease
        (`transactions.release_runs`), so their threads move on now rather than after
        RUNS_LEASE_SECONDS. Cancel signals and heartbeats go on meanwhile."""
        if grace is None:
            grace = settings.RUNS_SHUTDOWN_GRACE_SECONDS
        self._stopping = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(
                self.layer.group_discard(protocol.WORKERS_GROUP, self.channel),
                STOP_TIMEOUT_SECONDS,
            )
        if self.tasks and grace > 0:
            await asyncio.wait(set(self.tasks), timeout=grace)
        leftover = list(self.active.values())
        run_ids = [active.claim.run_id for active in leftover]
        await self._stop_tasks()
        try:
            if not leftover:
                return
            await self._store_held(leftover)
            released = await self.db.run(transactions.release_runs, self.worker_id, run_ids)
        except Exception:
            logger.exception("could not release runs %s; their leases will expire", run_ids)
            return
        finally:
            await self.db.close(STOP_TIMEOUT_SECONDS)
        for payload, told in released:
            await self._publish_lifecycle(payload, told)
        if released:
            await wake_workers()

    async def _store_held(self, runs: list[ActiveRun]) -> None:
        """Store what the runs handed back hold in memory (their checkpoints
        of the last RUNS_CHECKPOINT_DELAY_SECONDS), guarded as their flushes
        are: their next attempt resumes from there instead of redoing it."""
        for active in runs:
            saver = active.saver
            if saver is None or not (saver.held or saver.queued):
                continue
            try:
                await self.db.run(saver.flush)
            except RunCancelled:
                pass  # rolled back or interrupted meanwhile: nothing to keep
            except Exception:
                logger.exception("run %s: could not store its checkpoints", active.claim.run_id)

    async def run_forever(self) -> None:
        await self.start()
        try:
            await asyncio.gather(*self._background)
        finally:
            await self.stop()

    # -- signals -----------------------------------------------------------

    async def _listen(self) -> None:
        while True:
            try:
                message = await self.layer.receive(self.channel)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("channel layer receive failed; retrying")
                await asyncio.sleep(1)
                continue
            kind = message.get("type")
            if kind == protocol.MessageType.WAKEUP:
                self.wakeup.set()
            elif kind == protocol.MessageType.RUN_CANCEL:
                active = self.active.get(message.get("run_id"))
                if active is not None:
                    active.cancel(message.get("action") or CancelAction.INTERRUPT)
            elif kind == protocol.MessageType.SNAPSHOT_REQUEST:
                await self._reply_snapshot(message)

    async def _reply_snapshot(self, message: dict) -> None:
        """Tell a late watcher what a run has streamed so far."""
        active = self.active.get(message.get("run_id"))
        reply = message.get("reply_channel")
        if active is None or not reply:
            return
        # Its `count` lets a watcher drop the tokens already in its text that
        # reach it after this reply.
        with contextlib.suppress(Exception):
            await self.layer.send(
                reply, protocol.snapshot_reply(active.claim.run_id, active.snapshot())
            )

    # -- scheduling ----------------------------------------------------------

    async def _schedule(self) -> None:
        recover_every = max(settings.RUNS_LEASE_SECONDS / 3, 0.2)
        loop = asyncio.get_running_loop()
        next_recovery = next_crons = 0.0
        while not self._stopping:
            self.wakeup.clear()
            try:
                if loop.time() >= next_recovery:
                    next_recovery = loop.time() + recover_every
                    await self._recover()
                if loop.time() >= next_crons:
                    next_crons = loop.time() + settings.RUNS_CRON_POLL_SECONDS
                    try:
                        await self.fire_crons()
                    except asyncio.CancelledError:
                        raise
                    except Exception:
                        # Runs to claim must not wait on crons that fail.
                        logger.exception("firing crons failed; retrying at the next poll")
                await self.fill()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("run scheduling failed; retrying")
            timeout = min(settings.RUNS_POLL_SECONDS, max(next_crons - loop.time(), 0.01))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wakeup.wait(), timeout)

    async def fire_crons(self) -> None:
        """Create the runs of the crons that are due. Every worker does this;
        each tick is fired once (runs.services.crons.fire_cron), and its run
        is claimed like any other (the creation wakes the workers up)."""
        await self.db.run(crons.fire_due_crons, worker_id=self.worker_id)

    async def _recover(self) -> None:
        for payload, told in await self.db.run(transactions.recover_expired_runs):
            await self._publish_lifecycle(payload, told)
            await wake_workers()
        await self.db.run(transactions.delete_expired_threads)
        await self.db.run(sweep_expired)  # store items past their TTL
        await self.db.run(crons.sweep_firings, settings.RUNS_CRON_FIRINGS_RETENTION_SECONDS)

    async def fill(self) -> None:
        """Claim and start runs while there is capacity: one call to the
        database thread for as many runs as there is room for, and for the
        look that finds nothing more."""
        while not self._stopping:
            room = self.concurrency - len(self.active)
            if room <= 0:
                return
            claims = await self.db.run(
                transactions.claim_runs, self.worker_id, room, read_head=self.heads.take
            )
            for claim in claims:
                self._start(claim)
            if len(claims) < room:
                return

    def _start(self, claim: transactions.ClaimedRun) -> None:
        active = ActiveRun(claim)
        self.active[claim.run_id] = active
        task = asyncio.create_task(self.execute(active), name=f"run-{claim.run_id}")
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(settings.RUNS_HEARTBEAT_SECONDS)
            # The leases live in the database and must not depend on Redis: a
            # Redis outage longer than the lease would otherwise turn every run
            # in flight into a "lost" one.
            try:
                states = await self.db.run(
                    transactions.renew_leases, self.worker_id, list(self.active)
                )
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("heartbeat: renewing leases failed")
                states = {}
            await self._rejoin_groups()
            for run_id, cancel_action in states.items():
                active = self.active.get(run_id)
                if active is None:
                    continue
                if cancel_action is None:  # deleted (rollback) or taken from us
                    active.cancel(CancelAction.ROLLBACK)
                elif cancel_action:
                    active.cancel(cancel_action)

    async def _rejoin_groups(self) -> None:
        """Re-join our channel-layer groups. Group membership lives in Redis
        and is lost when Redis restarts without persistence (and expires after
        the layer's group_expiry); without this, a run's cancel signal would
        not reach us until the database fallback, and wake-ups never again."""
        groups = [(protocol.WORKERS_GROUP, None)] if not self._stopping else []
        groups += [(protocol.run_control_group(run_id), run_id) for run_id in list(self.active)]
        for group, run_id in groups:
            if run_id is not None and run_id not in self.active:
                continue  # ended meanwhile: do not re-join its control group
            try:
                await retry_once(lambda group=group: self.layer.group_add(group, self.channel))
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("heartbeat: could not join %s (channel layer down?)", group)
                return

    # -- execution -----------------------------------------------------------

    async def execute(self, active: ActiveRun) -> None:
        """Execute a claimed run to its end: listen for its cancel signal,
        drive its agent, settle it, then hand its thread to the next run."""
        claim = active.claim
        control = protocol.run_control_group(claim.run_id)
        try:
            await self.layer.group_add(control, self.channel)
        except Exception:
            # Channel layer down: run anyway; the heartbeat re-joins the group
            # and reads cancellations from the database meanwhile.
            logger.warning("run %s: could not join %s", claim.run_id, control)
        finished = None
        try:
            await self._publish_lifecycle(claim.run, protocol.Lifecycle.STARTED)
            outcome = await drive(active, worker_id=self.worker_id, run_sync=self.db.run)
            finished = await self._finish(active, outcome)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("run %s failed in the executor", claim.run_id)
        finally:
            was_full = len(self.active) >= self.concurrency
            self.active.pop(claim.run_id, None)
            with contextlib.suppress(Exception):
                await self.layer.group_discard(control, self.channel)
        if finished is not None and finished.next is not None:
            # Settled, and its thread's next run started in the same transaction (finish_run).
            await self._hand_over(finished.next)
            return
        if finished is not None and active.saver is not None:
            # For the thread's next run, if this process claims it.
            self.heads.keep(claim.thread_id, active.saver.last_written())
        if self._stopping:
            # Let another worker take the thread's next run now, not at its poll.
            await wake_workers(claim.thread_id)
            return
        # Settled with nothing on its thread to claim now (finish_run tried),
        # or not settled by us. Rolled back: the service that rolled it back
        # wakes the workers for the thread's next run once the rollback is
        # announced (claimed here, that run could start before its watchers
        # hear of the rollback: runs.services.cancellation). Its lease lost:
        # the run is someone else's, and the thread with it.
        if was_full:
            self.wakeup.set()  # runs of other threads may have waited for this slot

    async def _hand_over(self, claim: transactions.ClaimedRun) -> None:
        """Start the thread's next run, claimed when the last one finished."""
        if not self._stopping:
            self._start(claim)
            return
        # Stopping meanwhile: put it back for another worker, now.
        try:
            released = await self.db.run(transactions.release_runs, self.worker_id, [claim.run_id])
        except Exception:
            logger.exception("could not release run %s; its lease will expire", claim.run_id)
            return
        for payload, told in released:
            await self._publish_lifecycle(payload, told)
        await wake_workers(claim.thread_id)

    async def _finish(self, active: ActiveRun, outcome: Outcome) -> transactions.Finished | None:
        """Settle the run and start its thread's next run (with its partial
        answer, one transaction: finish_run); announce its end. None
        when it was not ours to settle (rolled back, or our lease was lost)."""
        claim = active.claim
        if outcome.status == protocol.Lifecycle.ROLLED_BACK:
            # The strategy service already deleted the run and announced it.
            return None
        finished = await self.db.run(
            transactions.finish_run,
            claim.thread_id,
            claim.run_id,
            self.worker_id,
            status=outcome.status,
            error=outcome.error,
            pending=outcome.pending,
            state_writes=outcome.state_writes,
            head=outcome.head,
            hand_over=not self._stopping,
        )
        if finished is None:
            # Rolled back while we finished, or our lease was lost: not ours to announce.
            return None
        await self._publish_lifecycle(
            finished.run,
            outcome.status,
            error=outcome.error,
            partial_message=outcome.partial_message,
        )
        return finished

    async def _publish_lifecycle(
        self, payload: dict, status: str, error=None, partial_message=None
    ) -> None:
        await publish(
            protocol.lifecycle_event(
                payload["thread_id"],
                payload,
                status,
                error=error,
                partial_message=partial_message,
            )
        )
