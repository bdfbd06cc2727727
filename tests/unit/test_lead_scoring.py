"""Scoring leads in memory: conditions mean what ListLeads' filter means,
rules are checked as written, and updates report exactly what changed."""

from datetime import UTC, datetime

import pytest

from crm_common.errors import FailedPrecondition, InvalidArgument
from crm_sales.domain.lead_scoring import Scorer, condition_problem, matches, parse_condition
from crm_sales.domain.leads import Lead, LeadDetails, LeadStatus
from crm_sales.domain.scoring import RuleKind, ScoringRule, ScoringRuleRecord

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def lead(**fields: object) -> Lead:
    details = {"given_name": "Ada", "email": "ada@example.org", **fields}
    return Lead.create("l1", LeadDetails(**details), NOW)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ('source = "REFERRAL"', True),
        ('email = " ADA@Example.org "', True),
        ('tags:"VIP"', True),
        ("tags:*", True),
        ("title:*", False),
        ('NOT title = "CTO"', True),
        ("status = NEW", True),
        ("status = QUALIFIED", False),
        ('custom_fields.region = "emea"', True),
        ("custom_fields.size = 10", False),
        ('NOT custom_fields.missing = "x"', True),
        ("custom_fields.region:*", True),
        ('given_name = "Ada" AND (source = "web" OR tags:"vip")', True),
        ('company_name < "B"', True),
    ],
)
def test_conditions_mean_what_the_list_filter_means(condition: str, expected: bool) -> None:
    subject = lead(source="referral", tags=("vip",), custom_fields={"region": "emea", "size": "10"})
    assert matches(parse_condition(condition), subject) is expected


def test_conditions_may_not_test_the_score_or_unknown_fields() -> None:
    assert condition_problem("score > 5") is not None
    assert condition_problem('nope = "x"') is not None
    assert condition_problem('source = "web"') is None


def test_a_scorer_sums_active_rules_with_their_reasons() -> None:
    rules = [
        ScoringRule("a", "Referred", RuleKind.FIELD, 30, condition='source = "referral"'),
        ScoringRule("b", "Opens", RuleKind.ACTIVITY, 5, activity="email_opened", cap=12),
        ScoringRule("c", "Off", RuleKind.ACTIVITY, 99, activity="page_visited", active=False),
    ]
    scorer = Scorer(rules)
    assert scorer.activities == {"email_opened"}
    result = scorer.score(lead(source="referral"), {"email_opened": 3, "page_visited": 9})
    assert result.total == 42
    assert [(line.rule_id, line.points, line.reason) for line in result.breakdown] == [
        ("a", 30, 'source = "referral"'),
        ("b", 12, "3 x email_opened"),
    ]


def check(condition: str) -> str | None:
    return condition_problem(condition)


def test_a_rule_is_a_condition_or_an_activity_never_both() -> None:
    both = ScoringRule("r", "x", RuleKind.FIELD, 1, condition="tags:*", activity="a")
    with pytest.raises(InvalidArgument) as raised:
        ScoringRuleRecord.create(both, check, NOW)
    assert {v.field for v in raised.value.violations} == {"scoring_rule.condition"}
    bad_condition = ScoringRule("r", "x", RuleKind.FIELD, 1, condition="score > 1")
    with pytest.raises(InvalidArgument, match="score"):
        ScoringRuleRecord.create(bad_condition, check, NOW)
    bad_kind = ScoringRule("r", "x", RuleKind.ACTIVITY, 1, activity="Opened!")
    with pytest.raises(InvalidArgument, match="lower-case"):
        ScoringRuleRecord.create(bad_kind, check, NOW)


def test_updating_a_rule_can_switch_its_kind_and_counts_versions() -> None:
    record = ScoringRuleRecord.create(
        ScoringRule("r", " Opens ", RuleKind.ACTIVITY, 5, activity="email_opened", cap=10),
        check,
        NOW,
    )
    assert record.rule.display_name == "Opens" and record.version == 1
    assert not record.update({"points": 5}, check, NOW)
    assert record.update({"activity": "", "condition": 'source = "web"'}, check, NOW)
    assert record.rule.kind is RuleKind.FIELD and record.rule.cap == 0
    assert record.version == 2


def test_a_lead_update_reports_status_and_reason_changes() -> None:
    subject = lead()
    changed = subject.change(
        {"title": "CTO", "status": LeadStatus.DISQUALIFIED, "disqualify_reason": "no budget"}, NOW
    )
    assert changed == ["title", "status", "disqualify_reason"]
    assert subject.change({"disqualify_reason": "no budget, 2027 maybe"}, NOW) == [
        "disqualify_reason"
    ]
    assert subject.change({"status": LeadStatus.DISQUALIFIED}, NOW) == []
    assert subject.change({"status": LeadStatus.NEW}, NOW) == ["status", "disqualify_reason"]


def test_a_converted_lead_refuses_changes() -> None:
    subject = lead()
    subject.move(LeadStatus.QUALIFIED, "", NOW)
    subject.status = LeadStatus.CONVERTED
    with pytest.raises(FailedPrecondition):
        subject.change({"status": LeadStatus.NEW}, NOW)


def test_custom_field_keys_are_identifiers() -> None:
    with pytest.raises(InvalidArgument) as raised:
        lead(custom_fields={"a b": "x"})
    assert {v.field for v in raised.value.violations} == {"lead.custom_fields['a b']"}
