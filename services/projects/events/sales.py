"""Follows the sales service: a won deal gets its project (handlers/won_deals.py)."""

from datetime import UTC, datetime

from crm.events.v1.event_pb2 import Event
from crm.sales.v1 import events_pb2
from crm_common.messaging.consumer import Subscription
from crm_common.messaging.envelope import unpack
from crm_common.messaging.uow import UnitOfWork
from crm_projects.domain.won_deals import WonDeal
from crm_projects.handlers.won_deals import start_won_deal_project


async def on_opportunity_won(event: Event, uow: UnitOfWork) -> None:
    opportunity = unpack(event, events_pb2.OpportunityWon).opportunity
    if not opportunity.name:
        raise ValueError("opportunity.won without the opportunity's name")
    deal = WonDeal(
        opportunity=opportunity.name,
        display_name=opportunity.display_name,
        organization=opportunity.organization,
        people=tuple(opportunity.people),
        owner=opportunity.owner,
        pipeline=opportunity.pipeline,
        won_at=_won_at(event),
    )
    await start_won_deal_project(uow, deal)


def _won_at(event: Event) -> datetime:
    # When the win committed in sales; an envelope without a time was won at
    # the latest when it arrived.
    if event.HasField("occurred_at"):
        return event.occurred_at.ToDatetime(tzinfo=UTC)
    return datetime.now(UTC)


SALES = Subscription(source="sales", handlers={"opportunity.won": on_opportunity_won})
