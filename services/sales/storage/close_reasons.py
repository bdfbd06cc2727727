"""The close_reasons table and its repository."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    ColumnElement,
    Index,
    Integer,
    Row,
    String,
    Table,
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
from crm_sales.domain.close_reasons import CloseReason, CloseReasonDetails, ReasonKind
from crm_sales.storage.tables import metadata

close_reasons = Table(
    "close_reasons",
    metadata,
    Column("id", String(63), primary_key=True),
    Column("display_name", String(100), nullable=False),
    Column("kind", Integer, nullable=False),
    Column("archived", Boolean, nullable=False),
    Column("create_time", UtcDateTime, nullable=False),
    Column("update_time", UtcDateTime, nullable=False),
    Column("version", Integer, nullable=False),
    Index("ix_close_reasons_kind", "kind", "display_name", "id"),
)

SORT_COLUMNS: dict[str, ColumnElement[Any]] = {
    name: close_reasons.c[name]
    for name in ("display_name", "kind", "create_time", "update_time", "id")
}
FILTER_BINDINGS = {
    name: ColumnBinding(close_reasons.c[name])
    for name in ("display_name", "kind", "archived", "create_time", "update_time")
}


class CloseReasonRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, reason_id: str) -> CloseReason | None:
        query = select(close_reasons).where(close_reasons.c.id == reason_id)
        row = (await self._session.execute(query)).first()
        return _to_reason(row) if row else None

    async def add(self, reason: CloseReason) -> None:
        try:
            await self._session.execute(insert(close_reasons).values(_row(reason)))
        except IntegrityError as error:
            raise AlreadyExists(f"{reason.name} already exists") from error

    async def save(self, reason: CloseReason, expected_version: int) -> None:
        result = await self._session.execute(
            update(close_reasons)
            .where(close_reasons.c.id == reason.id, close_reasons.c.version == expected_version)
            .values(_row(reason))
        )
        if result.rowcount != 1:
            raise Aborted(f"{reason.name} was changed concurrently; retry")

    async def page(
        self, expr: Expr | None, keys: Sequence[SortKey], after: Sequence[Any] | None, size: int
    ) -> list[tuple[CloseReason, list[Any]]]:
        query = select(close_reasons).where(filter_clause(expr, FILTER_BINDINGS))
        rows = (await self._session.execute(paged(query, keys, SORT_COLUMNS, after, size))).all()
        return [(_to_reason(row), [getattr(row, key.field) for key in keys]) for row in rows]


def _row(reason: CloseReason) -> dict[str, Any]:
    return {
        "id": reason.id,
        "display_name": reason.details.display_name,
        "kind": int(reason.kind),
        "archived": reason.details.archived,
        "create_time": reason.create_time,
        "update_time": reason.update_time,
        "version": reason.version,
    }


def _to_reason(row: Row[Any]) -> CloseReason:
    return CloseReason(
        id=row.id,
        kind=ReasonKind(row.kind),
        details=CloseReasonDetails(row.display_name, row.archived),
        create_time=row.create_time,
        update_time=row.update_time,
        version=row.version,
    )
