"""What the use cases of people and organizations share: custom fields and lists."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from crm_common.filtering import Expr
from crm_common.pagination import SortKey
from crm_contacts.domain.custom_fields import Definitions
from crm_contacts.domain.listing import ListingSchema, ListQuery, check_query, custom_field_ids
from crm_contacts.storage.custom_fields import CustomFieldDefinitionRepository

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    # The sort key values to continue after; None on the last page.
    next_key: list[Any] | None

    @classmethod
    def of(cls, found: Sequence[tuple[T, list[Any]]], size: int) -> "Page[T]":
        """`found`: up to size + 1 items with their keys; the extra one means more follow."""
        next_key = found[size - 1][1] if len(found) > size else None
        return cls([item for item, _ in found[:size]], next_key)


async def checked_query(
    session: AsyncSession, schema: ListingSchema, expr: Expr | None, keys: tuple[SortKey, ...]
) -> ListQuery:
    """The query, its custom fields checked and typed by the definitions it names."""
    ids = custom_field_ids(expr, keys)
    definitions = await CustomFieldDefinitionRepository(session).get_many(ids)
    return check_query(schema, expr, keys, definitions)


async def definitions_for(session: AsyncSession, custom_fields: Iterable[str]) -> Definitions:
    """The definitions of the fields a write sets, locked against change until commit."""
    return await CustomFieldDefinitionRepository(session).get_many(custom_fields, share=True)
