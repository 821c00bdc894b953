"""Reads, inserts, updates and deletes by key, their SQL built once.

The ORM spends ~0.3-0.5 ms of Python building and compiling each statement
(the queryset's clone, its WHERE tree, the compiler's select), more than
SQLite takes to run it. The statements every run and every double-text
repeats are a handful of shapes: a row by its key, locked or not; a
thread's runs in some statuses, in order; a new run; the update of a few
fields; a rollback's deletes. Here the text of each shape is built once per
database vendor from the model's table and column names; only the
parameters change. Values go in through each field's `get_db_prep_value`
and come out through the converters the ORM would apply (the backend's and
the field's: JSON decoded, datetimes made aware, UUIDs on SQLite), and rows
become instances through `Model.from_db`, as the ORM's own iterable does:
an instance read here is one the ORM would have read.

Relied-on Django internals: `Field.get_col(alias)` and the converters
(`connection.ops.get_db_converters`, `Expression.get_db_converters`), as
`SQLCompiler.get_converters` uses them; `Field.pre_save` and
`get_db_prep_save`, as the insert and update compilers use them (but for a
str or None of a plain text column, which it gives back as it is: `db_value`).
tests/integration/platform/test_prepared.py checks each read, insert,
update and delete here against the ORM's.
"""

import functools
from collections.abc import Callable

from django.db import DEFAULT_DB_ALIAS, connections, models

from chatapp.platform.pipeline import sent

# Converters are bound to a connection's `ops`: kept on the connection (each
# thread has its own), so they go with it. (A WeakKeyDictionary by connection
# made a weak reference per lookup, a seventh of a read's Python, and kept
# every connection alive: its converters refer to it.)
_CONVERTERS = "_prepared_row_converters"


@functools.lru_cache(maxsize=256)
def _select_sql(
    vendor: str,
    model,
    where: tuple[tuple[str, int | None], ...],
    defer: tuple[str, ...],
    order_by: tuple[str, ...],
    limit: int | None,
    lock: bool,
) -> tuple[str, tuple, tuple]:
    """(sql, the fields read, the fields of the WHERE) of `select`. `where`:
    (field name, how many values for IN, or None for =)."""
    connection = connections[DEFAULT_DB_ALIAS]  # the statement is the same on all of a vendor's
    meta, quote = model._meta, connection.ops.quote_name
    read = tuple(f for f in meta.concrete_fields if f.name not in defer)
    keys, conditions = _where_sql(model, where, quote)
    sql = f"SELECT {', '.join(quote(f.column) for f in read)} FROM {quote(meta.db_table)}"
    sql += " WHERE " + conditions
    if order_by:
        sql += " ORDER BY " + ", ".join(
            quote(meta.get_field(name.lstrip("-")).column) + (" DESC" if name[0] == "-" else "")
            for name in order_by
        )
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    if lock and connection.features.has_select_for_update:
        sql += " FOR UPDATE"
    return sql, read, keys


# A `where` key ending in one of these compares its field with one value.
_COMPARISONS = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


def _where_sql(model, where: tuple, quote) -> tuple[tuple, str]:
    """(the fields compared, the WHERE's conditions) of a `where` shape."""
    keys, conditions = [], []
    for key, n in where:
        name, operator = _lookup(key)
        condition, field = _condition(model, name, quote)
        keys.append(field)
        if n is None:
            conditions.append(condition % f"{operator} %s")
        elif operator == "=":
            conditions.append(condition % f"IN ({', '.join(['%s'] * n)})")
        else:
            raise TypeError(f"{key!r} compares with one value, not a list")
    return tuple(keys), " AND ".join(conditions)


def _lookup(key: str) -> tuple[str, str]:
    """(field name, SQL operator) of a `where` key: "name" is `=`,
    "name__gte" `>=` (and gt, lt, lte)."""
    name, _, lookup = key.rpartition("__")
    if name and lookup in _COMPARISONS:
        return name, _COMPARISONS[lookup]
    return key, "="


def _condition(model, name: str, quote) -> tuple[str, object]:
    """(condition with a `%s` for its operator, the field whose values it
    compares) of a `where` field: a field, "pk", or "fk__field", a field of the
    row a foreign key points to (a subquery on its key: `"thread__owner"` is
    `thread_id IN (SELECT id FROM thread WHERE owner_id = ...)`, the
    ownership check in the one query)."""
    meta = model._meta
    if "__" in name:
        via, rest = name.split("__", 1)
        fk = meta.get_field(via)
        related = fk.related_model._meta
        target = related.pk if rest == "pk" else related.get_field(rest)
        return (
            f"{quote(fk.column)} IN (SELECT {quote(related.pk.column)}"
            f" FROM {quote(related.db_table)} WHERE {quote(target.column)} %s)",
            target,
        )
    field = meta.pk if name == "pk" else meta.get_field(name)
    return f"{quote(field.column)} %s", field


# Columns whose `get_db_prep_save` gives a str or None back as it is (to_python
# of a str): exactly these classes, not their subclasses.
_AS_IS_FIELDS = (models.CharField, models.TextField)


def db_value(field, value, connection):
    """`field.get_db_prep_save(value, connection)`: what an INSERT or UPDATE
    sends. A str or None of a plain text column is that value, without the
    four calls it takes (a dozen columns per row a run writes, a hundred per
    run; tests/integration/platform/test_prepared.py checks every model's)."""
    return value if _as_is(field, value) else field.get_db_prep_save(value, connection)


def _as_is(field, value) -> bool:
    """A value its column's `get_db_prep_save` and `get_db_prep_value` give back."""
    return (value is None or type(value) is str) and type(field) in _AS_IS_FIELDS


def _row_converters(connection, model, read: tuple) -> list:
    """[(position, [converter], col)] of the fields read, for this connection."""
    kept = connection.__dict__.get(_CONVERTERS)
    if kept is None:
        kept = connection.__dict__[_CONVERTERS] = {}
    key = (model, read)
    if key not in kept:
        found = []
        for position, field in enumerate(read):
            col = field.get_col(model._meta.db_table)
            funcs = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
            if funcs:
                found.append((position, funcs, col))
        kept[key] = found
    return kept[key]


def select(model, where: dict, **options) -> list:
    """The rows of `select_later` (its options), read now."""
    return select_later(model, where, **options)()


def select_later(
    model,
    where: dict,
    *,
    defer=(),
    order_by=(),
    limit=None,
    lock: bool = False,
    raw=(),
    using: str = DEFAULT_DB_ALIAS,
) -> Callable[[], list]:
    """`model.objects.filter(**where).defer(*defer).order_by(*order_by)
    [:limit]` (`.select_for_update()` with `lock`), without the ORM's
    building: each field of `where` equals its value ("pk" for the primary
    key; a foreign key by its name, compared with the related row's key), or
    is one of them when it is a tuple or a list; "field__gte" (gt, lt, lte)
    compares it with one value. `lock` (FOR UPDATE where the
    database locks rows) needs a transaction. `raw`: names of fields left as
    the database sends them (a JSON column's text, to be sent as it is).
    `using`: the database alias. An empty list in `where` matches nothing.

    The statement is sent now, its rows read when the function returned is
    called. Inside `pipelined()` (chatapp/platform/pipeline.py) statements
    sent before the first read share its round trip: e.g. a row's lock and
    a read that must come after it. Elsewhere the statement runs now."""
    if any(isinstance(v, tuple | list) and not v for v in where.values()):
        return list
    connection = connections[using]
    if lock and not connection.in_atomic_block:
        raise RuntimeError("a locking select outside a transaction")
    sql, read, keys = _select_sql(
        connection.vendor, model, _shape(where), tuple(defer), tuple(order_by), limit, lock
    )
    rows = sent(sql, _where_params(connection, keys, where), using=using)
    return lambda: _instances(connection, model, read, raw, rows())


def _instances(connection, model, read: tuple, raw, rows) -> list:
    converters = _row_converters(connection, model, read)
    if raw:
        converters = [c for c in converters if read[c[0]].name not in raw]
    names = [f.attname for f in read]
    found = []
    for row in rows:
        values = list(row)
        for position, funcs, col in converters:
            for convert in funcs:
                values[position] = convert(values[position], col, connection)
        found.append(model.from_db(connection.alias, names, values))
    return found


def _shape(where: dict) -> tuple:
    return tuple(
        (name, len(value) if isinstance(value, tuple | list) else None)
        for name, value in where.items()
    )


def _where_params(connection, keys, where: dict) -> list:
    params = []
    for field, value in zip(keys, where.values(), strict=True):
        for v in value if isinstance(value, tuple | list) else (value,):
            params.append(v if _as_is(field, v) else field.get_db_prep_value(v, connection))
    return params


def select_one(
    model,
    where: dict,
    *,
    defer=(),
    order_by=(),
    lock: bool = False,
    raw=(),
    using=DEFAULT_DB_ALIAS,
):
    """The first row `select` finds (LIMIT 1), or None."""
    rows = select(
        model, where, defer=defer, order_by=order_by, limit=1, lock=lock, raw=raw, using=using
    )
    return rows[0] if rows else None


@functools.lru_cache(maxsize=256)
def _update_sql(vendor: str, model, fields: tuple[str, ...]) -> tuple[str, tuple]:
    meta, quote = model._meta, connections[DEFAULT_DB_ALIAS].ops.quote_name
    targets = tuple(meta.get_field(name) for name in fields)
    assignments = ", ".join(f"{quote(f.column)} = %s" for f in targets)
    sql = f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(meta.pk.column)} = %s"
    return sql, targets


def update_fields(instance, fields, *, using: str = DEFAULT_DB_ALIAS) -> None:
    """`instance.save(update_fields=fields)` without the ORM's compiling of
    the UPDATE, and without what `save` adds: no signals, no `auto_now`
    (the caller sets `updated_at`)."""
    connection = connections[using]
    sql, targets = _update_sql(connection.vendor, type(instance), tuple(fields))
    params = [db_value(f, getattr(instance, f.attname), connection) for f in targets]
    params.append(instance._meta.pk.get_db_prep_value(instance.pk, connection))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


@functools.lru_cache(maxsize=64)
def _insert_sql(vendor: str, model) -> tuple[str, tuple]:
    meta, quote = model._meta, connections[DEFAULT_DB_ALIAS].ops.quote_name
    fields = tuple(meta.concrete_fields)
    columns = ", ".join(quote(f.column) for f in fields)
    marks = ", ".join(["%s"] * len(fields))
    return f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({marks})", fields


def insert(instance, *, using: str = DEFAULT_DB_ALIAS) -> None:
    """`instance.save(force_insert=True)` of an instance whose primary key is
    set (a UUID's default), without the ORM's compiling of the INSERT, and
    without signals: each field's `pre_save` (auto_now, auto_now_add), then
    its `get_db_prep_save`, as the ORM's insert does."""
    if instance.pk is None:
        raise ValueError("insert() needs the primary key set")
    connection = connections[using]
    sql, fields = _insert_sql(connection.vendor, type(instance))
    params = [db_value(f, f.pre_save(instance, True), connection) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
    instance._state.adding = False
    instance._state.db = connection.alias


@functools.lru_cache(maxsize=256)
def _delete_sql(vendor: str, model, where: tuple) -> tuple[str, tuple]:
    meta, quote = model._meta, connections[DEFAULT_DB_ALIAS].ops.quote_name
    if meta.related_objects:
        # The ORM would collect (and cascade to) the rows pointing to these.
        raise TypeError(f"{model.__name__} has rows pointing to it: use the ORM's delete()")
    keys, conditions = _where_sql(model, where, quote)
    return f"DELETE FROM {quote(meta.db_table)} WHERE {conditions}", keys


def delete(model, where: dict, *, using: str = DEFAULT_DB_ALIAS) -> int:
    """`model.objects.filter(**where).delete()` for a model no other row
    points to with a cascade (what the ORM deletes then in one statement
    too), without signals. An empty list in `where` matches nothing.
    Returns how many rows it deleted."""
    if any(isinstance(v, tuple | list) and not v for v in where.values()):
        return 0
    connection = connections[using]
    sql, keys = _delete_sql(connection.vendor, model, _shape(where))
    with connection.cursor() as cursor:
        cursor.execute(sql, _where_params(connection, keys, where))
        return cursor.rowcount
