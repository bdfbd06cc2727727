"""Leads and lead scoring in the sales service: CRUD, status moves, lists,
rules and their re-scoring, activities, events, and bad input for every RPC."""

import uuid

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.timestamp_pb2 import Timestamp

from crm.events.v1.event_pb2 import Event
from crm.sales.v1 import events_pb2
from crm.sales.v1 import lead_pb2 as lp
from crm.sales.v1 import lead_service_pb2 as pb
from crm.sales.v1.lead_service_pb2_grpc import LeadServiceStub
from tests.integration.harness import (
    Suite,
    eventually,
    field_violations,
    published_events,
    rpc_error,
)

NEW, CONTACTED, QUALIFIED, DISQUALIFIED, CONVERTED = (
    lp.LEAD_STATUS_NEW,
    lp.LEAD_STATUS_CONTACTED,
    lp.LEAD_STATUS_QUALIFIED,
    lp.LEAD_STATUS_DISQUALIFIED,
    lp.LEAD_STATUS_CONVERTED,
)


def leads(suite: Suite) -> LeadServiceStub:
    return suite.stub("sales", LeadServiceStub)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def create_lead(suite: Suite, **fields: object) -> lp.Lead:
    values = {"given_name": "Ada", "family_name": "Lovelace", **fields}
    return leads(suite).CreateLead(pb.CreateLeadRequest(lead=lp.Lead(**values)))  # type: ignore[arg-type]


def update_lead(suite: Suite, lead: lp.Lead, *paths: str) -> lp.Lead:
    request = pb.UpdateLeadRequest(lead=lead, update_mask=FieldMask(paths=paths))
    return leads(suite).UpdateLead(request)


def get_lead(suite: Suite, name: str) -> lp.Lead:
    return leads(suite).GetLead(pb.GetLeadRequest(name=name))


def create_rule(suite: Suite, **fields: object) -> lp.ScoringRule:
    request = pb.CreateScoringRuleRequest(scoring_rule=lp.ScoringRule(**fields))  # type: ignore[arg-type]
    return leads(suite).CreateScoringRule(request)


def delete_rule(suite: Suite, rule: lp.ScoringRule) -> None:
    leads(suite).DeleteScoringRule(pb.DeleteScoringRuleRequest(name=rule.name))


def record(suite: Suite, lead: str, kind: str, request_id: str = "") -> lp.Lead:
    request = pb.RecordLeadActivityRequest(lead=lead, kind=kind, request_id=request_id)
    return leads(suite).RecordLeadActivity(request)


def list_names(suite: Suite, filter_text: str, order_by: str = "", size: int = 0) -> list[str]:
    names, token = [], ""
    while True:
        response = leads(suite).ListLeads(
            pb.ListLeadsRequest(
                filter=filter_text, order_by=order_by, page_size=size, page_token=token
            )
        )
        names += [lead.name for lead in response.leads]
        token = response.next_page_token
        if not token:
            return names


def sales_events(suite: Suite, aggregate_id: str) -> list[Event]:
    return published_events(suite.nats.url, "sales", aggregate_id)


def test_a_lead_is_created_worked_and_announced(sales_suite: Suite) -> None:
    lead = create_lead(
        sales_suite,
        email=" ADA@Example.org ",
        company_name="Analytical Engines",
        source="Web",
        tags=["VIP"],
        custom_fields={"region": "emea"},
    )
    assert lead.status == NEW and lead.email == "ada@example.org" and lead.source == "web"
    assert list(lead.tags) == ["vip"] and lead.etag
    assert get_lead(sales_suite, lead.name) == lead

    lead.status = CONTACTED
    contacted = update_lead(sales_suite, lead, "status")
    assert contacted.status == CONTACTED and contacted.etag != lead.etag

    contacted.status = DISQUALIFIED
    error = rpc_error(lambda: update_lead(sales_suite, contacted, "status"))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "lead.disqualify_reason" in field_violations(error)

    contacted.disqualify_reason = "no budget"
    disqualified = update_lead(sales_suite, contacted, "status", "disqualify_reason")
    assert disqualified.status == DISQUALIFIED and disqualified.disqualify_reason == "no budget"

    disqualified.status = QUALIFIED
    error = rpc_error(lambda: update_lead(sales_suite, disqualified, "status"))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION

    disqualified.status = NEW
    revived = update_lead(sales_suite, disqualified, "status")
    assert revived.status == NEW and revived.disqualify_reason == ""

    lead_id = lead.name.removeprefix("leads/")

    def announced() -> None:
        events = sales_events(sales_suite, lead_id)
        assert [e.type for e in events] == ["lead.created"] + ["lead.updated"] * 3
        updated = events_pb2.LeadUpdated()
        events[-1].payload.Unpack(updated)
        assert list(updated.changed_fields) == ["status", "disqualify_reason"]
        assert updated.lead.status == NEW

    eventually(announced)


def test_stale_etags_are_aborted_and_retried_creates_return_the_lead(sales_suite: Suite) -> None:
    lead_id = unique("lead")
    request = pb.CreateLeadRequest(lead=lp.Lead(family_name="Byron"), lead_id=lead_id)
    first = leads(sales_suite).CreateLead(request)
    assert leads(sales_suite).CreateLead(request) == first
    other = pb.CreateLeadRequest(lead=lp.Lead(family_name="Other"), lead_id=lead_id)
    error = rpc_error(lambda: leads(sales_suite).CreateLead(other))
    assert error.code() == grpc.StatusCode.ALREADY_EXISTS

    first.title = "Poet"
    changed = update_lead(sales_suite, first, "title")
    first.title = "Mathematician"
    error = rpc_error(lambda: update_lead(sales_suite, first, "title"))
    assert error.code() == grpc.StatusCode.ABORTED
    error = rpc_error(
        lambda: leads(sales_suite).DeleteLead(
            pb.DeleteLeadRequest(name=first.name, etag=first.etag)
        )
    )
    assert error.code() == grpc.StatusCode.ABORTED
    leads(sales_suite).DeleteLead(pb.DeleteLeadRequest(name=changed.name, etag=changed.etag))
    error = rpc_error(lambda: get_lead(sales_suite, changed.name))
    assert error.code() == grpc.StatusCode.NOT_FOUND


def test_leads_are_scored_with_an_explained_breakdown(sales_suite: Suite) -> None:
    tag = unique("t")
    kind = f"k{uuid.uuid4().hex[:8]}"
    referral = create_rule(
        sales_suite,
        display_name="Referred",
        condition=f'source = "referral" AND tags:"{tag}"',
        points=30,
    )
    opens = create_rule(
        sales_suite, display_name="Opens mail", activity=f"{kind}.opened", points=5, cap=12
    )
    lead = create_lead(sales_suite, source="Referral", tags=[tag])
    assert lead.score == 30
    assert [(line.scoring_rule, line.points) for line in lead.score_breakdown] == [
        (referral.name, 30)
    ]

    for _ in range(3):
        lead = record(sales_suite, lead.name, f"{kind}.opened")
    assert lead.score == 42  # 30 + 15 capped at 12
    line = lead.score_breakdown[-1]
    assert (line.scoring_rule, line.points, line.reason) == (opens.name, 12, f"3 x {kind}.opened")

    # A retried activity counts once.
    once = record(sales_suite, lead.name, f"{kind}.booked", request_id="r-1")
    assert record(sales_suite, lead.name, f"{kind}.booked", request_id="r-1") == once

    lead.source = "web"
    lead = update_lead(sales_suite, lead, "source")
    assert lead.score == 12

    lead_id = lead.name.removeprefix("leads/")

    def score_announced() -> None:
        updates = [e for e in sales_events(sales_suite, lead_id) if e.type == "lead.updated"]
        payload = events_pb2.LeadUpdated()
        updates[-1].payload.Unpack(payload)
        assert "score" in payload.changed_fields and payload.lead.score == 12

    eventually(score_announced)
    delete_rule(sales_suite, referral)
    delete_rule(sales_suite, opens)


def test_a_rule_change_rescores_every_lead(sales_suite: Suite) -> None:
    tag = unique("t")
    many = [create_lead(sales_suite, family_name=f"L{i}", tags=[tag]).name for i in range(25)]
    rule = create_rule(sales_suite, display_name="Tagged", condition=f'tags:"{tag}"', points=7)

    def all_scored(points: int) -> None:
        assert {get_lead(sales_suite, name).score for name in many} == {points}

    eventually(lambda: all_scored(7))
    assert list_names(sales_suite, f'tags:"{tag}" AND score = 7', size=10) != []

    rule.points = -3
    changed = leads(sales_suite).UpdateScoringRule(
        pb.UpdateScoringRuleRequest(scoring_rule=rule, update_mask=FieldMask(paths=["points"]))
    )
    assert changed.points == -3
    eventually(lambda: all_scored(-3))

    changed.active = False
    leads(sales_suite).UpdateScoringRule(
        pb.UpdateScoringRuleRequest(scoring_rule=changed, update_mask=FieldMask(paths=["active"]))
    )
    eventually(lambda: all_scored(0))
    delete_rule(sales_suite, changed)


def test_leads_are_filtered_and_ordered_by_score_and_status(sales_suite: Suite) -> None:
    tag = unique("t")
    rule = create_rule(
        sales_suite, display_name="Big", condition=f'custom_fields.{tag[:1]}x = "big"', points=50
    )
    names = []
    for index, size in enumerate(["big", "small", "big"]):
        lead = create_lead(
            sales_suite,
            family_name=f"F{index}",
            tags=[tag],
            owner="u1" if index else "u2",
            custom_fields={f"{tag[:1]}x": size},
        )
        names.append(lead.name)
    qualified = get_lead(sales_suite, names[2])
    qualified.status = QUALIFIED
    update_lead(sales_suite, qualified, "status")

    by_score = list_names(sales_suite, f'tags:"{tag}"', order_by="score desc, create_time", size=1)
    assert by_score == [names[0], names[2], names[1]]
    assert list_names(sales_suite, f'tags:"{tag}" AND status = QUALIFIED AND score >= 50') == [
        names[2]
    ]
    assert list_names(sales_suite, f'tags:"{tag}" AND owner = "u1"', order_by="score") == [
        names[1],
        names[2],
    ]
    delete_rule(sales_suite, rule)


def test_scoring_rules_are_managed(sales_suite: Suite) -> None:
    rule_id = unique("rule")
    request = pb.CreateScoringRuleRequest(
        scoring_rule=lp.ScoringRule(display_name="Met", activity="meeting_booked", points=20),
        scoring_rule_id=rule_id,
    )
    rule = leads(sales_suite).CreateScoringRule(request)
    assert rule.active and rule.name == f"scoringRules/{rule_id}"
    assert leads(sales_suite).CreateScoringRule(request) == rule
    assert leads(sales_suite).GetScoringRule(pb.GetScoringRuleRequest(name=rule.name)) == rule
    listed = leads(sales_suite).ListScoringRules(pb.ListScoringRulesRequest(page_size=1000))
    assert rule.name in [r.name for r in listed.scoring_rules]

    rule.display_name = "Meeting booked"
    renamed = leads(sales_suite).UpdateScoringRule(
        pb.UpdateScoringRuleRequest(
            scoring_rule=rule, update_mask=FieldMask(paths=["display_name"])
        )
    )
    error = rpc_error(
        lambda: leads(sales_suite).UpdateScoringRule(
            pb.UpdateScoringRuleRequest(
                scoring_rule=rule, update_mask=FieldMask(paths=["display_name"])
            )
        )
    )
    assert error.code() == grpc.StatusCode.ABORTED
    leads(sales_suite).DeleteScoringRule(
        pb.DeleteScoringRuleRequest(name=renamed.name, etag=renamed.etag)
    )
    error = rpc_error(
        lambda: leads(sales_suite).GetScoringRule(pb.GetScoringRuleRequest(name=renamed.name))
    )
    assert error.code() == grpc.StatusCode.NOT_FOUND


BAD_LEAD_REQUESTS = [
    ("CreateLead", pb.CreateLeadRequest(), "lead"),
    ("CreateLead", pb.CreateLeadRequest(lead=lp.Lead()), "lead.family_name"),
    ("CreateLead", pb.CreateLeadRequest(lead=lp.Lead(family_name="x", email="nope")), "lead.email"),
    (
        "CreateLead",
        pb.CreateLeadRequest(lead=lp.Lead(family_name="x", status=QUALIFIED)),
        "lead.status",
    ),
    (
        "CreateLead",
        pb.CreateLeadRequest(lead=lp.Lead(family_name="x", custom_fields={"a b": "1"})),
        "lead.custom_fields['a b']",
    ),
    (
        "CreateLead",
        pb.CreateLeadRequest(lead=lp.Lead(family_name="x"), lead_id="Bad Id"),
        "lead_id",
    ),
    ("GetLead", pb.GetLeadRequest(name="people/1"), "name"),
    ("ListLeads", pb.ListLeadsRequest(filter="score = "), "filter"),
    ("ListLeads", pb.ListLeadsRequest(filter='nope = "x"'), "filter"),
    ("ListLeads", pb.ListLeadsRequest(order_by="email"), "order_by"),
    ("ListLeads", pb.ListLeadsRequest(page_size=-1), "page_size"),
    ("ListLeads", pb.ListLeadsRequest(page_token="garbage"), "page_token"),
    ("UpdateLead", pb.UpdateLeadRequest(), "lead"),
    ("UpdateLead", pb.UpdateLeadRequest(lead=lp.Lead(name="leads/")), "lead.name"),
    (
        "UpdateLead",
        pb.UpdateLeadRequest(lead=lp.Lead(name="leads/x"), update_mask=FieldMask(paths=["score"])),
        "update_mask",
    ),
    ("DeleteLead", pb.DeleteLeadRequest(name=""), "name"),
    ("RecordLeadActivity", pb.RecordLeadActivityRequest(lead="x", kind="a"), "lead"),
    ("RecordLeadActivity", pb.RecordLeadActivityRequest(lead="leads/x", kind=""), "kind"),
    ("RecordLeadActivity", pb.RecordLeadActivityRequest(lead="leads/x", kind="Opened!"), "kind"),
    (
        "RecordLeadActivity",
        pb.RecordLeadActivityRequest(
            lead="leads/x", kind="opened", occur_time=Timestamp(seconds=4_000_000_000)
        ),
        "occur_time",
    ),
    ("ConvertLead", pb.ConvertLeadRequest(name="lead/1"), "name"),
    (
        "ConvertLead",
        pb.ConvertLeadRequest(name="leads/x", request_id="NOT VALID"),
        "request_id",
    ),
    ("CreateScoringRule", pb.CreateScoringRuleRequest(), "scoring_rule"),
    (
        "CreateScoringRule",
        pb.CreateScoringRuleRequest(scoring_rule=lp.ScoringRule(display_name="x", points=1)),
        "scoring_rule.condition",
    ),
    (
        "CreateScoringRule",
        pb.CreateScoringRuleRequest(
            scoring_rule=lp.ScoringRule(display_name="x", condition="score > 1", points=1)
        ),
        "scoring_rule.condition",
    ),
    (
        "CreateScoringRule",
        pb.CreateScoringRuleRequest(
            scoring_rule=lp.ScoringRule(display_name="x", activity="a", points=5000)
        ),
        "scoring_rule.points",
    ),
    (
        "CreateScoringRule",
        pb.CreateScoringRuleRequest(
            scoring_rule=lp.ScoringRule(display_name="x", activity="a", points=1, cap=-1)
        ),
        "scoring_rule.cap",
    ),
    ("GetScoringRule", pb.GetScoringRuleRequest(name="rules/1"), "name"),
    ("ListScoringRules", pb.ListScoringRulesRequest(page_token="garbage"), "page_token"),
    ("UpdateScoringRule", pb.UpdateScoringRuleRequest(), "scoring_rule"),
    (
        "UpdateScoringRule",
        pb.UpdateScoringRuleRequest(scoring_rule=lp.ScoringRule(name="x")),
        "scoring_rule.name",
    ),
    ("DeleteScoringRule", pb.DeleteScoringRuleRequest(name=""), "name"),
]


@pytest.mark.parametrize(("method", "request_message", "field"), BAD_LEAD_REQUESTS)
def test_bad_input_is_invalid_argument_naming_the_field(
    sales_suite: Suite, method: str, request_message: object, field: str
) -> None:
    error = rpc_error(lambda: getattr(leads(sales_suite), method)(request_message))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
    assert field in field_violations(error)


def test_missing_leads_and_rules_are_not_found(sales_suite: Suite) -> None:
    stub = leads(sales_suite)
    calls = [
        lambda: stub.GetLead(pb.GetLeadRequest(name="leads/missing")),
        lambda: stub.UpdateLead(
            pb.UpdateLeadRequest(
                lead=lp.Lead(name="leads/missing", title="x"),
                update_mask=FieldMask(paths=["title"]),
            )
        ),
        lambda: stub.DeleteLead(pb.DeleteLeadRequest(name="leads/missing")),
        lambda: stub.RecordLeadActivity(
            pb.RecordLeadActivityRequest(lead="leads/missing", kind="opened")
        ),
        lambda: stub.ConvertLead(pb.ConvertLeadRequest(name="leads/missing")),
        lambda: stub.GetScoringRule(pb.GetScoringRuleRequest(name="scoringRules/missing")),
        lambda: stub.DeleteScoringRule(pb.DeleteScoringRuleRequest(name="scoringRules/missing")),
    ]
    for call in calls:
        assert rpc_error(call).code() == grpc.StatusCode.NOT_FOUND
