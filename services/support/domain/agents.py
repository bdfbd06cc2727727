"""Agents and groups: plain data and their rules."""

from dataclasses import dataclass, replace
from datetime import datetime
from enum import IntEnum
from typing import Any

from crm_common.errors import Violations
from crm_common.filtering import FilterField, FilterSchema
from crm_common.pagination import SortKey
from crm_common.validation import (
    apply_changes,
    check_count,
    check_id,
    check_length,
    is_email_address,
    normalise_email,
)
from crm_support.domain.tickets import AGENTS, GROUPS, TicketStatus, is_resource_name

DISPLAY_NAME_MAX = 200
DESCRIPTION_MAX = 2000
GROUPS_MAX = 100
SKILLS_MAX = 50
CAPACITY_MAX = 10_000
SKILL_TAG = "skill:"
# A skill is also written as the ticket tag `skill:<name>`, and tags are at
# most 64 characters.
SKILL_MAX = 64 - len(SKILL_TAG)

# The tickets an agent is working: they count against its capacity.
WORKING_STATUSES = frozenset(
    {TicketStatus.NEW, TicketStatus.OPEN, TicketStatus.PENDING, TicketStatus.ON_HOLD}
)


class Availability(IntEnum):
    ONLINE = 1
    AWAY = 2
    OFFLINE = 3


class AssignmentStrategy(IntEnum):
    MANUAL = 1
    ROUND_ROBIN = 2
    LEAST_LOADED = 3

    @property
    def automatic(self) -> bool:
        return self is not AssignmentStrategy.MANUAL


@dataclass(frozen=True)
class AgentDetails:
    """The writable part of an agent."""

    display_name: str = ""
    email: str = ""
    # `groups/{id}`, the first being the agent's default group.
    groups: tuple[str, ...] = ()
    skills: tuple[str, ...] = ()
    # Working tickets automatic assignment may give the agent; 0: no limit.
    capacity: int = 0
    # Agents start offline so that nobody gets tickets before they start work.
    availability: Availability = Availability.OFFLINE


AGENT_FIELDS = tuple(AgentDetails.__dataclass_fields__)


@dataclass
class Agent:
    id: str
    details: AgentDetails
    create_time: datetime
    update_time: datetime
    version: int = 1
    # Working tickets assigned now; read, never written.
    load: int = 0

    @property
    def name(self) -> str:
        return f"{AGENTS}{self.id}"

    @classmethod
    def create(cls, agent_id: str, details: AgentDetails, now: datetime) -> "Agent":
        violations = Violations()
        check_id(violations, "agent_id", agent_id)
        details = normalise_agent(details, violations)
        violations.raise_if_any()
        return cls(agent_id, details, now, now)

    def update(self, changes: dict[str, Any], now: datetime) -> list[str]:
        """Applies the changed fields; returns the names of those that really changed."""
        merged, changed = apply_changes(self.details, changes, normalise_agent)
        if changed:
            self.details = merged
            self.update_time = now
            self.version += 1
        return changed


def normalise_agent(details: AgentDetails, violations: Violations) -> AgentDetails:
    prefix = "agent"
    display_name = _display_name(details.display_name, violations, f"{prefix}.display_name")
    email = normalise_email(details.email)
    if not email:
        violations.add(f"{prefix}.email", "is required")
    elif not is_email_address(email):
        violations.add(f"{prefix}.email", "is not an email address")
    check_count(violations, f"{prefix}.groups", details.groups, GROUPS_MAX)
    for index, group in enumerate(details.groups):
        if not is_resource_name(group, GROUPS):
            violations.add(f"{prefix}.groups[{index}]", "must be like groups/123")
    if not 0 <= details.capacity <= CAPACITY_MAX:
        violations.add(f"{prefix}.capacity", f"must be from 0 (no limit) to {CAPACITY_MAX}")
    return replace(
        details,
        display_name=display_name,
        email=email,
        groups=tuple(dict.fromkeys(details.groups)),
        skills=normalise_skills(details.skills, violations, f"{prefix}.skills"),
    )


def normalise_skills(skills: tuple[str, ...], violations: Violations, path: str) -> tuple[str, ...]:
    """Lower-cased, trimmed, de-duplicated and sorted: a set, shown in a stable order."""
    check_count(violations, path, skills, SKILLS_MAX)
    clean: set[str] = set()
    for index, skill in enumerate(skills):
        value = skill.strip().lower()
        if not 1 <= len(value) <= SKILL_MAX or any(c.isspace() or c == "," for c in value):
            violations.add(
                f"{path}[{index}]", f"skills are 1-{SKILL_MAX} characters without spaces or commas"
            )
        clean.add(value)
    return tuple(sorted(clean))


def required_skills(tags: tuple[str, ...]) -> frozenset[str]:
    """The skills a ticket asks of its agent: its tags `skill:<name>`."""
    return frozenset(
        tag.removeprefix(SKILL_TAG)
        for tag in tags
        if tag.startswith(SKILL_TAG) and tag != SKILL_TAG
    )


def skill_tags(skills: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f"{SKILL_TAG}{skill}" for skill in skills)


@dataclass(frozen=True)
class GroupDetails:
    """The writable part of a group."""

    display_name: str = ""
    description: str = ""
    assignment_strategy: AssignmentStrategy = AssignmentStrategy.MANUAL


GROUP_FIELDS = tuple(GroupDetails.__dataclass_fields__)


@dataclass
class Group:
    id: str
    details: GroupDetails
    create_time: datetime
    update_time: datetime
    version: int = 1

    @property
    def name(self) -> str:
        return f"{GROUPS}{self.id}"

    @classmethod
    def create(cls, group_id: str, details: GroupDetails, now: datetime) -> "Group":
        violations = Violations()
        check_id(violations, "group_id", group_id)
        details = normalise_group(details, violations)
        violations.raise_if_any()
        return cls(group_id, details, now, now)

    def update(self, changes: dict[str, Any], now: datetime) -> list[str]:
        """Applies the changed fields; returns the names of those that really changed."""
        merged, changed = apply_changes(self.details, changes, normalise_group)
        if changed:
            self.details = merged
            self.update_time = now
            self.version += 1
        return changed


def normalise_group(details: GroupDetails, violations: Violations) -> GroupDetails:
    display_name = _display_name(details.display_name, violations, "group.display_name")
    check_length(violations, "group.description", details.description, DESCRIPTION_MAX)
    return replace(details, display_name=display_name)


def _display_name(value: str, violations: Violations, path: str) -> str:
    display_name = value.strip()
    if not display_name:
        violations.add(path, "is required")
    check_length(violations, path, display_name, DISPLAY_NAME_MAX)
    return display_name


def _names(enum: type[IntEnum]) -> dict[str, int]:
    return {member.name: member.value for member in enum}


AGENT_FILTER_SCHEMA = FilterSchema(
    {
        "display_name": FilterField.string(),
        "email": FilterField.string(),
        "groups": FilterField.repeated_string(),
        "skills": FilterField.repeated_string(),
        "capacity": FilterField.integer(),
        "availability": FilterField.enum(_names(Availability)),
        "create_time": FilterField.timestamp(),
        "update_time": FilterField.timestamp(),
    }
)
AGENT_SORTABLE = ("display_name", "email", "capacity", "create_time", "update_time")

GROUP_FILTER_SCHEMA = FilterSchema(
    {
        "display_name": FilterField.string(),
        "assignment_strategy": FilterField.enum(_names(AssignmentStrategy)),
        "create_time": FilterField.timestamp(),
        "update_time": FilterField.timestamp(),
    }
)
GROUP_SORTABLE = ("display_name", "create_time", "update_time")

# Alphabetical, as people look agents and groups up by name.
BY_DISPLAY_NAME = (SortKey("display_name"),)
