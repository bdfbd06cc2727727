"""The events the support service announces, all about the ticket aggregate."""

from google.protobuf.message import Message

from crm.support.v1 import events_pb2
from crm_common.messaging.envelope import OutgoingEvent
from crm_support.domain.comments import Comment
from crm_support.domain.sla_state import SlaTarget
from crm_support.domain.tickets import Ticket, TicketStatus
from crm_support.ticket_proto import (
    comment_to_proto,
    sla_target_to_proto,
    status_to_proto,
    ticket_to_proto,
)

TICKET_CREATED = "ticket.created"
TICKET_UPDATED = "ticket.updated"
TICKET_STATUS_CHANGED = "ticket.status_changed"
TICKET_SOLVED = "ticket.solved"
TICKET_COMMENT_ADDED = "ticket.comment_added"
TICKET_ASSIGNED = "ticket.assigned"
TICKET_SLA_WARNING = "ticket.sla_warning"
TICKET_SLA_BREACHED = "ticket.sla_breached"
TICKET_MERGED = "ticket.merged"


def ticket_created(ticket: Ticket) -> OutgoingEvent:
    return _about(ticket, TICKET_CREATED, events_pb2.TicketCreated(ticket=ticket_to_proto(ticket)))


def ticket_changed(
    ticket: Ticket, changed_fields: list[str], before: Ticket
) -> list[OutgoingEvent]:
    """`ticket.updated`, then `status_changed`, `solved` and `assigned` when the change
    says so.

    The narrower events exist so that consumers such as SLA clocks need not
    inspect every update.
    """
    proto = ticket_to_proto(ticket)
    events = [
        _about(
            ticket,
            TICKET_UPDATED,
            events_pb2.TicketUpdated(ticket=proto, changed_fields=changed_fields),
        )
    ]
    if ticket.status != before.status:
        payload = events_pb2.TicketStatusChanged(
            ticket=proto, previous_status=status_to_proto(before.status)
        )
        events.append(_about(ticket, TICKET_STATUS_CHANGED, payload))
        if ticket.status is TicketStatus.SOLVED:
            events.append(_about(ticket, TICKET_SOLVED, events_pb2.TicketSolved(ticket=proto)))
    previous = before.details
    if (ticket.details.assignee, ticket.details.group) != (previous.assignee, previous.group):
        payload = events_pb2.TicketAssigned(
            ticket=proto, previous_assignee=previous.assignee, previous_group=previous.group
        )
        events.append(_about(ticket, TICKET_ASSIGNED, payload))
    return events


def comment_added(ticket: Ticket, comment: Comment) -> OutgoingEvent:
    payload = events_pb2.TicketCommentAdded(ticket=ticket.name, comment=comment_to_proto(comment))
    return _about(ticket, TICKET_COMMENT_ADDED, payload)


def sla_warning(ticket: Ticket, target: SlaTarget) -> OutgoingEvent:
    payload = events_pb2.TicketSlaWarning(
        ticket=ticket_to_proto(ticket), target=sla_target_to_proto(target)
    )
    return _about(ticket, TICKET_SLA_WARNING, payload)


def sla_breached(ticket: Ticket, target: SlaTarget) -> OutgoingEvent:
    payload = events_pb2.TicketSlaBreached(
        ticket=ticket_to_proto(ticket), target=sla_target_to_proto(target)
    )
    return _about(ticket, TICKET_SLA_BREACHED, payload)


def ticket_merged(source: Ticket, target: Ticket) -> OutgoingEvent:
    payload = events_pb2.TicketMerged(
        source=ticket_to_proto(source), target=ticket_to_proto(target)
    )
    return _about(source, TICKET_MERGED, payload)


def _about(ticket: Ticket, event_type: str, payload: Message) -> OutgoingEvent:
    return OutgoingEvent(
        type=event_type,
        aggregate_type="ticket",
        aggregate_id=ticket.id,
        aggregate_version=ticket.version,
        payload=payload,
    )
