"""Board columns and card placements: tables and the board repository.

A project's board exists as rows only once it is first changed: until then
it is the default columns, computed (see `BoardRepository.columns`). The
`boards` row marks a board with rows of its own and is what a change locks,
so that changes to one board (and WIP limit checks) take turns.
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Column,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    Row,
    Select,
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
from crm_common.storage.db import UtcDateTime
from crm_projects.domain.boards import (
    DEFAULT_COLUMNS,
    RANK_MAX,
    BoardColumn,
    Card,
    ColumnDraft,
    Placement,
)
from crm_projects.domain.tasks import Priority, TaskStatus
from crm_projects.storage.projects import projects
from crm_projects.storage.tables import metadata
from crm_projects.storage.tasks import NO_DUE_TIME, tasks

# Ranks compare byte by byte (see domain/ranking.py), whatever the database's
# default collation says about upper and lower case.
RANK_TYPE = String(RANK_MAX).with_variant(String(RANK_MAX, collation="C"), "postgresql")
_NO_STATUS = 0

boards = Table(
    "boards",
    metadata,
    Column(
        "project_id", String(63), ForeignKey(projects.c.id, ondelete="CASCADE"), primary_key=True
    ),
    Column("create_time", UtcDateTime, nullable=False),
)

board_columns = Table(
    "board_columns",
    metadata,
    Column(
        "project_id",
        String(63),
        ForeignKey(boards.c.project_id, ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("id", String(63), primary_key=True),
    Column("display_name", String(100), nullable=False),
    Column("position", Integer, nullable=False),
    Column("wip_limit", Integer, nullable=False),
    # A TaskStatus, or 0 for a column of any status.
    Column("task_status", Integer, nullable=False),
    Column("create_time", UtcDateTime, nullable=False),
    Column("update_time", UtcDateTime, nullable=False),
    Column("version", Integer, nullable=False),
)

# Where a task's card was last moved to. A card whose column is deleted falls
# back to its status's column (the row goes with the column).
task_placements = Table(
    "task_placements",
    metadata,
    Column("task_id", String(63), ForeignKey(tasks.c.id, ondelete="CASCADE"), primary_key=True),
    Column("project_id", String(63), nullable=False),
    Column("column_id", String(63), nullable=False),
    Column("rank", RANK_TYPE, nullable=False),
    ForeignKeyConstraint(
        ["project_id", "column_id"],
        [board_columns.c.project_id, board_columns.c.id],
        ondelete="CASCADE",
    ),
    # A column's cards in order: WIP counts and the board load.
    Index("ix_task_placements_column_rank", "project_id", "column_id", "rank"),
)

# A person's board: their recently done tasks, the latest first. Done tasks
# only, so that it is no candidate for open-task queries.
_DONE = tasks.c.status == int(TaskStatus.DONE)
DONE_TASKS_BY_ASSIGNEE_AND_CHANGE = Index(
    "ix_tasks_done_assignee_update",
    tasks.c.assignee,
    tasks.c.update_time,
    postgresql_where=_DONE,
    sqlite_where=_DONE,
)


class BoardRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def columns(self, project_id: str, project_created: datetime) -> list[BoardColumn]:
        """The board's columns left to right; the default ones while it has no rows."""
        if not await self._has_rows(project_id):
            return default_columns(project_id, project_created)
        query = (
            select(board_columns)
            .where(board_columns.c.project_id == project_id)
            .order_by(board_columns.c.position, board_columns.c.id)
        )
        return [_to_column(row) for row in (await self._session.execute(query)).all()]

    async def lock(self, project_id: str, project_created: datetime) -> list[BoardColumn]:
        """Locks the board for a change until commit, giving it rows first if it
        has none; returns its columns."""
        query = select(boards.c.project_id).where(boards.c.project_id == project_id)
        if await self._session.scalar(query.with_for_update()) is None:
            await self._add_board(project_id, project_created)
        return await self.columns(project_id, project_created)

    async def cards(self, project_id: str) -> list[Card]:
        """Every task of the project as a card, with its placement if it has one."""
        query = _select_cards().where(tasks.c.project_id == project_id)
        return [_to_card(row) for row in (await self._session.execute(query)).all()]

    async def card(self, task_id: str) -> Card | None:
        query = (
            select(tasks, task_placements.c.column_id, task_placements.c.rank)
            .select_from(tasks.outerjoin(task_placements, task_placements.c.task_id == tasks.c.id))
            .where(tasks.c.id == task_id)
        )
        row = (await self._session.execute(query)).first()
        return _to_card(row) if row else None

    async def assigned_cards(
        self, assignee: str, status: TaskStatus, limit: int, changed_since: datetime | None = None
    ) -> tuple[list[Card], int]:
        """Up to `limit` of the tasks with this assignee and status, soonest due
        first, and how many there are. With `changed_since`, only those last
        changed then or later, the latest first."""
        chosen = [tasks.c.assignee == assignee, tasks.c.status == int(status)]
        order = [tasks.c.due_time, tasks.c.id]
        if changed_since is not None:
            chosen.append(tasks.c.update_time >= changed_since)
            order = [tasks.c.update_time.desc(), tasks.c.id]
        query = _select_cards().where(*chosen).order_by(*order).limit(limit)
        cards = [_to_card(row) for row in (await self._session.execute(query)).all()]
        if len(cards) < limit:
            return cards, len(cards)
        count = await self._session.scalar(select(func.count()).select_from(tasks).where(*chosen))
        return cards, int(count or 0)

    async def add_column(self, column: BoardColumn) -> None:
        try:
            await self._session.execute(insert(board_columns).values(_column_row(column)))
        except IntegrityError as error:
            raise AlreadyExists(f"{column.name} already exists") from error

    async def save_column(self, column: BoardColumn, expected_version: int) -> None:
        result = await self._session.execute(
            update(board_columns)
            .where(
                board_columns.c.project_id == column.project,
                board_columns.c.id == column.id,
                board_columns.c.version == expected_version,
            )
            .values(_column_row(column))
        )
        if result.rowcount != 1:
            raise Aborted(f"{column.name} was changed concurrently; retry")

    async def delete_column(self, project_id: str, column_id: str) -> None:
        await self._session.execute(
            delete(task_placements).where(
                task_placements.c.project_id == project_id, task_placements.c.column_id == column_id
            )
        )
        await self._session.execute(
            delete(board_columns).where(
                board_columns.c.project_id == project_id, board_columns.c.id == column_id
            )
        )

    async def set_positions(self, project_id: str, column_ids: Sequence[str]) -> None:
        """Positions 0, 1, ... in the given order; only those that change are written."""
        current = {
            row.id: row.position
            for row in (
                await self._session.execute(
                    select(board_columns.c.id, board_columns.c.position).where(
                        board_columns.c.project_id == project_id
                    )
                )
            ).all()
        }
        for position, column_id in enumerate(column_ids):
            if current.get(column_id) != position:
                await self._session.execute(
                    update(board_columns)
                    .where(
                        board_columns.c.project_id == project_id, board_columns.c.id == column_id
                    )
                    .values(position=position)
                )

    async def place(self, project_id: str, placements: Sequence[Placement]) -> None:
        for placement in placements:
            values = {
                "project_id": project_id,
                "column_id": placement.column,
                "rank": placement.rank,
            }
            result = await self._session.execute(
                update(task_placements)
                .where(task_placements.c.task_id == placement.task)
                .values(values)
            )
            if result.rowcount == 0:
                await self._session.execute(
                    insert(task_placements).values(task_id=placement.task, **values)
                )

    async def _has_rows(self, project_id: str) -> bool:
        query = select(boards.c.project_id).where(boards.c.project_id == project_id)
        return await self._session.scalar(query) is not None

    async def _add_board(self, project_id: str, project_created: datetime) -> None:
        """Rows for a board still on its defaults; the new `boards` row stays
        locked until commit. A board set up by a racing change is ABORTED."""
        try:
            await self._session.execute(
                insert(boards).values(project_id=project_id, create_time=project_created)
            )
        except IntegrityError as error:
            raise Aborted(
                f"projects/{project_id}/board was being changed concurrently; retry"
            ) from error
        columns = default_columns(project_id, project_created)
        await self._session.execute(
            insert(board_columns), [_column_row(column) for column in columns]
        )


def default_columns(project_id: str, created: datetime) -> list[BoardColumn]:
    """The columns of a board never changed, dated with its project."""
    return [
        BoardColumn(project_id, column_id, draft, position, created, created)
        for position, (column_id, draft) in enumerate(DEFAULT_COLUMNS)
    ]


def _to_column(row: Row[Any]) -> BoardColumn:
    draft = ColumnDraft(
        row.display_name,
        row.wip_limit,
        TaskStatus(row.task_status) if row.task_status != _NO_STATUS else None,
    )
    return BoardColumn(
        row.project_id, row.id, draft, row.position, row.create_time, row.update_time, row.version
    )


def _column_row(column: BoardColumn) -> dict[str, Any]:
    status = column.draft.task_status
    return {
        "project_id": column.project,
        "id": column.id,
        "display_name": column.draft.display_name,
        "position": column.position,
        "wip_limit": column.draft.wip_limit,
        "task_status": int(status) if status is not None else _NO_STATUS,
        "create_time": column.create_time,
        "update_time": column.update_time,
        "version": column.version,
    }


def _select_cards() -> Select[Any]:
    """The columns a card shows, of tasks with their placements."""
    return select(
        tasks.c.id,
        tasks.c.project_id,
        tasks.c.title,
        tasks.c.assignee,
        tasks.c.due_time,
        tasks.c.priority,
        tasks.c.status,
        tasks.c.create_time,
        task_placements.c.column_id,
        task_placements.c.rank,
    ).select_from(tasks.outerjoin(task_placements, task_placements.c.task_id == tasks.c.id))


# By number without an Enum call per row: boards read hundreds of cards a call.
_PRIORITIES = {int(priority): priority for priority in Priority}
_STATUSES = {int(status): status for status in TaskStatus}


def _to_card(row: Row[Any]) -> Card:
    return Card(
        project=row.project_id,
        task=row.id,
        title=row.title,
        assignee=row.assignee,
        due_time=None if row.due_time == NO_DUE_TIME else row.due_time,
        priority=_PRIORITIES[row.priority],
        status=_STATUSES[row.status],
        create_time=row.create_time,
        column=row.column_id or "",
        rank=row.rank or "",
    )
