"""The customer timeline, fed by what sales, support and projects announce.

Each event becomes one timeline entry per person and organization it names,
whether or not the contacts service knows them yet: the announcing service
may have heard of a contact first, or the contact may be merged later.
"""

from collections.abc import Callable
from datetime import UTC, datetime

from crm.events.v1.event_pb2 import Event
from crm.projects.v1 import events_pb2 as projects_events
from crm.sales.v1 import events_pb2 as sales_events
from crm.sales.v1.opportunity_pb2 import Opportunity
from crm.support.v1 import events_pb2 as support_events
from crm.support.v1.ticket_pb2 import Ticket
from crm_common.messaging.consumer import EventHandler, Subscription
from crm_common.messaging.envelope import unpack
from crm_common.messaging.uow import UnitOfWork
from crm_contacts.domain.timeline import (
    Announcement,
    Money,
    TimelineKind,
    customers_among,
    deal_summary,
    project_summary,
    ticket_summary,
)
from crm_contacts.storage.timeline import TimelineRepository

Reader = Callable[[Event], Announcement]


def opportunity_created(event: Event) -> Announcement:
    opportunity = unpack(event, sales_events.OpportunityCreated).opportunity
    return _deal(event, TimelineKind.DEAL_OPENED, opportunity)


def opportunity_won(event: Event) -> Announcement:
    payload = unpack(event, sales_events.OpportunityWon)
    return _deal(event, TimelineKind.DEAL_WON, payload.opportunity, payload.reason)


def opportunity_lost(event: Event) -> Announcement:
    payload = unpack(event, sales_events.OpportunityLost)
    return _deal(event, TimelineKind.DEAL_LOST, payload.opportunity, payload.reason)


def ticket_created(event: Event) -> Announcement:
    ticket = unpack(event, support_events.TicketCreated).ticket
    return _ticket(event, TimelineKind.TICKET_OPENED, ticket)


def ticket_solved(event: Event) -> Announcement:
    ticket = unpack(event, support_events.TicketSolved).ticket
    return _ticket(event, TimelineKind.TICKET_SOLVED, ticket)


def project_created(event: Event) -> Announcement:
    project = unpack(event, projects_events.ProjectCreated).project
    return Announcement(
        kind=TimelineKind.PROJECT_STARTED,
        summary=project_summary(project.display_name or project.name),
        source="projects",
        resource=project.name,
        time=occurred_at(event),
        about=customers_among([project.organization, *project.people]),
    )


def _deal(
    event: Event, kind: TimelineKind, opportunity: Opportunity, reason: str = ""
) -> Announcement:
    value = opportunity.value
    money = (
        Money(value.currency_code, value.units, value.nanos)
        if opportunity.HasField("value")
        else None
    )
    return Announcement(
        kind=kind,
        summary=deal_summary(kind, opportunity.display_name or opportunity.name, money, reason),
        source="sales",
        resource=opportunity.name,
        time=occurred_at(event),
        about=customers_among([opportunity.organization, *opportunity.people]),
    )


def _ticket(event: Event, kind: TimelineKind, ticket: Ticket) -> Announcement:
    return Announcement(
        kind=kind,
        summary=ticket_summary(kind, ticket.number, ticket.subject or ticket.name),
        source="support",
        resource=ticket.name,
        time=occurred_at(event),
        about=customers_among([ticket.requester, ticket.organization]),
    )


def occurred_at(event: Event) -> datetime:
    # An envelope without a time still belongs on the timeline: when it
    # arrived is the best estimate there is.
    if event.HasField("occurred_at"):
        return event.occurred_at.ToDatetime(tzinfo=UTC)
    return datetime.now(UTC)


def recording(read: Reader) -> EventHandler:
    """A consumer handler that puts what `read` makes of an event on the timeline."""

    async def handle(event: Event, uow: UnitOfWork) -> None:
        await TimelineRepository(uow.session).record(event.id, read(event))

    return handle


SALES = Subscription(
    source="sales",
    handlers={
        "opportunity.created": recording(opportunity_created),
        "opportunity.won": recording(opportunity_won),
        "opportunity.lost": recording(opportunity_lost),
    },
)

SUPPORT = Subscription(
    source="support",
    handlers={
        "ticket.created": recording(ticket_created),
        "ticket.solved": recording(ticket_solved),
    },
)

PROJECTS = Subscription(
    source="projects",
    handlers={"project.created": recording(project_created)},
)
