"""What the reminder scheduler has announced, and the queries it runs.

Its scan reads only the tasks whose next reminder time (a column of `tasks`)
has come; whatever it finds is rescheduled in the same transaction, so a task
is read once per reminder, not once per run.

Claiming a reminder is a conditional write in the transaction that also
writes the event to the outbox: the first announcement inserts the task's
row (a racing replica's insert then fails on the key), later ones update it
only where it still holds another due time (a racing replica's update then
waits for the first to commit and changes no row). Either way exactly one
replica's transaction commits the event.
"""

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, String, Table, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crm_common.storage.db import UtcDateTime
from crm_projects.domain.reminders import Announced, Reminder, next_reminder_time
from crm_projects.domain.tasks import Task
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

# The scheduler's scan: the tasks owed a reminder by now, in the order owed.
TASKS_BY_NEXT_REMINDER = Index(
    "ix_tasks_next_reminder",
    tasks.c.next_reminder_time,
    tasks.c.id,
    postgresql_where=tasks.c.next_reminder_time.is_not(None),
    sqlite_where=tasks.c.next_reminder_time.is_not(None),
)

_COLUMNS = {
    Reminder.DUE_SOON: task_reminders.c.due_soon_time,
    Reminder.OVERDUE: task_reminders.c.overdue_time,
}


async def tasks_owed_reminders(session: AsyncSession, now: datetime, limit: int) -> list[str]:
    """The tasks whose next reminder time has come, longest owed first."""
    query = (
        select(tasks.c.id)
        .where(tasks.c.next_reminder_time <= now)
        .order_by(tasks.c.next_reminder_time, tasks.c.id)
        .limit(limit)
    )
    return list((await session.scalars(query)).all())


async def reschedule(session: AsyncSession, task: Task, announced: Announced) -> None:
    """Sets the task's next reminder as owed after `announced`; unless the task
    changed since it was read, as that change set it."""
    await session.execute(
        update(tasks)
        .where(tasks.c.id == task.id, tasks.c.version == task.version)
        .values(next_reminder_time=next_reminder_time(task.draft.due_time, task.status, announced))
    )


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
