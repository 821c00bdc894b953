"""`DjangoStore`: LangGraph's long-term memory store on the Django ORM, for one user.

A LangGraph store (`langgraph.store.base.BaseStore`) is what a graph's nodes
reach with `get_store()`, a `store` parameter or `runtime.store`: items (JSON
objects) under a namespace (a tuple of labels) and a key, shared by every
thread. Doubletext keeps them in its database (`store.models.Item`) and, as
it does for threads, gives each user their own: a `DjangoStore` reads and
writes the items of ONE owner. The server runs a graph with its thread
owner's store::

    graph = graph.copy(update={"store": DjangoStore(thread.owner_id, run_sync=db.run,
                                                    close_connections=False)})

and the `/store` API (`store.api`) serves `request.user`'s. Two users may use
the same namespace and key; neither ever sees the other's item.

What it supports, as LangGraph's InMemoryStore and PostgreSQL store define it:

- `GetOp`: the item or None.
- `PutOp`: insert or replace the whole value (`created_at` is kept,
  `updated_at` set, as the PostgreSQL store does); `value=None` deletes.
  `ttl` (minutes, LangGraph's unit): the item expires that long after its
  last write or read; `ttl=None` never. `index` is ignored: Doubletext has no
  vector index, and LangGraph says a store without one ignores `index`.
- `SearchOp`: the items under a namespace prefix (all of them for `()`),
  newest `updated_at` first (then namespace, key), matching `filter`
  (`store.filters`: exact values and `$eq $ne $gt $gte $lt $lte`), paged by
  `limit`/`offset`. A `query` (semantic search) is refused with ValueError:
  there are no embeddings to rank by, and answering in another order would
  pass for a ranking.
- `ListNamespacesOp`: the namespaces that have items, as tuples sorted like
  tuples, matching prefix/suffix conditions (a `*` label matches any one
  label), truncated to `max_depth` and deduplicated, then paged.
- TTL: `supports_ttl` is True. Expired items are invisible to every read at
  once; a batch that writes first deletes its owner's expired items (so a put
  over one starts a new item), and `sweep_expired()` (the `sweep_store`
  command) deletes everyone's. A get or search with `refresh_ttl` (the
  default, or `TTLConfig.refresh_on_read`) renews the TTL of what it returns.
  `DjangoStore(..., ttl={"default_ttl": 60})` gives puts a default TTL.

A batch runs its reads first, then its writes (the puts deduplicated, the
last one of a key winning), as LangGraph's PostgreSQL store does: a get in
the same batch as a put of its key sees the value from before the batch. The
writes (and TTL renewals) are one transaction (`atomic(savepoint=False)`: it
joins a caller's); reads outside one take no lock (SQLite's writers queue on
BEGIN IMMEDIATE, so a read-only batch must not begin one).

Refused with InvalidNamespaceError / ValueError before anything is written: a
label that is empty, not a string, or contains "." (the stored namespace is
the labels joined with "."), a put into the empty namespace or under the root
"langgraph" (both refused by LangGraph's own `put`), a key that is not a
string, a value that is not a mapping of JSON (numbers finite), text the
databases cannot store (NUL, unpaired surrogates), a negative or oversized
TTL, a negative limit or offset, a `max_depth` below 1.

Async and connections are as in `checkpoints.saver.DjangoCheckpointSaver`:
`abatch` awaits `run_sync(self.batch, ops)` (default asgiref's
`sync_to_async(thread_sensitive=True)`; the server passes its database
threads), and a call that opened its thread's connection outside a
transaction closes it again unless `close_connections=False` (LangGraph runs
sync nodes on threads of its own, which no request cycle cleans up).

Databases: SQLite and PostgreSQL (search filters are written for each; see
`store.filters`).
"""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from functools import reduce
from operator import or_
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connections, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from langgraph.store.base import (
    BaseStore,
    GetOp,
    InvalidNamespaceError,
    Item,
    ListNamespacesOp,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
    TTLConfig,
    validate_op_namespace,
)

from checkpoints.saver import RunSync, default_run_sync
from runs.services.payloads import check_text
from store.filters import ValueMatches, check_filter
from store.models import Item as ItemRow

_ROW = ("id", "namespace", "key", "value", "created_at", "updated_at", "ttl_minutes")
_REFUSED_ROOT = "langgraph"
# The longest TTL, in minutes (100 years): a datetime must hold now + ttl.
MAX_TTL_MINUTES = 100 * 365 * 24 * 60
# The longest namespace (joined) and key an item may have, in UTF-8 bytes:
# both are in the unique index, whose entries PostgreSQL caps at 2704 bytes.
MAX_NAMESPACE_BYTES = 1024
MAX_KEY_BYTES = 1024


def namespace_text(namespace: tuple[str, ...]) -> str:
    return ".".join(namespace)


def namespace_labels(text: str) -> tuple[str, ...]:
    return tuple(text.split("."))


def ttl_delta(ttl: Any) -> timedelta:
    """A TTL in minutes as a timedelta, or ValueError."""
    if isinstance(ttl, bool) or not isinstance(ttl, int | float):
        raise ValueError(f"ttl must be a number of minutes, not {ttl!r}")
    if not math.isfinite(ttl) or not 0 <= ttl <= MAX_TTL_MINUTES:
        raise ValueError(f"ttl must be from 0 to {MAX_TTL_MINUTES} minutes, not {ttl!r}")
    return timedelta(minutes=ttl)


def json_value(value: Any, where: str) -> dict:
    """A put's value as the JSON object that will be stored (tuples become
    lists, datetimes strings), or ValueError."""
    if not isinstance(value, Mapping):
        raise ValueError(f"{where}: the value must be a mapping, not {type(value).__name__}")
    try:
        data = json.loads(json.dumps(dict(value), cls=DjangoJSONEncoder, allow_nan=False))
    except (TypeError, ValueError) as error:
        raise ValueError(f"{where}: the value is not JSON ({error})") from None
    stack = [(data, where)]
    while stack:
        item, place = stack.pop()
        if isinstance(item, str):
            check_text(item, place)
        elif isinstance(item, dict):
            for k, v in item.items():
                check_text(k, place)
                stack.append((v, f"{place}.{k}"))
        elif isinstance(item, list):
            stack.extend((v, f"{place}[{i}]") for i, v in enumerate(item))
    return data


def check_sizes(namespace: tuple[str, ...], key: str) -> None:
    """ValueError if an item's namespace or key is too long to be indexed."""
    if len(namespace_text(namespace).encode()) > MAX_NAMESPACE_BYTES:
        raise ValueError(f"namespace: longer than {MAX_NAMESPACE_BYTES} bytes (UTF-8, joined)")
    if len(key.encode()) > MAX_KEY_BYTES:
        raise ValueError(f"key: longer than {MAX_KEY_BYTES} bytes (UTF-8)")


def _check_labels(namespace: tuple[str, ...], where: str) -> None:
    for label in namespace:
        check_text(label, where)


def check_op(op: Op) -> None:
    """Raise InvalidNamespaceError or ValueError for an op the store refuses."""
    if not isinstance(op, GetOp | PutOp | SearchOp | ListNamespacesOp):
        raise ValueError(f"Unknown operation type: {type(op).__name__}")
    validate_op_namespace(op)  # labels: strings, not empty, no "." or NUL
    if isinstance(op, GetOp | PutOp):
        _check_labels(op.namespace, "namespace")
        if not isinstance(op.key, str):
            raise ValueError(f"key must be a string, not {type(op.key).__name__}")
        check_text(op.key, "key")
    if isinstance(op, PutOp) and op.value is not None:
        if not op.namespace:
            raise InvalidNamespaceError("Namespace cannot be empty.")
        if op.namespace[0] == _REFUSED_ROOT:
            raise InvalidNamespaceError(
                f'Root label for namespace cannot be "langgraph". Got: {op.namespace}'
            )
        check_sizes(op.namespace, op.key)
        if op.ttl is not None:
            ttl_delta(op.ttl)
        json_value(op.value, "value")
    elif isinstance(op, SearchOp):
        if op.query is not None:
            raise ValueError(
                "Semantic search (query) is not supported: Doubletext's store has no vector "
                "index. Search by namespace_prefix and filter instead."
            )
        _check_labels(op.namespace_prefix, "namespace_prefix")
        _check_page(op.limit, op.offset)
        if op.filter is not None:
            check_filter(op.filter)
    elif isinstance(op, ListNamespacesOp):
        _check_page(op.limit, op.offset)
        if op.max_depth is not None and (
            isinstance(op.max_depth, bool) or not isinstance(op.max_depth, int) or op.max_depth < 1
        ):
            raise ValueError(f"max_depth must be a positive integer, not {op.max_depth!r}")
        for condition in op.match_conditions or ():
            if condition.match_type not in ("prefix", "suffix"):
                raise ValueError(f"Unsupported match type: {condition.match_type!r}")
            _check_labels(condition.path, condition.match_type)


def _check_page(limit: Any, offset: Any) -> None:
    for name, number in (("limit", limit), ("offset", offset)):
        if isinstance(number, bool) or not isinstance(number, int) or number < 0:
            raise ValueError(f"{name} must be an integer, 0 or more, not {number!r}")


def sweep_expired(using: str = "default") -> int:
    """Delete every owner's expired items; the number deleted."""
    expired = ItemRow.objects.using(using).filter(expires_at__lte=timezone.now())
    return expired.delete()[0]


class DjangoStore(BaseStore):
    """LangGraph store of one user's items (`store.models.Item`).

    Args:
        owner_id: the primary key of the user whose items these are.
        run_sync: awaited as `run_sync(func, *args)` by `abatch` to run
            `batch` on a thread that may use the database; default
            `sync_to_async(func, thread_sensitive=True)`.
        ttl: LangGraph's TTLConfig: `default_ttl` (minutes) for puts that
            give none, `refresh_on_read` (default True). No background
            sweeper (`sweep_interval_minutes` is ignored): see the module.
        using: the Django database alias.
        close_connections: close the connection a call opened (see
            `connection_scope`); a caller whose threads keep their
            connections passes False.
    """

    supports_ttl = True

    def __init__(
        self,
        owner_id: Any,
        *,
        run_sync: RunSync | None = None,
        ttl: TTLConfig | None = None,
        using: str = "default",
        close_connections: bool = True,
    ) -> None:
        if owner_id is None:
            raise TypeError("a store belongs to a user: owner_id is required")
        self.owner_id = owner_id
        self.run_sync = run_sync or default_run_sync
        self.ttl_config = ttl
        self.using = using
        self.close_connections = close_connections

    def __repr__(self) -> str:
        return f"DjangoStore(owner_id={self.owner_id!r})"

    # --- helpers --------------------------------------------------------------

    @contextmanager
    def connection_scope(self):
        """With `close_connections`, a call that opened its thread's
        connection, outside any transaction, closes it again."""
        connection = connections[self.using]
        opened = self.close_connections and connection.connection is None
        try:
            yield
        finally:
            if opened and not connection.in_atomic_block:
                connection.close()

    def _rows(self) -> QuerySet:
        return ItemRow.objects.using(self.using).filter(owner_id=self.owner_id)

    def _alive(self, now: datetime) -> QuerySet:
        return self._rows().filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))

    def _under(self, namespace: tuple[str, ...]) -> Q:
        """The namespace and those below it: an index range."""
        text = namespace_text(namespace)
        if connections[self.using].vendor == "postgresql":
            # LIKE 'text.%' (Django escapes % and _), on the text_pattern_ops index.
            return Q(namespace=text) | Q(namespace__startswith=text + ".")
        # Elsewhere (SQLite: binary collation, and a LIKE that ignores case):
        # the strings starting with "text." sort from "text." to "text/".
        return Q(namespace=text) | Q(namespace__gte=text + ".", namespace__lt=text + "/")

    def _matching(self, match_type: str, path: tuple[str, ...]) -> Q:
        """A prefix or suffix condition of ListNamespacesOp: a regular
        expression over the joined labels (`*`: one label of any text), the
        same in PostgreSQL and in Python (Django's REGEXP on SQLite); a
        prefix's labels before its first `*` also narrow it to an index range."""
        if not path:
            return Q()
        labels = r"\.".join(r"[^.]+" if label == "*" else re.escape(label) for label in path)
        if match_type == "suffix":
            return Q(namespace__regex=rf"(\A|\.){labels}\Z")
        condition = Q(namespace__regex=rf"\A{labels}(\.|\Z)")
        head = []
        for label in path:
            if label == "*":
                break
            head.append(label)
        return condition & self._under(tuple(head)) if head else condition

    @staticmethod
    def _item(row: tuple, cls=Item):
        _, namespace, key, value, created_at, updated_at, _ = row
        return cls(
            namespace=namespace_labels(namespace),
            key=key,
            value=value,
            created_at=created_at,
            updated_at=updated_at,
        )

    # --- batch ----------------------------------------------------------------

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        ops = list(ops)
        for op in ops:
            check_op(op)
        now = timezone.now()
        results: list[Result] = [None] * len(ops)
        renew: list[tuple] = []  # rows read with refresh_ttl that have a TTL
        puts: dict[tuple[tuple[str, ...], str], PutOp] = {}
        with self.connection_scope():
            gets = [(i, op) for i, op in enumerate(ops) if isinstance(op, GetOp)]
            if gets:
                self._get(gets, now, results, renew)
            for i, op in enumerate(ops):
                if isinstance(op, SearchOp):
                    results[i] = self._search(op, now, renew)
                elif isinstance(op, ListNamespacesOp):
                    results[i] = self._list_namespaces(op, now)
                elif isinstance(op, PutOp):
                    puts[(op.namespace, op.key)] = op
            if renew or puts:
                with transaction.atomic(using=self.using, savepoint=False):
                    if renew:
                        self._renew(renew, now)
                    if puts:
                        self._put(list(puts.values()), now)
        return results

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        return await self.run_sync(self.batch, list(ops))

    def _get(self, gets: list[tuple[int, GetOp]], now: datetime, results: list, renew: list):
        keys: dict[str, set[str]] = defaultdict(set)
        for _, op in gets:
            keys[namespace_text(op.namespace)].add(op.key)
        wanted = reduce(or_, (Q(namespace=ns, key__in=sorted(ks)) for ns, ks in keys.items()))
        found = {
            (row[1], row[2]): row for row in self._alive(now).filter(wanted).values_list(*_ROW)
        }
        for i, op in gets:
            row = found.get((namespace_text(op.namespace), op.key))
            if row is not None:
                results[i] = self._item(row)
                if op.refresh_ttl and row[-1] is not None:
                    renew.append(row)

    def _search(self, op: SearchOp, now: datetime, renew: list) -> list[SearchItem]:
        if op.limit == 0:
            return []
        rows = self._alive(now)
        if op.namespace_prefix:
            rows = rows.filter(self._under(op.namespace_prefix))
        if op.filter:
            rows = rows.filter(ValueMatches(op.filter))
        page = rows.order_by("-updated_at", "namespace", "key").values_list(*_ROW)
        found = list(page[op.offset : op.offset + op.limit])
        if op.refresh_ttl:
            renew.extend(row for row in found if row[-1] is not None)
        return [self._item(row, SearchItem) for row in found]

    def _list_namespaces(self, op: ListNamespacesOp, now: datetime) -> list[tuple[str, ...]]:
        rows = self._alive(now)
        for condition in op.match_conditions or ():
            rows = rows.filter(self._matching(condition.match_type, tuple(condition.path)))
        names = {
            namespace_labels(text)
            for text in rows.order_by().values_list("namespace", flat=True).distinct()
        }
        if op.max_depth is not None:
            names = {labels[: op.max_depth] for labels in names}
        # Sorted as tuples (("a", "b") before ("a-c",)), which the joined text is not.
        return sorted(names)[op.offset : op.offset + op.limit]

    def _renew(self, rows: list[tuple], now: datetime) -> None:
        """expires_at = now + ttl for the rows read, if still alive with that TTL."""
        by_ttl: dict[float, set[int]] = defaultdict(set)
        for row in rows:
            by_ttl[row[-1]].add(row[0])
        for ttl, ids in by_ttl.items():
            self._alive(now).filter(pk__in=sorted(ids), ttl_minutes=ttl).update(
                expires_at=now + ttl_delta(ttl)
            )

    def _put(self, puts: list[PutOp], now: datetime) -> None:
        rows = self._rows()
        # Expired items go first: a put over one starts a new item.
        rows.filter(expires_at__lte=now).delete()
        deletes: dict[str, set[str]] = defaultdict(set)
        for op in puts:
            if op.value is None:
                deletes[namespace_text(op.namespace)].add(op.key)
        if deletes:
            gone = reduce(or_, (Q(namespace=ns, key__in=sorted(ks)) for ns, ks in deletes.items()))
            rows.filter(gone).delete()
        items = [
            ItemRow(
                owner_id=self.owner_id,
                namespace=namespace_text(op.namespace),
                key=op.key,
                value=json_value(op.value, "value"),
                created_at=now,
                updated_at=now,
                expires_at=None if op.ttl is None else now + ttl_delta(op.ttl),
                ttl_minutes=None if op.ttl is None else float(op.ttl),
            )
            for op in puts
            if op.value is not None
        ]
        if items:
            ItemRow.objects.using(self.using).bulk_create(
                items,
                update_conflicts=True,
                unique_fields=["owner", "namespace", "key"],
                update_fields=["value", "updated_at", "expires_at", "ttl_minutes"],
            )


__all__ = ["DjangoStore", "sweep_expired"]
