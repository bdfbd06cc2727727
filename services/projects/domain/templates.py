"""Project templates (`projectTemplates/{id}`): the milestones and tasks a won deal's
project starts with, dated relative to the win and assigned by rule.

Milestones and tasks inside a template are named by keys the template author
chooses, so that tasks can say which milestone they belong to and which other
tasks they wait for before any of them exists as a real task.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import IntEnum
from typing import Any

from crm_common.errors import Violations
from crm_common.validation import apply_changes, check_count, check_id, check_length
from crm_projects.domain.names import USERS, check_name
from crm_projects.domain.tasks import DEPENDENCIES_MAX, Priority

TEMPLATES = "projectTemplates/"
PIPELINES = "pipelines/"
DISPLAY_NAME_MAX = 200
DESCRIPTION_MAX = 2000
TITLE_MAX = 200
CHECKLIST_ITEM_MAX = 500
PIPELINES_MAX = 50
MILESTONES_MAX = 50
TASKS_MAX = 200
CHECKLIST_MAX = 50
# Ten years: further out than any delivery plan, and a bound on date arithmetic.
OFFSET_DAYS_MAX = 3650
_PREFIX = "project_template"


class DealRole(IntEnum):
    """Someone on the won deal a template task can be assigned to."""

    OWNER = 1


@dataclass(frozen=True)
class DefaultAssignee:
    """Either a fixed user (`users/{id}`) or a role on the deal; neither leaves
    the task unassigned."""

    user: str = ""
    role: DealRole | None = None


@dataclass(frozen=True)
class TemplateMilestone:
    key: str
    display_name: str
    due_offset_days: int = 0


@dataclass(frozen=True)
class TemplateTask:
    key: str
    title: str
    description: str = ""
    # Key of a milestone of the same template; empty for none.
    milestone: str = ""
    due_offset_days: int = 0
    assignee: DefaultAssignee = DefaultAssignee()
    priority: Priority = Priority.NORMAL
    checklist: tuple[str, ...] = ()
    # Keys of tasks of the same template that must be done first.
    depends_on: tuple[str, ...] = ()


@dataclass(frozen=True)
class TemplateSpec:
    """The writable part of a template."""

    display_name: str = ""
    description: str = ""
    # `pipelines/{id}` in the sales service: won deals of these pipelines get
    # a project from this template. A pipeline belongs to at most one template.
    pipelines: tuple[str, ...] = ()
    # For won deals of pipelines no template names; at most one template is the fallback.
    fallback: bool = False
    milestones: tuple[TemplateMilestone, ...] = ()
    tasks: tuple[TemplateTask, ...] = ()


UPDATABLE_FIELDS = tuple(TemplateSpec.__dataclass_fields__)


@dataclass
class ProjectTemplate:
    id: str
    spec: TemplateSpec
    create_time: datetime
    update_time: datetime
    version: int = 1

    @property
    def name(self) -> str:
        return TEMPLATES + self.id

    @classmethod
    def create(cls, template_id: str, spec: TemplateSpec, now: datetime) -> "ProjectTemplate":
        violations = Violations()
        check_id(violations, "project_template_id", template_id)
        spec = normalise(spec, violations)
        violations.raise_if_any()
        return cls(template_id, spec, now, now)

    def update(self, changes: Mapping[str, Any], now: datetime) -> list[str]:
        """Applies the changes; returns the names of the fields that really changed."""
        merged, changed = apply_changes(self.spec, dict(changes), normalise)
        if changed:
            self.spec = merged
            self.update_time = now
            self.version += 1
        return changed


def normalise(spec: TemplateSpec, violations: Violations) -> TemplateSpec:
    """Checks every field, collecting all violations, and returns canonical values."""
    display_name = spec.display_name.strip()
    if not display_name:
        violations.add(f"{_PREFIX}.display_name", "is required")
    check_length(violations, f"{_PREFIX}.display_name", display_name, DISPLAY_NAME_MAX)
    description = spec.description.strip()
    check_length(violations, f"{_PREFIX}.description", description, DESCRIPTION_MAX)
    milestones = tuple(_milestones(spec.milestones, violations))
    milestone_keys = {milestone.key for milestone in milestones}
    tasks = tuple(_tasks(spec.tasks, milestone_keys, violations))
    _check_no_cycle(tasks, violations)
    return replace(
        spec,
        display_name=display_name,
        description=description,
        pipelines=_pipelines(spec.pipelines, violations),
        milestones=milestones,
        tasks=tasks,
    )


def _pipelines(pipelines: tuple[str, ...], violations: Violations) -> tuple[str, ...]:
    path = f"{_PREFIX}.pipelines"
    check_count(violations, path, pipelines, PIPELINES_MAX)
    for index, pipeline in enumerate(pipelines):
        pipeline_id = pipeline.removeprefix(PIPELINES)
        if not pipeline.startswith(PIPELINES) or not pipeline_id or "/" in pipeline_id:
            violations.add(f"{path}[{index}]", "must be a sales pipeline like pipelines/123")
        elif len(pipeline) > DISPLAY_NAME_MAX:
            violations.add(f"{path}[{index}]", f"is longer than {DISPLAY_NAME_MAX} characters")
    return tuple(dict.fromkeys(pipelines))


def _milestones(
    milestones: tuple[TemplateMilestone, ...], violations: Violations
) -> list[TemplateMilestone]:
    path = f"{_PREFIX}.milestones"
    check_count(violations, path, milestones, MILESTONES_MAX)
    seen: set[str] = set()
    result = []
    for index, milestone in enumerate(milestones):
        item = f"{path}[{index}]"
        _check_key(violations, f"{item}.key", milestone.key, seen)
        display_name = milestone.display_name.strip()
        if not display_name:
            violations.add(f"{item}.display_name", "is required")
        check_length(violations, f"{item}.display_name", display_name, DISPLAY_NAME_MAX)
        _check_offset(violations, f"{item}.due_offset_days", milestone.due_offset_days)
        result.append(replace(milestone, display_name=display_name))
    return result


def _tasks(
    tasks: tuple[TemplateTask, ...], milestone_keys: set[str], violations: Violations
) -> list[TemplateTask]:
    path = f"{_PREFIX}.tasks"
    check_count(violations, path, tasks, TASKS_MAX)
    task_keys = {task.key for task in tasks}
    seen: set[str] = set()
    result = []
    for index, task in enumerate(tasks):
        item = f"{path}[{index}]"
        _check_key(violations, f"{item}.key", task.key, seen)
        title = task.title.strip()
        if not title:
            violations.add(f"{item}.title", "is required")
        check_length(violations, f"{item}.title", title, TITLE_MAX)
        description = task.description.strip()
        check_length(violations, f"{item}.description", description, DESCRIPTION_MAX)
        if task.milestone and task.milestone not in milestone_keys:
            violations.add(
                f"{item}.milestone", f"no milestone of the template has key {task.milestone!r}"
            )
        _check_offset(violations, f"{item}.due_offset_days", task.due_offset_days)
        check_name(violations, f"{item}.default_assignee.user", task.assignee.user, USERS)
        if (
            task.assignee.role is not None
            and task.assignee.role not in DealRole.__members__.values()
        ):
            violations.add(f"{item}.default_assignee.role", "is not a deal role")
        if task.priority not in Priority.__members__.values():
            violations.add(f"{item}.priority", "is not a priority")
        result.append(
            replace(
                task,
                title=title,
                description=description,
                checklist=_checklist(task.checklist, f"{item}.checklist", violations),
                depends_on=_depends_on(task, task_keys, f"{item}.depends_on", violations),
            )
        )
    return result


def _checklist(items: tuple[str, ...], path: str, violations: Violations) -> tuple[str, ...]:
    check_count(violations, path, items, CHECKLIST_MAX)
    cleaned = tuple(item.strip() for item in items)
    for index, item in enumerate(cleaned):
        if not item:
            violations.add(f"{path}[{index}]", "is empty")
        check_length(violations, f"{path}[{index}]", item, CHECKLIST_ITEM_MAX)
    return cleaned


def _depends_on(
    task: TemplateTask, task_keys: set[str], path: str, violations: Violations
) -> tuple[str, ...]:
    check_count(violations, path, task.depends_on, DEPENDENCIES_MAX)
    for index, key in enumerate(task.depends_on):
        if key == task.key:
            violations.add(f"{path}[{index}]", "a task cannot depend on itself")
        elif key not in task_keys:
            violations.add(f"{path}[{index}]", f"no task of the template has key {key!r}")
    return tuple(dict.fromkeys(task.depends_on))


def _check_key(violations: Violations, path: str, key: str, seen: set[str]) -> None:
    check_id(violations, path, key)
    if key in seen:
        violations.add(path, f"{key!r} is used twice; keys are unique within the template")
    seen.add(key)


def _check_offset(violations: Violations, path: str, days: int) -> None:
    if not 0 <= days <= OFFSET_DAYS_MAX:
        violations.add(path, f"must be between 0 and {OFFSET_DAYS_MAX} days after the win")


def _check_no_cycle(tasks: Sequence[TemplateTask], violations: Violations) -> None:
    """Refuses dependencies that go round in a circle: no task of it could ever start."""
    # A task naming itself is reported on its own.
    cycle = find_cycle({task.key: [k for k in task.depends_on if k != task.key] for task in tasks})
    if cycle:
        index = next(i for i, task in enumerate(tasks) if task.key == cycle[0])
        violations.add(
            f"{_PREFIX}.tasks[{index}].depends_on",
            "dependencies go round in a circle: " + " -> ".join([*cycle, cycle[0]]),
        )


def find_cycle(depends_on: Mapping[str, Sequence[str]]) -> list[str]:
    """The keys of one dependency cycle in order, or [] when there is none.

    Keys that name no entry are ignored (reported elsewhere). Iterative, so a
    long chain cannot exhaust the stack.
    """
    done: set[str] = set()
    for start in depends_on:
        if start in done:
            continue
        path: list[str] = [start]
        on_path = {start}
        pending = [iter(depends_on[start])]
        while pending:
            following = next(pending[-1], None)
            if following is None:
                finished = path.pop()
                on_path.discard(finished)
                done.add(finished)
                pending.pop()
                continue
            if following in on_path:
                return path[path.index(following) :]
            if following in done or following not in depends_on:
                continue
            path.append(following)
            on_path.add(following)
            pending.append(iter(depends_on[following]))
    return []


def in_dependency_order(tasks: Sequence[TemplateTask]) -> list[TemplateTask]:
    """The tasks with every task after those it depends on; stable otherwise."""
    by_key = {task.key: task for task in tasks}
    placed: dict[str, TemplateTask] = {}

    def place(task: TemplateTask) -> None:
        if task.key in placed:
            return
        for key in task.depends_on:
            place(by_key[key])
        placed[task.key] = task

    for task in tasks:
        place(task)
    return list(placed.values())
