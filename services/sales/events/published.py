"""The events the sales service announces about opportunities.

Every payload carries the whole opportunity, value and owner included, so
that consumers (projects, automation, forecasts elsewhere) need not call back.
"""

from google.protobuf.message import Message

from crm.sales.v1 import events_pb2, opportunity_pb2
from crm_common.messaging.envelope import OutgoingEvent
from crm_sales.domain.opportunities import Deal, State
from crm_sales.opportunity_proto import opportunity_to_proto, stage_name

OPPORTUNITY_CREATED = "opportunity.created"
OPPORTUNITY_UPDATED = "opportunity.updated"
OPPORTUNITY_STAGE_CHANGED = "opportunity.stage_changed"
OPPORTUNITY_WON = "opportunity.won"
OPPORTUNITY_LOST = "opportunity.lost"
OPPORTUNITY_REOPENED = "opportunity.reopened"

_STATE_TO_PROTO = {
    State.WON: opportunity_pb2.OPPORTUNITY_STATE_WON,
    State.LOST: opportunity_pb2.OPPORTUNITY_STATE_LOST,
}


def opportunity_created(deal: Deal) -> OutgoingEvent:
    payload = events_pb2.OpportunityCreated(opportunity=opportunity_to_proto(deal))
    return _about(deal, OPPORTUNITY_CREATED, payload)


def opportunity_updated(deal: Deal, changed_fields: list[str]) -> OutgoingEvent:
    payload = events_pb2.OpportunityUpdated(
        opportunity=opportunity_to_proto(deal), changed_fields=changed_fields
    )
    return _about(deal, OPPORTUNITY_UPDATED, payload)


def stage_changed(deal: Deal, previous_pipeline: str, previous_stage: str) -> OutgoingEvent:
    payload = events_pb2.OpportunityStageChanged(
        opportunity=opportunity_to_proto(deal),
        previous_stage=stage_name(previous_pipeline, previous_stage),
    )
    return _about(deal, OPPORTUNITY_STAGE_CHANGED, payload)


def opportunity_closed(deal: Deal) -> OutgoingEvent:
    """`opportunity.won` or `opportunity.lost`, with the reason's name."""
    proto = opportunity_to_proto(deal)
    if deal.opportunity.state is State.WON:
        won = events_pb2.OpportunityWon(opportunity=proto, reason=proto.close_reason)
        return _about(deal, OPPORTUNITY_WON, won)
    lost = events_pb2.OpportunityLost(opportunity=proto, reason=proto.close_reason)
    return _about(deal, OPPORTUNITY_LOST, lost)


def opportunity_reopened(deal: Deal, previous_state: State) -> OutgoingEvent:
    payload = events_pb2.OpportunityReopened(
        opportunity=opportunity_to_proto(deal), previous_state=_STATE_TO_PROTO[previous_state]
    )
    return _about(deal, OPPORTUNITY_REOPENED, payload)


def _about(deal: Deal, event_type: str, payload: Message) -> OutgoingEvent:
    opportunity = deal.opportunity
    return OutgoingEvent(
        type=event_type,
        aggregate_type="opportunity",
        aggregate_id=opportunity.id,
        aggregate_version=opportunity.version,
        payload=payload,
    )
