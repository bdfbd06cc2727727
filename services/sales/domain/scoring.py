"""Lead scoring: rules award points, and the score explains itself.

A rule either looks at the lead's fields (a condition, e.g. `source = "referral"`)
or counts its activities (e.g. 5 points per `email.opened`, at most 20). The
score is recomputed from scratch whenever a rule or the lead changes, so it
never drifts from what the rules say.
"""

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import IntEnum
from typing import Any

from crm_common.errors import Violations
from crm_common.validation import check_id, check_length

POINTS_LIMIT = 1000
ACTIVITY_MAX = 64
# Activity kinds are identifiers such as `email_opened` or `email.opened`.
_ACTIVITY_KIND = re.compile(r"[a-z][a-z0-9_.]*")


class RuleKind(IntEnum):
    FIELD = 1
    ACTIVITY = 2


@dataclass(frozen=True)
class ScoringRule:
    id: str
    display_name: str
    kind: RuleKind
    # Negative points mark poor fit (e.g. a free-mail address).
    points: int
    # FIELD: an AIP-160 condition over the lead's fields.
    condition: str = ""
    # ACTIVITY: the activity kind counted, and the most points it may add (0: no cap).
    activity: str = ""
    cap: int = 0
    active: bool = True


@dataclass(frozen=True)
class ScoreLine:
    rule_id: str
    display_name: str
    points: int
    # Why: the condition that held, or "3 x email.opened".
    reason: str


@dataclass(frozen=True)
class Score:
    total: int
    breakdown: tuple[ScoreLine, ...]


def check_rule(rule: ScoringRule, violations: Violations) -> None:
    prefix = "scoring_rule"
    if not rule.display_name.strip():
        violations.add(f"{prefix}.display_name", "is required")
    check_length(violations, f"{prefix}.display_name", rule.display_name, 100)
    if not -POINTS_LIMIT <= rule.points <= POINTS_LIMIT or rule.points == 0:
        violations.add(f"{prefix}.points", f"must be non-zero, within +-{POINTS_LIMIT}")
    if rule.kind is RuleKind.FIELD and not rule.condition.strip():
        violations.add(f"{prefix}.condition", "is required for a field rule")
    if rule.kind is RuleKind.ACTIVITY:
        if not rule.activity.strip():
            violations.add(f"{prefix}.activity", "is required for an activity rule")
        check_activity_kind(violations, f"{prefix}.activity", rule.activity)
        if rule.cap < 0:
            violations.add(f"{prefix}.cap", "must not be negative")


def check_activity_kind(violations: Violations, path: str, kind: str) -> None:
    check_length(violations, path, kind, ACTIVITY_MAX)
    if kind and not _ACTIVITY_KIND.fullmatch(kind):
        violations.add(path, "is lower-case letters, digits, '_' and '.', like email_opened")


# What a client writes; the kind follows from which of condition and activity is set.
RULE_FIELDS = ("display_name", "condition", "activity", "points", "cap", "active")


def rule_with(
    rule: ScoringRule, changes: Mapping[str, Any], check_condition: Callable[[str], str | None]
) -> ScoringRule:
    """`rule` with `changes` applied and checked (INVALID_ARGUMENT listing every
    problem). `check_condition` returns what is wrong with a condition, if anything."""
    merged = replace(rule, **changes)
    violations = Violations()
    condition, activity = merged.condition.strip(), merged.activity.strip()
    if bool(condition) == bool(activity):
        violations.add("scoring_rule.condition", "exactly one of condition and activity is set")
    kind = RuleKind.FIELD if condition else RuleKind.ACTIVITY
    merged = replace(
        merged,
        display_name=merged.display_name.strip(),
        kind=kind,
        condition=condition,
        activity=activity,
        cap=merged.cap if kind is RuleKind.ACTIVITY else 0,
    )
    check_rule(merged, violations)
    if condition and (problem := check_condition(condition)):
        violations.add("scoring_rule.condition", problem)
    violations.raise_if_any()
    return merged


@dataclass
class ScoringRuleRecord:
    """A stored rule: the rule with its times and version (for its etag)."""

    rule: ScoringRule
    create_time: datetime
    update_time: datetime
    version: int = 1

    @property
    def name(self) -> str:
        return f"scoringRules/{self.rule.id}"

    @classmethod
    def create(
        cls,
        rule: ScoringRule,
        check_condition: Callable[[str], str | None],
        now: datetime,
    ) -> "ScoringRuleRecord":
        violations = Violations()
        check_id(violations, "scoring_rule_id", rule.id)
        violations.raise_if_any()
        written = {name: getattr(rule, name) for name in RULE_FIELDS}
        return cls(rule_with(rule, written, check_condition), now, now)

    def update(
        self,
        changes: Mapping[str, Any],
        check_condition: Callable[[str], str | None],
        now: datetime,
    ) -> bool:
        """Applies `changes`; False when the rule stays as it was."""
        updated = rule_with(self.rule, changes, check_condition)
        if updated == self.rule:
            return False
        self.rule, self.update_time = updated, now
        self.version += 1
        return True


def score(
    rules: list[ScoringRule],
    matches: Callable[[str], bool],
    activity_counts: Mapping[str, int],
) -> Score:
    """The lead's score under `rules`; `matches(condition)` says whether a field
    condition holds for the lead."""
    lines = []
    for rule in rules:
        if not rule.active:
            continue
        line = _line(rule, matches, activity_counts)
        if line is not None:
            lines.append(line)
    return Score(sum(line.points for line in lines), tuple(lines))


def _line(
    rule: ScoringRule, matches: Callable[[str], bool], activity_counts: Mapping[str, int]
) -> ScoreLine | None:
    if rule.kind is RuleKind.FIELD:
        if not matches(rule.condition):
            return None
        return ScoreLine(rule.id, rule.display_name, rule.points, rule.condition)
    count = activity_counts.get(rule.activity, 0)
    if count == 0:
        return None
    points = rule.points * count
    if rule.cap:
        points = max(-rule.cap, min(rule.cap, points))
    return ScoreLine(rule.id, rule.display_name, points, f"{count} x {rule.activity}")
