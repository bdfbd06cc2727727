"""Workflow rules: "when <event and condition> then <actions>", and what a run decides.

A rule names the event type that runs it (its trigger), an AIP-160 condition
over the event's subject, what its actions act on (the subject itself, or
the open opportunities of the subject's organization) and the actions.

Runs are kept finite: a rule never runs on an event its own actions caused,
and an event caused by a chain of MAX_DEPTH rule runs runs nothing more.
"""

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import IntEnum, StrEnum
from typing import Any

from crm_common.errors import Violations
from crm_common.validation import TAG_MAX, check_id, check_length

DISPLAY_NAME_MAX = 200
ACTIONS_MAX = 10
TITLE_MAX = 200
MESSAGE_MAX = 2000
PERSON_MAX = 128  # owners, assignees and recipients, as opportunities' owners
DUE_IN_DAYS_MAX = 365
# Generations of rule-caused events: a person's change is depth 0, a rule's
# reaction depth 1, ...; an event at MAX_DEPTH runs no rule.
MAX_DEPTH = 5
# The most opportunities one run acts on (an organization's open deals).
TARGETS_MAX = 100
PREFIX = "workflow_rule"


class SubjectKind(StrEnum):
    OPPORTUNITY = "opportunity"
    LEAD = "lead"
    TICKET = "ticket"


# Every event type a rule may name, and what that event is about.
TRIGGERS: Mapping[str, SubjectKind] = {
    **{
        f"opportunity.{what}": SubjectKind.OPPORTUNITY
        for what in ("created", "updated", "stage_changed", "won", "lost", "reopened")
    },
    "lead.created": SubjectKind.LEAD,
    "lead.updated": SubjectKind.LEAD,
    "ticket.created": SubjectKind.TICKET,
    "ticket.updated": SubjectKind.TICKET,
    "ticket.status_changed": SubjectKind.TICKET,
}


class Target(IntEnum):
    SUBJECT = 1
    ORGANIZATION_OPEN_OPPORTUNITIES = 2


# Which targets each kind of subject allows: a ticket belongs to support, so
# a ticket rule can only reach sales records through its organization.
ALLOWED_TARGETS: Mapping[SubjectKind, frozenset[Target]] = {
    SubjectKind.OPPORTUNITY: frozenset(Target),
    SubjectKind.LEAD: frozenset({Target.SUBJECT}),
    SubjectKind.TICKET: frozenset({Target.ORGANIZATION_OPEN_OPPORTUNITIES}),
}


class Outcome(IntEnum):
    APPLIED = 1
    SKIPPED_BY_CONDITION = 2
    SKIPPED_NO_TARGET = 3
    STOPPED_BY_LOOP_GUARD = 4
    FAILED = 5


@dataclass(frozen=True)
class CreateTask:
    title: str
    due_in_days: int = 0
    # Empty: the target's owner.
    assignee: str = ""


@dataclass(frozen=True)
class ChangeOwner:
    owner: str


@dataclass(frozen=True)
class AddTag:
    tag: str


@dataclass(frozen=True)
class MoveStage:
    pipeline_id: str
    stage_id: str


@dataclass(frozen=True)
class Notify:
    message: str
    # Empty: the target's owner.
    recipient: str = ""


Action = CreateTask | ChangeOwner | AddTag | MoveStage | Notify

# Actions that change an opportunity; a lead target takes only the others.
OPPORTUNITY_ACTIONS = (ChangeOwner, AddTag, MoveStage)

# What templates may name; the values come from the run (see placeholders()).
PLACEHOLDERS = frozenset(
    {
        "event.type",
        "subject.name",
        "subject.display_name",
        "target.name",
        "target.display_name",
        "target.owner",
    }
)
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


@dataclass(frozen=True)
class WorkflowRule:
    id: str
    display_name: str
    trigger: str
    target: Target | None
    actions: tuple[Action, ...]
    condition: str = ""
    enabled: bool = True

    @property
    def name(self) -> str:
        return f"workflowRules/{self.id}"

    @property
    def subject_kind(self) -> SubjectKind:
        return TRIGGERS[self.trigger]


# What a client writes.
RULE_FIELDS = ("display_name", "enabled", "trigger", "condition", "target", "actions")

ConditionCheck = Callable[[SubjectKind, str], str | None]


def checked_rule(rule: WorkflowRule, condition_problem: ConditionCheck) -> WorkflowRule:
    """`rule` normalised; INVALID_ARGUMENT listing every problem.
    `condition_problem` says what is wrong with a condition for a kind of subject."""
    violations = Violations()
    if rule.id:
        check_id(violations, "workflow_rule_id", rule.id)
    display_name = rule.display_name.strip()
    if not display_name:
        violations.add(f"{PREFIX}.display_name", "is required")
    check_length(violations, f"{PREFIX}.display_name", display_name, DISPLAY_NAME_MAX)
    trigger = rule.trigger.strip()
    kind = TRIGGERS.get(trigger)
    if not trigger:
        violations.add(f"{PREFIX}.trigger", "is required")
    elif kind is None:
        violations.add(f"{PREFIX}.trigger", f"{trigger!r} is not one of {', '.join(TRIGGERS)}")
    condition = rule.condition.strip()
    if kind is not None and condition and (problem := condition_problem(kind, condition)):
        violations.add(f"{PREFIX}.condition", problem)
    if rule.target is None:
        violations.add(f"{PREFIX}.target", "is required")
    elif kind is not None and rule.target not in ALLOWED_TARGETS[kind]:
        allowed = " or ".join(sorted(target.name for target in ALLOWED_TARGETS[kind]))
        violations.add(f"{PREFIX}.target", f"a {kind} trigger takes {allowed}")
    actions = _checked_actions(rule, kind, violations)
    violations.raise_if_any()
    return replace(
        rule, display_name=display_name, trigger=trigger, condition=condition, actions=actions
    )


def _checked_actions(
    rule: WorkflowRule, kind: SubjectKind | None, violations: Violations
) -> tuple[Action, ...]:
    if not rule.actions:
        violations.add(f"{PREFIX}.actions", "at least one action is required")
    elif len(rule.actions) > ACTIONS_MAX:
        violations.add(f"{PREFIX}.actions", f"at most {ACTIONS_MAX} actions")
    acts_on_lead = kind is SubjectKind.LEAD
    checked = []
    for index, action in enumerate(rule.actions):
        path = f"{PREFIX}.actions[{index}]"
        if acts_on_lead and isinstance(action, OPPORTUNITY_ACTIONS):
            violations.add(path, "changes an opportunity; a lead rule may create tasks and notify")
        checked.append(_checked_action(action, path, violations))
    return tuple(checked)


def _checked_action(action: Action, path: str, violations: Violations) -> Action:
    match action:
        case CreateTask():
            _check_template(violations, f"{path}.create_task.title", action.title, TITLE_MAX)
            if not 0 <= action.due_in_days <= DUE_IN_DAYS_MAX:
                violations.add(f"{path}.create_task.due_in_days", f"0 to {DUE_IN_DAYS_MAX}")
            assignee = action.assignee.strip()
            check_length(violations, f"{path}.create_task.assignee", assignee, PERSON_MAX)
            return replace(action, title=action.title.strip(), assignee=assignee)
        case ChangeOwner():
            owner = action.owner.strip()
            if not owner:
                violations.add(f"{path}.change_owner.owner", "is required")
            check_length(violations, f"{path}.change_owner.owner", owner, PERSON_MAX)
            return ChangeOwner(owner)
        case AddTag():
            # Stored as opportunities store their tags.
            tag = action.tag.strip().lower()
            if not tag or len(tag) > TAG_MAX or "," in tag:
                violations.add(f"{path}.add_tag.tag", f"a tag is 1-{TAG_MAX} characters, no commas")
            return AddTag(tag)
        case MoveStage():
            return action  # the stage name was checked as it was read
        case Notify():
            _check_template(violations, f"{path}.notify.message", action.message, MESSAGE_MAX)
            recipient = action.recipient.strip()
            check_length(violations, f"{path}.notify.recipient", recipient, PERSON_MAX)
            return replace(action, message=action.message.strip(), recipient=recipient)
    raise TypeError(f"not a workflow action: {action!r}")


def _check_template(violations: Violations, path: str, text: str, limit: int) -> None:
    if not text.strip():
        violations.add(path, "is required")
        return
    check_length(violations, path, text.strip(), limit)
    unknown = sorted(set(_PLACEHOLDER.findall(text)) - PLACEHOLDERS)
    if unknown:
        names = ", ".join(f"{{{name}}}" for name in unknown)
        allowed = ", ".join(f"{{{name}}}" for name in sorted(PLACEHOLDERS))
        violations.add(path, f"unknown placeholder {names}; use {allowed}")


def render(template: str, values: Mapping[str, str]) -> str:
    """The template with each known placeholder replaced by its value."""
    return _PLACEHOLDER.sub(lambda found: values.get(found.group(1), found.group(0)), template)


@dataclass
class WorkflowRuleRecord:
    """A stored rule: the rule with its times and version (for its etag)."""

    rule: WorkflowRule
    create_time: datetime
    update_time: datetime
    version: int = 1

    @property
    def name(self) -> str:
        return self.rule.name

    def update(
        self, changes: Mapping[str, Any], condition_problem: ConditionCheck, now: datetime
    ) -> bool:
        """Applies and checks `changes`; False when nothing changed."""
        merged = checked_rule(replace(self.rule, **changes), condition_problem)
        if merged == self.rule:
            return False
        self.rule, self.update_time = merged, now
        self.version += 1
        return True


@dataclass(frozen=True)
class Subject:
    """What a triggering event is about, as the event tells it."""

    kind: SubjectKind
    # `opportunities/7`, `leads/3`, `tickets/42`.
    name: str
    display_name: str
    owner: str
    # `organizations/{id}` or "".
    organization: str


@dataclass(frozen=True)
class TriggeringEvent:
    """An event a rule may run on, with what it is about."""

    id: str
    type: str
    occurred_at: datetime
    # The aggregate and the version the event announces, to look up its Cause.
    aggregate_type: str
    aggregate_id: str
    aggregate_version: int
    subject: Subject
    # Whether the subject satisfies a rule's condition (checked for its kind).
    satisfies: Callable[[str], bool]


@dataclass(frozen=True)
class Cause:
    """Which rule's run caused an event, and how deep that chain of runs was."""

    rule_id: str
    depth: int


def blocked_by(rule: WorkflowRule, cause: Cause | None) -> bool:
    """A rule never runs on an event its own actions caused (it would feed itself)."""
    return cause is not None and cause.rule_id == rule.id


def gate(condition_holds: bool, depth: int) -> tuple[Outcome, str] | None:
    """Why a run does nothing, or None when its actions should run."""
    if not condition_holds:
        return Outcome.SKIPPED_BY_CONDITION, ""
    if depth >= MAX_DEPTH:
        return (
            Outcome.STOPPED_BY_LOOP_GUARD,
            f"the event comes from a chain of {depth} rule runs; the limit is {MAX_DEPTH}",
        )
    return None


def placeholders(
    event_type: str, subject: Subject, target_name: str, target_display: str, owner: str
) -> dict[str, str]:
    return {
        "event.type": event_type,
        "subject.name": subject.name,
        "subject.display_name": subject.display_name,
        "target.name": target_name,
        "target.display_name": target_display,
        "target.owner": owner,
    }
