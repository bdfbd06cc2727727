"""The tasks tables (tasks, their checklists and dependencies) and their repository."""

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    ColumnElement,
    ForeignKey,
    Index,
    Integer,
    Row,
    String,
    Table,
    Text,
    and_,
    bindparam,
    delete,
    exists,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crm_common.errors import Aborted, AlreadyExists
from crm_common.filtering import Comparison, Expr, Has, Op
from crm_common.pagination import SortKey
from crm_common.storage.db import UtcDateTime
from crm_common.storage.filter_sql import ColumnBinding, FieldBinding, filter_clause
from crm_common.storage.filter_values import NormalisedValue
from crm_common.storage.keyset import paged
from crm_projects.domain.completion import TaskProgress
from crm_projects.domain.reminders import Announced, next_reminder_time
from crm_projects.domain.tasks import ChecklistItem, Priority, Task, TaskDraft, TaskStatus
from crm_projects.storage.milestones import milestones
from crm_projects.storage.projects import REFERENCE_MAX, projects
from crm_projects.storage.tables import metadata
from crm_projects.storage.task_tickets import task_tickets

# Stored for a task without a due time, so that the column is never NULL:
# ordering and keyset paging by due time then need no NULL handling, and
# undated tasks sort after every dated one. Never shown: reads turn it back
# into "no due time".
NO_DUE_TIME = datetime(9999, 12, 31, tzinfo=UTC)

tasks = Table(
    "tasks",
    metadata,
    Column("id", String(63), primary_key=True),
    Column(
        "project_id",
        String(63),
        ForeignKey(projects.c.id, ondelete="CASCADE"),
        nullable=False,
    ),
    # NULL for none; a milestone is only deleted after its tasks leave it.
    Column("milestone_id", String(63), ForeignKey(milestones.c.id)),
    Column("title", String(250), nullable=False),
    Column("description", Text, nullable=False),
    # `users/{id}`, empty when unassigned.
    Column("assignee", String(REFERENCE_MAX), nullable=False),
    Column("due_time", UtcDateTime, nullable=False),
    Column("priority", Integer, nullable=False),
    Column("status", Integer, nullable=False),
    # Completion inputs: how many checklist items there are and how many are
    # ticked, so that roll-ups read one row per task, not its checklist.
    Column("checklist_total", Integer, nullable=False),
    Column("checklist_done", Integer, nullable=False),
    Column("contact", String(REFERENCE_MAX), nullable=False),
    Column("opportunity", String(REFERENCE_MAX), nullable=False),
    Column("ticket", String(REFERENCE_MAX), nullable=False),
    Column("create_time", UtcDateTime, nullable=False),
    Column("update_time", UtcDateTime, nullable=False),
    Column("version", Integer, nullable=False),
    # When the reminder scheduler next owes the task a reminder (see
    # domain/reminders.py); NULL when it owes none. Set with every change of
    # the due time or status and by the scheduler, so its scan reads only the
    # tasks owed one (storage/reminders.py).
    Column("next_reminder_time", UtcDateTime, nullable=True),
    # "My open tasks": one user's tasks by status, soonest due first.
    Index("ix_tasks_assignee_status_due", "assignee", "status", "due_time", "id"),
    # A project's task list, and its roll-up.
    Index("ix_tasks_project_due", "project_id", "due_time", "id"),
    Index("ix_tasks_milestone", "milestone_id"),
    Index("ix_tasks_contact", "contact"),
    Index("ix_tasks_opportunity", "opportunity"),
    Index("ix_tasks_ticket", "ticket"),
)

task_checklist_items = Table(
    "task_checklist_items",
    metadata,
    Column("task_id", String(63), ForeignKey(tasks.c.id, ondelete="CASCADE"), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("text", String(500), nullable=False),
    Column("done", Boolean, nullable=False),
)

# Both ends in the same project; a task that others depend on is only
# deleted after they stop depending on it (or with its whole project).
task_dependencies = Table(
    "task_dependencies",
    metadata,
    Column("task_id", String(63), ForeignKey(tasks.c.id, ondelete="CASCADE"), primary_key=True),
    Column(
        "depends_on_id",
        String(63),
        ForeignKey(tasks.c.id, ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("position", Integer, nullable=False),
    Column("project_id", String(63), nullable=False),
    Index("ix_task_dependencies_depends_on", "depends_on_id", "task_id"),
    Index("ix_task_dependencies_project", "project_id"),
)

TASK_SORT_COLUMNS: dict[str, ColumnElement[Any]] = {
    name: tasks.c[name]
    for name in ("title", "due_time", "priority", "status", "create_time", "update_time", "id")
}


def _milestone_id(name: str) -> str:
    return name.rpartition("/milestones/")[2] if "/milestones/" in name else name


@dataclass(frozen=True, eq=False)
class StatusBinding(FieldBinding):
    """`status != DONE` as `status IN (TODO, IN_PROGRESS, CANCELLED)`: "my open
    tasks" then reads one range of (assignee, status, due_time) per status
    instead of every task the person ever had, done ones included."""

    def compare(self, node: Comparison) -> ColumnElement[bool]:
        if node.op is Op.NE and isinstance(node.value, int):
            return tasks.c.status.in_([int(s) for s in TaskStatus if s != node.value])
        return ColumnBinding(tasks.c.status).compare(node)

    def has(self, node: Has) -> ColumnElement[bool]:
        return ColumnBinding(tasks.c.status).has(node)


TASK_FILTER_BINDINGS = {
    "status": StatusBinding(),
    **{
        name: ColumnBinding(tasks.c[name])
        for name in (
            "title",
            "description",
            "assignee",
            "due_time",
            "priority",
            "contact",
            "opportunity",
            "ticket",
            "create_time",
            "update_time",
        )
    },
    "milestone": NormalisedValue(ColumnBinding(tasks.c.milestone_id), _milestone_id),
}


# Statements built once: one made per call costs more to build and to key for
# SQLAlchemy's compiled cache than to run.
#
# A task's row says whether it has child rows to read: checklist_total counts
# its checklist, and `has_dependencies` asks the dependencies' primary key, so
# a task without either (most) is read in one statement.
_TASKS = select(
    tasks,
    exists().where(task_dependencies.c.task_id == tasks.c.id).label("has_dependencies"),
)
_BY_ID = _TASKS.where(tasks.c.id == bindparam("task_id"))
# A task with the tickets whose links name it in its own project (the read
# model of task_tickets.py): a row per linked ticket, or one when none is.
_BY_ID_WITH_TICKETS = (
    _TASKS.add_columns(task_tickets.c.ticket_id.label("linked_ticket"))
    .select_from(
        tasks.outerjoin(
            task_tickets,
            and_(
                task_tickets.c.task_id == tasks.c.id,
                task_tickets.c.project_id == tasks.c.project_id,
            ),
        )
    )
    .where(tasks.c.id == bindparam("task_id"))
    .order_by(task_tickets.c.ticket_id)
)
_CHECKLISTS = (
    select(task_checklist_items)
    .where(task_checklist_items.c.task_id.in_(bindparam("task_ids", expanding=True)))
    .order_by(task_checklist_items.c.position)
)
_DEPENDENCIES = (
    select(task_dependencies)
    .where(task_dependencies.c.task_id.in_(bindparam("task_ids", expanding=True)))
    .order_by(task_dependencies.c.position)
)
_INSERT_TASK = insert(tasks)
_INSERT_CHECKLIST_ITEMS = insert(task_checklist_items)
_INSERT_DEPENDENCIES = insert(task_dependencies)


class TaskRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, task_id: str) -> Task | None:
        row = (await self._session.execute(_BY_ID, {"task_id": task_id})).first()
        return (await self._with_children([row]))[0] if row else None

    async def get_with_linked_tickets(self, task_id: str) -> Task | None:
        """`get`, with its `linked_tickets` filled in the same statement."""
        rows = (await self._session.execute(_BY_ID_WITH_TICKETS, {"task_id": task_id})).all()
        if not rows:
            return None
        task = (await self._with_children(rows[:1]))[0]
        task.linked_tickets = tuple(row.linked_ticket for row in rows if row.linked_ticket)
        return task

    async def add(self, task: Task) -> None:
        try:
            await self._session.execute(_INSERT_TASK, _row(task))
        except IntegrityError as error:
            raise AlreadyExists(f"task id {task.id!r} is taken") from error
        await self._write_children(task)

    async def save(
        self, task: Task, expected_version: int, announced: Announced | None = None
    ) -> None:
        """With `announced` (what the scheduler announced for the task; given
        when its due time or status changed), its next reminder is set anew;
        without, the stored one stays."""
        values = _row(task, announced)
        if announced is None:
            del values["next_reminder_time"]
        result = await self._session.execute(
            update(tasks)
            .where(tasks.c.id == task.id, tasks.c.version == expected_version)
            .values(values)
        )
        if result.rowcount != 1:
            raise Aborted(f"{task.name} was changed concurrently; retry")
        for table in (task_checklist_items, task_dependencies):
            await self._session.execute(delete(table).where(table.c.task_id == task.id))
        await self._write_children(task)

    async def delete(self, task_id: str) -> None:
        await self._session.execute(delete(tasks).where(tasks.c.id == task_id))

    async def page(
        self,
        project_id: str | None,
        expr: Expr | None,
        keys: Sequence[SortKey],
        after: Sequence[Any] | None,
        size: int,
    ) -> list[tuple[Task, list[Any]]]:
        """Up to size + 1 tasks of the project (of every project when None)."""
        clause = filter_clause(expr, TASK_FILTER_BINDINGS)
        if project_id is not None:
            clause = and_(tasks.c.project_id == project_id, clause)
        query = paged(_TASKS.where(clause), keys, TASK_SORT_COLUMNS, after, size)
        rows = (await self._session.execute(query)).all()
        found = await self._with_children(rows)
        return [
            (task, [getattr(row, key.field) for key in keys])
            for task, row in zip(found, rows, strict=True)
        ]

    async def statuses(self, task_ids: Collection[str]) -> dict[str, tuple[str, TaskStatus]]:
        """Each existing task's project id and status, by task id."""
        if not task_ids:
            return {}
        query = select(tasks.c.id, tasks.c.project_id, tasks.c.status).where(
            tasks.c.id.in_(task_ids)
        )
        rows = (await self._session.execute(query)).all()
        return {row.id: (row.project_id, TaskStatus(row.status)) for row in rows}

    async def dependency_graph(self, project_id: str) -> dict[str, list[str]]:
        """Each task of the project that depends on others, with the ids it depends on."""
        query = select(task_dependencies.c.task_id, task_dependencies.c.depends_on_id).where(
            task_dependencies.c.project_id == project_id
        )
        graph: dict[str, list[str]] = defaultdict(list)
        for row in (await self._session.execute(query)).all():
            graph[row.task_id].append(row.depends_on_id)
        return dict(graph)

    async def dependents(self, task_id: str) -> list[str]:
        """The ids of the tasks that depend on this one."""
        query = (
            select(task_dependencies.c.task_id)
            .where(task_dependencies.c.depends_on_id == task_id)
            .order_by(task_dependencies.c.task_id)
        )
        return list((await self._session.execute(query)).scalars())

    async def in_milestone(self, milestone_id: str) -> int:
        """How many tasks are in the milestone."""
        query = select(func.count()).where(tasks.c.milestone_id == milestone_id)
        return int((await self._session.execute(query)).scalar_one())

    async def progress(self, project_ids: Collection[str]) -> dict[str, list[TaskProgress]]:
        """What each project's tasks contribute to its completion, by project id."""
        found: dict[str, list[TaskProgress]] = {project_id: [] for project_id in project_ids}
        if not project_ids:
            return found
        query = select(
            tasks.c.project_id,
            tasks.c.milestone_id,
            tasks.c.status,
            tasks.c.checklist_done,
            tasks.c.checklist_total,
        ).where(tasks.c.project_id.in_(project_ids))
        for row in (await self._session.execute(query)).all():
            found[row.project_id].append(
                TaskProgress(
                    row.milestone_id or "",
                    TaskStatus(row.status),
                    row.checklist_done,
                    row.checklist_total,
                )
            )
        return found

    async def _with_children(self, rows: Sequence[Row[Any]]) -> list[Task]:
        """The tasks of rows read with `_TASKS`, their child rows read where they have any."""
        checklists: dict[str, list[ChecklistItem]] = defaultdict(list)
        dependencies: dict[str, list[str]] = defaultdict(list)
        with_checklists = [row.id for row in rows if row.checklist_total]
        if with_checklists:
            found = await self._session.execute(_CHECKLISTS, {"task_ids": with_checklists})
            for item in found.all():
                checklists[item.task_id].append(ChecklistItem(item.text, item.done))
        with_dependencies = [row.id for row in rows if row.has_dependencies]
        if with_dependencies:
            found = await self._session.execute(_DEPENDENCIES, {"task_ids": with_dependencies})
            for edge in found.all():
                dependencies[edge.task_id].append(edge.depends_on_id)
        return [_to_task(row, checklists[row.id], dependencies[row.id]) for row in rows]

    async def _write_children(self, task: Task) -> None:
        items = [
            {"task_id": task.id, "position": position, "text": item.text, "done": item.done}
            for position, item in enumerate(task.draft.checklist)
        ]
        if items:
            await self._session.execute(_INSERT_CHECKLIST_ITEMS, items)
        edges = [
            {
                "task_id": task.id,
                "depends_on_id": depends_on,
                "position": position,
                "project_id": task.project,
            }
            for position, depends_on in enumerate(task.draft.depends_on)
        ]
        if edges:
            await self._session.execute(_INSERT_DEPENDENCIES, edges)


def _to_task(row: Row[Any], checklist: list[ChecklistItem], depends_on: list[str]) -> Task:
    draft = TaskDraft(
        project=row.project_id,
        title=row.title,
        description=row.description,
        milestone=row.milestone_id or "",
        assignee=row.assignee,
        due_time=None if row.due_time == NO_DUE_TIME else row.due_time,
        priority=Priority(row.priority),
        status=TaskStatus(row.status),
        checklist=tuple(checklist),
        depends_on=tuple(depends_on),
        contact=row.contact,
        opportunity=row.opportunity,
        ticket=row.ticket,
    )
    return Task(row.id, draft, row.create_time, row.update_time, row.version)


def _row(task: Task, announced: Announced | None = None) -> dict[str, Any]:
    """The task's row; its next reminder as owed after `announced` (None:
    nothing announced yet)."""
    draft = task.draft
    reminder = next_reminder_time(draft.due_time, draft.status, announced or Announced())
    return {
        "id": task.id,
        "project_id": draft.project,
        "milestone_id": draft.milestone or None,
        "title": draft.title,
        "description": draft.description,
        "assignee": draft.assignee,
        "due_time": draft.due_time or NO_DUE_TIME,
        "priority": int(draft.priority),
        "status": int(draft.status),
        "checklist_total": len(draft.checklist),
        "checklist_done": task.checklist_done,
        "contact": draft.contact,
        "opportunity": draft.opportunity,
        "ticket": draft.ticket,
        "create_time": task.create_time,
        "update_time": task.update_time,
        "version": task.version,
        "next_reminder_time": reminder,
    }
