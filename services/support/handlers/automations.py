"""The automations job: time-based actions on the tickets that match, once each.

Every run looks, automation by automation in position order, for a bounded
batch of tickets that match the condition now and that the automation has
not acted on, and acts on each in its own unit of work. The unit first
claims the (automation, ticket) pair in a table whose key makes replicas
that race for it wait and then skip, so no ticket is acted on twice.
"""

import logging
import uuid
from datetime import UTC, datetime

from crm_common.errors import Aborted, FailedPrecondition, InvalidArgument
from crm_common.filtering import Expr
from crm_common.messaging.uow import UnitOfWork, UnitOfWorkFactory
from crm_support.domain.actions import apply_actions
from crm_support.domain.automation import Automation, parse_condition
from crm_support.domain.ticket_match import matches
from crm_support.domain.tickets import TicketStatus
from crm_support.handlers.action_lookups import action_context
from crm_support.handlers.change import TicketChange
from crm_support.handlers.ticket_changes import settle, snapshot
from crm_support.storage.automation import (
    automation_repository,
    claim,
    due_ticket_ids,
)
from crm_support.storage.tickets import TicketRepository

log = logging.getLogger(__name__)

# Tickets one automation acts on per run; the next run takes the next ones.
BATCH_SIZE = 100


async def run_automations(units: UnitOfWorkFactory, now: datetime) -> None:
    async with units() as uow:
        active = await automation_repository(uow.session).active()
    for automation in active:
        try:
            condition = parse_condition(automation.condition, now, "automation.condition")
        except InvalidArgument as error:
            # Checked when saved; only a filter field since withdrawn gets here.
            log.error(
                "automation condition no longer parses",
                extra={"automation": automation.name, "reason": str(error)},
            )
            continue
        async with units() as uow:
            due = await due_ticket_ids(uow.session, automation.id, condition, BATCH_SIZE)
        for ticket_id in due:
            await _act_once(units, automation, condition, ticket_id, now)


async def _act_once(
    units: UnitOfWorkFactory,
    automation: Automation,
    condition: Expr | None,
    ticket_id: str,
    now: datetime,
) -> None:
    try:
        await _act(units(), automation, condition, ticket_id, now)
    except Aborted:
        pass  # the ticket changed meanwhile: nothing was kept, the next run looks again
    except (FailedPrecondition, InvalidArgument) as error:
        # Trying again would fail again (a refused transition, a group since
        # deleted): the ticket is recorded as done, with the reason.
        log.warning(
            "automation could not act",
            extra={
                "automation": automation.name,
                "ticket": f"tickets/{ticket_id}",
                "reason": str(error),
            },
        )
        async with units() as uow:
            if await claim(uow.session, automation.id, ticket_id, now, failure=str(error)):
                await uow.commit()


async def _act(
    uow: UnitOfWork, automation: Automation, condition: Expr | None, ticket_id: str, now: datetime
) -> None:
    """Claims the ticket and applies the actions in one unit of work; any error
    rolls both back."""
    async with uow:
        if not await claim(uow.session, automation.id, ticket_id, now):
            return
        ticket = await TicketRepository(uow.session).get(ticket_id)
        # The ticket may have changed since it was found: judge it as it is now.
        if ticket is None or ticket.status is TicketStatus.CLOSED or not matches(condition, ticket):
            return
        context = await action_context(uow.session, ticket, automation.actions, automated=True)
        before, changed_at = snapshot(ticket), datetime.now(UTC)
        applied = apply_actions(
            ticket, automation.actions, context, changed_at, lambda: uuid.uuid4().hex
        )
        if applied.changed:
            change = TicketChange(
                uow.session,
                changed_at,
                before,
                applied.changed_fields,
                added_comments=applied.comments,
            )
            await settle(uow, ticket, change)
        await uow.commit()
