"""The checkpointer a run's graph writes through: a guarded DjangoCheckpointSaver.

Every write (a checkpoint, a task's pending writes) is one transaction that
first locks the thread row, the lock every strategy decision takes, and
checks that the run is still running, on this worker, and not asked to stop.
So a rollback, which deletes the run and what it wrote under that same lock,
can never be followed by a late checkpoint of the run it rolled back, and an
interrupted run writes nothing after the moment it was interrupted: the
graph's next write raises `RunCancelled`, which stops it.

Only the executor's own write of an interrupted run's partial answer passes
with `allow_interrupted` (the run is then asked to stop, but not deleted).
"""

from django.db import transaction

from checkpoints.saver import DjangoCheckpointSaver
from runs.models import CancelAction
from runs.worker import sql


class RunCancelled(Exception):
    """The run may no longer write: cancelled, rolled back, or no longer ours."""


class RunSaver(DjangoCheckpointSaver):
    def __init__(self, *, thread_id, run_id, worker_id: str, **kwargs):
        super().__init__(**kwargs)
        self.thread_id, self.run_id, self.worker_id = str(thread_id), str(run_id), worker_id
        self.allow_interrupted = False

    def check_run(self) -> None:
        """Lock the thread row; raise RunCancelled unless the run may write.
        The lock, then the run (one statement on SQLite): runs/worker/sql.py."""
        cancel_action = sql.run_cancel_action(self.thread_id, self.run_id, self.worker_id)
        allowed = {""} | ({CancelAction.INTERRUPT} if self.allow_interrupted else set())
        if cancel_action not in allowed:
            raise RunCancelled(self.run_id)

    def put(self, config, checkpoint, metadata, new_versions):
        with transaction.atomic(using=self.using):
            self.check_run()
            return super().put(config, checkpoint, metadata, new_versions)

    def put_writes(self, config, writes, task_id, task_path=""):
        with transaction.atomic(using=self.using):
            self.check_run()
            return super().put_writes(config, writes, task_id, task_path)
