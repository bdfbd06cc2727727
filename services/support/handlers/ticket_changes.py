"""How a change to a ticket is settled: the rules react, then state and events commit.

Every use case that changes a ticket (create, update, a comment, a macro, a
merge, an email) builds a TicketChange and calls `settle`, so triggers,
assignment and SLA clocks see every change the same way, and the events
describe the ticket as the rules left it.
"""

from dataclasses import replace

from crm_common.messaging.envelope import OutgoingEvent
from crm_common.messaging.uow import UnitOfWork
from crm_support.domain.tickets import Ticket
from crm_support.events import published
from crm_support.handlers.change import TicketChange
from crm_support.handlers.rules import RULES
from crm_support.storage.tickets import CommentRepository, TicketRepository


def snapshot(ticket: Ticket) -> Ticket:
    """A copy to compare against after the change (details are immutable)."""
    return replace(ticket)


async def settle(uow: UnitOfWork, ticket: Ticket, change: TicketChange) -> Ticket:
    """Runs the rules, stores the ticket and its new comments, and queues the events.

    Returns the ticket as stored (with the requester's name). The caller commits.
    """
    for rule in RULES:
        await rule(ticket, change)
    repository = TicketRepository(uow.session)
    created = await repository.add(ticket) if change.before is None else None
    if change.before is not None and (
        change.changed_fields or change.comment or change.added_comments
    ):
        await repository.save(ticket, expected_version=change.before.version)
    comments = CommentRepository(uow.session)
    for comment in [c for c in (change.comment, *change.added_comments) if c is not None]:
        await comments.add(comment)
    # A new ticket comes back from its insert as stored; comments leave its row as it is.
    stored = created or await repository.get(ticket.id)
    assert stored is not None  # written above in this transaction
    for event in _ticket_events(stored, change):
        uow.publish(event)
    return stored


def _ticket_events(ticket: Ticket, change: TicketChange) -> list[OutgoingEvent]:
    if change.before is None:
        events = [published.ticket_created(ticket)]
    elif change.changed_fields:
        events = published.ticket_changed(ticket, change.changed_fields, change.before)
    else:
        events = []
    events += [
        published.comment_added(ticket, c)
        for c in (change.comment, *change.added_comments)
        if c is not None
    ]
    return events + change.events
