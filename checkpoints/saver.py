"""`DjangoCheckpointSaver`: LangGraph's checkpointer on the Django ORM.

Any database Django supports with JSON fields and ON CONFLICT (tested on
SQLite and PostgreSQL), through the project's own connections and
transactions, so that checkpoints can be written and deleted in the same
transaction as the server's own rows (a run's rollback deletes the run and its
checkpoints together). The tables are described in `checkpoints.models`.

Reads. `get_tuple` is at most three queries, each an index probe: the
checkpoint (the latest one of a namespace is the first entry of a backward
scan of `checkpoints_checkpoint_key`), its pending writes, and its blobs (one
query for all channels: `channel IN (...) AND version IN (...)`, the exact
pairs kept in Python). `list()` reads pages of `page_size` checkpoints with a
keyset cursor (`checkpoint_id < last`, never OFFSET), three queries a page, so
a long history streams and every page is an index range; each page is a call
of its own, which `alist` runs through `run_sync` (a page never keeps a cursor
open between calls, so the next page may run on another thread). Metadata
filters are JSON key lookups, one per key (`contains` does not exist on
SQLite); they filter the rows of the index range, like the PostgreSQL
saver's `@>`. `list(None)` (every thread) has no index for its order and sorts.

Writes. Each write method is one `transaction.atomic(savepoint=False)`: on
its own it is a transaction; inside the caller's `atomic()` it joins that
transaction (no savepoint: an error fails the caller's transaction, which is
what a guarded write wants). A server that must check, under a row lock, that
a run may still write overrides the sync methods::

    class GuardedSaver(DjangoCheckpointSaver):
        def put(self, config, checkpoint, metadata, new_versions):
            with transaction.atomic():
                lock_run_and_check(config)  # SELECT ... FOR UPDATE; raise if cancelled
                return super().put(config, checkpoint, metadata, new_versions)

and the async methods follow, because they call the sync ones by name
(`aput` runs `self.put` through `run_sync`).

Async. `run_sync(func, *args, **kwargs)` is awaited to run a sync method on a
thread that may use the database; by default asgiref's
`sync_to_async(thread_sensitive=True)`. The server passes its own pool of
database threads, and `close_connections=False` so that their connections stay
open between calls.

Connections. A sync graph (`graph.invoke`) calls the saver on LangGraph's own
worker threads, which no request cycle cleans up after: by default a call that
opened its thread's connection outside a transaction closes it again, or each
call would hold a connection (or a pool slot) until its thread died.

Serialisation. Channel values and writes go through `self.serde`
(`dumps_typed`/`loads_typed`), so whatever LangGraph can serialise
round-trips. The checkpoint dict without its values is JSON (ids, versions).
Versions are strings "<counter>.<random>" (`get_next_version`), as the
PostgreSQL saver makes them; other savers' int or float versions are stored as
their `str()`.

Deleting. `delete_for_runs` deletes the runs' checkpoints with their writes,
the writes the runs stored on other checkpoints (a resume value on the
interrupted checkpoint) and the blobs nothing else names; `prune` keeps the
latest checkpoint of each namespace (or deletes all); `copy_thread` copies a
thread's rows with three INSERT ... SELECT. Blobs are shared by the steps that
did not change a channel, so a blob is deleted only when no remaining
checkpoint names it; `CheckpointBlob.checkpoint_id` (the checkpoint that stored
it first) bounds that search to the checkpoints from there on.
"""

from __future__ import annotations

import functools
import random
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import reduce
from operator import or_
from typing import Any, NamedTuple

from asgiref.sync import sync_to_async
from django.db import connections, transaction
from django.db.models import Max, Q, QuerySet
from django.db.models.fields.json import KeyTransform
from django.utils import timezone
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    get_checkpoint_id,
    get_serializable_checkpoint_metadata,
    writes_sort_key,
)
from langgraph.checkpoint.serde.base import SerializerProtocol

from chatapp.platform.prepared import db_value, delete, select
from checkpoints.decoded import BlobKey, DecodedBlobs
from checkpoints.models import Checkpoint as CheckpointRow
from checkpoints.models import CheckpointBlob, CheckpointWrite

RunSync = Callable[..., Awaitable[Any]]

PRUNE_STRATEGIES = ("keep_latest", "delete")

# Metadata keys of a checkpoint whose DeltaChannel values are rebuilt from its
# ancestors' writes (LangGraph Python, LangGraph.js): pruning its ancestors
# would lose them.
DELTA_METADATA_KEYS = frozenset({"counters_since_delta_snapshot", "delta_writes_versioned"})

_ROW_FIELDS = (
    "thread_id",
    "checkpoint_ns",
    "checkpoint_id",
    "parent_checkpoint_id",
    "checkpoint",
    "metadata",
)
_CHECKPOINT_KEY = ["thread_id", "checkpoint_ns", "checkpoint_id"]
_WRITE_KEY = ["thread_id", "checkpoint_ns", "checkpoint_id", "task_id", "idx"]
# What `DecodedBlobs.get` answers for a blob it does not keep.
_NOT_KEPT = object()


async def default_run_sync(func: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    return await sync_to_async(func, thread_sensitive=True)(*args, **kwargs)


def _in(field: str, values: Iterable[Any]) -> dict[str, Any]:
    """`field = v` for one value (the plainest plan), `field IN (...)` for more."""
    values = sorted(set(values))
    return {field: values[0]} if len(values) == 1 else {f"{field}__in": values}  # [] matches none


def _timestamp(ts: Any) -> datetime:
    try:
        value = datetime.fromisoformat(ts)
    except (TypeError, ValueError):
        return timezone.now()
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class PutRows(NamedTuple):
    """A checkpoint as `put` stores it: the config it returns, its new
    blobs' rows and its row."""

    config: RunnableConfig
    blobs: list[dict]
    row: dict


def _config(thread_id: str, checkpoint_ns: str, checkpoint_id: str) -> RunnableConfig:
    return {
        "configurable": {
            "thread_id": thread_id,
            "checkpoint_ns": checkpoint_ns,
            "checkpoint_id": checkpoint_id,
        }
    }


def _names(checkpoint: dict[str, Any]) -> set[tuple[str, str]]:
    """The (channel, version) pairs of the blobs a stored checkpoint names."""
    return {(ch, str(v)) for ch, v in (checkpoint.get("channel_versions") or {}).items()}


# Where `_insert` writes its own INSERT ... ON CONFLICT (both have it, with
# EXCLUDED); on any other database the saver uses bulk_create.
_INSERT_VENDORS = frozenset({"sqlite", "postgresql"})


@functools.lru_cache(maxsize=256)
def _insert_sql(
    vendor: str, quote, model, rows: int, unique_fields: tuple, update_fields: tuple
) -> str:
    """INSERT of `rows` rows of `model` (every column but the primary key,
    in `_insert_fields`' order), ON CONFLICT DO NOTHING, or DO UPDATE of
    `update_fields` on a conflict on `unique_fields`."""
    fields = _insert_fields(model)
    row = f"({', '.join(['%s'] * len(fields))})"
    sql = (
        f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(f.column) for f in fields)})"
        f" VALUES {', '.join([row] * rows)}"
    )
    if update_fields:
        columns = [quote(model._meta.get_field(name).column) for name in unique_fields]
        updates = [quote(model._meta.get_field(name).column) for name in update_fields]
        sql += f" ON CONFLICT ({', '.join(columns)}) DO UPDATE SET " + ", ".join(
            f"{c} = EXCLUDED.{c}" for c in updates
        )
    else:
        sql += " ON CONFLICT DO NOTHING"
    return sql


@functools.lru_cache(maxsize=16)
def _insert_fields(model) -> tuple:
    """The columns `_insert_sql` writes, in its order."""
    return tuple(f for f in model._meta.concrete_fields if not f.primary_key)


# What `_delete_unnamed_blobs` does not read of a checkpoint row.
_ALL_BUT_CHECKPOINT_ID = tuple(
    f.name for f in CheckpointRow._meta.concrete_fields if f.name not in ("id", "checkpoint_id")
)
_NOT_NAMING = ("parent_checkpoint_id", "run_id", "metadata", "created_at")
_ALL_BUT_CHECKPOINT = tuple(
    f.name for f in CheckpointRow._meta.concrete_fields if f.name not in ("id", "checkpoint")
)
_CHECKPOINT_FIELD = CheckpointRow._meta.get_field("checkpoint")
_METADATA_FIELD = CheckpointRow._meta.get_field("metadata")


def _columns(quote, model, names: Sequence[str]) -> str:
    return ", ".join(quote(model._meta.get_field(name).column) for name in names)


@functools.lru_cache(maxsize=16)
def _read_sql(vendor: str, quote) -> dict[str, str]:
    """`_read_one`'s statements: a checkpoint (by id, or the latest of a
    namespace: the first entry of a backward scan of its key), its writes."""
    checkpoints = f"SELECT {_columns(quote, CheckpointRow, _ROW_FIELDS)} FROM " + quote(
        CheckpointRow._meta.db_table
    )
    key = " WHERE {} = %s AND {} = %s".format(
        *(quote(CheckpointRow._meta.get_field(n).column) for n in ("thread_id", "checkpoint_ns"))
    )
    cid = quote(CheckpointRow._meta.get_field("checkpoint_id").column)
    written = ("task_id", "task_path", "idx", "channel", "type", "value")
    return {
        "one": f"{checkpoints}{key} AND {cid} = %s",
        "latest": f"{checkpoints}{key} ORDER BY {cid} DESC LIMIT 1",
        "latest_id": (
            f"SELECT {cid} FROM {quote(CheckpointRow._meta.db_table)}{key}"
            f" ORDER BY {cid} DESC LIMIT 1"
        ),
        "writes": (
            f"SELECT {_columns(quote, CheckpointWrite, written)}"
            f" FROM {quote(CheckpointWrite._meta.db_table)}{key} AND {cid} = %s"
        ),
    }


@functools.lru_cache(maxsize=256)
def _blobs_sql(vendor: str, quote, channels: int, versions: int, sizes: bool = False) -> str:
    """The blobs of `channels` channels at `versions` versions (the exact
    pairs are kept in Python): one query, each pair an index probe. `sizes`:
    the stored size of each value instead of the value."""
    field = CheckpointBlob._meta.get_field
    columns = _columns(quote, CheckpointBlob, ("channel", "version", "type"))
    value = quote(field("value").column)
    return (
        f"SELECT {columns}, {f'LENGTH({value})' if sizes else value}"
        f" FROM {quote(CheckpointBlob._meta.db_table)}"
        f" WHERE {quote(field('thread_id').column)} = %s"
        f" AND {quote(field('checkpoint_ns').column)} = %s"
        f" AND {quote(field('channel').column)} IN ({', '.join(['%s'] * channels)})"
        f" AND {quote(field('version').column)} IN ({', '.join(['%s'] * versions)})"
    )


def _thread_ids(thread_ids: Sequence[str]) -> list[str]:
    if isinstance(thread_ids, str):
        raise TypeError("thread_ids must be a sequence of thread IDs, not a str")
    return sorted({str(t) for t in thread_ids})


class DjangoCheckpointSaver(BaseCheckpointSaver[str]):
    """LangGraph checkpointer on the `checkpoints` app's models.

    Args:
        serde: the serializer of channel values and writes (LangGraph's
            JsonPlusSerializer by default).
        using: the Django database alias.
        run_sync: awaited as `run_sync(func, *args, **kwargs)` by the async
            methods to run the sync ones on a database thread; default
            `sync_to_async(func, thread_sensitive=True)`.
        close_connections: close the connection a call opened (see
            `connection_scope`). A caller whose threads keep their
            connections (a pool of database threads) passes False.
        decoded: where a saver that only reads keeps the channel values it
            decoded, to neither fetch nor decode them again
            (`checkpoints.decoded`). Not for a saver whose reads a graph runs
            from: LangGraph changes a run's values in place.
    """

    # Checkpoints read per query by list(); each page is 3 queries.
    page_size = 100

    def __init__(
        self,
        *,
        serde: SerializerProtocol | None = None,
        using: str = "default",
        run_sync: RunSync | None = None,
        close_connections: bool = True,
        decoded: DecodedBlobs | None = None,
    ) -> None:
        super().__init__(serde=serde)
        self.using = using
        self.run_sync = run_sync or default_run_sync
        self.close_connections = close_connections
        self.decoded = decoded

    # --- helpers --------------------------------------------------------------

    @contextmanager
    def connection_scope(self):
        """Around each sync call: with `close_connections`, a call that opened
        its thread's connection, outside any transaction, closes it again (a
        pooled one goes back to the pool). LangGraph's sync graphs call the
        saver from threads of their own, which no request cycle cleans up."""
        connection = connections[self.using]
        opened = self.close_connections and connection.connection is None
        try:
            yield
        finally:
            if opened and not connection.in_atomic_block:
                connection.close()

    @contextmanager
    def atomic(self):
        """The transaction of one write method (joins the caller's, if any)."""
        with self.connection_scope(), transaction.atomic(using=self.using, savepoint=False):
            yield

    def _checkpoints(self) -> QuerySet:
        return CheckpointRow.objects.using(self.using)

    def _blobs(self) -> QuerySet:
        return CheckpointBlob.objects.using(self.using)

    def _writes(self) -> QuerySet:
        return CheckpointWrite.objects.using(self.using)

    def _insert(
        self,
        model,
        rows: list[dict],
        *,
        unique_fields: Sequence[str] = (),
        update_fields: Sequence[str] = (),
    ) -> None:
        """`bulk_create` of `rows` (each a dict of every column but the
        primary key, by attribute name) with `ignore_conflicts=True`, or
        with `update_fields` an upsert on `unique_fields`, as one INSERT whose
        text is built once per shape: the ORM compiled the same statement on
        every checkpoint a step writes (~0.3 ms of Python each, under the
        GIL). Rows, not instances: a model instance per row and each value
        through its field's `get_db_prep_save` (`db_value` skips it for text)
        were a third of a `put`."""
        connection = connections[self.using]
        if connection.vendor not in _INSERT_VENDORS:
            objs = [model(**row) for row in rows]
            queryset = model.objects.using(self.using)
            if update_fields:
                queryset.bulk_create(
                    objs,
                    update_conflicts=True,
                    unique_fields=unique_fields,
                    update_fields=update_fields,
                )
            else:
                queryset.bulk_create(objs, ignore_conflicts=True)
            return
        fields = _insert_fields(model)
        # At most as many rows per statement as the database takes parameters.
        size = max(connection.ops.bulk_batch_size(fields, rows), 1)
        with connection.cursor() as cursor:
            for start in range(0, len(rows), size):
                batch = rows[start : start + size]
                sql = _insert_sql(
                    connection.vendor,
                    connection.ops.quote_name,
                    model,
                    len(batch),
                    tuple(unique_fields),
                    tuple(update_fields),
                )
                cursor.execute(
                    sql, [db_value(f, row[f.attname], connection) for row in batch for f in fields]
                )

    def _load(self, type_: str, value: Any) -> Any:
        return self.serde.loads_typed((type_, bytes(value) if value is not None else b""))

    def _load_blob(self, key: BlobKey, type_: str, value: Any) -> Any:
        loaded = self._load(type_, value)
        if self.decoded is None:
            return loaded
        return self.decoded.keep(key, loaded, len(value) if value is not None else 0)

    def _kept_blobs(self, wanted: set[BlobKey], values: dict[BlobKey, Any]) -> set[BlobKey]:
        """Puts what `self.decoded` keeps of `wanted` in `values`; returns the
        rest, to be read."""
        if self.decoded is None:
            return wanted
        missing = set()
        for key in wanted:
            value = self.decoded.get(key, _NOT_KEPT)
            if value is _NOT_KEPT:
                missing.add(key)
            else:
                values[key] = value
        return missing

    def _tuples(self, rows: list[tuple]) -> list[CheckpointTuple]:
        """Checkpoint rows (`_ROW_FIELDS`) -> tuples, with two more queries for
        all of them: their pending writes and their blobs."""
        if not rows:
            return []
        keys = {(t, ns, cid) for t, ns, cid, *_ in rows}
        writes: dict[tuple[str, str, str], list[tuple]] = defaultdict(list)
        found = self._writes().filter(
            **_in("thread_id", (k[0] for k in keys)),
            **_in("checkpoint_ns", (k[1] for k in keys)),
            **_in("checkpoint_id", (k[2] for k in keys)),
        )
        for t, ns, cid, task_id, task_path, idx, channel, type_, value in found.values_list(
            "thread_id",
            "checkpoint_ns",
            "checkpoint_id",
            "task_id",
            "task_path",
            "idx",
            "channel",
            "type",
            "value",
        ):
            if (t, ns, cid) in keys:  # the IN lists are a cross product
                writes[(t, ns, cid)].append((task_id, task_path, idx, channel, type_, value))

        wanted = {(t, ns, ch, v) for t, ns, _, _, cp, _ in rows for ch, v in _names(cp)}
        values: dict[BlobKey, Any] = {}
        wanted = self._kept_blobs(wanted, values)
        if wanted:
            found = self._blobs().filter(
                **_in("thread_id", (k[0] for k in wanted)),
                **_in("checkpoint_ns", (k[1] for k in wanted)),
                **_in("channel", (k[2] for k in wanted)),
                **_in("version", (k[3] for k in wanted)),
            )
            for t, ns, ch, v, type_, value in found.values_list(
                "thread_id", "checkpoint_ns", "channel", "version", "type", "value"
            ):
                if (t, ns, ch, v) in wanted and type_ != "empty":
                    values[(t, ns, ch, v)] = self._load_blob((t, ns, ch, v), type_, value)

        return self._assemble(rows, writes, values)

    def _assemble(
        self,
        rows: list[tuple],
        writes: dict[tuple[str, str, str], list[tuple]],
        values: dict[tuple[str, str, str, str], Any],
    ) -> list[CheckpointTuple]:
        """Checkpoint rows with their pending writes ((thread, ns, id) -> [(task_id,
        task_path, idx, channel, type, value)]) and decoded blobs ((thread, ns,
        channel, version) -> value) -> tuples."""
        tuples = []
        for t, ns, cid, parent, cp, metadata in rows:
            pending = sorted(
                writes.get((t, ns, cid), ()),
                key=lambda w: writes_sort_key(task_path=w[1], task_id=w[0], idx=w[2]),
            )
            channel_values = {}
            for ch, v in (cp.get("channel_versions") or {}).items():
                key = (t, ns, ch, str(v))
                if key in values:
                    channel_values[ch] = values[key]
            tuples.append(
                CheckpointTuple(
                    config=_config(t, ns, cid),
                    checkpoint={**cp, "channel_values": channel_values},
                    metadata=metadata,
                    parent_config=_config(t, ns, parent) if parent else None,
                    pending_writes=[
                        (task_id, channel, self._load(type_, value))
                        for task_id, _, _, channel, type_, value in pending
                    ],
                )
            )
        return tuples

    # --- reads ----------------------------------------------------------------

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        with self.connection_scope():
            return self._get_tuple(config)

    def _get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        configurable = config["configurable"]
        thread_id = str(configurable["thread_id"])
        checkpoint_ns = configurable.get("checkpoint_ns") or ""
        checkpoint_id = get_checkpoint_id(config)
        connection = connections[self.using]
        if connection.vendor in _INSERT_VENDORS:
            return self._read_one(connection, thread_id, checkpoint_ns, checkpoint_id)
        rows = self._checkpoints().filter(thread_id=thread_id, checkpoint_ns=checkpoint_ns)
        if checkpoint_id:
            rows = rows.filter(checkpoint_id=checkpoint_id)
        rows = list(rows.order_by("-checkpoint_id").values_list(*_ROW_FIELDS)[:1])
        return self._tuples(rows)[0] if rows else None

    def latest_id(self, thread_id: str, checkpoint_ns: str = "") -> str | None:
        """The id of a namespace's latest checkpoint: one index probe, e.g. to
        check that a checkpoint held in memory is still the latest."""
        thread_id = str(thread_id)
        with self.connection_scope():
            connection = connections[self.using]
            if connection.vendor in _INSERT_VENDORS:
                sql = _read_sql(connection.vendor, connection.ops.quote_name)["latest_id"]
                with connection.cursor() as cursor:
                    cursor.execute(sql, [thread_id, checkpoint_ns])
                    row = cursor.fetchone()
                return row[0] if row else None
            rows = self._checkpoints().filter(thread_id=thread_id, checkpoint_ns=checkpoint_ns)
            return rows.order_by("-checkpoint_id").values_list("checkpoint_id", flat=True).first()

    def _read_one(self, connection, thread_id: str, ns: str, checkpoint_id: str | None):
        """`_get_tuple`'s three index probes (the checkpoint, its writes, its
        blobs) as SQL written once per shape: every run reads its thread's
        latest checkpoint when it starts and when it ends, and the ORM's
        compiling of the three was most of their cost."""
        sql = _read_sql(connection.vendor, connection.ops.quote_name)
        with connection.cursor() as cursor:
            if checkpoint_id:
                cursor.execute(sql["one"], [thread_id, ns, checkpoint_id])
            else:
                cursor.execute(sql["latest"], [thread_id, ns])
            row = cursor.fetchone()
            if row is None:
                return None
            t, ns, cid, parent, cp, metadata = row
            cp = _CHECKPOINT_FIELD.from_db_value(cp, None, connection)
            metadata = _METADATA_FIELD.from_db_value(metadata, None, connection)
            cursor.execute(sql["writes"], [t, ns, cid])
            writes = {(t, ns, cid): list(cursor.fetchall())}
            values: dict[BlobKey, Any] = {}
            names = {(t, ns, ch, v) for ch, v in _names(cp)}
            names = self._kept_blobs(names, values)
            held = self._held_values(t, ns, cid) if names and self.decoded is not None else {}
            if held:
                # Their sizes only, to keep them (the budget counts stored bytes).
                unheld = set()
                for key, type_, size in self._blob_rows(cursor, connection, names, sizes=True):
                    if key[2] in held:
                        values[key] = self.decoded.keep(key, held[key[2]], size or 0)
                    elif type_ != "empty":
                        unheld.add(key)
                names = unheld
            for key, type_, value in self._blob_rows(cursor, connection, names):
                if type_ != "empty":
                    values[key] = self._load_blob(key, type_, value)
        return self._assemble([(t, ns, cid, parent, cp, metadata)], writes, values)[0]

    def _blob_rows(self, cursor, connection, keys: set[BlobKey], *, sizes: bool = False):
        """(key, type, value or its stored size) of the blobs of `keys`, all of
        one thread and namespace: one query (none for no keys)."""
        if not keys:
            return
        t, ns = next(iter(keys))[:2]
        channels = sorted({ch for _, _, ch, _ in keys})
        versions = sorted({v for _, _, _, v in keys})
        sql = _blobs_sql(
            connection.vendor, connection.ops.quote_name, len(channels), len(versions), sizes
        )
        cursor.execute(sql, [t, ns, *channels, *versions])
        for ch, v, type_, value in cursor.fetchall():
            if (t, ns, ch, v) in keys:
                yield (t, ns, ch, v), type_, value

    def _held_values(self, thread_id: str, ns: str, checkpoint_id: str) -> dict[str, Any]:
        """Channel values of that checkpoint that the caller holds decoded
        already (channel -> value): a saver that keeps what it decodes
        (`decoded`) keeps these instead of fetching and decoding their blobs.
        This saver holds none; a subclass may."""
        return {}

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        cursor = None
        while True:
            page, cursor, limit = self.list_page(config, filter, before, limit, cursor)
            yield from page
            if cursor is None:
                return

    def list_page(
        self,
        config: RunnableConfig | None,
        filter: dict[str, Any] | None,
        before: RunnableConfig | None,
        limit: int | None,
        cursor: tuple | None,
    ) -> tuple[list[CheckpointTuple], tuple | None, int | None]:
        """One page of `list()`: (tuples, cursor of the next page or None,
        what is left of the limit)."""
        with self.connection_scope():
            return self._list_page(config, filter, before, limit, cursor)

    def _list_page(self, config, filter, before, limit, cursor):
        size = self.page_size if limit is None else min(self.page_size, int(limit))
        if size <= 0:
            return [], None, limit
        rows = self._checkpoints()
        configurable = (config or {}).get("configurable") or {}
        thread_id = configurable.get("thread_id")
        checkpoint_ns = configurable.get("checkpoint_ns")
        if thread_id is not None:
            rows = rows.filter(thread_id=str(thread_id))
            if checkpoint_ns is not None:
                rows = rows.filter(checkpoint_ns=checkpoint_ns)
        if checkpoint_id := configurable.get("checkpoint_id"):
            rows = rows.filter(checkpoint_id=checkpoint_id)
        for i, (key, value) in enumerate((filter or {}).items()):
            # One JSON key lookup per key: portable, unlike `contains`.
            name = f"metadata_{i}"
            rows = rows.alias(**{name: KeyTransform(key, "metadata")}).filter(**{name: value})
        if before is not None and (before_id := get_checkpoint_id(before)):
            rows = rows.filter(checkpoint_id__lt=before_id)

        # Newest first; the rest of the order makes the keyset cursor exact when
        # ids repeat (across namespaces of a thread, or threads copied).
        if thread_id is not None and checkpoint_ns is not None:
            order = ["checkpoint_id"]
        elif thread_id is not None:
            order = ["checkpoint_id", "checkpoint_ns"]
        else:
            order = ["checkpoint_id", "thread_id", "checkpoint_ns"]
        if cursor is not None:
            # (order...) < cursor, written so that `checkpoint_id <= cursor` is an
            # index range.
            if len(order) == 1:
                rows = rows.filter(checkpoint_id__lt=cursor[0])
            elif len(order) == 2:
                rows = rows.filter(
                    Q(checkpoint_id__lte=cursor[0]),
                    Q(checkpoint_id__lt=cursor[0]) | Q(checkpoint_ns__lt=cursor[1]),
                )
            else:
                rows = rows.filter(
                    Q(checkpoint_id__lte=cursor[0]),
                    Q(checkpoint_id__lt=cursor[0])
                    | Q(thread_id__lt=cursor[1])
                    | Q(thread_id=cursor[1], checkpoint_ns__lt=cursor[2]),
                )
        rows = list(rows.order_by(*(f"-{f}" for f in order)).values_list(*_ROW_FIELDS)[:size])
        if limit is not None:
            limit = int(limit) - len(rows)
        last = None
        if len(rows) == size and (limit is None or limit > 0):
            row = dict(zip(_ROW_FIELDS, rows[-1], strict=True))
            last = tuple(row[f] for f in order)
        return self._tuples(rows), last, limit

    # --- writes ---------------------------------------------------------------

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        rows = self.put_rows(config, checkpoint, metadata, new_versions)
        with self.atomic():
            self.write_put_rows([rows])
        return rows.config

    def put_rows(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> PutRows:
        """What `put` stores, serialized now (`write_put_rows` stores it)."""
        configurable = config["configurable"]
        thread_id = str(configurable["thread_id"])
        checkpoint_ns = configurable.get("checkpoint_ns") or ""
        checkpoint_id = checkpoint["id"]
        values = checkpoint["channel_values"]
        blobs = []
        for channel, version in new_versions.items():
            type_, value = (
                self.serde.dumps_typed(values[channel]) if channel in values else ("empty", None)
            )
            blobs.append(
                {
                    "thread_id": thread_id,
                    "checkpoint_ns": checkpoint_ns,
                    "channel": channel,
                    "version": str(version),
                    "type": type_,
                    "value": value,
                    "checkpoint_id": checkpoint_id,
                }
            )
        metadata = get_serializable_checkpoint_metadata(config, metadata)
        run_id = metadata.get("run_id")
        row = {
            "thread_id": thread_id,
            "checkpoint_ns": checkpoint_ns,
            "checkpoint_id": checkpoint_id,
            "parent_checkpoint_id": configurable.get("checkpoint_id"),
            "run_id": str(run_id) if run_id is not None else None,
            "checkpoint": {k: v for k, v in checkpoint.items() if k != "channel_values"},
            "metadata": metadata,
            "created_at": _timestamp(checkpoint.get("ts")),
        }
        return PutRows(_config(thread_id, checkpoint_ns, checkpoint_id), blobs, row)

    def write_put_rows(self, puts: Sequence[PutRows]) -> None:
        """Store checkpoints (`put_rows`), in the caller's transaction: their
        blobs in one INSERT, then their rows in another."""
        blobs = [blob for put in puts for blob in put.blobs]
        if blobs:
            # A version already stored is the same value (unchanged channel).
            self._insert(CheckpointBlob, blobs)
        if puts:
            # A checkpoint stored twice is its last version (one statement
            # cannot update the same row twice).
            rows = {tuple(put.row[k] for k in _CHECKPOINT_KEY): put.row for put in puts}
            self._insert(
                CheckpointRow,
                list(rows.values()),
                unique_fields=_CHECKPOINT_KEY,
                update_fields=["checkpoint", "metadata", "run_id", "created_at"],
            )

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        if not writes:
            return
        configurable = config["configurable"]
        run_id = (config.get("metadata") or {}).get("run_id") or configurable.get("run_id")
        rows = []
        for idx, (channel, value) in enumerate(writes):
            type_, data = self.serde.dumps_typed(value)
            rows.append(
                {
                    "thread_id": str(configurable["thread_id"]),
                    "checkpoint_ns": configurable.get("checkpoint_ns") or "",
                    "checkpoint_id": configurable["checkpoint_id"],
                    "task_id": task_id,
                    "task_path": task_path,
                    "idx": WRITES_IDX_MAP.get(channel, idx),
                    "channel": channel,
                    "type": type_,
                    "value": data,
                    "run_id": str(run_id) if run_id is not None else None,
                }
            )
        with self.atomic():
            if all(channel in WRITES_IDX_MAP for channel, _ in writes):
                # Special writes (error, interrupt, resume...): the latest wins.
                self._insert(
                    CheckpointWrite,
                    rows,
                    unique_fields=_WRITE_KEY,
                    update_fields=["task_path", "channel", "type", "value", "run_id"],
                )
            else:
                # A task's writes are stored once (a retried step repeats them).
                self._insert(CheckpointWrite, rows)

    def delete_thread(self, thread_id: str) -> None:
        thread_id = str(thread_id)
        with self.atomic():
            for queryset in (self._checkpoints(), self._writes(), self._blobs()):
                queryset.filter(thread_id=thread_id).delete()

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        """Delete the runs' checkpoints (with their writes), the writes the runs
        stored on other checkpoints, and the blobs no remaining checkpoint
        names. A later checkpoint whose parent is deleted keeps its
        `parent_checkpoint_id` (it records where it came from)."""
        if isinstance(run_ids, str):
            raise TypeError("run_ids must be a sequence of run IDs, not a str")
        run_ids = sorted({str(r) for r in run_ids})
        if not run_ids:
            return
        # Statements built once (chatapp.platform.prepared): a rollback is a
        # double-text, and the ORM's building of these five was most of it.
        with self.atomic():
            delete(CheckpointWrite, {"run_id": run_ids}, using=self.using)
            deleted: dict[tuple[str, str], dict[str, dict]] = defaultdict(dict)
            for row in select(
                CheckpointRow, {"run_id": run_ids}, defer=_NOT_NAMING, using=self.using
            ):
                deleted[(row.thread_id, row.checkpoint_ns)][row.checkpoint_id] = row.checkpoint
            delete(CheckpointRow, {"run_id": run_ids}, using=self.using)
            for (t, ns), checkpoints in deleted.items():
                delete(
                    CheckpointWrite,
                    {"thread_id": t, "checkpoint_ns": ns, "checkpoint_id": list(checkpoints)},
                    using=self.using,
                )
                self._delete_unnamed_blobs(t, ns, checkpoints)

    def _delete_unnamed_blobs(self, thread_id: str, ns: str, deleted: dict[str, dict]) -> None:
        """Delete the blobs that the `deleted` checkpoints (id -> stored
        checkpoint) named and no remaining checkpoint of (thread, ns) names.
        (Prepared statements, as `delete_for_runs`': this was most of a
        rollback's Python when the ORM built them.)"""
        names = set().union(*(_names(cp) for cp in deleted.values()))
        if not names:
            return
        thread = {"thread_id": thread_id, "checkpoint_ns": ns}
        blobs = select(
            CheckpointBlob,
            {
                **thread,
                "channel": sorted({ch for ch, _ in names}),
                "version": sorted({v for _, v in names}),
            },
            defer=("type", "value"),
            using=self.using,
        )
        candidates = {
            (b.channel, b.version): (b.pk, b.checkpoint_id)
            for b in blobs
            if (b.channel, b.version) in names
        }
        # A blob's first checkpoint names it: if that one remains, it is in use.
        creators = {created_by for _, created_by in candidates.values()} - set(deleted)
        if creators:
            remaining = {
                row.checkpoint_id
                for row in select(
                    CheckpointRow,
                    {**thread, "checkpoint_id": sorted(creators)},
                    defer=_ALL_BUT_CHECKPOINT_ID,
                    using=self.using,
                )
            }
            candidates = {k: c for k, c in candidates.items() if c[1] not in remaining}
        if not candidates:
            return
        # Otherwise only checkpoints from its first one on can name it.
        since = min(created_by for _, created_by in candidates.values())
        for row in select(
            CheckpointRow,
            {**thread, "checkpoint_id__gte": since},
            defer=_ALL_BUT_CHECKPOINT,
            using=self.using,
        ):
            for name in _names(row.checkpoint):
                candidates.pop(name, None)
        if candidates:
            unnamed = sorted(pk for pk, _ in candidates.values())
            delete(CheckpointBlob, {"pk": unnamed}, using=self.using)

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Copy every checkpoint, write and blob of a thread to another (rows
        the target already has are kept). The copies have no `run_id`: a run's
        rollback deletes what it wrote on its own thread only."""
        source, target = str(source_thread_id), str(target_thread_id)
        with self.atomic(), connections[self.using].cursor() as cursor:
            for model in (CheckpointRow, CheckpointBlob, CheckpointWrite):
                cursor.execute(*self._copy_sql(model, source, target))

    def _copy_sql(self, model, source: str, target: str) -> tuple[str, list[str]]:
        qn = connections[self.using].ops.quote_name
        table = qn(model._meta.db_table)
        columns = [f.column for f in model._meta.concrete_fields if not f.primary_key]
        selected = [
            "%s" if c == "thread_id" else "NULL" if c == "run_id" else qn(c) for c in columns
        ]
        sql = (
            f"INSERT INTO {table} ({', '.join(qn(c) for c in columns)}) "
            f"SELECT {', '.join(selected)} FROM {table} WHERE {qn('thread_id')} = %s "
            "ON CONFLICT DO NOTHING"
        )
        return sql, [target, source]

    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        """Prune threads, in one transaction.

        `"delete"` deletes every checkpoint, write and blob of the threads.

        `"keep_latest"` keeps the latest checkpoint of each namespace, with its
        pending writes and the blobs it names, and deletes the older ones (the
        kept checkpoint's parent link is cleared). A subgraph call's namespace
        (its name has a ":" task id) goes entirely when the root checkpoint it
        was called from is saved and is not the root's latest: that call is
        over. Checkpoints newer than the latest seen (a run writing meanwhile)
        are not touched. A thread whose latest checkpoint still rebuilds a
        DeltaChannel from older ones is refused (NotImplementedError), and then
        nothing is pruned.
        """
        thread_ids = _thread_ids(thread_ids)
        if strategy not in PRUNE_STRATEGIES:
            raise ValueError(f"Unknown prune strategy: {strategy!r}")
        if not thread_ids:
            return
        with self.atomic():
            if strategy == "delete":
                for queryset in (self._checkpoints(), self._writes(), self._blobs()):
                    queryset.filter(**_in("thread_id", thread_ids)).delete()
                return
            heads = {
                (h["thread_id"], h["checkpoint_ns"]): h["head"]
                for h in self._checkpoints()
                .filter(**_in("thread_id", thread_ids))
                .values("thread_id", "checkpoint_ns")
                .annotate(head=Max("checkpoint_id"))
                .order_by()
            }
            if not heads:
                return
            stored = {
                (t, ns, cid): (cp, md)
                for t, ns, cid, cp, md in self._checkpoints()
                .filter(
                    **_in("thread_id", (k[0] for k in heads)),
                    **_in("checkpoint_ns", (k[1] for k in heads)),
                    **_in("checkpoint_id", heads.values()),
                )
                .values_list(*_ROW_FIELDS[:3], "checkpoint", "metadata")
            }
            head_rows = {key: stored[(*key, head)] for key, head in heads.items()}
            delta = {t for (t, _), (_, md) in head_rows.items() if DELTA_METADATA_KEYS & md.keys()}
            if delta:
                raise NotImplementedError(
                    "keep_latest can't prune threads that use a DeltaChannel: "
                    + ", ".join(sorted(delta))
                )
            calls = self._finished_calls(heads, head_rows)
            for (t, ns), head in heads.items():
                if (t, ns) in calls:
                    for queryset in (self._checkpoints(), self._writes(), self._blobs()):
                        queryset.filter(thread_id=t, checkpoint_ns=ns).delete()
                    continue
                older = {"thread_id": t, "checkpoint_ns": ns, "checkpoint_id__lt": head}
                self._checkpoints().filter(**older).delete()
                self._writes().filter(**older).delete()
                kept = _names(head_rows[(t, ns)][0])
                unnamed = self._blobs().filter(**older)
                if kept:
                    named = reduce(or_, (Q(channel=c, version=v) for c, v in kept))
                    unnamed = unnamed.exclude(named)
                unnamed.delete()
                # Its parent is older, so deleted.
                self._checkpoints().filter(
                    thread_id=t,
                    checkpoint_ns=ns,
                    checkpoint_id=head,
                    parent_checkpoint_id__isnull=False,
                ).update(parent_checkpoint_id=None)

    def _finished_calls(
        self, heads: dict[tuple[str, str], str], head_rows: dict[tuple[str, str], tuple]
    ) -> set[tuple[str, str]]:
        """The subgraph-call namespaces whose root checkpoint is saved and is not
        the root's latest: calls made by steps that are over."""
        started = {
            (t, ns): (md.get("parents") or {}).get("")
            for (t, ns), (_, md) in head_rows.items()
            if ":" in ns
        }
        started = {k: root for k, root in started.items() if root and root != heads.get((k[0], ""))}
        if not started:
            return set()
        saved = set(
            self._checkpoints()
            .filter(
                **_in("thread_id", (t for t, _ in started)),
                checkpoint_ns="",
                **_in("checkpoint_id", started.values()),
            )
            .values_list("thread_id", "checkpoint_id")
        )
        return {(t, ns) for (t, ns), root in started.items() if (t, root) in saved}

    def get_next_version(self, current: str | int | float | None, channel: None = None) -> str:
        """ "<counter, 32 digits>.<random>": increasing as strings too; the random
        part tells apart the versions two branches of a thread make."""
        if current is None:
            counter = 0
        elif isinstance(current, int | float):
            counter = int(current)
        else:
            counter = int(str(current).split(".")[0])
        return f"{counter + 1:032}.{random.random():016}"

    # --- async: the sync methods, through run_sync ----------------------------

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return await self.run_sync(self.get_tuple, config)

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        cursor = None
        while True:
            page, cursor, limit = await self.run_sync(
                self.list_page, config, filter, before, limit, cursor
            )
            for item in page:
                yield item
            if cursor is None:
                return

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        return await self.run_sync(self.put, config, checkpoint, metadata, new_versions)

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        return await self.run_sync(self.put_writes, config, writes, task_id, task_path)

    async def adelete_thread(self, thread_id: str) -> None:
        return await self.run_sync(self.delete_thread, thread_id)

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        return await self.run_sync(self.delete_for_runs, run_ids)

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        return await self.run_sync(self.copy_thread, source_thread_id, target_thread_id)

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        return await self.run_sync(self.prune, thread_ids, strategy=strategy)

    async def aget_delta_channel_history(
        self, *, config: RunnableConfig, channels: Sequence[str]
    ) -> Any:
        # The walk up the parents, in one thread hop instead of one per parent.
        return await self.run_sync(self.get_delta_channel_history, config=config, channels=channels)


__all__ = ["DjangoCheckpointSaver", "default_run_sync"]
