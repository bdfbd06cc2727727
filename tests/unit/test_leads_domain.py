"""Leads and lead scoring without I/O."""

from datetime import UTC, datetime

import pytest

from crm_common.errors import FailedPrecondition, InvalidArgument, Violations
from crm_sales.domain.leads import Conversion, Lead, LeadDetails, LeadStatus
from crm_sales.domain.scoring import RuleKind, ScoringRule, check_rule, score

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def lead() -> Lead:
    return Lead.create("l1", LeadDetails(given_name="Ada", email=" ADA@Example.org "), NOW)


def test_a_lead_is_normalised_and_needs_some_identity() -> None:
    assert lead().details.email == "ada@example.org"
    with pytest.raises(InvalidArgument) as raised:
        Lead.create("l2", LeadDetails(email="nope"), NOW)
    assert {v.field for v in raised.value.violations} == {"lead.email"}
    with pytest.raises(InvalidArgument, match="needs a name"):
        Lead.create("l3", LeadDetails(), NOW)


def test_disqualifying_needs_a_reason_and_can_be_undone() -> None:
    subject = lead()
    with pytest.raises(InvalidArgument, match="required"):
        subject.move(LeadStatus.DISQUALIFIED, " ", NOW)
    assert subject.move(LeadStatus.DISQUALIFIED, "no budget", NOW)
    assert subject.disqualify_reason == "no budget"
    assert subject.move(LeadStatus.NEW, "", NOW)
    assert subject.disqualify_reason == ""
    assert not subject.move(LeadStatus.NEW, "", NOW)


def test_only_a_qualified_lead_converts_and_then_it_is_final() -> None:
    subject = lead()
    conversion = Conversion("people/1", "organizations/2", "", NOW)
    with pytest.raises(FailedPrecondition, match="QUALIFIED"):
        subject.convert(conversion)
    subject.move(LeadStatus.QUALIFIED, "", NOW)
    subject.convert(conversion)
    assert subject.status is LeadStatus.CONVERTED and subject.conversion == conversion
    with pytest.raises(FailedPrecondition, match="converted"):
        subject.update({"title": "CTO"}, NOW)
    with pytest.raises(FailedPrecondition):
        subject.move(LeadStatus.CONTACTED, "", NOW)


RULES = [
    ScoringRule("referral", "Referred", RuleKind.FIELD, 30, condition='source = "referral"'),
    ScoringRule("opens", "Opens mail", RuleKind.ACTIVITY, 5, activity="email.opened", cap=20),
    ScoringRule("freemail", "Free mail", RuleKind.FIELD, -10, condition="freemail"),
    ScoringRule("off", "Inactive", RuleKind.FIELD, 100, condition="anything", active=False),
]


def test_score_explains_every_point() -> None:
    result = score(RULES, lambda condition: condition != "freemail", {"email.opened": 7})
    assert result.total == 50
    assert [(line.rule_id, line.points, line.reason) for line in result.breakdown] == [
        ("referral", 30, 'source = "referral"'),
        ("opens", 20, "7 x email.opened"),
    ]


def test_negative_rules_lower_the_score() -> None:
    result = score(RULES, lambda condition: True, {})
    assert result.total == 20


def test_rules_are_checked() -> None:
    violations = Violations()
    check_rule(ScoringRule("x", "", RuleKind.ACTIVITY, 0, cap=-1), violations)
    with pytest.raises(InvalidArgument) as raised:
        violations.raise_if_any()
    assert {v.field for v in raised.value.violations} == {
        "scoring_rule.display_name",
        "scoring_rule.points",
        "scoring_rule.activity",
        "scoring_rule.cap",
    }
