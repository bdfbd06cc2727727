"""Kanban boards (columns, card placements) and task reminders.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

from crm_common.storage.db import UtcDateTime

revision = "0003"
down_revision = "0002"

_ID = sa.String(63)
# Byte order for ranks on PostgreSQL, as in crm_projects.storage.boards.
_RANK = sa.String(48).with_variant(sa.String(48, collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "boards",
        sa.Column(
            "project_id", _ID, sa.ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("create_time", UtcDateTime, nullable=False),
    )
    op.create_table(
        "board_columns",
        sa.Column(
            "project_id",
            _ID,
            sa.ForeignKey("boards.project_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("id", _ID, primary_key=True),
        sa.Column("display_name", sa.String(100), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("wip_limit", sa.Integer, nullable=False),
        sa.Column("task_status", sa.Integer, nullable=False),
        sa.Column("create_time", UtcDateTime, nullable=False),
        sa.Column("update_time", UtcDateTime, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_table(
        "task_placements",
        sa.Column("task_id", _ID, sa.ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("project_id", _ID, nullable=False),
        sa.Column("column_id", _ID, nullable=False),
        sa.Column("rank", _RANK, nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id", "column_id"],
            ["board_columns.project_id", "board_columns.id"],
            ondelete="CASCADE",
        ),
    )
    op.create_index(
        "ix_task_placements_column_rank", "task_placements", ["project_id", "column_id", "rank"]
    )
    op.create_table(
        "task_reminders",
        sa.Column("task_id", _ID, sa.ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("due_soon_time", UtcDateTime, nullable=True),
        sa.Column("overdue_time", UtcDateTime, nullable=True),
    )
    op.create_index("ix_tasks_status_due", "tasks", ["status", "due_time"])


def downgrade() -> None:
    op.drop_index("ix_tasks_status_due", "tasks")
    op.drop_table("task_reminders")
    op.drop_index("ix_task_placements_column_rank", "task_placements")
    for table in ("task_placements", "board_columns", "boards"):
        op.drop_table(table)
