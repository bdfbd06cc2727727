"""Use cases for tickets."""

import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from crm_common.auth.principal import Principal
from crm_common.errors import InvalidArgument, NotFound, PermissionDenied
from crm_common.etags import check_etag
from crm_common.filtering import Expr
from crm_common.listing import Page
from crm_common.messaging.uow import UnitOfWork
from crm_common.pagination import SortKey
from crm_common.resources import check_retried_create
from crm_support.domain.access import TicketAccess
from crm_support.domain.tickets import Channel, Ticket, TicketDetails
from crm_support.handlers.access import accessible_ticket, ticket_access
from crm_support.handlers.change import TicketChange
from crm_support.handlers.requester_by_email import lock_requester_address
from crm_support.handlers.ticket_changes import settle, snapshot
from crm_support.storage.tickets import TicketRepository


async def create_ticket(
    uow: UnitOfWork,
    caller: Principal,
    details: TicketDetails,
    channel: Channel,
    ticket_id: str = "",
    requester_name: str = "",
) -> Ticket:
    """Opens a ticket; with a client-chosen id, a retry returns the ticket it created.

    `requester_name` goes with a requester known only by address, for the contacts
    service to create the person with.
    """
    async with uow:
        access = await ticket_access(uow.session, caller)
        details = replace(details, group=_group_for_new_ticket(access, details.group))
        repository = TicketRepository(uow.session)
        if ticket_id:
            existing = await repository.get(ticket_id)
            if existing is not None:
                return _same_create(existing, details, channel)
        await lock_requester_address(uow.session, details)
        number = await repository.next_number()
        now = datetime.now(UTC)
        ticket = Ticket.create(
            ticket_id or uuid.uuid4().hex, number, details, channel, now, requester_name
        )
        stored = await settle(uow, ticket, TicketChange(uow.session, now, before=None))
        await uow.commit()
    return stored


def _group_for_new_ticket(access: TicketAccess, group: str) -> str:
    """The group a new ticket goes to: as asked, if the caller may work there.
    An agent who names none opens it in their group (they could not see it
    outside one), and must choose when they belong to several."""
    if access.unrestricted or group in (access.groups or ()):
        return group
    if group:
        raise PermissionDenied(f"you may not open tickets in {group}")
    mine = sorted(access.groups or ())
    if len(mine) == 1:
        return mine[0]
    if not mine:
        raise PermissionDenied("you belong to no group to open tickets in")
    raise InvalidArgument.single("ticket.group", f"name one of your groups: {', '.join(mine)}")


async def get_ticket(uow: UnitOfWork, caller: Principal, ticket_id: str) -> Ticket:
    async with uow:
        access = await ticket_access(uow.session, caller)
        return await accessible_ticket(TicketRepository(uow.session), ticket_id, access)


async def update_ticket(
    uow: UnitOfWork, caller: Principal, ticket_id: str, changes: dict[str, Any], etag: str
) -> Ticket:
    async with uow:
        repository = TicketRepository(uow.session)
        access = await ticket_access(uow.session, caller)
        ticket = await accessible_ticket(repository, ticket_id, access)
        check_etag(etag, ticket.version, ticket.name)
        before, now = snapshot(ticket), datetime.now(UTC)
        changed = ticket.update(changes, now)
        if not changed:
            return ticket
        ticket = await settle(uow, ticket, TicketChange(uow.session, now, before, changed))
        await uow.commit()
    return ticket


async def list_tickets(
    uow: UnitOfWork,
    caller: Principal,
    expr: Expr | None,
    keys: tuple[SortKey, ...],
    after: Sequence[Any] | None,
    size: int,
) -> Page[Ticket]:
    async with uow:
        access = await ticket_access(uow.session, caller)
        found = await TicketRepository(uow.session).page(access.restrict(expr), keys, after, size)
    return Page.of(found, size)


async def existing_ticket(repository: TicketRepository, ticket_id: str) -> Ticket:
    """The ticket, or NOT_FOUND."""
    ticket = await repository.get(ticket_id)
    if ticket is None:
        raise NotFound(f"tickets/{ticket_id} does not exist")
    return ticket


def _same_create(existing: Ticket, details: TicketDetails, channel: Channel) -> Ticket:
    """The existing ticket if the request would have created it, else ALREADY_EXISTS."""
    candidate = Ticket.create(existing.id, existing.number, details, channel, existing.create_time)
    requested = candidate.details
    if not requested.requester and requested.requester_email == existing.details.requester_email:
        # The requester has been found by that address since.
        requested = replace(requested, requester=existing.details.requester)
    check_retried_create(
        existing.name, (existing.details, existing.channel), (requested, candidate.channel)
    )
    return existing
