"""Use cases for the customer read model."""

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from crm_common.errors import NotFound
from crm_common.messaging.uow import UnitOfWork
from crm_common.pagination import SortKey
from crm_common.validation import normalise_email
from crm_support.domain.customers import Customer
from crm_support.domain.tickets import PEOPLE
from crm_support.handlers.change import TicketChange
from crm_support.handlers.ticket_changes import settle, snapshot
from crm_support.handlers.tickets import existing_ticket
from crm_support.storage.repository import CustomerRepository
from crm_support.storage.requester_emails import (
    attribute_comments,
    lock_addresses,
    tickets_awaiting,
)
from crm_support.storage.tickets import TicketRepository


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


async def adopt_tickets(uow: UnitOfWork, customer: Customer, now: datetime) -> None:
    """Tickets and emailed comments known only by one of the customer's addresses
    are the person's now. Runs in the unit of work that stored the customer.

    Each ticket changes through `settle`, so the rules see the new requester and
    `ticket.updated` announces it; closed tickets too, since reports and the
    person's history count them.
    """
    addresses = sorted({normalise_email(address) for address in customer.email_addresses})
    if customer.deleted or not addresses:
        return
    await lock_addresses(uow.session, addresses)
    person = PEOPLE + customer.id
    tickets = TicketRepository(uow.session)
    awaiting = await tickets_awaiting(uow.session, addresses)
    if awaiting:
        await tickets.lock(*awaiting)
    for ticket_id in awaiting:
        ticket = await existing_ticket(tickets, ticket_id)
        if ticket.details.requester:
            continue  # an agent named the requester meanwhile
        before = snapshot(ticket)
        ticket.details = replace(ticket.details, requester=person)
        ticket.touch(now)
        await settle(uow, ticket, TicketChange(uow.session, now, before, ["requester"]))
    await attribute_comments(uow.session, addresses, person)
