"""Keeps the tickets linked to tasks current from the helpdesk's `ticket.*` events.

Every change to a ticket is announced as `ticket.updated` carrying the whole
ticket, so created and updated are enough to follow its links; the event's
aggregate version puts late or repeated deliveries in their place.
"""

from crm.events.v1.event_pb2 import Event
from crm.support.v1 import events_pb2
from crm.support.v1.ticket_pb2 import Ticket
from crm_common.messaging.consumer import Subscription
from crm_common.messaging.envelope import unpack
from crm_common.messaging.uow import UnitOfWork
from crm_projects.domain.ticket_links import task_links
from crm_projects.storage.task_tickets import replace_links, ticket_version


async def on_ticket_created(event: Event, uow: UnitOfWork) -> None:
    await _follow(event, unpack(event, events_pb2.TicketCreated).ticket, uow)


async def on_ticket_updated(event: Event, uow: UnitOfWork) -> None:
    await _follow(event, unpack(event, events_pb2.TicketUpdated).ticket, uow)


async def _follow(event: Event, ticket: Ticket, uow: UnitOfWork) -> None:
    links = task_links(ticket.links)
    known = await ticket_version(uow.session, event.aggregate_id)
    if known is None and not links:
        return  # a ticket about no task is none of our business
    if known is not None and event.aggregate_version <= known:
        return  # an older state than the one already applied
    await replace_links(
        uow.session, event.aggregate_id, event.aggregate_version, links, known is not None
    )


SUPPORT = Subscription(
    source="support",
    handlers={"ticket.created": on_ticket_created, "ticket.updated": on_ticket_updated},
)
