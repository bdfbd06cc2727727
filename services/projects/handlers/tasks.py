"""Task use cases. Each runs inside the caller's open unit of work and leaves
the commit to it (see handlers/units.py).

Every change of a task, whoever makes it (UpdateTask, a board moving its card,
the won-deal flow), goes through `change_task`, which keeps the rules: its
milestone and dependencies exist in its project, dependencies never form a
cycle, and a task starts only after the tasks it depends on are done.
"""

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from crm_common.errors import FailedPrecondition, NotFound
from crm_common.etags import check_etag
from crm_common.filtering import Expr
from crm_common.listing import Page
from crm_common.messaging.uow import UnitOfWork
from crm_common.pagination import SortKey
from crm_common.resources import check_retried_create
from crm_projects.domain.dependencies import check_no_cycle
from crm_projects.domain.milestones import milestone_name
from crm_projects.domain.reminders import Announced
from crm_projects.domain.tasks import (
    STARTED,
    Task,
    TaskDraft,
    TaskStatus,
    check_can_start,
    task_name,
)
from crm_projects.events.published import task_changed, task_created
from crm_projects.handlers.projects import existing_project, lock_project
from crm_projects.handlers.task_tickets import with_linked_tickets
from crm_projects.storage.milestones import MilestoneRepository
from crm_projects.storage.reminders import announced
from crm_projects.storage.tasks import TaskRepository


async def create_task(uow: UnitOfWork, draft: TaskDraft, task_id: str = "") -> Task:
    """Adds a task to `draft.project` and announces it; with a client-chosen
    id, a retry returns the task it created."""
    repository = TaskRepository(uow.session)
    task = Task.create(task_id or uuid.uuid4().hex, draft, datetime.now(UTC))
    await lock_project(uow, task.project)
    if task_id and (existing := await repository.get(task_id)) is not None:
        check_retried_create(existing.name, existing.draft, task.draft)
        return existing
    await _check_rules(uow, task, before=None)
    await repository.add(task)
    for event in task_created(task):
        uow.publish(event)
    return task


async def get_task(uow: UnitOfWork, project_id: str, task_id: str) -> Task:
    """The task with the tickets linked to it; NOT_FOUND as `existing_task`."""
    task = await TaskRepository(uow.session).get_with_linked_tickets(task_id)
    return _found(task, project_id, task_id)


async def list_tasks(
    uow: UnitOfWork,
    project_id: str | None,
    expr: Expr | None,
    keys: tuple[SortKey, ...],
    after: Sequence[Any] | None,
    size: int,
) -> Page[Task]:
    """A page of the project's tasks, or of every project's when `project_id` is None."""
    if project_id is not None:
        await existing_project(uow, project_id)
    found = await TaskRepository(uow.session).page(project_id, expr, keys, after, size)
    await with_linked_tickets(uow, [task for task, _ in found])
    return Page.of(found, size)


async def change_task(
    uow: UnitOfWork,
    task_id: str,
    changes: Mapping[str, Any],
    etag: str = "",
    project_id: str | None = None,
) -> Task:
    """Applies `changes` (TaskDraft field names to new values) under the task
    rules and announces them; ABORTED when `etag` is stale. With `project_id`,
    NOT_FOUND unless the task is in that project."""
    repository = TaskRepository(uow.session)
    task = await existing_task(uow, project_id, task_id)
    await lock_project(uow, task.project)
    check_etag(etag, task.version, task.name)
    read_version, before = task.version, task.draft
    changed = task.update(changes, datetime.now(UTC))
    if not changed:
        return task
    await _check_rules(uow, task, before=before)
    # Its next reminder follows its due time and status (domain/reminders.py).
    reminders_change = task.draft.due_time != before.due_time or task.status is not before.status
    reminded = (await announced(uow.session, task_id) or Announced()) if reminders_change else None
    await repository.save(task, expected_version=read_version, announced=reminded)
    for event in task_changed(task, changed, before):
        uow.publish(event)
    return task


async def delete_task(uow: UnitOfWork, project_id: str, task_id: str, etag: str = "") -> None:
    """Deletes the task with its comments; refused while other tasks depend on it."""
    task = await existing_task(uow, project_id, task_id)
    await lock_project(uow, project_id)
    check_etag(etag, task.version, task.name)
    repository = TaskRepository(uow.session)
    dependents = await repository.dependents(task_id)
    if dependents:
        raise FailedPrecondition(
            f"{task.name} cannot be deleted while {_names(project_id, dependents)} depend on "
            "it; remove it from their depends_on first"
        )
    await repository.delete(task_id)


async def existing_task(uow: UnitOfWork, project_id: str | None, task_id: str) -> Task:
    """The task; NOT_FOUND when there is none (in the project, when one is given)."""
    return _found(await TaskRepository(uow.session).get(task_id), project_id, task_id)


def _found(task: Task | None, project_id: str | None, task_id: str) -> Task:
    if task is None or (project_id is not None and task.project != project_id):
        where = f"projects/{project_id}/tasks/" if project_id is not None else "task "
        raise NotFound(f"{where}{task_id} does not exist")
    return task


async def _check_rules(uow: UnitOfWork, task: Task, before: TaskDraft | None) -> None:
    """The rules that span tasks, checked for what changed (everything on create)."""
    draft = task.draft
    repository = TaskRepository(uow.session)
    milestone_changed = before is None or draft.milestone != before.milestone
    if (
        draft.milestone
        and milestone_changed
        and not await MilestoneRepository(uow.session).exists(draft.project, draft.milestone)
    ):
        raise FailedPrecondition(
            f"task.milestone: {milestone_name(draft.project, draft.milestone)} does not exist"
        )
    dependencies_changed = before is None or draft.depends_on != before.depends_on
    statuses = await repository.statuses(draft.depends_on)
    if dependencies_changed:
        missing = [
            task_id
            for task_id in draft.depends_on
            if task_id not in statuses or statuses[task_id][0] != draft.project
        ]
        if missing:
            raise FailedPrecondition(
                f"task.depends_on: no such task in projects/{draft.project}: "
                f"{_names(draft.project, missing)}"
            )
        if before is not None:
            graph = await repository.dependency_graph(draft.project)
            check_no_cycle(draft.project, graph, task.id, draft.depends_on)
    if dependencies_changed or before is None or draft.status != before.status:
        check_can_start(task, {task_id: status for task_id, (_, status) in statuses.items()})
    reopened = before is not None and before.status is TaskStatus.DONE
    if reopened and draft.status is not TaskStatus.DONE:
        await _check_no_started_dependents(repository, task)


async def _check_no_started_dependents(repository: TaskRepository, task: Task) -> None:
    """A done task is reopened only while nothing that waited for it has started."""
    dependents = await repository.dependents(task.id)
    started = sorted(
        task_id
        for task_id, (_, status) in (await repository.statuses(dependents)).items()
        if status in STARTED
    )
    if started:
        raise FailedPrecondition(
            f"{task.name} cannot be reopened while {_names(task.project, started)}, which "
            "depend on it, have started"
        )


def _names(project_id: str, task_ids: Sequence[str]) -> str:
    return ", ".join(task_name(project_id, task_id) for task_id in task_ids)
