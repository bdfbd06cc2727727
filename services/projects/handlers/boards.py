"""Board use cases. Each runs inside the caller's open unit of work and leaves
the commit to it (see handlers/units.py).

Changes lock the board first (`BoardRepository.lock`), so that moves into one
column take turns and a WIP limit holds under concurrent moves. A move that
changes the task's status goes through `change_task`, like any task change.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from crm_common.errors import FailedPrecondition, NotFound
from crm_common.etags import check_etag
from crm_common.messaging.uow import UnitOfWork
from crm_common.resources import check_retried_create
from crm_projects.domain.boards import (
    COLUMNS_MAX,
    BoardColumn,
    Card,
    ColumnDraft,
    Lane,
    check_new_order,
    column_name,
    lay_out,
    plan_move,
)
from crm_projects.domain.tasks import TaskStatus
from crm_projects.handlers.projects import existing_project
from crm_projects.handlers.tasks import change_task
from crm_projects.storage.boards import BoardRepository

# The columns of a person's board, left to right: (column id, status).
PERSONAL_COLUMNS = (
    ("to-do", TaskStatus.TODO),
    ("in-progress", TaskStatus.IN_PROGRESS),
    ("done", TaskStatus.DONE),
)
# How far back a person's Done column reaches, by when the task last changed
# (for a done task, when it was done unless edited since).
RECENTLY_DONE = timedelta(days=14)


@dataclass(frozen=True)
class PersonalLane:
    """A column of a person's board: some of their tasks of one status."""

    column_id: str
    status: TaskStatus
    cards: list[Card]
    count: int


async def get_board(uow: UnitOfWork, project_id: str) -> list[Lane]:
    project = await existing_project(uow, project_id)
    repository = BoardRepository(uow.session)
    columns = await repository.columns(project_id, project.create_time)
    return lay_out(columns, await repository.cards(project_id))


async def get_personal_board(uow: UnitOfWork, assignee: str, limit: int) -> list[PersonalLane]:
    """The tasks assigned to `assignee` (`users/{id}`) across projects, by status;
    of the done ones only those done within RECENTLY_DONE, as a board shows
    what was finished lately rather than everything ever finished."""
    done_since = datetime.now(UTC) - RECENTLY_DONE
    repository = BoardRepository(uow.session)
    lanes = []
    for column_id, status in PERSONAL_COLUMNS:
        since = done_since if status is TaskStatus.DONE else None
        cards, count = await repository.assigned_cards(assignee, status, limit, since)
        lanes.append(PersonalLane(column_id, status, cards, count))
    return lanes


async def create_column(
    uow: UnitOfWork, project_id: str, draft: ColumnDraft, column_id: str = ""
) -> BoardColumn:
    """Adds a column at the right; with a client-chosen id, a retry returns the
    column it created."""
    now = datetime.now(UTC)
    column = BoardColumn.create(project_id, column_id or uuid.uuid4().hex, draft, 0, now)
    project = await existing_project(uow, project_id)
    repository = BoardRepository(uow.session)
    columns = await repository.lock(project_id, project.create_time)
    existing = next((c for c in columns if c.id == column.id), None)
    if existing is not None:
        check_retried_create(existing.name, existing.draft, column.draft)
        return existing
    if len(columns) >= COLUMNS_MAX:
        raise FailedPrecondition(
            f"projects/{project_id}/board has {COLUMNS_MAX} columns already, the most it may have"
        )
    column.position = len(columns)
    await repository.add_column(column)
    return column


async def update_column(
    uow: UnitOfWork, project_id: str, column_id: str, changes: dict[str, Any], etag: str = ""
) -> BoardColumn:
    """Changes the column's settings; ABORTED when `etag` is stale."""
    repository = BoardRepository(uow.session)
    column, _ = await _locked_column(uow, repository, project_id, column_id)
    check_etag(etag, column.version, column.name)
    read_version = column.version
    if column.update(changes, datetime.now(UTC)):
        await repository.save_column(column, expected_version=read_version)
    return column


async def delete_column(uow: UnitOfWork, project_id: str, column_id: str, etag: str = "") -> None:
    """Deletes the column; its cards go back to their status's column."""
    repository = BoardRepository(uow.session)
    column, columns = await _locked_column(uow, repository, project_id, column_id)
    check_etag(etag, column.version, column.name)
    remaining = [c.id for c in columns if c.id != column_id]
    if not remaining:
        raise FailedPrecondition(f"{column.name} is the board's last column; add another first")
    await repository.delete_column(project_id, column_id)
    await repository.set_positions(project_id, remaining)


async def reorder_columns(
    uow: UnitOfWork, project_id: str, column_ids: Sequence[str]
) -> list[Lane]:
    """Puts the columns in the given order, which must name each once."""
    project = await existing_project(uow, project_id)
    repository = BoardRepository(uow.session)
    columns = await repository.lock(project_id, project.create_time)
    check_new_order([c.id for c in columns], column_ids)
    await repository.set_positions(project_id, column_ids)
    return await get_board(uow, project_id)


async def move_card(
    uow: UnitOfWork,
    project_id: str,
    task_id: str,
    column_id: str,
    after_task: str = "",
    before_task: str = "",
) -> Card:
    """Moves the task's card into the column, next to a card there or at the
    bottom; in a column for a status, the task gets that status."""
    project = await existing_project(uow, project_id)
    repository = BoardRepository(uow.session)
    columns = await repository.lock(project_id, project.create_time)
    column = next((c for c in columns if c.id == column_id), None)
    if column is None:
        raise NotFound(f"{column_name(project_id, column_id)} does not exist")
    cards = await repository.cards(project_id)
    card = next((c for c in cards if c.task == task_id), None)
    if card is None:
        raise NotFound(f"projects/{project_id}/tasks/{task_id} does not exist")
    # Planned on the board as it stands, so that a card arriving from another
    # column counts against the WIP limit even when its status is about to fit.
    lane = next(lane for lane in lay_out(columns, cards) if lane.column.id == column_id)
    move = plan_move(lane, card, after_task, before_task)
    status = column.draft.task_status
    if status is not None and status is not card.status:
        task = await change_task(uow, task_id, {"status": status}, project_id=project_id)
        card = replace(card, status=task.status)
    await repository.place(project_id, [*move.others, move.card])
    return replace(card, column=column_id, rank=move.card.rank)


async def _locked_column(
    uow: UnitOfWork, repository: BoardRepository, project_id: str, column_id: str
) -> tuple[BoardColumn, list[BoardColumn]]:
    """The column, and all of the board's, with the board locked."""
    project = await existing_project(uow, project_id)
    columns = await repository.lock(project_id, project.create_time)
    column = next((c for c in columns if c.id == column_id), None)
    if column is None:
        raise NotFound(f"{column_name(project_id, column_id)} does not exist")
    return column, columns
