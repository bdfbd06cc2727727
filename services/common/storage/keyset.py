"""Keyset pagination in SQL: the rows that sort after a given key."""

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, or_

from crm_common.errors import InvalidArgument
from crm_common.pagination import SortKey


def order_clauses(
    keys: Sequence[SortKey], columns: Mapping[str, ColumnElement[Any]]
) -> list[ColumnElement[Any]]:
    return [columns[k.field].desc() if k.descending else columns[k.field].asc() for k in keys]


def after_key(
    keys: Sequence[SortKey], columns: Mapping[str, ColumnElement[Any]], values: Sequence[Any]
) -> ColumnElement[bool]:
    """`(a > x) OR (a = x AND b > y) OR ...`, honouring each key's direction.

    Row-value comparison `(a, b) > (x, y)` would be shorter but cannot mix
    ascending and descending keys.
    """
    alternatives = []
    for position, key in enumerate(keys):
        column = columns[key.field]
        equal_prefix = [
            columns[k.field] == v for k, v in zip(keys[:position], values, strict=False)
        ]
        beyond = column < values[position] if key.descending else column > values[position]
        alternatives.append(and_(*equal_prefix, beyond))
    return or_(*alternatives)


def paged(
    query: Select[Any],
    keys: Sequence[SortKey],
    columns: Mapping[str, ColumnElement[Any]],
    after: Sequence[Any] | None,
    size: int,
) -> Select[Any]:
    """Orders the query by `keys` and limits it to one page plus one row.

    The extra row tells whether another page follows without a COUNT.
    """
    if after is not None:
        if len(after) != len(keys):
            raise InvalidArgument.single("page_token", "does not match the sort order")
        query = query.where(after_key(keys, columns, after))
    return query.order_by(*order_clauses(keys, columns)).limit(size + 1)
