"""The one sort check of threads', assistants' and crons' searches."""

import pytest
from django.db.models.functions import Lower

from runs.services.errors import InvalidRequest
from runs.services.paging import Sorts

SORTS = Sorts({"thread_id": "pk", "name": Lower("name"), "updated_at": "updated_at"}, "updated_at")


def rendered(keys) -> list[str]:
    return [str(key) for key in keys]


def test_default_is_the_default_column_descending_with_the_id_breaking_ties():
    assert rendered(SORTS.order_by(None, None)) == rendered(SORTS.order_by("updated_at", "desc"))
    order = SORTS.order_by(None, None)
    assert [key.descending for key in order] == [True, True]
    assert "updated_at" in str(order[0]) and "pk" in str(order[1])


def test_the_id_itself_needs_no_tie_break_and_expressions_are_kept():
    (only,) = SORTS.order_by("thread_id", "asc")
    assert not only.descending and "pk" in str(only)
    first, tie = SORTS.order_by("name", "asc")
    assert isinstance(first.expression, Lower) and "pk" in str(tie)


@pytest.mark.parametrize(
    ("sort_by", "sort_order", "field"), [("colour", "asc", "sort_by"), ("name", "up", "sort_order")]
)
def test_unknown_names_and_orders_are_refused_naming_their_field(sort_by, sort_order, field):
    with pytest.raises(InvalidRequest) as refused:
        SORTS.order_by(sort_by, sort_order)
    assert refused.value.field == field
    assert SORTS.names == ("thread_id", "name", "updated_at")
