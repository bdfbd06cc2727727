"""What workflow rules see of the events they run on.

A rule's condition is tested against the subject as the triggering event
carries it (not as it is when the event arrives), so that a redelivered or
late event is judged the same way every time. The answers mirror the List
RPC filters over the same fields (crm_common/filter_match.py): opportunity
conditions take ListOpportunities' filter, lead conditions those of scoring
rules, ticket conditions the ticket fields named in TICKET_CONDITION_SCHEMA.
"""

from collections.abc import Callable
from datetime import UTC, date, datetime
from functools import lru_cache

from google.protobuf.timestamp_pb2 import Timestamp

from crm.events.v1.event_pb2 import Event
from crm.sales.v1 import events_pb2, lead_pb2, opportunity_pb2
from crm.support.v1 import events_pb2 as support_events_pb2
from crm.support.v1 import ticket_pb2
from crm_common.errors import InvalidArgument
from crm_common.filter_match import RecordFields, Repeated, Scalar
from crm_common.filtering import (
    And,
    Comparison,
    Expr,
    FilterField,
    FilterSchema,
    Not,
    Or,
    parse_filter,
)
from crm_common.messaging.envelope import unpack
from crm_sales.domain.lead_scoring import CONDITION_SCHEMA as LEAD_SCHEMA
from crm_sales.domain.lead_scoring import LEAD_FIELDS
from crm_sales.domain.leads import Lead, LeadStatus
from crm_sales.domain.opportunities import FILTER_SCHEMA as OPPORTUNITY_SCHEMA
from crm_sales.domain.opportunities import ForecastCategory, State
from crm_sales.domain.workflows import TRIGGERS, Subject, SubjectKind, TriggeringEvent
from crm_sales.lead_proto import lead_details_from_proto

PIPELINES = "pipelines/"
CLOSE_REASONS = "closeReasons/"


def _time(message: object, field: str) -> datetime | None:
    if not message.HasField(field):  # type: ignore[attr-defined]
        return None
    stamp: Timestamp = getattr(message, field)
    return stamp.ToDatetime(tzinfo=UTC)


def _close_date(o: opportunity_pb2.Opportunity) -> date | None:
    if not o.HasField("expected_close_date"):
        return None
    day = o.expected_close_date
    return date(day.year, day.month, day.day)


def _iso_date(value: str) -> date:
    # Checked when the rule was written (date_problem), so this parses.
    return date.fromisoformat(value)


def _by_name(
    enum_names: Callable[[int], str], prefix: str, domain: type
) -> Callable[[int], int | None]:
    """A proto enum number as the domain's (stored) number; None when the domain lacks it."""

    def stored(number: int) -> int | None:
        member = domain.__members__.get(enum_names(number).removeprefix(prefix))
        return None if member is None else int(member)

    return stored


_STATE = _by_name(opportunity_pb2.OpportunityState.Name, "OPPORTUNITY_STATE_", State)
_CATEGORY = _by_name(opportunity_pb2.ForecastCategory.Name, "FORECAST_CATEGORY_", ForecastCategory)

OPPORTUNITY_FIELDS: RecordFields[opportunity_pb2.Opportunity] = RecordFields(
    scalars={
        **{
            name: Scalar(lambda o, name=name: getattr(o, name))
            for name in ("display_name", "owner", "organization", "stage")
        },
        "pipeline": Scalar(
            lambda o: o.pipeline.removeprefix(PIPELINES), lambda v: v.removeprefix(PIPELINES)
        ),
        # NULL while the deal is open, as stored.
        "close_reason": Scalar(
            lambda o: o.close_reason.removeprefix(CLOSE_REASONS) or None,
            lambda v: v.removeprefix(CLOSE_REASONS),
        ),
        "value.currency_code": Scalar(lambda o: o.value.currency_code),
        "value.units": Scalar(lambda o: o.value.units),
        "expected_close_date": Scalar(_close_date, _iso_date),
        "state": Scalar(lambda o: _STATE(o.state)),
        "forecast_category": Scalar(lambda o: _CATEGORY(o.effective_forecast_category)),
        "effective_probability": Scalar(lambda o: o.effective_probability),
        **{
            name: Scalar(lambda o, name=name: _time(o, name))
            for name in ("close_time", "create_time", "update_time")
        },
    },
    repeated={
        "people": Repeated(lambda o: tuple(o.people)),
        "tags": Repeated(
            lambda o: tuple(tag.lower() for tag in o.tags), lambda tag: tag.strip().lower()
        ),
    },
    custom={"custom_fields": lambda o: dict(o.custom_fields)},
)


def _enum_values(enum: object, prefix: str) -> dict[str, int]:
    values: dict[str, int] = enum.items()  # type: ignore[attr-defined]
    return {name.removeprefix(prefix): number for name, number in values if number}


_TICKET_ENUMS = {
    "priority": _enum_values(ticket_pb2.TicketPriority, "TICKET_PRIORITY_"),
    "status": _enum_values(ticket_pb2.TicketStatus, "TICKET_STATUS_"),
    "type": _enum_values(ticket_pb2.TicketType, "TICKET_TYPE_"),
    "channel": _enum_values(ticket_pb2.TicketChannel, "TICKET_CHANNEL_"),
}
_TICKET_STRINGS = ("subject", "requester", "organization", "assignee", "group")

TICKET_CONDITION_SCHEMA = FilterSchema(
    {
        **{name: FilterField.enum(values) for name, values in _TICKET_ENUMS.items()},
        **{name: FilterField.string() for name in _TICKET_STRINGS},
        "tags": FilterField.repeated_string(),
    },
    custom_prefixes=("custom_fields",),
)

TICKET_FIELDS: RecordFields[ticket_pb2.Ticket] = RecordFields(
    scalars={
        name: Scalar(lambda t, name=name: getattr(t, name))
        for name in (*_TICKET_ENUMS, *_TICKET_STRINGS)
    },
    repeated={"tags": Repeated(lambda t: tuple(tag.lower() for tag in t.tags), str.lower)},
    custom={"custom_fields": lambda t: dict(t.custom_fields)},
)

CONDITION_SCHEMAS = {
    SubjectKind.OPPORTUNITY: OPPORTUNITY_SCHEMA,
    SubjectKind.LEAD: LEAD_SCHEMA,
    SubjectKind.TICKET: TICKET_CONDITION_SCHEMA,
}


@lru_cache(maxsize=512)
def parse_condition(kind: SubjectKind, text: str) -> Expr | None:
    return parse_filter(text, CONDITION_SCHEMAS[kind])


def condition_problem(kind: SubjectKind, text: str) -> str | None:
    """What is wrong with a rule's condition for this kind of subject, or None."""
    try:
        expr = parse_condition(kind, text)
    except InvalidArgument as error:
        return "; ".join(violation.description for violation in error.violations)
    return _date_problem(expr) if kind is SubjectKind.OPPORTUNITY else None


def _date_problem(expr: Expr | None) -> str | None:
    """ListOpportunities refuses a bad date when it runs; a rule must at once."""
    for node in _comparisons(expr):
        if node.field == "expected_close_date" and node.value is not None:
            try:
                date.fromisoformat(str(node.value))
            except ValueError:
                return f'expected_close_date takes a date like "2025-07-01", not {node.value!r}'
    return None


def _comparisons(expr: Expr | None) -> list[Comparison]:
    match expr:
        case Comparison():
            return [expr]
        case And(terms) | Or(terms):
            return [node for term in terms for node in _comparisons(term)]
        case Not(inner):
            return _comparisons(inner)
    return []


def triggering_event(event: Event) -> TriggeringEvent:
    """The event as workflow rules see it; ValueError if it is no trigger."""
    kind = TRIGGERS.get(event.type)
    if kind is None:
        raise ValueError(f"{event.type} triggers no workflow rule")
    subject, satisfies = _READERS[kind](event)
    if not subject.name:
        raise ValueError(f"{event.type} {event.id} names no {kind}")
    return TriggeringEvent(
        id=event.id,
        type=event.type,
        occurred_at=_time(event, "occurred_at") or datetime.now(UTC),
        aggregate_type=event.aggregate_type,
        aggregate_id=event.aggregate_id,
        aggregate_version=event.aggregate_version,
        subject=subject,
        satisfies=satisfies,
    )


Reader = Callable[[Event], tuple[Subject, Callable[[str], bool]]]

# Every opportunity and ticket event payload carries the record in the same field.
_OPPORTUNITY_PAYLOADS = {
    "opportunity.created": events_pb2.OpportunityCreated,
    "opportunity.updated": events_pb2.OpportunityUpdated,
    "opportunity.stage_changed": events_pb2.OpportunityStageChanged,
    "opportunity.won": events_pb2.OpportunityWon,
    "opportunity.lost": events_pb2.OpportunityLost,
    "opportunity.reopened": events_pb2.OpportunityReopened,
}
_LEAD_PAYLOADS = {"lead.created": events_pb2.LeadCreated, "lead.updated": events_pb2.LeadUpdated}
_TICKET_PAYLOADS = {
    "ticket.created": support_events_pb2.TicketCreated,
    "ticket.updated": support_events_pb2.TicketUpdated,
    "ticket.status_changed": support_events_pb2.TicketStatusChanged,
}


def _opportunity(event: Event) -> tuple[Subject, Callable[[str], bool]]:
    o = unpack(event, _OPPORTUNITY_PAYLOADS[event.type]).opportunity
    subject = Subject(SubjectKind.OPPORTUNITY, o.name, o.display_name, o.owner, o.organization)
    return subject, lambda text: OPPORTUNITY_FIELDS.matches(
        parse_condition(SubjectKind.OPPORTUNITY, text), o
    )


def _lead(event: Event) -> tuple[Subject, Callable[[str], bool]]:
    message: lead_pb2.Lead = unpack(event, _LEAD_PAYLOADS[event.type]).lead
    lead = Lead(
        id=message.name.removeprefix("leads/"),
        details=lead_details_from_proto(message),
        status=LeadStatus[lead_pb2.LeadStatus.Name(message.status).removeprefix("LEAD_STATUS_")],
        create_time=_time(message, "create_time") or datetime.now(UTC),
        update_time=_time(message, "update_time") or datetime.now(UTC),
    )
    details = lead.details
    display_name = " ".join(filter(None, (details.given_name, details.family_name)))
    subject = Subject(
        SubjectKind.LEAD, message.name, display_name or details.company_name, details.owner, ""
    )
    return subject, lambda text: LEAD_FIELDS.matches(parse_condition(SubjectKind.LEAD, text), lead)


def _ticket(event: Event) -> tuple[Subject, Callable[[str], bool]]:
    t = unpack(event, _TICKET_PAYLOADS[event.type]).ticket
    subject = Subject(SubjectKind.TICKET, t.name, t.subject, "", t.organization)
    return subject, lambda text: TICKET_FIELDS.matches(parse_condition(SubjectKind.TICKET, text), t)


_READERS: dict[SubjectKind, Reader] = {
    SubjectKind.OPPORTUNITY: _opportunity,
    SubjectKind.LEAD: _lead,
    SubjectKind.TICKET: _ticket,
}

SALES_TRIGGERS = (*_OPPORTUNITY_PAYLOADS, *_LEAD_PAYLOADS)
SUPPORT_TRIGGERS = tuple(_TICKET_PAYLOADS)
