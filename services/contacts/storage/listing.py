"""Listing contact records: a checked query becomes one page of rows.

People and organizations differ only in their tables and in where each
fixed field lives; filters and sorts on custom fields work the same for both
through the kind's values table (see storage.custom_fields).
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Table
from sqlalchemy.ext.asyncio import AsyncSession

from crm_common.storage.child_rows import ChildRows  # noqa: F401  (moved to crm_common)
from crm_common.storage.filter_sql import FieldBinding, filter_clause
from crm_contacts.domain.listing import CUSTOM_FIELDS, ListQuery, custom_field_id
from crm_contacts.storage.custom_fields import (
    CustomSort,
    CustomValueBinding,
    PageRows,
    custom_sort,
    sorted_page,
)


@dataclass(frozen=True, eq=False)  # eq on SQL columns would build SQL, not compare
class RecordListing:
    """Where the listable fields of one kind of record live.

    `records` has an `id` key; `values` is its custom_values_table;
    `bindings` serve the fixed filter fields and `sort_columns` the fixed
    sort keys, `id` among them.
    """

    records: Table
    values: Table
    bindings: Mapping[str, FieldBinding]
    sort_columns: Mapping[str, ColumnElement[Any]]

    async def page(
        self, session: AsyncSession, query: ListQuery, after: Sequence[Any] | None, size: int
    ) -> PageRows:
        """Up to size + 1 rows, each with its values of the keys SQL sorts by.

        Those values are what a page token must carry: custom sorts add keys
        of their own (see CustomSort), which the caller need not know.
        """
        where = filter_clause(query.filter, {**self.bindings, **self._custom_bindings(query)})
        return await sorted_page(
            session,
            self.records,
            where,
            query.keys,
            self.sort_columns,
            self._custom_sorts(query),
            after,
            size,
        )

    def _custom_bindings(self, query: ListQuery) -> dict[str, FieldBinding]:
        key = self.records.c.id
        return {
            f"{CUSTOM_FIELDS}.{d.id}": CustomValueBinding(self.values, key, d.id, d.type)
            for d in query.definitions.values()
        }

    def _custom_sorts(self, query: ListQuery) -> dict[str, CustomSort]:
        sorts = {}
        for index, key in enumerate(query.keys):
            definition_id = custom_field_id(key.field)
            if definition_id is not None:
                definition = query.definitions[definition_id]
                label = f"sort_{index}"
                sorts[key.field] = custom_sort(self.values, self.records.c.id, definition, label)
        return sorts
