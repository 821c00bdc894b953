"""The latest checkpoint of threads whose run ended in this process, decoded.

A run's saver holds the last checkpoint it wrote, decoded (RunSaver.last_written).
The thread's next run starts from that checkpoint: read back from the database
it is decoded again, the whole conversation (4 ms of the database thread's CPU
at 400 messages, 0.17 ms at 10). A run that ends with none queued behind it
leaves it here, and the thread's next run claimed in this process takes it
(`take`, on the database thread, with the claim) after one index probe says it
is still the thread's latest: a run of another worker, a rollback or a state
update since would have written or deleted one, and then it is read back as
before. Taken once: the run that starts from it changes it in place (LangGraph's
loop does), and a run that fails leaves nothing behind for the next.

Reads of the thread's latest state in this process (the API's `get_state`, in
embedded mode) take its channel values (`values_at`, once they read that the
thread's latest checkpoint is this one) instead of decoding them: 7.3 of a
`get_state`'s 11.4 ms at 480 messages; the services' other reads of it (a
state update) start from a copy of it (`peek`), after the same probe.
"""

import collections
import threading

from django.conf import settings
from langgraph.checkpoint.base import CheckpointTuple, copy_checkpoint

from checkpoints.decoded import outer_copy


class LatestCheckpoints:
    def __init__(self, size: int | None = None):
        # Threads kept (RUNS_KEPT_CHECKPOINTS unless given): each holds its
        # whole conversation.
        self.size = size
        self.kept: collections.OrderedDict[str, CheckpointTuple] = collections.OrderedDict()
        self.lock = threading.Lock()  # kept on the event loop, taken on a database thread

    def keep(self, thread_id, checkpoint: CheckpointTuple | None) -> None:
        size = settings.RUNS_KEPT_CHECKPOINTS if self.size is None else self.size
        if checkpoint is None or size <= 0:
            return
        with self.lock:
            self.kept[str(thread_id)] = checkpoint
            self.kept.move_to_end(str(thread_id))
            while len(self.kept) > size:
                self.kept.popitem(last=False)

    def peek(self, thread_id, saver) -> CheckpointTuple | None:
        """A copy of the thread's kept checkpoint, if it is still the latest
        (one probe through `saver`, a DjangoCheckpointSaver); None otherwise.
        The copy's channel values are the kept ones, to be read, not changed."""
        with self.lock:
            kept = self.kept.get(str(thread_id))
            if kept is None:
                return None
            # Copied before the lock is let go: a run may take it and change it.
            copy = CheckpointTuple(
                kept.config,
                copy_checkpoint(kept.checkpoint),
                dict(kept.metadata),
                kept.parent_config,
                list(kept.pending_writes or ()),
            )
        return copy if _still_latest(saver, thread_id, kept) else None

    def values_at(self, thread_id, checkpoint_id: str) -> dict:
        """The channel values of the thread's kept checkpoint, if it is
        `checkpoint_id` (which a reader read as the thread's latest: no probe);
        {} otherwise. Their outer lists and dicts are copies (the run that takes
        the checkpoint may have a reducer that extends the list it is given);
        what is in them is to be read, not changed."""
        with self.lock:
            kept = self.kept.get(str(thread_id))
            if kept is None or kept.config["configurable"]["checkpoint_id"] != checkpoint_id:
                return {}
            # Copied before the lock is let go: a run may take it and change it.
            values = kept.checkpoint.get("channel_values") or {}
            return {name: outer_copy(value) for name, value in values.items()}

    def take(self, thread_id) -> CheckpointTuple | None:
        """The thread's latest checkpoint: the one kept, if it still is (one
        probe), or read from the database."""
        from runs.services import persistence  # which reads through `peek`

        with self.lock:
            kept = self.kept.pop(str(thread_id), None)
        if kept is not None and _still_latest(persistence.saver(), thread_id, kept):
            return kept
        return persistence.latest(thread_id)


def _still_latest(saver, thread_id, kept: CheckpointTuple) -> bool:
    """One index probe: no checkpoint was written or deleted since."""
    return saver.latest_id(str(thread_id)) == kept.config["configurable"]["checkpoint_id"]


# This process's: its executor keeps them, its API reads them.
KEPT = LatestCheckpoints()
