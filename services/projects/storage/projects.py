"""The projects tables and their repository."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    ColumnElement,
    Date,
    Index,
    Integer,
    Row,
    String,
    Table,
    Text,
    bindparam,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crm_common.errors import Aborted, AlreadyExists
from crm_common.filtering import Expr
from crm_common.pagination import SortKey
from crm_common.storage.child_rows import ChildRows, repeated_values_table
from crm_common.storage.db import UtcDateTime
from crm_common.storage.filter_sql import ColumnBinding, JsonObjectBinding, filter_clause
from crm_common.storage.keyset import paged
from crm_common.validation import TAG_MAX
from crm_projects.domain.projects import Project, ProjectDraft, ProjectStatus
from crm_projects.storage.tables import metadata

# Room for `organizations/` or `opportunities/` and a 63-character id.
REFERENCE_MAX = 100

projects = Table(
    "projects",
    metadata,
    Column("id", String(63), primary_key=True),
    Column("display_name", String(200), nullable=False),
    Column("description", Text, nullable=False),
    Column("status", Integer, nullable=False),
    Column("owner", String(63), nullable=False),
    Column("start_date", Date),
    Column("due_date", Date),
    Column("organization", String(REFERENCE_MAX), nullable=False),
    # The JSON columns keep the order the client gave; the child tables make
    # `people:` and `tags:` index lookups.
    Column("people", JSON, nullable=False),
    Column("opportunity", String(REFERENCE_MAX), nullable=False),
    Column("tags", JSON, nullable=False),
    Column("custom_fields", JSON, nullable=False),
    Column("create_time", UtcDateTime, nullable=False),
    Column("update_time", UtcDateTime, nullable=False),
    Column("version", Integer, nullable=False),
    Index("ix_projects_display_name", "display_name", "id"),
    Index("ix_projects_owner_status", "owner", "status", "id"),
    Index("ix_projects_status", "status", "id"),
    Index("ix_projects_organization", "organization", "id"),
    Index("ix_projects_opportunity", "opportunity", "id"),
    Index("ix_projects_create_time", "create_time", "id"),
    Index("ix_projects_update_time", "update_time", "id"),
)

project_people = repeated_values_table(
    metadata, "project_people", projects, "project_id", "person", REFERENCE_MAX
)
project_tags = repeated_values_table(
    metadata, "project_tags", projects, "project_id", "tag", TAG_MAX
)

PEOPLE = ChildRows(project_people.c.project_id, project_people.c.person)
TAGS = ChildRows(project_tags.c.project_id, project_tags.c.tag)

PROJECT_SORT_COLUMNS: dict[str, ColumnElement[Any]] = {
    name: projects.c[name]
    for name in ("display_name", "status", "owner", "create_time", "update_time", "id")
}
PROJECT_FILTER_BINDINGS = {
    **{
        name: ColumnBinding(projects.c[name])
        for name in (
            "display_name",
            "description",
            "status",
            "owner",
            "organization",
            "opportunity",
            "create_time",
            "update_time",
        )
    },
    "people": PEOPLE.binding(projects.c.id, str.strip),
    "tags": TAGS.binding(projects.c.id, lambda tag: tag.strip().lower()),
    "custom_fields": JsonObjectBinding(projects.c.custom_fields),
}

# Built once: a statement made per call costs more to build and to key for
# SQLAlchemy's compiled cache than to run.
_BY_ID = select(projects).where(projects.c.id == bindparam("project_id"))
# FOR NO KEY UPDATE: rows referring to the project are still inserted meanwhile.
_LOCK = (
    select(projects.c.id)
    .where(projects.c.id == bindparam("project_id"))
    .with_for_update(key_share=True)
)


class ProjectRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, project_id: str) -> Project | None:
        row = (await self._session.execute(_BY_ID, {"project_id": project_id})).first()
        return to_project(row) if row else None

    async def lock(self, project_id: str) -> bool:
        """Row-locks the project until commit (PostgreSQL), so that its tasks change
        one transaction at a time where their rules span the project
        (dependencies); whether it exists."""
        found = await self._session.execute(_LOCK, {"project_id": project_id})
        return found.first() is not None

    async def add(self, project: Project) -> None:
        try:
            await self._session.execute(insert(projects).values(_row(project)))
        except IntegrityError as error:
            raise AlreadyExists(f"{project.name} already exists") from error
        await PEOPLE.insert_many(self._session, {project.id: project.draft.people})
        await TAGS.insert_many(self._session, {project.id: project.draft.tags})

    async def save(self, project: Project, expected_version: int) -> None:
        result = await self._session.execute(
            update(projects)
            .where(projects.c.id == project.id, projects.c.version == expected_version)
            .values(_row(project))
        )
        if result.rowcount != 1:
            raise Aborted(f"{project.name} was changed concurrently; retry")
        await PEOPLE.replace(self._session, project.id, project.draft.people)
        await TAGS.replace(self._session, project.id, project.draft.tags)

    async def delete(self, project_id: str) -> None:
        """Its milestones, tasks and everything under them go with it (ON DELETE CASCADE)."""
        await self._session.execute(delete(projects).where(projects.c.id == project_id))

    async def page(
        self, expr: Expr | None, keys: Sequence[SortKey], after: Sequence[Any] | None, size: int
    ) -> list[tuple[Project, list[Any]]]:
        """Up to size + 1 projects, each with the key values a page token carries."""
        query = select(projects).where(filter_clause(expr, PROJECT_FILTER_BINDINGS))
        rows = (
            await self._session.execute(paged(query, keys, PROJECT_SORT_COLUMNS, after, size))
        ).all()
        return [(to_project(row), [getattr(row, key.field) for key in keys]) for row in rows]


def to_project(row: Row[Any]) -> Project:
    draft = ProjectDraft(
        display_name=row.display_name,
        description=row.description,
        status=ProjectStatus(row.status),
        owner=row.owner,
        start_date=row.start_date,
        due_date=row.due_date,
        organization=row.organization,
        people=tuple(row.people),
        opportunity=row.opportunity,
        tags=tuple(row.tags),
        custom_fields=dict(row.custom_fields),
    )
    return Project(row.id, draft, row.create_time, row.update_time, row.version)


def _row(project: Project) -> dict[str, Any]:
    draft = project.draft
    return {
        "id": project.id,
        "display_name": draft.display_name,
        "description": draft.description,
        "status": int(draft.status),
        "owner": draft.owner,
        "start_date": draft.start_date,
        "due_date": draft.due_date,
        "organization": draft.organization,
        "people": list(draft.people),
        "opportunity": draft.opportunity,
        "tags": list(draft.tags),
        "custom_fields": dict(draft.custom_fields),
        "create_time": project.create_time,
        "update_time": project.update_time,
        "version": project.version,
    }
