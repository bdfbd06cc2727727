"""Use case: the requester rates the help they got (CSAT)."""

from datetime import UTC, datetime

from crm_common.auth.principal import Principal
from crm_common.messaging.uow import UnitOfWork
from crm_support.domain.tickets import SatisfactionScore, Ticket
from crm_support.handlers.access import accessible_ticket, ticket_access
from crm_support.handlers.change import TicketChange
from crm_support.handlers.ticket_changes import settle, snapshot
from crm_support.storage.tickets import TicketRepository


async def rate_ticket(
    uow: UnitOfWork, caller: Principal, ticket_id: str, score: SatisfactionScore, comment: str
) -> Ticket:
    """Locked before it is read, so of two ratings sent at once the second sees
    the first and gets ALREADY_EXISTS rather than a retryable conflict."""
    async with uow:
        repository = TicketRepository(uow.session)
        await repository.lock(ticket_id)
        ticket = await accessible_ticket(
            repository, ticket_id, await ticket_access(uow.session, caller)
        )
        before, now = snapshot(ticket), datetime.now(UTC)
        ticket.rate(score, comment, now)
        change = TicketChange(uow.session, now, before, ["satisfaction_rating"])
        ticket = await settle(uow, ticket, change)
        await uow.commit()
    return ticket
