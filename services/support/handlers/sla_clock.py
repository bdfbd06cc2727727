"""The SLA scheduler: announces warnings and breaches as they fall due, once each.

Each ticket whose `sla_check_time` has come is handled in a unit of work of its
own: the targets are marked announced, the escalation is applied, and the
ticket is saved through `settle` (optimistic version check) in the same
transaction as the events. A replica that loses the race to another (or to
an agent's change) gets a version conflict and leaves the ticket to the
winner; all state is in the database, so a restart resumes where it stopped.
"""

import logging
from collections.abc import Callable
from datetime import datetime

from crm_common.errors import Aborted, DomainError
from crm_common.messaging.envelope import OutgoingEvent
from crm_common.messaging.uow import UnitOfWork
from crm_support.domain.sla import (
    Announcement,
    SlaAlert,
    announce,
    calls_for_escalation,
    next_check_time,
)
from crm_support.domain.tickets import SLA_POLICIES, Ticket
from crm_support.events import published
from crm_support.handlers.change import TicketChange
from crm_support.handlers.ticket_changes import settle, snapshot
from crm_support.storage.sla import (
    SlaPolicyRepository,
    claim_for_sla_check,
    set_sla_check_time,
    tickets_due_for_sla_check,
)
from crm_support.storage.tickets import TicketRepository

log = logging.getLogger(__name__)

# Tickets looked at per run: a backlog (after downtime) is worked off over
# several runs instead of holding one long pass.
BATCH_SIZE = 200


async def check_sla_clocks(units: Callable[[], UnitOfWork], now: datetime) -> None:
    """The scheduled job: the tickets whose check time has come, longest waiting first."""
    async with units() as uow:
        due = await tickets_due_for_sla_check(uow.session, now, BATCH_SIZE)
    for ticket_id in due:
        await _check_ticket(units, ticket_id, now)


async def _check_ticket(units: Callable[[], UnitOfWork], ticket_id: str, now: datetime) -> None:
    try:
        await _check(units(), ticket_id, now, escalate=True)
        return
    except Aborted:
        return  # changed meanwhile by someone else, who measured it anew
    except DomainError as error:
        # An escalation the ticket refuses (a group that no longer exists, say)
        # must not hold back the announcement.
        log.warning(
            "SLA check refused; announcing without escalation",
            extra={"ticket": ticket_id, "error": error.message},
        )
    try:
        await _check(units(), ticket_id, now, escalate=False)
    except DomainError as error:  # the next run tries again; the others go on
        log.warning("SLA check failed", extra={"ticket": ticket_id, "error": error.message})


async def _check(uow: UnitOfWork, ticket_id: str, now: datetime, *, escalate: bool) -> None:
    async with uow:
        if not await claim_for_sla_check(uow.session, ticket_id, now):
            return  # another replica holds it, or it is no longer due
        ticket = await TicketRepository(uow.session).get(ticket_id)
        assert ticket is not None  # claimed above
        targets, announcements = announce(ticket.sla_targets, now)
        if not announcements:
            # Nothing due after all (the ticket changed since the batch was read).
            check_time = next_check_time(ticket.sla_targets, now)
            await set_sla_check_time(uow.session, ticket.id, ticket.version, check_time)
            await uow.commit()
            return
        before = snapshot(ticket)
        ticket.sla_targets = targets
        escalating = escalate and calls_for_escalation(announcements)
        changed = await _escalate(uow, ticket, now) if escalating else []
        if not changed:
            ticket.touch(now)  # a new version, so that a racing replica's save fails
        change = TicketChange(uow.session, now, before, [*changed, "sla_targets"])
        stored = await settle(uow, ticket, change)
        for announcement in announcements:
            uow.publish(_event(stored, announcement))
        await uow.commit()


async def _escalate(uow: UnitOfWork, ticket: Ticket, now: datetime) -> list[str]:
    """Applies the escalation of the ticket's policy; returns the fields it changed."""
    policy_id = ticket.sla_policy.removeprefix(SLA_POLICIES)
    policy = await SlaPolicyRepository(uow.session).get(policy_id) if policy_id else None
    if policy is None:
        return []
    changes = policy.spec.escalation.changes_for(ticket)
    return ticket.update(changes, now) if changes else []


def _event(ticket: Ticket, announcement: Announcement) -> OutgoingEvent:
    """The announcement about the ticket as stored, with its target as it now stands."""
    metric = announcement.target.metric
    target = next((t for t in ticket.sla_targets if t.metric is metric), announcement.target)
    if announcement.alert is SlaAlert.BREACH:
        return published.sla_breached(ticket, target)
    return published.sla_warning(ticket, target)
