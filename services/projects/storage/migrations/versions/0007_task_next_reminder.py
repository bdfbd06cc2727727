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

# The statements are put together from this file's constants only.
# ruff: noqa: S608

revision = "0007"
down_revision = "0006"

# TaskStatus.TODO and IN_PROGRESS, and the stored "no due time" (storage/tasks.py).
_OPEN = "(1, 2)"
_NO_DUE_TIME = "9999-12-31"
# Due time minus DUE_SOON_WINDOW (24 hours). SQLite keeps datetimes as text with
# six fractional digits (from character 20), which datetime() would drop.
_DUE_SOON = {
    "postgresql": "tasks.due_time - interval '24 hours'",
    "sqlite": "datetime(tasks.due_time, '-24 hours') || substr(tasks.due_time, 20)",
}
_ANNOUNCED = (
    "EXISTS (SELECT 1 FROM task_reminders r WHERE r.task_id = tasks.id AND r.{} = tasks.due_time)"
)


def upgrade() -> None:
    op.add_column("tasks", sa.Column("next_reminder_time", UtcDateTime, nullable=True))
    due_soon = _DUE_SOON[op.get_bind().dialect.name]
    op.execute(
        f"""
        UPDATE tasks SET next_reminder_time = CASE
            WHEN {_ANNOUNCED.format("due_soon_time")} THEN tasks.due_time
            ELSE {due_soon}
        END
        WHERE tasks.status IN {_OPEN} AND tasks.due_time < '{_NO_DUE_TIME}'
          AND NOT {_ANNOUNCED.format("overdue_time")}
        """
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
