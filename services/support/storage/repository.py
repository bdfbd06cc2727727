"""Loading and saving the customer read model."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_common.pagination import SortKey
from crm_common.storage.keyset import paged
from crm_support.domain.customers import Customer
from crm_support.storage.requester_emails import (
    add_addresses,
    forget_addresses,
    replace_addresses,
)
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
        values = _values(customer)
        if exists:
            await self._session.execute(
                update(customers).where(customers.c.id == customer.id).values(values)
            )
            await replace_addresses(self._session, customer.id, customer.email_addresses)
        else:
            # A customer new to the read model has no address rows to forget.
            await self._session.execute(insert(customers).values(id=customer.id, **values))
            await add_addresses(self._session, {customer.id: customer.email_addresses})

    async def put_newer(self, copies: Sequence[Customer]) -> None:
        """`put` for many customers at once, each unless the stored one is as new.

        A few statements for all of them, as rebuilding the read model needs;
        at most one copy per customer.
        """
        ids = [customer.id for customer in copies]
        stored = dict(
            (
                await self._session.execute(
                    select(customers.c.id, customers.c.source_version).where(
                        customers.c.id.in_(ids)
                    )
                )
            ).all()
        )
        newer = [c for c in copies if c.id not in stored or c.source_version > stored[c.id]]
        if not newer:
            return
        fresh = [{"id": c.id, **_values(c)} for c in newer if c.id not in stored]
        if fresh:
            await self._session.execute(insert(customers), fresh)
        changed = [{"key": c.id, **_values(c)} for c in newer if c.id in stored]
        if changed:
            await self._session.execute(
                update(customers).where(customers.c.id == bindparam("key")), changed
            )
            await forget_addresses(self._session, [row["key"] for row in changed])
        await add_addresses(self._session, {c.id: c.email_addresses for c in newer})

    async def page(
        self, keys: Sequence[SortKey], after: Sequence[Any] | None, size: int
    ) -> list[Customer]:
        query = select(customers).where(customers.c.deleted.is_(False))
        rows = (await self._session.execute(paged(query, keys, SORT_COLUMNS, after, size))).all()
        return [_to_customer(row) for row in rows]


def _values(customer: Customer) -> dict[str, Any]:
    return {
        "display_name": customer.display_name,
        "email_addresses": list(customer.email_addresses),
        "source_version": customer.source_version,
        "update_time": customer.update_time,
        "deleted": customer.deleted,
    }


def _to_customer(row: Row) -> Customer:
    return Customer(
        id=row.id,
        display_name=row.display_name,
        email_addresses=tuple(row.email_addresses),
        source_version=row.source_version,
        update_time=row.update_time,
        deleted=row.deleted,
    )
