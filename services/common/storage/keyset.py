"""Keyset pagination in SQL: the rows that sort after a given key."""

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, bindparam, false, or_, tuple_

from crm_common.errors import InvalidArgument
from crm_common.pagination import SortKey


def order_clauses(
    keys: Sequence[SortKey], columns: Mapping[str, ColumnElement[Any]]
) -> list[ColumnElement[Any]]:
    return [columns[k.field].desc() if k.descending else columns[k.field].asc() for k in keys]


def after_key(
    keys: Sequence[SortKey], columns: Mapping[str, ColumnElement[Any]], values: Sequence[Any]
) -> ColumnElement[bool]:
    """The rows that sort after `values`, honouring each key's direction.

    When all keys share a direction and no value is NULL, the row-value
    comparison `(a, b) > (x, y)`: PostgreSQL turns it into a range of a
    matching index, so a deep page starts where the last one ended instead
    of skipping every earlier row. Otherwise the expanded form
    `(a > x) OR (a = x AND b > y) OR ...`, which can mix directions.
    """
    if len({key.descending for key in keys}) == 1 and all(v is not None for v in values):
        row = tuple_(*(columns[key.field] for key in keys))
        bound = tuple_(
            *(
                bindparam(None, value, type_=columns[key.field].type)
                for key, value in zip(keys, values, strict=True)
            )
        )
        return row < bound if keys[0].descending else row > bound
    alternatives = []
    for position, key in enumerate(keys):
        column = columns[key.field]
        equal_prefix = [
            columns[k.field] == v for k, v in zip(keys[:position], values, strict=False)
        ]
        value = values[position]
        if value is None:
            # Keys that may be NULL must follow a key that puts NULLs in a
            # block of their own (e.g. "missing" 0/1), so ties go to later keys.
            beyond: ColumnElement[bool] = false()
        else:
            beyond = column < value if key.descending else column > value
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
        _check_resumable(keys, columns, after)
        query = query.where(after_key(keys, columns, after))
    return query.order_by(*order_clauses(keys, columns)).limit(size + 1)


def _check_resumable(
    keys: Sequence[SortKey], columns: Mapping[str, ColumnElement[Any]], after: Sequence[Any]
) -> None:
    """Refuses a token whose values cannot be this order's key.

    Tokens are opaque but not secret, so an edited one must fail as bad
    input here rather than as a type error inside the database.
    """
    if len(after) != len(keys):
        raise InvalidArgument.single("page_token", "does not match the sort order")
    for key, value in zip(keys, after, strict=True):
        if value is not None and not _fits(value, columns[key.field]):
            raise InvalidArgument.single("page_token", "is not a token this API issued")


def _fits(value: Any, column: ColumnElement[Any]) -> bool:
    try:
        expected = column.type.python_type
    except NotImplementedError:
        expected = object
    if expected is object:
        return True  # a type without a Python equivalent: let the driver judge
    if isinstance(value, bool):
        return expected is bool
    if expected is float:
        return isinstance(value, int | float)
    return isinstance(value, expected)
