"""The checkpointer a run's graph writes through: a guarded DjangoCheckpointSaver.

Every write (a checkpoint, a task's pending writes) is one transaction that
first locks the thread row, the lock every strategy decision takes, and
checks that the run is still running, on this worker, and not asked to stop.
So a rollback, which deletes the run and what it wrote under that same lock,
can never be followed by a late checkpoint of the run it rolled back, and an
interrupted run writes nothing after the moment it was interrupted: the
graph's next write raises `RunCancelled`, which stops it.

Only the executor's own write of an interrupted run's partial answer passes,
and not through here: `defer_writes()` keeps that update's writes in memory,
and `finish_run` makes them in its own transaction, under its thread lock and
its check that the run is still running here (runs/worker/transactions.py).
So the partial answer, the run's end and the start of the thread's next run
are one transaction: an interrupt settled in four write transactions (the
update's task writes, its checkpoint, finish, claim), each a hop to the
executor's database thread behind the other runs' writes.

A task's writes wait for the run's next write (`queue_writes`): unless the
run asked for `durability="sync"`, they are stored with the next checkpoint,
in its transaction, or with the run's end (`write_queued`, in `finish_run`'s),
instead of in a transaction and a hop to the database thread of their own
(a one-step run made two). What the run reads back through this saver
has them (`get_tuple`). A worker that dies meanwhile loses only the writes
of tasks whose step had not been checkpointed yet, which the run's next
attempt redoes from that checkpoint, as LangGraph's `async` durability
allows. And the graph's first read, the thread's latest checkpoint, comes
with the run's claim (`head`, `aget_tuple`).

The top-level checkpoints wait too (`hold_seconds`,
RUNS_CHECKPOINT_DELAY_SECONDS, unless the run asked for `sync`): serialized
when LangGraph hands them over, stored together by a guarded `flush` that
many seconds later, or by the run's end if it comes first. A one-step
answer (three checkpoints) was three transactions and hops before its end;
now its end stores them. What the run reads meanwhile is what it holds
(`get_tuple`: its head, unless the database has a newer one). A flush that
finds the run asked to stop stores nothing (`refused`: the run's next write
raises RunCancelled) and leaves them held: an interrupted run's end stores
them under its lock, with its partial answer built on them; a rolled-back
run's never are. A worker that dies loses at most `hold_seconds` of
progress, which the next attempt redoes; one stopped gracefully flushes them
before it hands the run back (Executor.shutdown).
"""

import asyncio
import functools
import logging
import threading

from django.db import transaction
from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    CheckpointTuple,
    get_checkpoint_id,
    get_serializable_checkpoint_metadata,
    writes_sort_key,
)

from chatapp.platform.pipeline import pipelined
from checkpoints.saver import DjangoCheckpointSaver
from runs.worker import sql

logger = logging.getLogger(__name__)


class RunCancelled(Exception):
    """The run may no longer write: cancelled, rolled back, or no longer ours."""


class RunSaver(DjangoCheckpointSaver):
    def __init__(
        self,
        *,
        thread_id,
        run_id,
        worker_id: str,
        cancelled=None,
        queue_writes=False,
        hold_seconds: float = 0.0,
        head=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.thread_id, self.run_id, self.worker_id = str(thread_id), str(run_id), worker_id
        # `cancelled()`: the executor was told to stop the run, so the
        # database would refuse its writes: refuse them here, without a
        # transaction queued before the run's settle (LangGraph still tries
        # the cancelled step's writes).
        self.cancelled = cancelled or (lambda: False)
        self.deferred: list | None = None
        # Tasks' writes waiting for the run's next write (None: stored at once).
        self.queued: list | None = [] if queue_writes else None
        # Top-level checkpoints (PutRows) not stored yet, for at most
        # `hold_seconds` (None: stored at once); `refused`: a store of them
        # found the run may no longer write.
        self.held: list | None = [] if queue_writes and hold_seconds > 0 else None
        self.hold_seconds = hold_seconds
        self.flush_timer: asyncio.TimerHandle | None = None
        self.flushing: asyncio.Task | None = None
        self.refused = False
        self.ended = False  # the run's end stores what is held
        # The thread's latest checkpoint read with the run's claim, as a
        # 1-tuple (ClaimedRun.head): the answer to the graph's first read.
        self.first_read: tuple[CheckpointTuple | None] | None = head
        # The last top-level checkpoint it stored, and the writes stored on
        # the checkpoints from it on: what the run's end copies onto the
        # thread (its values, its interrupts) without reading back and
        # decoding what it wrote. A step's writes may be stored before its
        # checkpoint (LangGraph's async durability makes both in the
        # background, here on several database threads): they are kept by
        # checkpoint id, under a lock.
        self.head: tuple | None = None
        self.writes: dict[str, dict] = {}
        self.lock = threading.Lock()

    def check_run(self) -> None:
        """Lock the thread row; raise RunCancelled unless the run may write.
        The lock, then the run (one statement on SQLite): runs/worker/sql.py."""
        cancel_action = sql.run_cancel_action(self.thread_id, self.run_id, self.worker_id)
        if cancel_action != "":
            raise RunCancelled(self.run_id)

    def _stopped(self) -> bool:
        """Told to stop (`cancelled`), or a store found the run may no longer
        write (`refused`): its writes are refused here, without a transaction."""
        return self.cancelled() or self.refused

    def put(self, config, checkpoint, metadata, new_versions):
        # With what it holds and has queued, in one transaction.
        return self.flush(
            then=functools.partial(self._put, config, checkpoint, metadata, new_versions)
        )

    def put_writes(self, config, writes, task_id, task_path=""):
        if self._stopped():
            raise RunCancelled(self.run_id)
        # Pipelined: the lock goes with the run's check, the writes together.
        with transaction.atomic(using=self.using), pipelined(self.using):
            self.check_run()
            self._put_writes(config, writes, task_id, task_path)

    # -- what it stored last: the thread's head, as get_tuple would read it --

    def _put(self, config, checkpoint, metadata, new_versions):
        stored = DjangoCheckpointSaver.put(self, config, checkpoint, metadata, new_versions)
        self._track_head(config, stored, checkpoint, metadata)
        return stored

    def _track_head(self, config, stored, checkpoint, metadata) -> None:
        configurable = config["configurable"]
        if not configurable.get("checkpoint_ns"):
            # As get_tuple reads it back: the parent's config, the stored metadata.
            parent_id = configurable.get("checkpoint_id")
            parent = {"configurable": {**stored["configurable"], "checkpoint_id": parent_id}}
            metadata = get_serializable_checkpoint_metadata(config, metadata)
            with self.lock:
                self.head = (stored, checkpoint, metadata, parent if parent_id else None)
                # Ids sort by time: the writes of earlier checkpoints are no one's head.
                self.writes = {cid: w for cid, w in self.writes.items() if cid >= checkpoint["id"]}

    def _put_writes(self, config, writes, task_id, task_path=""):
        DjangoCheckpointSaver.put_writes(self, config, writes, task_id, task_path)
        self._keep_writes(config, writes, task_id, task_path)

    def _keep_writes(self, config, writes, task_id, task_path):
        configurable = config["configurable"]
        checkpoint_id = configurable.get("checkpoint_id")
        if configurable.get("checkpoint_ns") or not checkpoint_id:
            return
        # As the table keeps them: special writes (interrupt, error, ...) are
        # replaced by a later one, a task's other writes are kept once.
        special = all(channel in WRITES_IDX_MAP for channel, _ in writes)
        with self.lock:
            head = self.head
            if head is not None and checkpoint_id < head[0]["configurable"]["checkpoint_id"]:
                return
            kept = self.writes.setdefault(checkpoint_id, {})
            for idx, (channel, value) in enumerate(writes):
                key = (task_id, WRITES_IDX_MAP.get(channel, idx))
                if special or key not in kept:
                    kept[key] = (task_path, task_id, key[1], channel, value)

    def get_tuple(self, config):
        """The thread's latest checkpoint, when it is the one this run stored
        last, from memory (one index probe checks it is still the latest):
        the run's end copies it onto the thread, and an interrupted run's
        partial answer is an update of it; reading it back decoded the whole
        conversation again. The probe stays for that update too: when the
        run is cancelled, the store of its last step may still be under way
        on a database thread (committed, its checkpoint not yet this run's
        head), and the answer must update that step, not the one before."""
        configurable = config["configurable"]
        if self.head is not None and not configurable.get("checkpoint_ns"):
            if not get_checkpoint_id(config):
                held = self._held_head()
                held_id = held.config["configurable"]["checkpoint_id"]
                latest = self.latest_id(self.thread_id)
                if latest == held_id:
                    return held
                if self._not_stored(held_id) and (latest is None or latest < held_id):
                    # Not stored yet, and nothing newer is: still the latest.
                    return held
        if (self.queued or self.held) and not self._stopped():
            # What it reads from the database includes what it wrote (once
            # the run is told to stop, the guard would refuse them: they wait
            # for finish_run, which stores them).
            self.flush()
        return super().get_tuple(config)

    async def aget_tuple(self, config):
        first, self.first_read = self.first_read, None
        configurable = config["configurable"]
        if (
            first is not None
            and str(configurable.get("thread_id")) == self.thread_id
            and not configurable.get("checkpoint_ns")
            and not get_checkpoint_id(config)
        ):
            return first[0]
        return await super().aget_tuple(config)

    def latest(self) -> CheckpointTuple | None:
        """The thread's latest top-level checkpoint (get_tuple)."""
        return self.get_tuple({"configurable": {"thread_id": self.thread_id, "checkpoint_ns": ""}})

    def last_written(self) -> CheckpointTuple | None:
        """The last top-level checkpoint it wrote (stored or held), decoded,
        with the writes stored on it; None if it wrote none."""
        return self._held_head() if self.head is not None else None

    def _held_head(self) -> CheckpointTuple:
        """The last top-level checkpoint this run stored, its values as the
        graph held them and the writes stored on it."""
        with self.lock:
            stored, checkpoint, metadata, parent = self.head
            kept = list(self.writes.get(checkpoint["id"], {}).values())
        writes = sorted(
            kept,
            key=lambda w: writes_sort_key(task_path=w[0], task_id=w[1], idx=w[2]),
        )
        pending = [(task_id, channel, value) for _, task_id, _, channel, value in writes]
        return CheckpointTuple(stored, checkpoint, metadata, parent, pending)

    # -- the interrupted answer's update: kept for finish_run's transaction --

    def defer_writes(self) -> None:
        """From now on, keep the writes (`aput`, `aput_writes`) instead of
        making them; `write_deferred` makes them, unguarded: its caller holds
        the thread lock and has checked the run."""
        self.deferred = []

    def write_deferred(self) -> None:
        """The run's last writes: the queued ones, then the deferred ones."""
        self.write_queued()
        for write in self.deferred or ():
            write()

    # -- tasks' writes, stored with the run's next write ---------------------

    def write_queued(self) -> None:
        """Store the held checkpoints, then the queued writes, unguarded: the
        caller holds the thread lock and has checked the run (`flush`,
        `finish_run`)."""
        if not self.queued and not self.held:
            return
        with self.lock:
            held, queued = list(self.held or ()), list(self.queued or ())
            if self.held:
                self.held.clear()
            if self.queued:
                self.queued.clear()
        try:
            # Their own pipeline (where the caller's is one): leaving it waits
            # for them, so a failed write is seen here, and what it failed to
            # store is kept, not at the caller's COMMIT.
            with pipelined(self.using):
                self.write_put_rows(held)
                for config, writes, task_id, task_path in queued:
                    DjangoCheckpointSaver.put_writes(self, config, writes, task_id, task_path)
        except BaseException:
            # Not stored (the transaction rolls back): kept for the next try.
            with self.lock:
                if held:
                    self.held[:0] = held
                if queued:
                    self.queued[:0] = queued
            raise

    def _not_stored(self, checkpoint_id: str) -> bool:
        with self.lock:
            held = list(self.held or ())
        return any(put.config["configurable"]["checkpoint_id"] == checkpoint_id for put in held)

    # -- checkpoints, stored behind the run -----------------------------------

    def flush(self, then=None):
        """Store the held checkpoints and the queued writes, guarded (on a
        database thread), then call `then` in the same transaction and return
        what it returns (`put`: its checkpoint). RunCancelled if the run may
        no longer write; then nothing is stored, and they stay held: an
        interrupted run's end stores them, with its partial answer; a
        rolled-back run's never are."""
        if self._stopped():
            raise RunCancelled(self.run_id)
        try:
            # Pipelined: the lock goes with the run's check, `then`'s writes
            # together (chatapp/platform/pipeline.py).
            with transaction.atomic(using=self.using), pipelined(self.using):
                self.check_run()
                self.write_queued()
                return then() if then is not None else None
        except RunCancelled:
            self.refused = True
            raise

    def _flush_later(self) -> None:
        if self.flush_timer is None and self.flushing is None and not self.ended:
            loop = asyncio.get_running_loop()
            self.flush_timer = loop.call_later(self.hold_seconds, self._start_flush)

    def _start_flush(self) -> None:
        self.flush_timer = None
        self.flushing = asyncio.ensure_future(self._flush())

    async def _flush(self) -> None:
        try:
            await self.run_sync(self.flush)
        except RunCancelled:
            pass  # the run's next write raises it (`refused`)
        except Exception:
            # Held still: the run's next flush or its end stores them.
            logger.exception("run %s: storing its checkpoints failed", self.run_id)
        finally:
            self.flushing = None
        if self.held and not self.refused:
            self._flush_later()

    def stop_flushing(self) -> None:
        """At the run's end (whose transaction stores what is held)."""
        self.ended = True
        if self.flush_timer is not None:
            self.flush_timer.cancel()
            self.flush_timer = None

    async def aput(self, config, checkpoint, metadata, new_versions):
        if self.deferred is not None:
            # The interrupted answer's update: kept for finish_run.
            self.deferred.append(
                functools.partial(self._put, config, checkpoint, metadata, new_versions)
            )
            # What `put` returns: the config of the checkpoint it stores.
            configurable = config["configurable"]
            return {
                "configurable": {
                    "thread_id": str(configurable["thread_id"]),
                    "checkpoint_ns": configurable.get("checkpoint_ns") or "",
                    "checkpoint_id": checkpoint["id"],
                }
            }
        if self.held is None or config["configurable"].get("checkpoint_ns"):
            # Stored at once (with what is held and queued).
            return await super().aput(config, checkpoint, metadata, new_versions)
        # Held: stored by a flush `hold_seconds` from now, or with the run's
        # end if it comes first (serialized now: the graph goes on).
        if self._stopped():
            raise RunCancelled(self.run_id)
        rows = self.put_rows(config, checkpoint, metadata, new_versions)
        with self.lock:
            self.held.append(rows)
        self._track_head(config, rows.config, checkpoint, metadata)
        self._flush_later()
        return rows.config

    async def aput_writes(self, config, writes, task_id, task_path=""):
        if self.deferred is None and self.queued is not None:
            if self._stopped():
                raise RunCancelled(self.run_id)
            if not writes:
                return None
            with self.lock:
                self.queued.append((config, list(writes), task_id, task_path))
            self._keep_writes(config, writes, task_id, task_path)
            return None
        if self.deferred is None:
            return await super().aput_writes(config, writes, task_id, task_path)
        self.deferred.append(
            functools.partial(self._put_writes, config, writes, task_id, task_path)
        )
