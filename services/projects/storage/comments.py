"""The task comments table and its repository."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    ForeignKey,
    Index,
    Row,
    String,
    Table,
    Text,
    insert,
    select,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crm_common.errors import AlreadyExists
from crm_common.pagination import SortKey
from crm_common.storage.db import UtcDateTime
from crm_common.storage.keyset import paged
from crm_projects.domain.comments import TaskComment
from crm_projects.storage.projects import REFERENCE_MAX
from crm_projects.storage.tables import metadata
from crm_projects.storage.tasks import tasks

task_comments = Table(
    "task_comments",
    metadata,
    Column("id", String(63), primary_key=True),
    Column("task_id", String(63), ForeignKey(tasks.c.id, ondelete="CASCADE"), nullable=False),
    Column("project_id", String(63), nullable=False),
    Column("author", String(REFERENCE_MAX), nullable=False),
    Column("body", Text, nullable=False),
    Column("create_time", UtcDateTime, nullable=False),
    Index("ix_task_comments_task", "task_id", "create_time", "id"),
)

COMMENT_SORT_COLUMNS: dict[str, ColumnElement[Any]] = {
    "create_time": task_comments.c.create_time,
    "id": task_comments.c.id,
}


class CommentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, comment: TaskComment) -> None:
        try:
            await self._session.execute(
                insert(task_comments).values(
                    id=comment.id,
                    task_id=comment.task,
                    project_id=comment.project,
                    author=comment.author,
                    body=comment.body,
                    create_time=comment.create_time,
                )
            )
        except IntegrityError as error:
            raise AlreadyExists(f"comment id {comment.id!r} is taken") from error

    async def page(
        self, task_id: str, keys: Sequence[SortKey], after: Sequence[Any] | None, size: int
    ) -> list[tuple[TaskComment, list[Any]]]:
        query = select(task_comments).where(task_comments.c.task_id == task_id)
        rows = (
            await self._session.execute(paged(query, keys, COMMENT_SORT_COLUMNS, after, size))
        ).all()
        return [(_to_comment(row), [getattr(row, key.field) for key in keys]) for row in rows]


def _to_comment(row: Row[Any]) -> TaskComment:
    return TaskComment(
        id=row.id,
        project=row.project_id,
        task=row.task_id,
        author=row.author,
        body=row.body,
        create_time=row.create_time,
    )
