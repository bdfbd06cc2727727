"""Use cases for the customer read model."""

from collections.abc import Sequence
from typing import Any

from crm_common.errors import NotFound
from crm_common.messaging.uow import UnitOfWork
from crm_common.pagination import SortKey
from crm_support.domain.customers import Customer
from crm_support.storage.repository import CustomerRepository


async def get_customer(uow: UnitOfWork, customer_id: str) -> Customer:
    async with uow:
        customer = await CustomerRepository(uow.session).get(customer_id)
    if customer is None:
        raise NotFound(f"customers/{customer_id} is not known to the helpdesk")
    return customer


async def list_customers(
    uow: UnitOfWork, keys: Sequence[SortKey], after: Sequence[Any] | None, size: int
) -> tuple[list[Customer], bool]:
    async with uow:
        found = await CustomerRepository(uow.session).page(keys, after, size)
    return found[:size], len(found) > size
