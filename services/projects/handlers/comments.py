"""Task comment use cases. Each runs inside the caller's open unit of work and
leaves the commit to it (see handlers/units.py)."""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from crm_common.listing import Page
from crm_common.messaging.uow import UnitOfWork
from crm_common.pagination import SortKey
from crm_projects.domain.comments import TaskComment, check_comment
from crm_projects.handlers.tasks import existing_task
from crm_projects.storage.comments import CommentRepository


async def add_comment(
    uow: UnitOfWork, project_id: str, task_id: str, author: str, body: str
) -> TaskComment:
    clean = check_comment(author, body)
    await existing_task(uow, project_id, task_id)
    comment = TaskComment(
        id=uuid.uuid4().hex,
        project=project_id,
        task=task_id,
        author=author,
        body=clean,
        create_time=datetime.now(UTC),
    )
    await CommentRepository(uow.session).add(comment)
    return comment


async def list_comments(
    uow: UnitOfWork,
    project_id: str,
    task_id: str,
    keys: tuple[SortKey, ...],
    after: Sequence[Any] | None,
    size: int,
) -> Page[TaskComment]:
    await existing_task(uow, project_id, task_id)
    found = await CommentRepository(uow.session).page(task_id, keys, after, size)
    return Page.of(found, size)
