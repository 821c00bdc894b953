"""Tables of the LangGraph checkpointer (`checkpoints.saver.DjangoCheckpointSaver`).

The data is split as LangGraph's PostgreSQL saver splits it, so that a step
stores only what changed:

- `Checkpoint`: one row per checkpoint. `checkpoint` is the checkpoint dict
  without its channel values (id, ts, channel_versions, versions_seen, ...),
  as JSON: small, readable in the admin and in SQL. Its `channel_versions`
  name the blobs that hold the values.
- `CheckpointBlob`: one row per (thread, namespace, channel, version). A
  channel that did not change keeps its version, so a long message list is
  stored once, not once per step. Every value, primitive or not, is a blob, so
  a checkpoint is always loaded the same way.
- `CheckpointWrite`: the pending writes of a checkpoint, per (task, idx).

Values are stored as the saver's serde makes them (`dumps_typed`): a type
string and bytes, which round-trips whatever LangGraph stores (LangChain
messages, Send, Interrupt, bytes, datetimes...).

`thread_id` is a plain string, not a foreign key: the saver serves any thread
id, and whatever owns threads deletes their checkpoints through the saver.
Text columns, because LangGraph bounds none of these strings (a nested
subgraph's namespace grows with the depth).

Indexes, by the query each serves:

- `checkpoints_checkpoint_key` (thread_id, checkpoint_ns, checkpoint_id),
  unique: a checkpoint by id; the latest checkpoint of a namespace (one
  backward probe: checkpoint ids are uuid6 strings that sort by time, as the
  PostgreSQL saver relies on too); `list()` of a namespace, newest first, paged
  with `checkpoint_id < cursor` and LIMIT; the deletes of a thread.
- `checkpoints_thread_order_idx` (thread_id, checkpoint_id, checkpoint_ns):
  `list()` of a thread across its namespaces, in the same order, without a
  sort; its last column makes the page cursor (id, namespace) exact.
- `checkpoints_run_idx` (run_id) where set: `delete_for_runs`, which the
  server's rollback runs inside the transaction that deletes the run.
- `checkpoints_blob_key` (thread_id, checkpoint_ns, channel, version),
  unique: the blobs a checkpoint names, one probe each.
- `checkpoints_write_key` (thread_id, checkpoint_ns, checkpoint_id, task_id,
  idx), unique: a checkpoint's pending writes; idempotent `put_writes`.
- `checkpoints_write_run_idx` (run_id) where set: writes a run stored on a
  checkpoint of an earlier run (a `Command(resume=...)` stores its resume value
  on the interrupted checkpoint), which its rollback must take back too.

`run_id` (the metadata's, or the writing config's) is a column of its own
because rows are deleted by it. It says which run wrote the row on this
thread: a copy made by `copy_thread` has none (its metadata still names the
run), so rolling a run back never reaches into another thread.

`CheckpointBlob.checkpoint_id` is the checkpoint that first stored the version.
Only checkpoints at or after it can name it (a version is created by a step and
inherited by the steps after it), which bounds what `delete_for_runs` and
`prune` must read to know whether a blob is still in use.
"""

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q


class Checkpoint(models.Model):
    thread_id = models.TextField()
    checkpoint_ns = models.TextField(default="", blank=True)
    checkpoint_id = models.TextField()
    # NULL, not "", for "none" (DJ001): LangGraph's None, and the partial
    # indexes on `run_id IS NOT NULL` serve `run_id IN (...)` on SQLite too.
    parent_checkpoint_id = models.TextField(null=True, blank=True)  # noqa: DJ001
    run_id = models.TextField(null=True, blank=True)  # noqa: DJ001
    # The checkpoint dict without "channel_values" (those are blobs).
    checkpoint = models.JSONField()
    # Descriptive: a UUID or a datetime a caller puts here is stored as a string.
    metadata = models.JSONField(default=dict, encoder=DjangoJSONEncoder)
    # The checkpoint's "ts", for people (the admin); ordering uses checkpoint_id.
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = "LangGraph checkpoint"
        constraints = [
            models.UniqueConstraint(
                fields=["thread_id", "checkpoint_ns", "checkpoint_id"],
                name="checkpoints_checkpoint_key",
            )
        ]
        indexes = [
            models.Index(
                fields=["thread_id", "checkpoint_id", "checkpoint_ns"],
                name="checkpoints_thread_order_idx",
            ),
            models.Index(
                fields=["run_id"], condition=Q(run_id__isnull=False), name="checkpoints_run_idx"
            ),
        ]

    def __str__(self):
        return self.checkpoint_id


class CheckpointBlob(models.Model):
    thread_id = models.TextField()
    checkpoint_ns = models.TextField(default="", blank=True)
    channel = models.TextField()
    version = models.TextField()
    # serde type; "empty" (no value) when the channel was emptied at this version.
    type = models.TextField()
    value = models.BinaryField(null=True)
    checkpoint_id = models.TextField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["thread_id", "checkpoint_ns", "channel", "version"],
                name="checkpoints_blob_key",
            )
        ]

    def __str__(self):
        return f"{self.channel}@{self.version}"


class CheckpointWrite(models.Model):
    thread_id = models.TextField()
    checkpoint_ns = models.TextField(default="", blank=True)
    checkpoint_id = models.TextField()
    task_id = models.TextField()
    task_path = models.TextField(default="", blank=True)
    # Position in the task's writes; negative for the special channels
    # (ERROR, INTERRUPT, RESUME...), which a later write replaces.
    idx = models.IntegerField()
    channel = models.TextField()
    type = models.TextField()
    value = models.BinaryField()
    run_id = models.TextField(null=True, blank=True)  # noqa: DJ001

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["thread_id", "checkpoint_ns", "checkpoint_id", "task_id", "idx"],
                name="checkpoints_write_key",
            )
        ]
        indexes = [
            models.Index(
                fields=["run_id"],
                condition=Q(run_id__isnull=False),
                name="checkpoints_write_run_idx",
            ),
        ]

    def __str__(self):
        return f"{self.task_id}[{self.idx}] {self.channel}"
