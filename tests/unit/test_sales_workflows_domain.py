"""Workflow rules' pure parts: validation, templates, the loop guard, and
conditions judged on events' subjects as the List RPCs would judge them."""

from datetime import UTC, datetime

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from crm.events.v1.event_pb2 import Event
from crm.sales.v1 import events_pb2, opportunity_pb2
from crm.support.v1 import events_pb2 as support_events
from crm.support.v1 import ticket_pb2
from crm_common.errors import InvalidArgument
from crm_common.filter_match import RecordFields, Repeated, Scalar
from crm_common.filtering import parse_filter
from crm_sales.api.opportunities import FILTER_SCHEMA
from crm_sales.domain.workflows import (
    MAX_DEPTH,
    AddTag,
    Cause,
    ChangeOwner,
    CreateTask,
    Notify,
    Outcome,
    SubjectKind,
    Target,
    WorkflowRule,
    blocked_by,
    checked_rule,
    gate,
    render,
)
from crm_sales.events.workflow_subjects import (
    OPPORTUNITY_FIELDS,
    TICKET_CONDITION_SCHEMA,
    TICKET_FIELDS,
    condition_problem,
    triggering_event,
)


def rule(**fields: object) -> WorkflowRule:
    values: dict[str, object] = {
        "id": "",
        "display_name": "Alert",
        "trigger": "opportunity.created",
        "target": Target.SUBJECT,
        "actions": (Notify("Look at {target.display_name}"),),
        **fields,
    }
    return WorkflowRule(**values)  # type: ignore[arg-type]


def violations(**fields: object) -> dict[str, str]:
    with pytest.raises(InvalidArgument) as raised:
        checked_rule(rule(**fields), condition_problem)
    return {v.field: v.description for v in raised.value.violations}


def test_a_valid_rule_is_normalised() -> None:
    checked = checked_rule(
        rule(display_name=" Alert ", actions=(AddTag(" VIP "), ChangeOwner(" grace "))),
        condition_problem,
    )
    assert checked.display_name == "Alert"
    assert checked.actions == (AddTag("vip"), ChangeOwner("grace"))


def test_validation_names_each_field() -> None:
    assert "workflow_rule.trigger" in violations(trigger="opportunity.exploded")
    assert "workflow_rule.condition" in violations(condition="colour = 1")
    assert "workflow_rule.target" in violations(target=None)
    assert "workflow_rule.target" in violations(trigger="ticket.created")
    assert "workflow_rule.actions" in violations(actions=())
    assert "workflow_rule.actions[0]" in violations(trigger="lead.created", actions=(AddTag("x"),))
    found = violations(actions=(CreateTask("Call", due_in_days=-1), Notify("{nope}")))
    assert set(found) == {
        "workflow_rule.actions[0].create_task.due_in_days",
        "workflow_rule.actions[1].notify.message",
    }


def test_ticket_conditions_use_enum_names() -> None:
    assert condition_problem(SubjectKind.TICKET, "priority = URGENT") is None
    assert condition_problem(SubjectKind.TICKET, "priority = SCREAMING") is not None
    assert condition_problem(SubjectKind.OPPORTUNITY, 'expected_close_date < "x"') is not None


def test_templates_fill_known_placeholders_only() -> None:
    values = {"target.owner": "ada", "target.display_name": "Engine"}
    assert render("{target.owner}: {target.display_name} {x}", values) == "ada: Engine {x}"


def test_the_loop_guard_and_self_triggering() -> None:
    assert gate(False, 0) == (Outcome.SKIPPED_BY_CONDITION, "")
    assert gate(True, MAX_DEPTH - 1) is None
    stopped = gate(True, MAX_DEPTH)
    assert stopped is not None and stopped[0] is Outcome.STOPPED_BY_LOOP_GUARD
    own = rule(id="r1")
    assert blocked_by(own, Cause("r1", 1))
    assert not blocked_by(own, Cause("r2", 1))
    assert not blocked_by(own, None)


def _envelope(event_type: str, payload: object) -> Event:
    event = Event(id="e1", type=event_type, aggregate_type="x", aggregate_id="1")
    event.occurred_at.FromDatetime(datetime(2026, 1, 2, tzinfo=UTC))
    event.payload.Pack(payload)  # type: ignore[arg-type]
    return event


def test_a_ticket_event_is_judged_on_its_ticket() -> None:
    ticket = ticket_pb2.Ticket(
        name="tickets/9",
        subject="Down",
        organization="organizations/4",
        priority=ticket_pb2.TICKET_PRIORITY_URGENT,
        tags=["VIP"],
    )
    event = triggering_event(
        _envelope("ticket.updated", support_events.TicketUpdated(ticket=ticket))
    )
    assert event.subject.organization == "organizations/4"
    assert event.satisfies("priority = URGENT AND tags:vip")
    assert not event.satisfies("priority = LOW")
    assert event.satisfies("")


def test_an_opportunity_event_is_judged_like_list_opportunities() -> None:
    created = Timestamp()
    created.FromDatetime(datetime(2026, 1, 1, tzinfo=UTC))
    opportunity = opportunity_pb2.Opportunity(
        name="opportunities/7",
        display_name="Engine",
        owner="ada",
        pipeline="pipelines/p",
        stage="pipelines/p/stages/s",
        state=opportunity_pb2.OPPORTUNITY_STATE_OPEN,
        tags=["big"],
        custom_fields={"region": "emea"},
        create_time=created,
    )
    opportunity.value.currency_code, opportunity.value.units = "EUR", 9000
    payload = events_pb2.OpportunityCreated(opportunity=opportunity)
    event = triggering_event(_envelope("opportunity.created", payload))
    for holds in (
        'state = OPEN AND pipeline = "pipelines/p" AND value.units > 5000',
        'stage = "pipelines/p/stages/s" AND custom_fields.region = "emea"',
        'tags:"BIG" AND create_time < "2026-02-01T00:00:00Z" AND close_time = null',
    ):
        assert event.satisfies(holds), holds
    for fails in ("state = WON", "custom_fields.region = 1", "close_reason:*"):
        assert not event.satisfies(fails), fails


def test_every_condition_field_can_be_judged_in_memory() -> None:
    assert set(FILTER_SCHEMA.fields) | set(FILTER_SCHEMA.custom_prefixes) == (
        OPPORTUNITY_FIELDS.names
    )
    assert set(TICKET_CONDITION_SCHEMA.fields) | set(TICKET_CONDITION_SCHEMA.custom_prefixes) == (
        TICKET_FIELDS.names
    )


def test_the_shared_evaluator_compares_only_like_types() -> None:
    fields: RecordFields[dict[str, object]] = RecordFields(
        scalars={"n": Scalar(lambda r: r["n"]), "s": Scalar(lambda r: r["s"], str.lower)},  # type: ignore[arg-type, return-value]
        repeated={"tags": Repeated(lambda r: r["tags"])},  # type: ignore[arg-type, return-value]
    )
    record: dict[str, object] = {"n": 3, "s": "abc", "tags": ("x",)}
    assert fields.matches(parse_filter('n > 2 AND s = "ABC" AND tags:"x"'), record)
    assert not fields.matches(parse_filter('n = "3"'), record)
    assert fields.matches(parse_filter("NOT n = 4"), record)
