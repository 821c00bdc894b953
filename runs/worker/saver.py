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
So the partial answer and the run's end are one transaction (and the claim of
the thread's next run follows in the same call): an interrupt settled in four
write transactions (the update's task writes, its checkpoint, finish, claim),
each a hop to the executor's database thread behind the other runs' writes.
"""

import functools

from django.db import transaction

from checkpoints.saver import DjangoCheckpointSaver
from runs.worker import sql


class RunCancelled(Exception):
    """The run may no longer write: cancelled, rolled back, or no longer ours."""


class RunSaver(DjangoCheckpointSaver):
    def __init__(self, *, thread_id, run_id, worker_id: str, cancelled=None, **kwargs):
        super().__init__(**kwargs)
        self.thread_id, self.run_id, self.worker_id = str(thread_id), str(run_id), worker_id
        # `cancelled()`: the executor was told to stop the run, so the
        # database would refuse its writes: refuse them here, without a
        # transaction queued before the run's settle (LangGraph still tries
        # the cancelled step's writes).
        self.cancelled = cancelled or (lambda: False)
        self.deferred: list | None = None

    def check_run(self) -> None:
        """Lock the thread row; raise RunCancelled unless the run may write.
        The lock, then the run (one statement on SQLite): runs/worker/sql.py."""
        cancel_action = sql.run_cancel_action(self.thread_id, self.run_id, self.worker_id)
        if cancel_action != "":
            raise RunCancelled(self.run_id)

    def put(self, config, checkpoint, metadata, new_versions):
        if self.cancelled():
            raise RunCancelled(self.run_id)
        with transaction.atomic(using=self.using):
            self.check_run()
            return super().put(config, checkpoint, metadata, new_versions)

    def put_writes(self, config, writes, task_id, task_path=""):
        if self.cancelled():
            raise RunCancelled(self.run_id)
        with transaction.atomic(using=self.using):
            self.check_run()
            return super().put_writes(config, writes, task_id, task_path)

    # -- the interrupted answer's update: kept for finish_run's transaction --

    def defer_writes(self) -> None:
        """From now on, keep the writes (`aput`, `aput_writes`) instead of
        making them; `write_deferred` makes them, unguarded: its caller holds
        the thread lock and has checked the run."""
        self.deferred = []

    def write_deferred(self) -> None:
        for write in self.deferred or ():
            write()

    async def aput(self, config, checkpoint, metadata, new_versions):
        if self.deferred is None:
            return await super().aput(config, checkpoint, metadata, new_versions)
        self.deferred.append(
            functools.partial(
                DjangoCheckpointSaver.put, self, config, checkpoint, metadata, new_versions
            )
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

    async def aput_writes(self, config, writes, task_id, task_path=""):
        if self.deferred is None:
            return await super().aput_writes(config, writes, task_id, task_path)
        self.deferred.append(
            functools.partial(
                DjangoCheckpointSaver.put_writes, self, config, writes, task_id, task_path
            )
        )
