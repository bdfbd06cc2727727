"""Applying a macro: an agent's set of actions on a ticket, as one change."""

import uuid
from datetime import UTC, datetime

from crm_common.auth.principal import Principal
from crm_common.errors import FailedPrecondition, InvalidArgument
from crm_common.etags import check_etag
from crm_common.messaging.uow import UnitOfWork
from crm_support.domain.actions import apply_actions, needs_agent
from crm_support.domain.tickets import Ticket
from crm_support.handlers.access import accessible_ticket, ticket_access
from crm_support.handlers.action_lookups import action_context
from crm_support.handlers.automation_admin import existing
from crm_support.handlers.change import TicketChange
from crm_support.handlers.ticket_changes import settle, snapshot
from crm_support.storage.automation import macro_repository
from crm_support.storage.tickets import TicketRepository


async def apply_macro(
    uow: UnitOfWork, caller: Principal, macro_id: str, ticket_id: str, agent: str, ticket_etag: str
) -> Ticket:
    """Applies the macro's actions to the ticket; `agent` (`agents/{id}` or "")
    is who applies it. Returns the ticket as stored."""
    async with uow:
        macro = await existing(macro_repository(uow.session), macro_id)
        if not macro.active:
            raise FailedPrecondition(f"{macro.name} is inactive; activate it to apply it")
        if needs_agent(macro.actions) and not agent:
            raise InvalidArgument.single(
                "agent", f"is required: {macro.name} adds a comment that names no author"
            )
        access = await ticket_access(uow.session, caller)
        ticket = await accessible_ticket(TicketRepository(uow.session), ticket_id, access)
        check_etag(ticket_etag, ticket.version, ticket.name)
        context = await action_context(uow.session, ticket, macro.actions, agent=agent)
        before, now = snapshot(ticket), datetime.now(UTC)
        applied = apply_actions(ticket, macro.actions, context, now, lambda: uuid.uuid4().hex)
        if not applied.changed:
            return ticket
        change = TicketChange(
            uow.session, now, before, applied.changed_fields, added_comments=applied.comments
        )
        stored = await settle(uow, ticket, change)
        await uow.commit()
    return stored
