"""What the reminder scheduler has announced, and the queries it runs.

Claiming a reminder is a conditional write in the transaction that also
writes the event to the outbox: the first announcement inserts the task's
row (a racing replica's insert then fails on the key), later ones update it
only where it still holds another due time (a racing replica's update then
waits for the first to commit and changes no row). Either way exactly one
replica's transaction commits the event.
"""

from datetime import datetime, timedelta

from sqlalchemy import Column, ForeignKey, Index, String, Table, and_, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crm_common.storage.db import UtcDateTime
from crm_projects.domain.reminders import Announced, Reminder
from crm_projects.domain.tasks import OPEN
from crm_projects.storage.tables import metadata
from crm_projects.storage.tasks import tasks

task_reminders = Table(
    "task_reminders",
    metadata,
    Column("task_id", String(63), ForeignKey(tasks.c.id, ondelete="CASCADE"), primary_key=True),
    # The due time each reminder was last announced for; NULL before the first.
    Column("due_soon_time", UtcDateTime, nullable=True),
    Column("overdue_time", UtcDateTime, nullable=True),
)

# The scheduler's scan: open tasks by due time.
TASKS_BY_STATUS_AND_DUE = Index("ix_tasks_status_due", tasks.c.status, tasks.c.due_time)

_OPEN = sorted(int(status) for status in OPEN)
_COLUMNS = {
    Reminder.DUE_SOON: task_reminders.c.due_soon_time,
    Reminder.OVERDUE: task_reminders.c.overdue_time,
}


async def tasks_owed_reminders(
    session: AsyncSession, now: datetime, window: timedelta, limit: int
) -> list[str]:
    """Open tasks due within `window` (or overdue) with a reminder not yet
    announced for their due time, soonest due first."""
    due_soon = and_(
        tasks.c.due_time > now,
        or_(
            task_reminders.c.due_soon_time.is_(None),
            task_reminders.c.due_soon_time != tasks.c.due_time,
        ),
    )
    overdue = and_(
        tasks.c.due_time <= now,
        or_(
            task_reminders.c.overdue_time.is_(None),
            task_reminders.c.overdue_time != tasks.c.due_time,
        ),
    )
    query = (
        select(tasks.c.id)
        .select_from(tasks.outerjoin(task_reminders, task_reminders.c.task_id == tasks.c.id))
        .where(tasks.c.status.in_(_OPEN), tasks.c.due_time <= now + window, or_(due_soon, overdue))
        .order_by(tasks.c.due_time, tasks.c.id)
        .limit(limit)
    )
    return list((await session.scalars(query)).all())


async def announced(session: AsyncSession, task_id: str) -> Announced | None:
    """What was announced for the task; None when nothing ever was."""
    query = select(task_reminders).where(task_reminders.c.task_id == task_id)
    row = (await session.execute(query)).first()
    return Announced(row.due_soon_time, row.overdue_time) if row else None


async def claim(
    session: AsyncSession,
    task_id: str,
    reminder: Reminder,
    due_time: datetime,
    before: Announced | None,
) -> bool:
    """Records that `reminder` is announced for `due_time`; False when another
    replica did so first (the transaction must then be rolled back)."""
    column = _COLUMNS[reminder]
    if before is None:
        try:
            await session.execute(
                insert(task_reminders).values({"task_id": task_id, column.name: due_time})
            )
        except IntegrityError:
            return False
        return True
    result = await session.execute(
        update(task_reminders)
        .where(
            task_reminders.c.task_id == task_id,
            or_(column.is_(None), column != due_time),
        )
        .values({column.name: due_time})
    )
    return result.rowcount == 1
