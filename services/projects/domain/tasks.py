"""Tasks: plain data, validation and the rules of their status."""

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import IntEnum
from typing import Any

from crm_common.errors import FailedPrecondition, Violations
from crm_common.filtering import FilterField, FilterSchema
from crm_common.validation import apply_changes, check_count, check_id, check_length
from crm_projects.domain.names import (
    OPPORTUNITIES,
    ORGANIZATIONS,
    PEOPLE,
    PROJECTS,
    TICKETS,
    USERS,
    check_name,
)

TITLE_MAX = 250
DESCRIPTION_MAX = 10_000
CHECKLIST_MAX = 100
CHECKLIST_TEXT_MAX = 500
DEPENDENCIES_MAX = 50


class TaskStatus(IntEnum):
    TODO = 1
    IN_PROGRESS = 2
    DONE = 3
    CANCELLED = 4


class Priority(IntEnum):
    LOW = 1
    NORMAL = 2
    HIGH = 3
    URGENT = 4


# A task has started once it is in progress or done: both need every task it
# depends on done first.
STARTED = frozenset({TaskStatus.IN_PROGRESS, TaskStatus.DONE})
OPEN = frozenset({TaskStatus.TODO, TaskStatus.IN_PROGRESS})


@dataclass(frozen=True)
class ChecklistItem:
    text: str
    done: bool = False


@dataclass(frozen=True)
class TaskDraft:
    """The writable part of a task; what a create sends. `project` is the
    project's id and is fixed once the task exists."""

    project: str = ""
    title: str = ""
    description: str = ""
    # A milestone id of the same project; empty for none.
    milestone: str = ""
    # `users/{id}`; empty when nobody has it.
    assignee: str = ""
    due_time: datetime | None = None
    priority: Priority = Priority.NORMAL
    status: TaskStatus = TaskStatus.TODO
    checklist: tuple[ChecklistItem, ...] = ()
    # Ids of tasks of the same project that must be done before this one starts.
    depends_on: tuple[str, ...] = ()
    # `people/{id}` or `organizations/{id}` in the contacts service.
    contact: str = ""
    # `opportunities/{id}` in the sales service.
    opportunity: str = ""
    # `tickets/{id}` in the support service.
    ticket: str = ""


TASK_FIELDS = tuple(name for name in TaskDraft.__dataclass_fields__ if name != "project")


@dataclass
class Task:
    id: str
    draft: TaskDraft
    create_time: datetime
    update_time: datetime
    version: int = 1
    # Ids of the support tickets whose links name the task; filled when read, never written.
    linked_tickets: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return task_name(self.draft.project, self.id)

    @property
    def project(self) -> str:
        return self.draft.project

    @property
    def status(self) -> TaskStatus:
        return self.draft.status

    @property
    def checklist_done(self) -> int:
        return sum(item.done for item in self.draft.checklist)

    @property
    def completion_percent(self) -> int:
        """100 when done, otherwise the share of its checklist ticked, rounded down."""
        if self.status is TaskStatus.DONE:
            return 100
        items = self.draft.checklist
        return self.checklist_done * 100 // len(items) if items else 0

    @classmethod
    def create(cls, task_id: str, draft: TaskDraft, now: datetime) -> "Task":
        violations = Violations()
        check_id(violations, "task_id", task_id)
        draft = normalise_task(draft, violations)
        if task_id in draft.depends_on:
            violations.add("task.depends_on", "a task cannot depend on itself")
        violations.raise_if_any()
        return cls(task_id, draft, now, now)

    def update(self, changes: Mapping[str, Any], now: datetime) -> list[str]:
        """Applies the changed fields; returns the names of those that really changed."""
        merged, changed = apply_changes(self.draft, dict(changes), normalise_task)
        if self.id in merged.depends_on:
            raise_self_dependency()
        if changed:
            self.draft = merged
            self.update_time = now
            self.version += 1
        return changed


def raise_self_dependency() -> None:
    violations = Violations()
    violations.add("task.depends_on", "a task cannot depend on itself")
    violations.raise_if_any()


def task_name(project_id: str, task_id: str) -> str:
    return f"{PROJECTS}{project_id}/tasks/{task_id}"


def check_can_start(task: Task, blockers: Mapping[str, TaskStatus]) -> None:
    """FAILED_PRECONDITION naming the tasks it depends on that are not done yet,
    when the task is started; `blockers` maps each dependency's id to its status."""
    if task.status not in STARTED:
        return
    waiting = sorted(
        task_id for task_id in task.draft.depends_on if blockers.get(task_id) is not TaskStatus.DONE
    )
    if waiting:
        names = ", ".join(task_name(task.project, task_id) for task_id in waiting)
        raise FailedPrecondition(
            f"{task.name} cannot be {task.status.name} before the tasks it depends on are "
            f"done: {names} not done yet"
        )


def normalise_task(draft: TaskDraft, violations: Violations) -> TaskDraft:
    prefix = "task"
    title = draft.title.strip()
    if not title:
        violations.add(f"{prefix}.title", "is required")
    check_length(violations, f"{prefix}.title", title, TITLE_MAX)
    check_length(violations, f"{prefix}.description", draft.description, DESCRIPTION_MAX)
    check_name(violations, f"{prefix}.assignee", draft.assignee, USERS)
    if draft.priority not in Priority.__members__.values():
        violations.add(f"{prefix}.priority", "is not a priority")
    if draft.status not in TaskStatus.__members__.values():
        violations.add(f"{prefix}.status", "is not a task status")
    check_count(violations, f"{prefix}.checklist", draft.checklist, CHECKLIST_MAX)
    checklist = []
    for index, item in enumerate(draft.checklist):
        text = item.text.strip()
        if not text:
            violations.add(f"{prefix}.checklist[{index}].text", "is required")
        check_length(violations, f"{prefix}.checklist[{index}].text", text, CHECKLIST_TEXT_MAX)
        checklist.append(replace(item, text=text))
    check_count(violations, f"{prefix}.depends_on", draft.depends_on, DEPENDENCIES_MAX)
    check_name(violations, f"{prefix}.contact", draft.contact, PEOPLE, ORGANIZATIONS)
    check_name(violations, f"{prefix}.opportunity", draft.opportunity, OPPORTUNITIES)
    check_name(violations, f"{prefix}.ticket", draft.ticket, TICKETS)
    return replace(
        draft,
        title=title,
        checklist=tuple(checklist),
        depends_on=tuple(dict.fromkeys(draft.depends_on)),
    )


TASK_FILTER_SCHEMA = FilterSchema(
    {
        **{
            name: FilterField.string()
            for name in (
                "title",
                "description",
                "milestone",
                "assignee",
                "contact",
                "opportunity",
                "ticket",
            )
        },
        "due_time": FilterField.timestamp(),
        "priority": FilterField.enum({priority.name: int(priority) for priority in Priority}),
        "status": FilterField.enum({status.name: int(status) for status in TaskStatus}),
        "create_time": FilterField.timestamp(),
        "update_time": FilterField.timestamp(),
    }
)
TASK_SORTABLE = ("title", "due_time", "priority", "status", "create_time", "update_time")
