"""Translation between the contract's Opportunity, Pipeline and CloseReason and the domain.

Shared by api/ (requests and responses) and events/ (payloads).
"""

from datetime import date, datetime

from google.protobuf.timestamp_pb2 import Timestamp
from google.type.date_pb2 import Date
from google.type.money_pb2 import Money as MoneyProto

from crm.sales.v1 import close_reason_pb2, opportunity_pb2, pipeline_pb2
from crm_common.errors import InvalidArgument, Violations
from crm_common.etags import etag_for
from crm_common.resources import require_id
from crm_sales.domain.close_reasons import (
    CLOSE_REASONS,
    CloseReason,
    CloseReasonDetails,
    ReasonKind,
)
from crm_sales.domain.money import Money, from_units_nanos, to_units_nanos
from crm_sales.domain.opportunities import (
    Deal,
    ForecastCategory,
    OpportunityDetails,
    StageVisit,
    State,
)
from crm_sales.domain.pipelines import Pipeline, Stage

OPPORTUNITIES = "opportunities/"
PIPELINES = "pipelines/"
STAGES = "/stages/"

_STATE_TO_PROTO = {
    State.OPEN: opportunity_pb2.OPPORTUNITY_STATE_OPEN,
    State.WON: opportunity_pb2.OPPORTUNITY_STATE_WON,
    State.LOST: opportunity_pb2.OPPORTUNITY_STATE_LOST,
}
_CATEGORY_TO_PROTO = {
    ForecastCategory.PIPELINE: opportunity_pb2.FORECAST_CATEGORY_PIPELINE,
    ForecastCategory.BEST_CASE: opportunity_pb2.FORECAST_CATEGORY_BEST_CASE,
    ForecastCategory.COMMIT: opportunity_pb2.FORECAST_CATEGORY_COMMIT,
    ForecastCategory.OMITTED: opportunity_pb2.FORECAST_CATEGORY_OMITTED,
}
_CATEGORY_FROM_PROTO = {number: category for category, number in _CATEGORY_TO_PROTO.items()}
_KIND_TO_PROTO = {
    ReasonKind.WON: close_reason_pb2.CLOSE_REASON_KIND_WON,
    ReasonKind.LOST: close_reason_pb2.CLOSE_REASON_KIND_LOST,
}


def opportunity_id_from_name(name: str, field: str = "name") -> str:
    return require_id(name, OPPORTUNITIES, field, "like opportunities/123")


def pipeline_id_from_name(name: str, field: str = "name") -> str:
    return require_id(name, PIPELINES, field, "like pipelines/new-business")


def close_reason_id_from_name(name: str, field: str = "name") -> str:
    return require_id(name, CLOSE_REASONS, field, "like closeReasons/price")


def stage_name(pipeline_id: str, stage_id: str) -> str:
    return f"{PIPELINES}{pipeline_id}{STAGES}{stage_id}"


def stage_from_name(name: str, field: str) -> tuple[str, str]:
    """(pipeline id, stage id) of `pipelines/{p}/stages/{s}`."""
    pipeline_id, separator, stage_id = name.removeprefix(PIPELINES).partition(STAGES)
    if (
        not name.startswith(PIPELINES)
        or not separator
        or not pipeline_id
        or not stage_id
        or "/" in pipeline_id + stage_id
    ):
        raise InvalidArgument.single(field, f"{name!r} is not like pipelines/p/stages/s")
    return pipeline_id, stage_id


# Opportunities


def opportunity_to_proto(deal: Deal) -> opportunity_pb2.Opportunity:
    opportunity = deal.opportunity
    details = opportunity.details
    units, nanos = to_units_nanos(details.value.amount)
    message = opportunity_pb2.Opportunity(
        name=opportunity.name,
        display_name=details.display_name,
        value=MoneyProto(currency_code=details.value.currency, units=units, nanos=nanos),
        organization=details.organization,
        people=details.people,
        owner=details.owner,
        state=_STATE_TO_PROTO[opportunity.state],
        create_time=_timestamp(opportunity.create_time),
        update_time=_timestamp(opportunity.update_time),
        etag=etag_for(opportunity.version),
        pipeline=f"{PIPELINES}{opportunity.pipeline_id}",
        stage=stage_name(opportunity.pipeline_id, opportunity.stage_id),
        effective_probability=deal.probability,
        tags=details.tags,
        custom_fields=dict(details.custom_fields),
        stage_history=[_visit_to_proto(visit) for visit in opportunity.stage_history],
        effective_forecast_category=_effective_category(deal),
    )
    if details.probability is not None:
        message.probability = details.probability
    if details.expected_close_date is not None:
        message.expected_close_date.CopyFrom(date_to_proto(details.expected_close_date))
    if details.forecast_category is not None:
        message.forecast_category = _CATEGORY_TO_PROTO[details.forecast_category]
    if opportunity.close_reason:
        message.close_reason = f"{CLOSE_REASONS}{opportunity.close_reason}"
    if opportunity.close_time is not None:
        message.close_time.CopyFrom(_timestamp(opportunity.close_time))
    return message


def _effective_category(deal: Deal) -> "opportunity_pb2.ForecastCategory.ValueType":
    if deal.opportunity.state is State.WON:
        return opportunity_pb2.FORECAST_CATEGORY_CLOSED
    if deal.opportunity.state is State.LOST:
        return opportunity_pb2.FORECAST_CATEGORY_OMITTED
    return _CATEGORY_TO_PROTO[deal.forecast_category]


def _visit_to_proto(visit: StageVisit) -> opportunity_pb2.StageVisit:
    message = opportunity_pb2.StageVisit(
        stage=stage_name(visit.pipeline_id, visit.stage_id),
        enter_time=_timestamp(visit.enter_time),
    )
    if visit.leave_time is not None:
        message.leave_time.CopyFrom(_timestamp(visit.leave_time))
    return message


def details_from_proto(
    message: opportunity_pb2.Opportunity, fields: set[str] | None = None
) -> tuple[OpportunityDetails, dict[str, object]]:
    """The writable fields as domain details (every field) and as a change set
    (those in `fields`, or all). Conversion errors are INVALID_ARGUMENT."""
    violations = Violations()
    values: dict[str, object] = {
        "display_name": message.display_name,
        "value": money_from_proto(message.value, violations, "opportunity.value"),
        "expected_close_date": _date_from_proto(message, violations),
        "probability": message.probability if message.HasField("probability") else None,
        "forecast_category": _category_from_proto(message.forecast_category, violations),
        "owner": message.owner,
        "organization": message.organization,
        "people": tuple(message.people),
        "tags": tuple(message.tags),
        "custom_fields": dict(message.custom_fields),
    }
    violations.raise_if_any()
    changes = values if fields is None else {k: v for k, v in values.items() if k in fields}
    return OpportunityDetails(**values), changes  # type: ignore[arg-type]


WRITABLE_FIELDS = (
    "display_name",
    "value",
    "expected_close_date",
    "probability",
    "forecast_category",
    "owner",
    "organization",
    "people",
    "tags",
    "custom_fields",
)


def money_from_proto(message: MoneyProto, violations: Violations, path: str) -> Money:
    amount = from_units_nanos(message.units, message.nanos, violations, path)
    return Money(message.currency_code, amount)


def _date_from_proto(message: opportunity_pb2.Opportunity, violations: Violations) -> date | None:
    if not message.HasField("expected_close_date"):
        return None
    value = message.expected_close_date
    try:
        return date(value.year, value.month, value.day)
    except ValueError:
        violations.add("opportunity.expected_close_date", "is not a full calendar date")
        return None


def date_to_proto(value: date) -> Date:
    return Date(year=value.year, month=value.month, day=value.day)


def _category_from_proto(number: int, violations: Violations) -> ForecastCategory | None:
    if number == opportunity_pb2.FORECAST_CATEGORY_UNSPECIFIED:
        return None
    category = _CATEGORY_FROM_PROTO.get(number)  # type: ignore[call-overload]
    if category is None:
        violations.add(
            "opportunity.forecast_category", "must be PIPELINE, BEST_CASE, COMMIT or OMITTED"
        )
    return category


# Pipelines


def pipeline_to_proto(pipeline: Pipeline) -> pipeline_pb2.Pipeline:
    return pipeline_pb2.Pipeline(
        name=pipeline.name,
        display_name=pipeline.display_name,
        stages=[
            pipeline_pb2.Stage(
                id=stage.id,
                name=stage_name(pipeline.id, stage.id),
                display_name=stage.display_name,
                probability=stage.probability,
                archived=stage.archived,
            )
            for stage in pipeline.stages
        ],
        create_time=_timestamp(pipeline.create_time),
        update_time=_timestamp(pipeline.update_time),
        etag=etag_for(pipeline.version),
    )


def stages_from_proto(message: pipeline_pb2.Pipeline) -> tuple[Stage, ...]:
    return tuple(
        Stage(stage.id, stage.display_name, stage.probability, stage.archived)
        for stage in message.stages
    )


# Close reasons


def close_reason_to_proto(reason: CloseReason) -> close_reason_pb2.CloseReason:
    return close_reason_pb2.CloseReason(
        name=reason.name,
        display_name=reason.details.display_name,
        kind=_KIND_TO_PROTO[reason.kind],
        archived=reason.details.archived,
        create_time=_timestamp(reason.create_time),
        update_time=_timestamp(reason.update_time),
        etag=etag_for(reason.version),
    )


def reason_kind_from_proto(number: int) -> ReasonKind | None:
    """None for UNSPECIFIED or an unknown number: the domain says it is required."""
    for kind, proto in _KIND_TO_PROTO.items():
        if proto == number:
            return kind
    return None


def close_reason_details_from_proto(message: close_reason_pb2.CloseReason) -> CloseReasonDetails:
    return CloseReasonDetails(message.display_name, message.archived)


def _timestamp(value: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp
