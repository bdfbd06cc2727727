"""Projects: plain data, validation and the status state machine."""

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import IntEnum
from typing import Any

from crm_common.errors import FailedPrecondition, Violations
from crm_common.filtering import FilterField, FilterSchema
from crm_common.validation import (
    apply_changes,
    check_count,
    check_id,
    check_length,
    normalise_custom_fields,
    normalise_tags,
)
from crm_projects.domain.names import (
    OPPORTUNITIES,
    ORGANIZATIONS,
    PEOPLE,
    PROJECTS,
    check_name,
    check_user_id,
)

DISPLAY_NAME_MAX = 200
DESCRIPTION_MAX = 10_000
PEOPLE_MAX = 100


class ProjectStatus(IntEnum):
    NOT_STARTED = 1
    IN_PROGRESS = 2
    DEFERRED = 3
    COMPLETED = 4
    CANCELLED = 5


# Finished projects are reopened by putting them back in progress, never by
# pretending they had not started.
_NEXT: dict[ProjectStatus, frozenset[ProjectStatus]] = {
    ProjectStatus.NOT_STARTED: frozenset(
        {
            ProjectStatus.IN_PROGRESS,
            ProjectStatus.DEFERRED,
            ProjectStatus.COMPLETED,
            ProjectStatus.CANCELLED,
        }
    ),
    ProjectStatus.IN_PROGRESS: frozenset(
        {ProjectStatus.DEFERRED, ProjectStatus.COMPLETED, ProjectStatus.CANCELLED}
    ),
    ProjectStatus.DEFERRED: frozenset(
        {
            ProjectStatus.NOT_STARTED,
            ProjectStatus.IN_PROGRESS,
            ProjectStatus.COMPLETED,
            ProjectStatus.CANCELLED,
        }
    ),
    ProjectStatus.COMPLETED: frozenset({ProjectStatus.IN_PROGRESS}),
    ProjectStatus.CANCELLED: frozenset({ProjectStatus.IN_PROGRESS}),
}


def check_project_transition(name: str, before: ProjectStatus, after: ProjectStatus) -> None:
    if after != before and after not in _NEXT[before]:
        allowed = ", ".join(sorted(status.name for status in _NEXT[before]))
        raise FailedPrecondition(
            f"{name} cannot go from {before.name} to {after.name}; from {before.name} it may "
            f"go to {allowed}"
        )


@dataclass(frozen=True)
class ProjectDraft:
    """The writable part of a project; what a create sends."""

    display_name: str = ""
    description: str = ""
    status: ProjectStatus = ProjectStatus.NOT_STARTED
    # A user id.
    owner: str = ""
    start_date: date | None = None
    due_date: date | None = None
    # `organizations/{id}` in the contacts service.
    organization: str = ""
    # `people/{id}` in the contacts service.
    people: tuple[str, ...] = ()
    # `opportunities/{id}` in the sales service.
    opportunity: str = ""
    tags: tuple[str, ...] = ()
    custom_fields: Mapping[str, str] = field(default_factory=dict)


PROJECT_FIELDS = tuple(ProjectDraft.__dataclass_fields__)


@dataclass(frozen=True)
class Completion:
    """Progress of a set of tasks: `done` of `total` task-equivalents (a task's
    checklist counts it partly done)."""

    done: float = 0.0
    total: int = 0

    @property
    def percent(self) -> int:
        """Rounded down, so that 100 means every task is done."""
        return int(self.done * 100 // self.total) if self.total else 0


@dataclass
class Project:
    id: str
    draft: ProjectDraft
    create_time: datetime
    update_time: datetime
    version: int = 1
    # Rolled up from the tasks when read; never written.
    completion: Completion = field(default_factory=Completion)

    @property
    def name(self) -> str:
        return f"{PROJECTS}{self.id}"

    @property
    def status(self) -> ProjectStatus:
        return self.draft.status

    @classmethod
    def create(cls, project_id: str, draft: ProjectDraft, now: datetime) -> "Project":
        violations = Violations()
        check_id(violations, "project_id", project_id)
        draft = normalise_project(draft, violations)
        violations.raise_if_any()
        return cls(project_id, draft, now, now)

    def update(self, changes: dict[str, Any], now: datetime) -> list[str]:
        """Applies the changed fields; returns the names of those that really changed."""
        merged, changed = apply_changes(self.draft, changes, normalise_project)
        if changed:
            check_project_transition(self.name, self.draft.status, merged.status)
            self.draft = merged
            self.update_time = now
            self.version += 1
        return changed


def normalise_project(draft: ProjectDraft, violations: Violations) -> ProjectDraft:
    prefix = "project"
    display_name = draft.display_name.strip()
    if not display_name:
        violations.add(f"{prefix}.display_name", "is required")
    check_length(violations, f"{prefix}.display_name", display_name, DISPLAY_NAME_MAX)
    check_length(violations, f"{prefix}.description", draft.description, DESCRIPTION_MAX)
    if draft.status not in ProjectStatus.__members__.values():
        violations.add(f"{prefix}.status", "is not a project status")
    check_user_id(violations, f"{prefix}.owner", draft.owner)
    if draft.start_date and draft.due_date and draft.due_date < draft.start_date:
        violations.add(f"{prefix}.due_date", "is before start_date")
    check_name(violations, f"{prefix}.organization", draft.organization, ORGANIZATIONS)
    check_count(violations, f"{prefix}.people", draft.people, PEOPLE_MAX)
    for index, person in enumerate(draft.people):
        check_name(violations, f"{prefix}.people[{index}]", person, PEOPLE)
        if not person:
            violations.add(f"{prefix}.people[{index}]", "is empty")
    check_name(violations, f"{prefix}.opportunity", draft.opportunity, OPPORTUNITIES)
    return replace(
        draft,
        display_name=display_name,
        people=tuple(dict.fromkeys(draft.people)),
        tags=normalise_tags(draft.tags, violations, f"{prefix}.tags"),
        custom_fields=_without_empty(
            normalise_custom_fields(draft.custom_fields, violations, f"{prefix}.custom_fields")
        ),
    )


def _without_empty(values: dict[str, str]) -> dict[str, str]:
    """An empty value removes the field."""
    return {key: value for key, value in values.items() if value}


PROJECT_FILTER_SCHEMA = FilterSchema(
    {
        **{
            name: FilterField.string()
            for name in ("display_name", "description", "owner", "organization", "opportunity")
        },
        "status": FilterField.enum({status.name: int(status) for status in ProjectStatus}),
        "people": FilterField.repeated_string(),
        "tags": FilterField.repeated_string(),
        "create_time": FilterField.timestamp(),
        "update_time": FilterField.timestamp(),
    },
    custom_prefixes=("custom_fields",),
)
PROJECT_SORTABLE = ("display_name", "status", "owner", "create_time", "update_time")
