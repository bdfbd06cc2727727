"""Repeated fields kept one value a row, so that `field:"x"` is an index lookup.

Moved here from crm_contacts.storage.listing: support's ticket tags use it too.
"""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Delete,
    ForeignKey,
    Index,
    Insert,
    MetaData,
    String,
    Table,
    bindparam,
    delete,
    insert,
)
from sqlalchemy.ext.asyncio import AsyncSession

from crm_common.storage.filter_sql import ChildTableBinding, FieldBinding
from crm_common.storage.filter_values import NormalisedValue


def repeated_values_table(
    metadata: MetaData, name: str, records: Table, key: str, value: str, length: int
) -> Table:
    """One value of a record's repeated field a row (the record's JSON keeps their order).

    So that `tags:"vip"` is an index lookup, value first, and not a scan of
    every record's JSON array.
    """
    return Table(
        name,
        metadata,
        Column(key, String(63), ForeignKey(records.c.id, ondelete="CASCADE"), primary_key=True),
        Column(value, String(length), primary_key=True),
        Index(f"ix_{name}_{value}", value, key),
    )


@dataclass(frozen=True, eq=False)
class ChildRows:
    """A repeated field kept one value a row, so that `field:"x"` is an index lookup.

    The record's own JSON column stays what it reads back (in its order);
    these rows are rewritten from it on every write.
    """

    key: Column[Any]  # the record's id in the child table
    value: Column[Any]

    def binding(
        self, record_key: ColumnElement[Any], normalise: Callable[[str], str]
    ) -> FieldBinding:
        """How `field:"x"` tests these rows; `x` is first stored-form as `normalise` says."""
        return NormalisedValue(ChildTableBinding(record_key, self.key, self.value), normalise)

    async def replace(self, session: AsyncSession, record_id: str, values: Iterable[Any]) -> None:
        await self.delete(session, record_id)
        await self.insert_many(session, {record_id: values})

    # Built once: a statement made per call costs more to build and to key for
    # SQLAlchemy's compiled cache than to run.
    @cached_property
    def _delete(self) -> Delete:
        return delete(self.key.table).where(self.key == bindparam("record_id"))

    @cached_property
    def _insert(self) -> Insert:
        return insert(self.key.table)

    async def delete(self, session: AsyncSession, record_id: str) -> None:
        await session.execute(self._delete, {"record_id": record_id})

    async def insert_many(self, session: AsyncSession, values: Mapping[str, Iterable[Any]]) -> None:
        """The rows of records that have none yet (new ones), keyed by record id: one statement."""
        rows = [
            {self.key.key: record_id, self.value.key: value}
            for record_id, held in values.items()
            for value in held
        ]
        if rows:
            await session.execute(self._insert, rows)
