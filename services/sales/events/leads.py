"""The events the sales service announces about leads."""

from google.protobuf.message import Message

from crm.sales.v1 import events_pb2
from crm_common.messaging.envelope import OutgoingEvent
from crm_sales.domain.leads import Lead
from crm_sales.lead_proto import lead_to_proto

LEAD_CREATED = "lead.created"
LEAD_UPDATED = "lead.updated"
LEAD_CONVERTED = "lead.converted"


def lead_created(lead: Lead) -> OutgoingEvent:
    return _about(lead, LEAD_CREATED, events_pb2.LeadCreated(lead=lead_to_proto(lead)))


def lead_updated(lead: Lead, changed_fields: list[str]) -> OutgoingEvent:
    payload = events_pb2.LeadUpdated(lead=lead_to_proto(lead), changed_fields=changed_fields)
    return _about(lead, LEAD_UPDATED, payload)


def lead_converted(lead: Lead) -> OutgoingEvent:
    return _about(lead, LEAD_CONVERTED, events_pb2.LeadConverted(lead=lead_to_proto(lead)))


def _about(lead: Lead, event_type: str, payload: Message) -> OutgoingEvent:
    return OutgoingEvent(
        type=event_type,
        aggregate_type="lead",
        aggregate_id=lead.id,
        aggregate_version=lead.version,
        payload=payload,
    )
