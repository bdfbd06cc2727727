"""Each task's next reminder time, so the reminder scan reads only tasks owed one;
and an index for a person's board's recently done tasks.

Revision ID: 0007
Revises: 0006

The backfill follows crm_projects.domain.reminders.next_reminder_time as it was
written: open tasks with a due time are next reminded when due soon (24 hours
before), or at their due time once due soon was announced for it, and never
once overdue was. The scan's old index (open tasks by due time) goes.
"""

import sqlalchemy as sa
from alembic import op

from crm_common.storage.db import UtcDateTime

revision = "0007"
down_revision = "0006"

# As they stand at this revision: no types, so values compare as stored.
tasks = sa.table(
    "tasks",
    sa.column("id"),
    sa.column("status"),
    sa.column("due_time"),
    sa.column("next_reminder_time"),
)
reminders = sa.table(
    "task_reminders", sa.column("task_id"), sa.column("due_soon_time"), sa.column("overdue_time")
)
# TaskStatus.TODO and IN_PROGRESS, and the stored "no due time" (storage/tasks.py).
OPEN = (1, 2)
# A literal, not a parameter: PostgreSQL types it as the column it meets.
NO_DUE_TIME = sa.literal_column("'9999-12-31'")


def _announced(sent: sa.ColumnClause) -> sa.Exists:
    return sa.exists().where(reminders.c.task_id == tasks.c.id, sent == tasks.c.due_time)


def _due_soon(dialect: str) -> sa.ColumnElement:
    """The due time less 24 hours. SQLite keeps datetimes as text with six
    fractional digits (from character 20), which datetime() would drop."""
    if dialect == "postgresql":
        return tasks.c.due_time - sa.literal_column("interval '24 hours'")
    earlier = sa.func.datetime(tasks.c.due_time, "-24 hours")
    return earlier.op("||")(sa.func.substr(tasks.c.due_time, 20))


def upgrade() -> None:
    op.add_column("tasks", sa.Column("next_reminder_time", UtcDateTime, nullable=True))
    next_time = sa.case(
        (_announced(reminders.c.due_soon_time), tasks.c.due_time),
        else_=_due_soon(op.get_bind().dialect.name),
    )
    op.execute(
        tasks.update()
        .where(
            tasks.c.status.in_(OPEN),
            tasks.c.due_time < NO_DUE_TIME,
            ~_announced(reminders.c.overdue_time),
        )
        .values(next_reminder_time=next_time)
    )
    not_null = sa.text("next_reminder_time IS NOT NULL")
    op.create_index(
        "ix_tasks_next_reminder",
        "tasks",
        ["next_reminder_time", "id"],
        postgresql_where=not_null,
        sqlite_where=not_null,
    )
    op.drop_index("ix_tasks_status_due", "tasks")
    done = sa.text("status = 3")  # TaskStatus.DONE
    op.create_index(
        "ix_tasks_done_assignee_update",
        "tasks",
        ["assignee", "update_time"],
        postgresql_where=done,
        sqlite_where=done,
    )


def downgrade() -> None:
    op.drop_index("ix_tasks_done_assignee_update", "tasks")
    op.create_index("ix_tasks_status_due", "tasks", ["status", "due_time"])
    op.drop_index("ix_tasks_next_reminder", "tasks")
    op.drop_column("tasks", "next_reminder_time")
