"""Project templates: their tables, the repository, and which template a won deal gets.

A template's milestones and tasks are one JSON document: they are only ever
read and written whole. The pipelines a template claims are rows of their
own so that the database, not a check-then-write race, keeps each pipeline
to one template; a partial unique index does the same for the fallback.
"""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    Row,
    String,
    Table,
    delete,
    insert,
    select,
    text,
    true,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crm_common.errors import Aborted, AlreadyExists
from crm_common.pagination import SortKey
from crm_common.storage.db import UtcDateTime
from crm_common.storage.keyset import paged
from crm_projects.domain.tasks import Priority
from crm_projects.domain.templates import (
    TEMPLATES,
    DealRole,
    DefaultAssignee,
    ProjectTemplate,
    TemplateMilestone,
    TemplateSpec,
    TemplateTask,
)
from crm_projects.storage.tables import metadata

project_templates = Table(
    "project_templates",
    metadata,
    Column("id", String(63), primary_key=True),
    Column("display_name", String(200), nullable=False),
    Column("description", String(2000), nullable=False),
    Column("fallback", Boolean, nullable=False),
    # [{"key": "kickoff", "display_name": "Kick-off", "due_offset_days": 7}]
    Column("milestones", JSON, nullable=False),
    # [{"key": ..., "title": ..., "description": ..., "milestone": ..., "due_offset_days": 3,
    #   "user": "users/1" or "", "role": 1 or null, "priority": 2, "checklist": [...],
    #   "depends_on": [...]}]
    Column("tasks", JSON, nullable=False),
    Column("create_time", UtcDateTime, nullable=False),
    Column("update_time", UtcDateTime, nullable=False),
    Column("version", Integer, nullable=False),
    Index(
        "ux_project_templates_fallback",
        "fallback",
        unique=True,
        sqlite_where=text("fallback"),
        postgresql_where=text("fallback"),
    ),
)

project_template_pipelines = Table(
    "project_template_pipelines",
    metadata,
    # `pipelines/{id}`: the primary key keeps a pipeline to one template.
    Column("pipeline", String(200), primary_key=True),
    Column(
        "template_id",
        String(63),
        ForeignKey(project_templates.c.id, ondelete="CASCADE"),
        nullable=False,
    ),
    Column("position", Integer, nullable=False),
    Index("ix_project_template_pipelines_template", "template_id", "position"),
)

TEMPLATE_ORDER = (SortKey("id"),)


class TemplateRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, template_id: str) -> ProjectTemplate | None:
        query = select(project_templates).where(project_templates.c.id == template_id)
        row = (await self._session.execute(query)).first()
        if row is None:
            return None
        return (await self._with_pipelines([row]))[0]

    async def for_pipeline(self, pipeline: str) -> ProjectTemplate | None:
        """The template that lists `pipeline`, else the fallback, else None."""
        claimed = select(project_template_pipelines.c.template_id).where(
            project_template_pipelines.c.pipeline == pipeline
        )
        template_id = await self._session.scalar(claimed) if pipeline else None
        if template_id is None:
            fallback = select(project_templates.c.id).where(project_templates.c.fallback == true())
            template_id = await self._session.scalar(fallback)
        return None if template_id is None else await self.get(template_id)

    async def add(self, template: ProjectTemplate) -> None:
        if await self.get(template.id) is not None:
            raise AlreadyExists(f"{template.name} already exists")
        await self._check_claims(template)
        try:
            await self._session.execute(insert(project_templates).values(_row(template)))
            await self._insert_pipelines(template)
        except IntegrityError as error:
            raise _raced(template) from error

    async def save(self, template: ProjectTemplate, expected_version: int) -> None:
        await self._check_claims(template)
        try:
            result = await self._session.execute(
                update(project_templates)
                .where(
                    project_templates.c.id == template.id,
                    project_templates.c.version == expected_version,
                )
                .values(_row(template))
            )
            if result.rowcount != 1:
                raise Aborted(f"{template.name} was changed concurrently; retry")
            await self._session.execute(
                delete(project_template_pipelines).where(
                    project_template_pipelines.c.template_id == template.id
                )
            )
            await self._insert_pipelines(template)
        except IntegrityError as error:
            raise _raced(template) from error

    async def delete(self, template_id: str) -> None:
        # Explicitly, as SQLite enforces ON DELETE only with foreign keys on.
        await self._session.execute(
            delete(project_template_pipelines).where(
                project_template_pipelines.c.template_id == template_id
            )
        )
        await self._session.execute(
            delete(project_templates).where(project_templates.c.id == template_id)
        )

    async def page(
        self, after: Sequence[Any] | None, size: int
    ) -> list[tuple[ProjectTemplate, list[Any]]]:
        query = paged(
            select(project_templates), TEMPLATE_ORDER, {"id": project_templates.c.id}, after, size
        )
        rows = (await self._session.execute(query)).all()
        templates = await self._with_pipelines(rows)
        return [(template, [template.id]) for template in templates]

    async def _insert_pipelines(self, template: ProjectTemplate) -> None:
        rows = [
            {"pipeline": pipeline, "template_id": template.id, "position": position}
            for position, pipeline in enumerate(template.spec.pipelines)
        ]
        if rows:
            await self._session.execute(insert(project_template_pipelines), rows)

    async def _check_claims(self, template: ProjectTemplate) -> None:
        """ALREADY_EXISTS when another template has one of its pipelines, or is
        the fallback too."""
        claims = await self._session.execute(
            select(project_template_pipelines)
            .where(
                project_template_pipelines.c.pipeline.in_(template.spec.pipelines),
                project_template_pipelines.c.template_id != template.id,
            )
            .order_by(project_template_pipelines.c.pipeline)
        )
        taken = [f"{row.pipeline} ({TEMPLATES}{row.template_id})" for row in claims]
        if taken:
            raise AlreadyExists(f"pipelines already have a template: {', '.join(taken)}")
        if not template.spec.fallback:
            return
        fallback = await self._session.scalar(
            select(project_templates.c.id).where(
                project_templates.c.fallback == true(), project_templates.c.id != template.id
            )
        )
        if fallback is not None:
            raise AlreadyExists(
                f"{TEMPLATES}{fallback} is the fallback template already; unset it there first"
            )

    async def _with_pipelines(self, rows: Sequence[Row[Any]]) -> list[ProjectTemplate]:
        ids = [row.id for row in rows]
        query = (
            select(project_template_pipelines)
            .where(project_template_pipelines.c.template_id.in_(ids))
            .order_by(
                project_template_pipelines.c.template_id, project_template_pipelines.c.position
            )
        )
        pipelines: dict[str, list[str]] = {template_id: [] for template_id in ids}
        for claim in await self._session.execute(query):
            pipelines[claim.template_id].append(claim.pipeline)
        return [_to_template(row, tuple(pipelines[row.id])) for row in rows]


def _raced(template: ProjectTemplate) -> Aborted:
    """A concurrent write took the id, a pipeline or the fallback flag after the checks."""
    return Aborted(f"{template.name} conflicted with a concurrent change; retry")


def _row(template: ProjectTemplate) -> dict[str, Any]:
    spec = template.spec
    return {
        "id": template.id,
        "display_name": spec.display_name,
        "description": spec.description,
        "fallback": spec.fallback,
        "milestones": [
            {"key": m.key, "display_name": m.display_name, "due_offset_days": m.due_offset_days}
            for m in spec.milestones
        ],
        "tasks": [_task_document(task) for task in spec.tasks],
        "create_time": template.create_time,
        "update_time": template.update_time,
        "version": template.version,
    }


def _task_document(task: TemplateTask) -> dict[str, Any]:
    return {
        "key": task.key,
        "title": task.title,
        "description": task.description,
        "milestone": task.milestone,
        "due_offset_days": task.due_offset_days,
        "user": task.assignee.user,
        "role": None if task.assignee.role is None else int(task.assignee.role),
        "priority": int(task.priority),
        "checklist": list(task.checklist),
        "depends_on": list(task.depends_on),
    }


def _to_task(document: dict[str, Any]) -> TemplateTask:
    role = document["role"]
    return TemplateTask(
        key=document["key"],
        title=document["title"],
        description=document["description"],
        milestone=document["milestone"],
        due_offset_days=document["due_offset_days"],
        assignee=DefaultAssignee(
            user=document["user"], role=None if role is None else DealRole(role)
        ),
        priority=Priority(document["priority"]),
        checklist=tuple(document["checklist"]),
        depends_on=tuple(document["depends_on"]),
    )


def _to_template(row: Row[Any], pipelines: tuple[str, ...]) -> ProjectTemplate:
    spec = TemplateSpec(
        display_name=row.display_name,
        description=row.description,
        pipelines=pipelines,
        fallback=row.fallback,
        milestones=tuple(
            TemplateMilestone(m["key"], m["display_name"], m["due_offset_days"])
            for m in row.milestones
        ),
        tasks=tuple(_to_task(task) for task in row.tasks),
    )
    return ProjectTemplate(row.id, spec, row.create_time, row.update_time, row.version)
