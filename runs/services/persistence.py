"""A thread's LangGraph persistence, as the services use it.

The checkpoints themselves are the `checkpoints` app's (a LangGraph
checkpointer on Django models); here: the savers the services read and write
through (sync, in the request's or the caller's transaction), and the
thread's denormalised `values` and `interrupts`, refreshed from its latest
checkpoint whenever something changes it (a run ends, a rollback, a manual
update), so that listing and searching threads reads no checkpoint.
"""

import functools
from collections.abc import Callable

from django.conf import settings
from django.utils import timezone
from langgraph.checkpoint.base import CheckpointTuple, get_checkpoint_id

from chatapp.platform.prepared import update_fields
from checkpoints.decoded import DecodedBlobs
from checkpoints.models import Checkpoint
from checkpoints.saver import DjangoCheckpointSaver
from runs.graphs.serialization import INTERRUPT_KEY, interrupt_dict, jsonable
from runs.models import Thread
from runs.worker import heads


class ThreadSaver(DjangoCheckpointSaver):
    """A thread's latest checkpoint, when a worker of this process ended the
    thread's last run, is a copy of the one it kept decoded (still the latest
    by one probe: runs/worker/heads.py), not decoded from the database again."""

    def get_tuple(self, config):
        configurable = config["configurable"]
        if not configurable.get("checkpoint_ns") and not get_checkpoint_id(config):
            kept = heads.KEPT.peek(configurable["thread_id"], self)
            if kept is not None:
                return kept
        return super().get_tuple(config)


class StateReader(DjangoCheckpointSaver):
    """A saver that keeps what it decodes (`reader`), and takes the channel
    values of a thread's latest checkpoint from the one a worker of this
    process kept decoded, when that is the checkpoint it read."""

    def _held_values(self, thread_id, ns, checkpoint_id):
        return heads.KEPT.values_at(thread_id, checkpoint_id) if not ns else {}


@functools.cache
def saver() -> DjangoCheckpointSaver:
    """The saver for sync callers (views, services): it closes what it opened
    outside a transaction, as request threads expect."""
    return ThreadSaver()


@functools.cache
def reader() -> DjangoCheckpointSaver:
    """The saver for reads of a thread's state that no graph runs from (the
    API's state and history, the chat page's messages, the values a stream
    starts with): it keeps the channel values it decoded, up to
    RUNS_DECODED_STATE_MB of their stored size, with their JSON, and reads
    and decodes only the ones it does not have (checkpoints/decoded.py): a
    state polled, or the history after the next run, decodes only the
    checkpoints not read before, in every process (API processes run no
    worker in production, so a worker's kept checkpoint is not there)."""
    return StateReader(decoded=DecodedBlobs(int(settings.RUNS_DECODED_STATE_MB * 2**20)))


def thread_config(thread_id, checkpoint_id: str | None = None, checkpoint_ns: str = "") -> dict:
    configurable = {"thread_id": str(thread_id), "checkpoint_ns": checkpoint_ns}
    if checkpoint_id:
        configurable["checkpoint_id"] = str(checkpoint_id)
    return {"configurable": configurable}


def latest(thread_id) -> CheckpointTuple | None:
    """The thread's latest checkpoint (top level), the caller's own to change
    (a run starts from it): one index probe and two lookups of its writes and
    values."""
    return saver().get_tuple(thread_config(thread_id))


def latest_values(thread_id) -> dict:
    """The values of the thread's latest checkpoint, as JSON."""
    return state_values(reader().get_tuple(thread_config(thread_id)))


def state_values(checkpoint: CheckpointTuple | None) -> dict:
    """A checkpoint's state values as JSON: its channels but LangGraph's own
    (`__start__`, `branch:to:model`, ...)."""
    if checkpoint is None:
        return {}
    values = checkpoint.checkpoint.get("channel_values") or {}
    return {
        name: jsonable(value)
        for name, value in values.items()
        if not name.startswith("__") and ":" not in name
    }


def pending_interrupts(checkpoint: CheckpointTuple | None) -> dict[str, list[dict]]:
    """{task id: [interrupt]} of the interrupts raised and not resumed yet."""
    found: dict[str, list[dict]] = {}
    for task_id, channel, value in (checkpoint.pending_writes or []) if checkpoint else []:
        if channel == INTERRUPT_KEY:
            for interrupt in value if isinstance(value, list | tuple) else [value]:
                found.setdefault(task_id, []).append(interrupt_dict(interrupt))
    return found


def refresh_thread(
    thread: Thread,
    *,
    status: str | None = None,
    error: dict | None = None,
    read: Callable[[], CheckpointTuple | None] | None = None,
) -> CheckpointTuple | None:
    """Copy the latest checkpoint's values and interrupts onto the thread, and
    mark its state changed now (`state_updated_at`). Sets `status` if given,
    with `error` when that is `error` (Thread.set_status). Returns that
    checkpoint. `read`: what reads the thread's latest checkpoint, when the
    caller has a cheaper one than `latest` (a run's saver holds what it
    wrote last: RunSaver.latest)."""
    checkpoint = read() if read is not None else latest(thread.pk)
    thread.values = state_values(checkpoint)
    thread.interrupts = pending_interrupts(checkpoint)
    thread.state_updated_at = timezone.now()
    fields = ["values", "interrupts", "state_updated_at", "updated_at"]
    if status is not None:
        fields += thread.set_status(status, error=error)
    thread.updated_at = thread.state_updated_at
    update_fields(thread, fields)
    return checkpoint


def writers_since(thread_id, checkpoint_id: str) -> set[str | None] | None:
    """The runs that wrote the checkpoints after `checkpoint_id` up to the
    thread's latest one, along its lineage; None when `checkpoint_id` is not on
    that lineage (another branch, or no such checkpoint). Checkpoint ids sort
    by time, so the lineage is among the rows from it on: one range query."""
    rows = {
        cid: (parent, run_id)
        for cid, parent, run_id in Checkpoint.objects.filter(
            thread_id=str(thread_id), checkpoint_ns="", checkpoint_id__gte=checkpoint_id
        ).values_list("checkpoint_id", "parent_checkpoint_id", "run_id")
    }
    if checkpoint_id not in rows:
        return None
    writers: set[str | None] = set()
    at = max(rows)
    while at != checkpoint_id:
        if at not in rows:
            return None
        parent, run_id = rows[at]
        writers.add(run_id)
        at = parent
    return writers


def checkpoint_exists(thread_id, checkpoint_id: str) -> bool:
    return Checkpoint.objects.filter(thread_id=str(thread_id), checkpoint_id=checkpoint_id).exists()


def delete_runs(run_ids) -> None:
    """Delete what runs wrote to their thread's checkpoints (a rollback)."""
    saver().delete_for_runs([str(run_id) for run_id in run_ids])


def delete_thread(thread_id) -> None:
    saver().delete_thread(str(thread_id))


def copy_thread(source_id, target_id) -> None:
    """Copy a thread's checkpoints, writes and blobs to another thread id."""
    saver().copy_thread(str(source_id), str(target_id))


def prune(thread_ids, *, strategy: str) -> None:
    """Prune threads' checkpoints (the saver's `prune`: "keep_latest" or "delete")."""
    saver().prune([str(thread_id) for thread_id in thread_ids], strategy=strategy)
