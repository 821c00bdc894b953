"""A page of search results as the platform pages threads, assistants and
crons (POST .../search)."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from django.db.models import Expression, F

from runs.services.errors import InvalidRequest

SORT_ORDERS = ("asc", "desc")


@dataclass(frozen=True)
class Sorts:
    """The orders a search offers: each `sort_by` name the platform accepts,
    mapped to what it sorts by (a field name or an expression), and the one
    used without it; `sort_order` is `desc` unless given, as the platform's."""

    columns: Mapping[str, str | Expression]
    default: str

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.columns)

    def order_by(self, sort_by, sort_order) -> list:
        """The `order_by` of a search; the primary key breaks ties, so pages
        never overlap. An unknown name or order is refused, naming its field."""
        sort_by = sort_by or self.default
        sort_order = sort_order or "desc"
        if sort_by not in self.columns:
            raise InvalidRequest(f"sort_by must be one of {list(self.names)}.", field="sort_by")
        if sort_order not in SORT_ORDERS:
            raise InvalidRequest(
                f"sort_order must be one of {list(SORT_ORDERS)}.", field="sort_order"
            )
        column = self.columns[sort_by]
        keys = [column] if column == "pk" else [column, "pk"]
        keys = [F(key) if isinstance(key, str) else key for key in keys]
        return [key.desc() if sort_order == "desc" else key.asc() for key in keys]


@dataclass(frozen=True)
class Page:
    """JSON-ready items and where they stand: `total` is the platform's
    `x-pagination-total` (offset + this page, plus one when more follow: not
    a count) and `next_offset` its `x-pagination-next` (None on the last
    page)."""

    items: list[dict]
    total: int
    next_offset: int | None


def fetch_page(rows, *, offset: int, limit: int, render: Callable) -> Page:
    """One page of the (ordered) queryset `rows`, each row through `render`;
    one more row is read to tell whether more follow."""
    found = list(rows[offset : offset + limit + 1])
    more = len(found) > limit
    found = found[:limit]
    return Page(
        items=[render(row) for row in found],
        total=offset + len(found) + (1 if more else 0),
        next_offset=offset + len(found) if more else None,
    )


def selected_fields(select, *, selectable: tuple[str, ...], default: tuple[str, ...]):
    """The fields a search's `select` asks for (`default` without one); a
    field not in `selectable` is refused, naming `select`."""
    if select is None:
        return default
    unknown = [name for name in select if name not in selectable]
    if unknown:
        raise InvalidRequest(
            f"Cannot select {unknown[0]!r}; select from {list(selectable)}.", field="select"
        )
    return tuple(select)
