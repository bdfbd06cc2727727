"""Support tickets whose requester is only an email address get a person.

The helpdesk accepts tickets from addresses no contact has yet (an email, a web
form) and announces them; the contacts service finds or creates the person with
that address, and `contact.created` tells the helpdesk whom the ticket is from.
"""

from dataclasses import replace

from crm.events.v1.event_pb2 import Event
from crm.support.v1 import events_pb2 as support_events
from crm.support.v1.ticket_pb2 import Ticket
from crm_common.messaging.consumer import Subscription
from crm_common.messaging.envelope import unpack
from crm_common.messaging.uow import UnitOfWork
from crm_contacts.domain.timeline import customers_among
from crm_contacts.events import timeline
from crm_contacts.handlers.requesters import person_for_address
from crm_contacts.proto import RESOURCE_PREFIX
from crm_contacts.storage.timeline import TimelineRepository

_REQUESTER_FIELDS = frozenset({"requester", "requester_email"})


async def on_ticket_created(event: Event, uow: UnitOfWork) -> None:
    """The person, and the opened ticket on their timeline (the timeline's own
    entry could not name them)."""
    ticket = unpack(event, support_events.TicketCreated).ticket
    if not _awaits_person(ticket):
        return
    person_id = await person_for_address(uow, ticket.requester_email, ticket.requester_display_name)
    opened = replace(
        timeline.ticket_created(event), about=customers_among([RESOURCE_PREFIX + person_id])
    )
    await TimelineRepository(uow.session).record(event.id, opened)


async def on_ticket_updated(event: Event, uow: UnitOfWork) -> None:
    """An agent named the requester by another address (or dropped the person)."""
    payload = unpack(event, support_events.TicketUpdated)
    if _REQUESTER_FIELDS.intersection(payload.changed_fields) and _awaits_person(payload.ticket):
        ticket = payload.ticket
        await person_for_address(uow, ticket.requester_email, ticket.requester_display_name)


def _awaits_person(ticket: Ticket) -> bool:
    return not ticket.requester and bool(ticket.requester_email)


SUPPORT = Subscription(
    source="support",
    handlers={"ticket.created": on_ticket_created, "ticket.updated": on_ticket_updated},
)
