"""The `filter` of a store search, in the database.

LangGraph defines the filter by its InMemoryStore (`_compare_values`): each
key of the filter names a key of the item's value, and

- a plain value matches an equal value (`{"status": "active"}`); a missing key
  equals None;
- an object without operators matches an object whose keys match it, key by
  key (extra keys allowed): `{"author": {"name": "x"}}`;
- a list matches a list of the same length whose elements match in order;
- an object of operators applies each: `$eq`, `$ne` (a missing key is not
  equal to anything but None), `$gt`, `$gte`, `$lt`, `$lte`.

`matches(value, filter)` below is that definition, in Python; it is the
specification the SQL must agree with. Where InMemoryStore follows Python
rather than JSON, JSON wins, as in LangGraph's PostgreSQL store: `true` is not
`1`, `"1"` is not `1`. The comparisons take a number (an item matches when it
has a number there) or, beyond InMemoryStore, which only compares numbers, a
string (an item matches when it has a string there, compared by code point:
ISO dates compare as dates). Anything else is refused before a query runs
(`check_filter`, ValueError naming the place), where InMemoryStore would fail
in the middle of a search; so is a filter of more than 256 parts, which would
make a query of a size no search needs.

The databases:

- PostgreSQL: the filter is compiled to one SQL condition on the `jsonb`
  column (`value #> path`), every leaf COALESCEd to false so that `$ne` may
  negate it safely. Equality is jsonb equality (type-aware, 1 = 1.0).
- SQLite: the filter is evaluated by `matches` itself, registered as the SQL
  function `store_value_matches(value, filter)` on each connection
  (`register_sqlite_function`, from the app's ready()). SQLite runs in the
  server's process, so this costs a json.loads per candidate row, and its JSON
  path syntax cannot name every key (SQLite 3.40 matches quoted labels against
  the raw, escaped key text).

Other databases are refused (NotSupportedError) when a search has a filter.
"""

from __future__ import annotations

import json
import math
from typing import Any

from django.db import NotSupportedError
from django.db.backends.signals import connection_created
from django.db.models import BooleanField, Expression, F

OPERATORS = ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte")
COMPARISONS = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}
SQLITE_FUNCTION = "store_value_matches"
# A filter is a query's condition: its size (keys, elements and operators, at
# any depth) is bounded, as a request body's is.
MAX_FILTER_SIZE = 256

_MISSING = object()


# --- the specification ------------------------------------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _equal(item: Any, wanted: Any, *, missing_is_none: bool) -> bool:
    """JSON equality; `missing_is_none`: an absent key equals None (at the
    filter's own level, not inside an `$eq` object or list)."""
    if wanted is None:
        return item is None or (missing_is_none and item is _MISSING)
    if isinstance(wanted, bool):
        return isinstance(item, bool) and item == wanted
    if _is_number(wanted):
        return _is_number(item) and item == wanted
    if isinstance(wanted, str):
        return isinstance(item, str) and item == wanted
    if isinstance(wanted, dict):
        return (
            isinstance(item, dict)
            and item.keys() == wanted.keys()
            and all(_equal(item[k], v, missing_is_none=False) for k, v in wanted.items())
        )
    if isinstance(wanted, list):
        return (
            isinstance(item, list)
            and len(item) == len(wanted)
            and all(_equal(a, b, missing_is_none=False) for a, b in zip(item, wanted, strict=True))
        )
    return False


def _compare(item: Any, operator: str, operand: Any) -> bool:
    if operator == "$eq":
        return _equal(item, operand, missing_is_none=True)
    if operator == "$ne":
        return not _equal(item, operand, missing_is_none=True)
    if _is_number(operand):
        if not _is_number(item):
            return False
    elif not isinstance(item, str):
        return False
    if operator == "$gt":
        return item > operand
    if operator == "$gte":
        return item >= operand
    if operator == "$lt":
        return item < operand
    return item <= operand


def _is_operators(wanted: Any) -> bool:
    return isinstance(wanted, dict) and any(k.startswith("$") for k in wanted)


def _match(item: Any, wanted: Any) -> bool:
    if _is_operators(wanted):
        return all(_compare(item, op, operand) for op, operand in wanted.items())
    if isinstance(wanted, dict):
        return isinstance(item, dict) and all(
            _match(item.get(k, _MISSING), v) for k, v in wanted.items()
        )
    if isinstance(wanted, list):
        return (
            isinstance(item, list)
            and len(item) == len(wanted)
            and all(_match(a, b) for a, b in zip(item, wanted, strict=True))
        )
    return _equal(item, wanted, missing_is_none=True)


def matches(value: dict, filter: dict) -> bool:
    """Whether an item's value matches a filter that `check_filter` accepted."""
    return all(_match(value.get(k, _MISSING), wanted) for k, wanted in filter.items())


# --- checking ----------------------------------------------------------------


def _check_scalar_or_container(value: Any, where: str) -> Any:
    """A JSON value (tuples as lists), or ValueError."""
    if value is None or isinstance(value, bool | str):
        return value
    if _is_number(value):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{where}: numbers must be finite.")
        return value
    if isinstance(value, list | tuple):
        return [_check_scalar_or_container(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        checked = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise ValueError(f"{where}: keys must be strings, not {type(k).__name__}.")
            checked[k] = _check_scalar_or_container(v, f"{where}.{k}")
        return checked
    raise ValueError(f"{where}: {type(value).__name__} is not a JSON value.")


def _check(wanted: Any, where: str) -> Any:
    if _is_operators(wanted):
        checked = {}
        for op, operand in wanted.items():
            place = f"{where}.{op}"
            if op not in OPERATORS:
                supported = ", ".join(OPERATORS)
                raise ValueError(f"{place}: unsupported operator (supported: {supported}).")
            if op in COMPARISONS and not (_is_number(operand) or isinstance(operand, str)):
                raise ValueError(f"{place}: compares with a number or a string.")
            checked[op] = _check_scalar_or_container(operand, place)
        return checked
    if isinstance(wanted, dict):
        for k in wanted:
            if not isinstance(k, str):
                raise ValueError(f"{where}: keys must be strings, not {type(k).__name__}.")
        return {k: _check(v, f"{where}.{k}") for k, v in wanted.items()}
    if isinstance(wanted, list | tuple):
        return [_check(v, f"{where}[{i}]") for i, v in enumerate(wanted)]
    return _check_scalar_or_container(wanted, where)


def check_filter(filter: Any, where: str = "filter") -> dict:
    """The filter as JSON (tuples as lists), or ValueError naming the place
    (`filter.score.$gt: ...`) of the first thing it cannot match on."""
    if not isinstance(filter, dict):
        raise ValueError(f"{where}: must be an object.")
    checked = {}
    for key, wanted in filter.items():  # keys of the value, whatever they look like
        if not isinstance(key, str):
            raise ValueError(f"{where}: keys must be strings, not {type(key).__name__}.")
        checked[key] = _check(wanted, f"{where}.{key}")
    if _size(checked) > MAX_FILTER_SIZE:
        raise ValueError(f"{where}: more than {MAX_FILTER_SIZE} keys, values and operators.")
    return checked


def _size(value: Any) -> int:
    if isinstance(value, dict):
        return sum(1 + _size(v) for v in value.values())
    if isinstance(value, list):
        return sum(1 + _size(v) for v in value)
    return 0


# --- PostgreSQL ----------------------------------------------------------------


class _PostgresCompiler:
    """A checked filter -> one SQL boolean (never NULL) on the jsonb column."""

    def __init__(self, column: str):
        self.column = column
        self.params: list[Any] = []

    def at(self, path: list[str]) -> str:
        self.params.append(path)
        return f"({self.column} #> %s::text[])"

    def text_at(self, path: list[str]) -> str:
        self.params.append(path)
        return f"({self.column} #>> %s::text[])"

    def typeof(self, path: list[str]) -> str:
        return f"jsonb_typeof{self.at(path)}"

    def equal(self, path: list[str], wanted: Any) -> str:
        if wanted is None:  # missing, or null
            return f"COALESCE({self.typeof(path)}, 'null') = 'null'"
        node = self.at(path)
        self.params.append(json.dumps(wanted))
        return f"COALESCE({node} = %s::jsonb, FALSE)"

    def compare(self, path: list[str], operator: str, operand: Any) -> str:
        if operator == "$eq":
            return self.equal(path, operand)
        if operator == "$ne":
            return f"NOT ({self.equal(path, operand)})"
        sign = COMPARISONS[operator]
        kind = self.typeof(path)
        if _is_number(operand):
            text = self.text_at(path)
            self.params.append(str(operand) if isinstance(operand, int) else repr(operand))
            return (
                f"COALESCE(CASE WHEN {kind} = 'number' THEN {text}::numeric END"
                f" {sign} %s::numeric, FALSE)"
            )
        text = self.text_at(path)
        self.params.append(operand)
        return (
            f"COALESCE(CASE WHEN {kind} = 'string' THEN {text} END COLLATE \"C\""
            f' {sign} %s COLLATE "C", FALSE)'
        )

    def match(self, path: list[str], wanted: Any) -> str:
        if _is_operators(wanted):
            parts = [self.compare(path, op, operand) for op, operand in wanted.items()]
        elif isinstance(wanted, dict):
            parts = [f"COALESCE({self.typeof(path)} = 'object', FALSE)"]
            parts += [self.match([*path, k], v) for k, v in wanted.items()]
        elif isinstance(wanted, list):
            kind = self.typeof(path)
            node = self.at(path)
            self.params.append(len(wanted))
            parts = [
                f"COALESCE(CASE WHEN {kind} = 'array' THEN jsonb_array_length{node} END = %s,"
                " FALSE)"
            ]
            parts += [self.match([*path, str(i)], v) for i, v in enumerate(wanted)]
        else:
            parts = [self.equal(path, wanted)]
        return "(" + " AND ".join(parts) + ")" if len(parts) > 1 else parts[0]

    def compile(self, filter: dict) -> tuple[str, list[Any]]:
        parts = [self.match([k], v) for k, v in filter.items()]
        return "(" + " AND ".join(parts or ["TRUE"]) + ")", self.params


# --- the expression ------------------------------------------------------------


class ValueMatches(Expression):
    """`queryset.filter(ValueMatches(filter))`: the rows whose `value`
    matches a filter (checked here with `check_filter`)."""

    conditional = True

    def __init__(self, filter: dict, column: str = "value"):
        super().__init__(output_field=BooleanField())
        self.filter = check_filter(filter)
        self.column = F(column)

    def get_source_expressions(self):
        return [self.column]

    def set_source_expressions(self, exprs):
        (self.column,) = exprs

    def as_sql(self, compiler, connection):
        raise NotSupportedError(
            f"store search filters need SQLite or PostgreSQL, not {connection.vendor}"
        )

    def as_sqlite(self, compiler, connection):
        column, params = compiler.compile(self.column)
        return f"{SQLITE_FUNCTION}({column}, %s)", [*params, json.dumps(self.filter)]

    def as_postgresql(self, compiler, connection):
        column, params = compiler.compile(self.column)
        if params:  # the column is used many times; a plain column has none
            raise NotSupportedError("a store filter needs a plain column")
        return _PostgresCompiler(column).compile(self.filter)


def _sqlite_matches(value: str | None, filter: str) -> int:
    if value is None:
        return 0
    item = json.loads(value)
    return int(isinstance(item, dict) and matches(item, json.loads(filter)))


def _on_connection(sender, connection, **kwargs) -> None:
    if connection.vendor == "sqlite":
        connection.connection.create_function(
            SQLITE_FUNCTION, 2, _sqlite_matches, deterministic=True
        )


def register_sqlite_function() -> None:
    """Register `store_value_matches` on every new SQLite connection."""
    connection_created.connect(_on_connection, dispatch_uid="store.filters.sqlite")
