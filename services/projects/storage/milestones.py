"""The milestones table and its repository."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Date,
    ForeignKey,
    Index,
    Integer,
    Row,
    String,
    Table,
    Text,
    and_,
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
from crm_common.storage.db import UtcDateTime
from crm_common.storage.filter_sql import ColumnBinding, filter_clause
from crm_common.storage.keyset import paged
from crm_projects.domain.milestones import Milestone, MilestoneDraft
from crm_projects.storage.projects import projects
from crm_projects.storage.tables import metadata

milestones = Table(
    "milestones",
    metadata,
    Column("id", String(63), primary_key=True),
    Column(
        "project_id",
        String(63),
        ForeignKey(projects.c.id, ondelete="CASCADE"),
        nullable=False,
    ),
    Column("display_name", String(200), nullable=False),
    Column("description", Text, nullable=False),
    Column("due_date", Date),
    Column("create_time", UtcDateTime, nullable=False),
    Column("update_time", UtcDateTime, nullable=False),
    Column("version", Integer, nullable=False),
    Index("ix_milestones_project", "project_id", "id"),
    Index("ix_milestones_project_display_name", "project_id", "display_name", "id"),
)

MILESTONE_SORT_COLUMNS: dict[str, ColumnElement[Any]] = {
    name: milestones.c[name] for name in ("display_name", "create_time", "update_time", "id")
}
MILESTONE_FILTER_BINDINGS = {
    name: ColumnBinding(milestones.c[name])
    for name in ("display_name", "description", "create_time", "update_time")
}


class MilestoneRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, project_id: str, milestone_id: str) -> Milestone | None:
        query = select(milestones).where(
            milestones.c.id == milestone_id, milestones.c.project_id == project_id
        )
        row = (await self._session.execute(query)).first()
        return _to_milestone(row) if row else None

    async def exists(self, project_id: str, milestone_id: str) -> bool:
        query = select(milestones.c.id).where(
            milestones.c.id == milestone_id, milestones.c.project_id == project_id
        )
        return (await self._session.execute(query)).first() is not None

    async def add(self, milestone: Milestone) -> None:
        try:
            await self._session.execute(insert(milestones).values(_row(milestone)))
        except IntegrityError as error:
            raise AlreadyExists(f"milestone id {milestone.id!r} is taken") from error

    async def save(self, milestone: Milestone, expected_version: int) -> None:
        result = await self._session.execute(
            update(milestones)
            .where(milestones.c.id == milestone.id, milestones.c.version == expected_version)
            .values(_row(milestone))
        )
        if result.rowcount != 1:
            raise Aborted(f"{milestone.name} was changed concurrently; retry")

    async def delete(self, milestone_id: str) -> None:
        await self._session.execute(delete(milestones).where(milestones.c.id == milestone_id))

    async def page(
        self,
        project_id: str,
        expr: Expr | None,
        keys: Sequence[SortKey],
        after: Sequence[Any] | None,
        size: int,
    ) -> list[tuple[Milestone, list[Any]]]:
        query = select(milestones).where(
            and_(
                milestones.c.project_id == project_id,
                filter_clause(expr, MILESTONE_FILTER_BINDINGS),
            )
        )
        rows = (
            await self._session.execute(paged(query, keys, MILESTONE_SORT_COLUMNS, after, size))
        ).all()
        return [(_to_milestone(row), [getattr(row, key.field) for key in keys]) for row in rows]


def _to_milestone(row: Row[Any]) -> Milestone:
    draft = MilestoneDraft(
        project=row.project_id,
        display_name=row.display_name,
        description=row.description,
        due_date=row.due_date,
    )
    return Milestone(row.id, draft, row.create_time, row.update_time, row.version)


def _row(milestone: Milestone) -> dict[str, Any]:
    draft = milestone.draft
    return {
        "id": milestone.id,
        "project_id": draft.project,
        "display_name": draft.display_name,
        "description": draft.description,
        "due_date": draft.due_date,
        "create_time": milestone.create_time,
        "update_time": milestone.update_time,
        "version": milestone.version,
    }
