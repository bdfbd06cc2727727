"""What the use cases of people and organizations share: custom fields and lists."""

from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from crm_common.filtering import Expr
from crm_common.listing import Page  # noqa: F401  (moved to crm_common)
from crm_common.pagination import SortKey
from crm_contacts.domain.custom_fields import Definitions
from crm_contacts.domain.listing import ListingSchema, ListQuery, check_query, custom_field_ids
from crm_contacts.storage.custom_fields import CustomFieldDefinitionRepository


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
