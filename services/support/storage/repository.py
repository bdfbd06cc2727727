"""Loading and saving the customer read model."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_common.pagination import SortKey
from crm_common.storage.keyset import paged
from crm_support.domain.customers import Customer
from crm_support.storage.requester_emails import replace_addresses
from crm_support.storage.tables import customers

SORT_COLUMNS = {"display_name": customers.c.display_name, "id": customers.c.id}


class CustomerRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, customer_id: str, *, include_deleted: bool = False) -> Customer | None:
        query = select(customers).where(customers.c.id == customer_id)
        if not include_deleted:
            query = query.where(customers.c.deleted.is_(False))
        row = (await self._session.execute(query)).first()
        return _to_customer(row) if row else None

    async def put(self, customer: Customer, *, exists: bool) -> None:
        values = {
            "display_name": customer.display_name,
            "email_addresses": list(customer.email_addresses),
            "source_version": customer.source_version,
            "update_time": customer.update_time,
            "deleted": customer.deleted,
        }
        if exists:
            await self._session.execute(
                update(customers).where(customers.c.id == customer.id).values(values)
            )
        else:
            await self._session.execute(insert(customers).values(id=customer.id, **values))
        await replace_addresses(self._session, customer.id, customer.email_addresses)

    async def page(
        self, keys: Sequence[SortKey], after: Sequence[Any] | None, size: int
    ) -> list[Customer]:
        query = select(customers).where(customers.c.deleted.is_(False))
        rows = (await self._session.execute(paged(query, keys, SORT_COLUMNS, after, size))).all()
        return [_to_customer(row) for row in rows]


def _to_customer(row: Row) -> Customer:
    return Customer(
        id=row.id,
        display_name=row.display_name,
        email_addresses=tuple(row.email_addresses),
        source_version=row.source_version,
        update_time=row.update_time,
        deleted=row.deleted,
    )
