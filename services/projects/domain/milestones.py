"""Milestones: the checkpoints a project's tasks are grouped under."""

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from crm_common.errors import Violations
from crm_common.filtering import FilterField, FilterSchema
from crm_common.validation import apply_changes, check_id, check_length
from crm_projects.domain.names import PROJECTS
from crm_projects.domain.projects import Completion

DISPLAY_NAME_MAX = 200
DESCRIPTION_MAX = 10_000


@dataclass(frozen=True)
class MilestoneDraft:
    """The writable part of a milestone; `project` (its project's id) is fixed."""

    project: str = ""
    display_name: str = ""
    description: str = ""
    due_date: date | None = None


MILESTONE_FIELDS = ("display_name", "description", "due_date")


@dataclass
class Milestone:
    id: str
    draft: MilestoneDraft
    create_time: datetime
    update_time: datetime
    version: int = 1
    # Rolled up from its tasks when read; never written.
    completion: Completion = field(default_factory=Completion)

    @property
    def name(self) -> str:
        return milestone_name(self.draft.project, self.id)

    @property
    def completed(self) -> bool:
        """It has tasks and every one that counts is done."""
        return bool(self.completion.total) and self.completion.percent == 100

    @classmethod
    def create(cls, milestone_id: str, draft: MilestoneDraft, now: datetime) -> "Milestone":
        violations = Violations()
        check_id(violations, "milestone_id", milestone_id)
        draft = normalise_milestone(draft, violations)
        violations.raise_if_any()
        return cls(milestone_id, draft, now, now)

    def update(self, changes: dict[str, Any], now: datetime) -> list[str]:
        merged, changed = apply_changes(self.draft, changes, normalise_milestone)
        if changed:
            self.draft = merged
            self.update_time = now
            self.version += 1
        return changed


def milestone_name(project_id: str, milestone_id: str) -> str:
    return f"{PROJECTS}{project_id}/milestones/{milestone_id}"


def normalise_milestone(draft: MilestoneDraft, violations: Violations) -> MilestoneDraft:
    display_name = draft.display_name.strip()
    if not display_name:
        violations.add("milestone.display_name", "is required")
    check_length(violations, "milestone.display_name", display_name, DISPLAY_NAME_MAX)
    check_length(violations, "milestone.description", draft.description, DESCRIPTION_MAX)
    return replace(draft, display_name=display_name)


MILESTONE_FILTER_SCHEMA = FilterSchema(
    {
        "display_name": FilterField.string(),
        "description": FilterField.string(),
        "create_time": FilterField.timestamp(),
        "update_time": FilterField.timestamp(),
    }
)
MILESTONE_SORTABLE = ("display_name", "create_time", "update_time")
