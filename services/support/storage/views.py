"""The saved views table and its repository."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    Column,
    Index,
    Integer,
    Row,
    String,
    Table,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crm_common.errors import Aborted, AlreadyExists
from crm_common.filtering import MAX_FILTER_LENGTH
from crm_common.pagination import SortKey
from crm_common.storage.db import UtcDateTime
from crm_common.storage.keyset import paged
from crm_support.domain.tickets import AGENTS, GROUPS
from crm_support.domain.views import DISPLAY_NAME_MAX, ORDER_BY_MAX, View, ViewDetails
from crm_support.storage.agents import agent_groups, agents
from crm_support.storage.tables import metadata

views = Table(
    "views",
    metadata,
    Column("id", String(63), primary_key=True),
    Column("display_name", String(DISPLAY_NAME_MAX), nullable=False),
    Column("filter", String(MAX_FILTER_LENGTH), nullable=False),
    Column("order_by", String(ORDER_BY_MAX), nullable=False),
    # The owning agent's id without `agents/`; "" for a shared view.
    Column("owner_id", String(200), nullable=False),
    Column("position", Integer, nullable=False),
    Column("create_time", UtcDateTime, nullable=False),
    Column("update_time", UtcDateTime, nullable=False),
    Column("version", Integer, nullable=False),
    Index("ix_views_position", "position", "id"),
)

DISPLAY_ORDER = (SortKey("position"), SortKey("id"))
SORT_COLUMNS = {"position": views.c.position, "id": views.c.id}


async def groups_of_agent(session: AsyncSession, agent_id: str) -> list[str] | None:
    """The agent's groups (`groups/{id}`), None when there is no such agent: one query."""
    query = (
        select(agents.c.id, agent_groups.c.group_id)
        .select_from(agents.outerjoin(agent_groups, agent_groups.c.agent_id == agents.c.id))
        .where(agents.c.id == agent_id)
    )
    rows = (await session.execute(query)).all()
    if not rows:
        return None
    return [GROUPS + row.group_id for row in rows if row.group_id is not None]


class ViewRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, view_id: str) -> View | None:
        row = (await self._session.execute(select(views).where(views.c.id == view_id))).first()
        return _to_view(row) if row else None

    async def by_ids(self, view_ids: Sequence[str]) -> dict[str, View]:
        query = select(views).where(views.c.id.in_(set(view_ids)))
        return {row.id: _to_view(row) for row in (await self._session.execute(query)).all()}

    async def last_position(self) -> int | None:
        return await self._session.scalar(select(func.max(views.c.position)))

    async def add(self, view: View) -> None:
        try:
            await self._session.execute(insert(views).values(_to_row(view)))
        except IntegrityError as error:
            raise AlreadyExists(f"{view.name} already exists") from error

    async def save(self, view: View, expected_version: int) -> None:
        result = await self._session.execute(
            update(views)
            .where(views.c.id == view.id, views.c.version == expected_version)
            .values(_to_row(view))
        )
        if result.rowcount != 1:
            raise Aborted(f"{view.name} was changed concurrently; get it again and retry")

    async def delete(self, view: View) -> None:
        result = await self._session.execute(
            delete(views).where(views.c.id == view.id, views.c.version == view.version)
        )
        if result.rowcount != 1:
            raise Aborted(f"{view.name} was changed concurrently; get it again and retry")

    async def page(
        self, agent: str, after: Sequence[Any] | None, size: int
    ) -> list[tuple[View, list[Any]]]:
        """In display order: up to size + 1 views (those `agent` sees, or all when
        empty), each with its page-token key."""
        query = select(views)
        if agent:
            query = query.where(views.c.owner_id.in_(("", agent.removeprefix(AGENTS))))
        statement = paged(query, DISPLAY_ORDER, SORT_COLUMNS, after, size)
        rows = (await self._session.execute(statement)).all()
        return [(_to_view(row), [row.position, row.id]) for row in rows]


def _to_row(view: View) -> dict[str, Any]:
    details = view.details
    return {
        "id": view.id,
        "display_name": details.display_name,
        "filter": details.filter,
        "order_by": details.order_by,
        "owner_id": details.owner.removeprefix(AGENTS),
        "position": details.position,
        "create_time": view.create_time,
        "update_time": view.update_time,
        "version": view.version,
    }


def _to_view(row: Row[Any]) -> View:
    return View(
        id=row.id,
        details=ViewDetails(
            display_name=row.display_name,
            filter=row.filter,
            order_by=row.order_by,
            owner=AGENTS + row.owner_id if row.owner_id else "",
            position=row.position,
        ),
        create_time=row.create_time,
        update_time=row.update_time,
        version=row.version,
    )
