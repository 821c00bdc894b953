"""Filtering rows by the keys of a JSON column, the same on SQLite and PostgreSQL.

`JSONKeyEquals("metadata", key, value)` is true when the column's object has
`key` and its value equals `value` as JSON: objects compare whatever their
key order, 1 equals 1.0, `true` is not 1, a list equals only the same list.
The key is data, never path syntax: any string, quotes and dots included.

- PostgreSQL: `(column -> key) = value::jsonb`, jsonb's own equality.
- SQLite: its JSON functions compare objects as text, in stored key order, and
  read `true` as 1, so the column's top-level entries are walked with
  `json_each` (the key compared exactly) and the entry with the key is put in
  canonical form by a function registered on every SQLite connection
  (`doubletext_json_canonical`), then compared to the canonical form of
  `value`. Only that entry is decoded, by Python, for the rows that have the key.
"""

import json

from django.db.backends.signals import connection_created
from django.db.models import BooleanField, Expression, F
from django.db.utils import NotSupportedError
from django.dispatch import receiver

SQLITE_FUNCTION = "doubletext_json_canonical"


def _plain(value):
    """A JSON value with integral floats as ints (JSON numbers have no type)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def canonical(value) -> str:
    """The canonical JSON text of a value: keys sorted, no spaces."""
    return json.dumps(_plain(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


_SCALARS = {"null": None, "true": True, "false": False}


def _sqlite_canonical(value, json_type):
    """A `json_each` entry (its `value` and `type` columns) in canonical form."""
    if json_type in _SCALARS:
        return canonical(_SCALARS[json_type])
    if json_type in ("object", "array"):
        return canonical(json.loads(value))
    return canonical(value)  # text, integer, real: the SQL value is the JSON value


@receiver(connection_created)
def _register_sqlite_function(sender, connection, **kwargs):
    if connection.vendor == "sqlite":
        connection.connection.create_function(
            SQLITE_FUNCTION, 2, _sqlite_canonical, deterministic=True
        )


class JSONKeyEquals(Expression):
    """A condition for `.filter()`: `column[key]` equals `value` as JSON."""

    output_field = BooleanField()
    conditional = True

    def __init__(self, column, key: str, value):
        super().__init__()
        self.column = column if hasattr(column, "resolve_expression") else F(column)
        self.key = str(key)
        self.value = value

    def get_source_expressions(self):
        return [self.column]

    def set_source_expressions(self, exprs):
        (self.column,) = exprs

    def as_postgresql(self, compiler, connection):
        column, params = compiler.compile(self.column)
        sql = f"(({column} -> %s::text) = %s::jsonb)"
        return sql, (*params, self.key, json.dumps(self.value))

    def as_sqlite(self, compiler, connection):
        column, params = compiler.compile(self.column)
        sql = (
            f"EXISTS (SELECT 1 FROM json_each({column}) AS entry WHERE entry.key = %s "
            f"AND {SQLITE_FUNCTION}(entry.value, entry.type) = %s)"
        )
        return sql, (*params, self.key, canonical(self.value))

    def as_sql(self, compiler, connection):
        raise NotSupportedError(
            f"JSON key filters need SQLite or PostgreSQL, not {connection.vendor}"
        )


def contains(queryset, column: str, wanted: dict | None):
    """Rows whose JSON object `column` has each key of `wanted` with that value."""
    for key, value in (wanted or {}).items():
        queryset = queryset.filter(JSONKeyEquals(column, key, value))
    return queryset
