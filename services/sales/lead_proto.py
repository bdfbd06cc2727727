"""Translation between the contract's Lead and ScoringRule and the domain."""

from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp

from crm.sales.v1 import lead_pb2
from crm_common.errors import InvalidArgument
from crm_common.etags import etag_for
from crm_common.resources import require_id
from crm_sales.domain.leads import Lead, LeadDetails, LeadStatus
from crm_sales.domain.scoring import RuleKind, ScoringRule, ScoringRuleRecord

LEADS = "leads/"
SCORING_RULES = "scoringRules/"
_STATUS = "LEAD_STATUS_"

# What UpdateLead may change: the details, and the status with its reason.
LEAD_FIELDS = (*LeadDetails.__dataclass_fields__, "status", "disqualify_reason")


def lead_id_from_name(name: str, field: str = "name") -> str:
    return require_id(name, LEADS, field, "like leads/123")


def rule_id_from_name(name: str, field: str = "name") -> str:
    return require_id(name, SCORING_RULES, field, "like scoringRules/123")


def status_from_proto(value: int, field: str = "lead.status") -> LeadStatus:
    try:
        name = lead_pb2.LeadStatus.Name(value)
    except ValueError as error:
        raise InvalidArgument.single(field, f"{value} is not a known status") from error
    if value == lead_pb2.LEAD_STATUS_UNSPECIFIED:
        raise InvalidArgument.single(field, "is required when it is updated")
    return LeadStatus[name.removeprefix(_STATUS)]


def lead_details_from_proto(message: lead_pb2.Lead) -> LeadDetails:
    return LeadDetails(
        **{name: lead_field(message, name) for name in LeadDetails.__dataclass_fields__}
    )


def lead_field(message: lead_pb2.Lead, field: str) -> object:
    """One writable field of `message` in its domain form."""
    match field:
        case "tags":
            return tuple(message.tags)
        case "custom_fields":
            return dict(message.custom_fields)
        case "status":
            return status_from_proto(message.status)
    return getattr(message, field)


def lead_to_proto(lead: Lead) -> lead_pb2.Lead:
    details = lead.details
    conversion = lead.conversion
    message = lead_pb2.Lead(
        name=lead.name,
        given_name=details.given_name,
        family_name=details.family_name,
        email=details.email,
        phone=details.phone,
        company_name=details.company_name,
        title=details.title,
        source=details.source,
        owner=details.owner,
        status=lead_pb2.LeadStatus.Value(_STATUS + lead.status.name),
        disqualify_reason=lead.disqualify_reason,
        score=lead.score,
        score_breakdown=[
            lead_pb2.ScoreLine(
                scoring_rule=SCORING_RULES + line.rule_id,
                display_name=line.display_name,
                points=line.points,
                reason=line.reason,
            )
            for line in lead.breakdown
        ],
        tags=details.tags,
        custom_fields=details.custom_fields,
        create_time=timestamp(lead.create_time),
        update_time=timestamp(lead.update_time),
        etag=etag_for(lead.version),
    )
    if conversion is not None:
        message.converted_person = conversion.person
        message.converted_organization = conversion.organization
        message.converted_opportunity = conversion.opportunity
        message.convert_time.CopyFrom(timestamp(conversion.time))
    return message


def rule_field(message: lead_pb2.ScoringRule, field: str) -> object:
    return getattr(message, field)


def rule_from_proto(message: lead_pb2.ScoringRule, rule_id: str) -> ScoringRule:
    """The rule as written; its kind is settled when it is checked."""
    return ScoringRule(
        id=rule_id,
        display_name=message.display_name,
        kind=RuleKind.FIELD if message.condition.strip() else RuleKind.ACTIVITY,
        points=message.points,
        condition=message.condition,
        activity=message.activity,
        cap=message.cap,
        # A rule is created active unless it says otherwise.
        active=message.active if message.HasField("active") else True,
    )


def rule_to_proto(record: ScoringRuleRecord) -> lead_pb2.ScoringRule:
    rule = record.rule
    return lead_pb2.ScoringRule(
        name=record.name,
        display_name=rule.display_name,
        condition=rule.condition,
        activity=rule.activity,
        points=rule.points,
        cap=rule.cap,
        active=rule.active,
        create_time=timestamp(record.create_time),
        update_time=timestamp(record.update_time),
        etag=etag_for(record.version),
    )


def timestamp(value: datetime) -> Timestamp:
    message = Timestamp()
    message.FromDatetime(value)
    return message
