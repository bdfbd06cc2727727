"""SLA policies as the helpdesk stores them (`slaPolicies/{id}`).

A policy says which tickets it applies to (conditions), what they are promised
(targets in business time on a calendar), when to warn before a target falls
due, and how to escalate a breach. The clocks themselves are in sla.py.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from crm_common.errors import Violations
from crm_common.validation import (
    apply_changes,
    check_count,
    check_id,
    check_length,
    normalise_tags,
)
from crm_support.domain.sla_calendars import CALENDARS
from crm_support.domain.sla_state import SlaMetric
from crm_support.domain.tickets import (
    GROUPS,
    ORGANIZATIONS,
    SLA_POLICIES,
    Channel,
    Priority,
    Ticket,
    is_resource_name,
)

DISPLAY_NAME_MAX = 200
DESCRIPTION_MAX = 1000
POSITION_MAX = 1_000_000
ORGANIZATIONS_MAX = 100
# Resource names of other services' records, as long as ticket columns hold them.
REFERENCE_MAX = 200
# A year of business time: far beyond any real promise, and the horizon for
# which calendars load country holidays.
TARGET_MAX = timedelta(days=366)
_PREFIX = "sla_policy"
_SECOND = timedelta(seconds=1)


@dataclass(frozen=True)
class SlaConditions:
    """All must hold; each list holds when the ticket has any of its values, or is empty."""

    priorities: tuple[Priority, ...] = ()
    organizations: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    channels: tuple[Channel, ...] = ()

    def matches(self, ticket: Ticket) -> bool:
        details = ticket.details
        return (
            (not self.priorities or details.priority in self.priorities)
            and (not self.organizations or details.organization in self.organizations)
            and (not self.tags or not set(self.tags).isdisjoint(details.tags))
            and (not self.channels or ticket.channel in self.channels)
        )


@dataclass(frozen=True)
class SlaPolicyTargets:
    """Business time allowed per metric; None means the metric is not measured."""

    first_response: timedelta | None = None
    next_response: timedelta | None = None
    resolution: timedelta | None = None

    def seconds(self) -> dict[SlaMetric, int]:
        """The measured metrics and their targets in whole seconds."""
        return {
            metric: int(value.total_seconds())
            for metric in SlaMetric
            if (value := getattr(self, metric.name.lower())) is not None
        }


@dataclass(frozen=True)
class SlaEscalation:
    """What a breach changes: a priority to raise to, a group to move to."""

    priority: Priority | None = None
    group: str = ""

    def changes_for(self, ticket: Ticket) -> dict[str, Any]:
        """Ticket field changes still to make; none once the ticket has them."""
        changes: dict[str, Any] = {}
        if self.priority is not None and self.priority > ticket.details.priority:
            changes["priority"] = self.priority
        if self.group and self.group != ticket.details.group:
            changes["group"] = self.group
        return changes


@dataclass(frozen=True)
class PolicySpec:
    """The writable part of a policy, as a create or an update supplies it."""

    display_name: str = ""
    description: str = ""
    position: int = 0
    conditions: SlaConditions = field(default_factory=SlaConditions)
    # `calendars/{id}`.
    calendar: str = ""
    targets: SlaPolicyTargets = field(default_factory=SlaPolicyTargets)
    warning_lead: timedelta = timedelta(0)
    escalation: SlaEscalation = field(default_factory=SlaEscalation)


UPDATABLE_FIELDS = tuple(PolicySpec.__dataclass_fields__)


@dataclass
class SlaPolicy:
    id: str
    spec: PolicySpec
    create_time: datetime
    update_time: datetime
    version: int = 1

    @property
    def name(self) -> str:
        return SLA_POLICIES + self.id

    @property
    def calendar_id(self) -> str:
        return self.spec.calendar.removeprefix(CALENDARS)

    @classmethod
    def create(cls, policy_id: str, spec: PolicySpec, now: datetime) -> "SlaPolicy":
        violations = Violations()
        check_id(violations, "sla_policy_id", policy_id)
        spec = normalise(spec, violations)
        violations.raise_if_any()
        return cls(policy_id, spec, now, now)

    def update(self, changes: Mapping[str, Any], now: datetime) -> list[str]:
        """Applies the changes; returns the names of the fields that really changed."""
        merged, changed = apply_changes(self.spec, dict(changes), normalise)
        if changed:
            self.spec = merged
            self.update_time = now
            self.version += 1
        return changed


def normalise(spec: PolicySpec, violations: Violations) -> PolicySpec:
    """Checks every field, collecting all violations, and returns canonical values."""
    display_name, description = spec.display_name.strip(), spec.description.strip()
    if not display_name:
        violations.add(f"{_PREFIX}.display_name", "is required")
    check_length(violations, f"{_PREFIX}.display_name", display_name, DISPLAY_NAME_MAX)
    check_length(violations, f"{_PREFIX}.description", description, DESCRIPTION_MAX)
    if not 0 <= spec.position <= POSITION_MAX:
        violations.add(f"{_PREFIX}.position", f"must be from 0 to {POSITION_MAX}")
    if not spec.calendar:
        violations.add(f"{_PREFIX}.calendar", "is required")
    elif not _is_calendar_name(spec.calendar):
        violations.add(f"{_PREFIX}.calendar", "must be like calendars/office-hours")
    _check_targets(spec.targets, violations)
    _check_duration(violations, f"{_PREFIX}.warning_lead", spec.warning_lead, allow_zero=True)
    group = spec.escalation.group
    if group and not (is_resource_name(group, GROUPS) and len(group) <= REFERENCE_MAX):
        violations.add(f"{_PREFIX}.escalation.group", "must be like groups/123")
    return replace(
        spec,
        display_name=display_name,
        description=description,
        conditions=_conditions(spec.conditions, violations),
    )


def _conditions(conditions: SlaConditions, violations: Violations) -> SlaConditions:
    path = f"{_PREFIX}.conditions"
    check_count(violations, f"{path}.organizations", conditions.organizations, ORGANIZATIONS_MAX)
    for index, organization in enumerate(conditions.organizations):
        if not (
            is_resource_name(organization, ORGANIZATIONS) and len(organization) <= REFERENCE_MAX
        ):
            violations.add(f"{path}.organizations[{index}]", "must be like organizations/123")
    # Sorted sets: the same conditions compare (and etag) equal however listed.
    return SlaConditions(
        priorities=tuple(sorted(set(conditions.priorities))),
        organizations=tuple(sorted(set(conditions.organizations))),
        tags=tuple(sorted(normalise_tags(conditions.tags, violations, f"{path}.tags"))),
        channels=tuple(sorted(set(conditions.channels))),
    )


def _is_calendar_name(name: str) -> bool:
    """`calendars/{id}` with an id a calendar could have."""
    malformed = Violations()
    check_id(malformed, "", name.removeprefix(CALENDARS))
    return name.startswith(CALENDARS) and not malformed


def _check_targets(targets: SlaPolicyTargets, violations: Violations) -> None:
    path = f"{_PREFIX}.targets"
    values = {metric: getattr(targets, metric.name.lower()) for metric in SlaMetric}
    if all(value is None for value in values.values()):
        violations.add(path, "set at least one of first_response, next_response, resolution")
    for metric, value in values.items():
        if value is not None:
            _check_duration(violations, f"{path}.{metric.name.lower()}", value, allow_zero=False)


def _check_duration(
    violations: Violations, path: str, value: timedelta, *, allow_zero: bool
) -> None:
    if value < timedelta(0) or (value == timedelta(0) and not allow_zero):
        violations.add(path, "must be positive" if not allow_zero else "must not be negative")
    elif value > TARGET_MAX:
        violations.add(path, f"must be at most {TARGET_MAX.days} days")
    elif value % _SECOND:
        violations.add(path, "must be whole seconds")
