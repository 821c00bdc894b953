"""A page of search results as the platform pages threads, assistants and
crons (POST .../search)."""

from collections.abc import Callable
from dataclasses import dataclass

from runs.services.errors import InvalidRequest


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
