"""The events the support service announces, all about the ticket aggregate."""

from google.protobuf.message import Message

from crm.support.v1 import events_pb2
from crm_common.messaging.envelope import OutgoingEvent
from crm_support.domain.comments import Comment
from crm_support.domain.tickets import Ticket, TicketStatus
from crm_support.ticket_proto import comment_to_proto, status_to_proto, ticket_to_proto

TICKET_CREATED = "ticket.created"
TICKET_UPDATED = "ticket.updated"
TICKET_STATUS_CHANGED = "ticket.status_changed"
TICKET_SOLVED = "ticket.solved"
TICKET_COMMENT_ADDED = "ticket.comment_added"


def ticket_created(ticket: Ticket) -> OutgoingEvent:
    return _about(ticket, TICKET_CREATED, events_pb2.TicketCreated(ticket=ticket_to_proto(ticket)))


def ticket_changed(
    ticket: Ticket, changed_fields: list[str], previous_status: TicketStatus
) -> list[OutgoingEvent]:
    """`ticket.updated`, then `status_changed` and `solved` when the change says so.

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
    if ticket.status != previous_status:
        payload = events_pb2.TicketStatusChanged(
            ticket=proto, previous_status=status_to_proto(previous_status)
        )
        events.append(_about(ticket, TICKET_STATUS_CHANGED, payload))
        if ticket.status is TicketStatus.SOLVED:
            events.append(_about(ticket, TICKET_SOLVED, events_pb2.TicketSolved(ticket=proto)))
    return events


def comment_added(ticket: Ticket, comment: Comment) -> OutgoingEvent:
    payload = events_pb2.TicketCommentAdded(ticket=ticket.name, comment=comment_to_proto(comment))
    return _about(ticket, TICKET_COMMENT_ADDED, payload)


def _about(ticket: Ticket, event_type: str, payload: Message) -> OutgoingEvent:
    return OutgoingEvent(
        type=event_type,
        aggregate_type="ticket",
        aggregate_id=ticket.id,
        aggregate_version=ticket.version,
        payload=payload,
    )
