"""Projects, their people and tags, milestones, tasks with checklists,
dependencies and comments.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from crm_common.storage.db import UtcDateTime

revision = "0002"
down_revision = "0001"

_ID = sa.String(63)
_REFERENCE = sa.String(100)


def _times() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column("create_time", UtcDateTime, nullable=False),
        sa.Column("update_time", UtcDateTime, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "projects",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("owner", _ID, nullable=False),
        sa.Column("start_date", sa.Date),
        sa.Column("due_date", sa.Date),
        sa.Column("organization", _REFERENCE, nullable=False),
        sa.Column("people", sa.JSON, nullable=False),
        sa.Column("opportunity", _REFERENCE, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("custom_fields", sa.JSON, nullable=False),
        *_times(),
    )
    for name, columns in (
        ("display_name", ["display_name", "id"]),
        ("owner_status", ["owner", "status", "id"]),
        ("status", ["status", "id"]),
        ("organization", ["organization", "id"]),
        ("opportunity", ["opportunity", "id"]),
        ("create_time", ["create_time", "id"]),
        ("update_time", ["update_time", "id"]),
    ):
        op.create_index(f"ix_projects_{name}", "projects", columns)
    for table, value, length in (("project_people", "person", 100), ("project_tags", "tag", 64)):
        op.create_table(
            table,
            sa.Column(
                "project_id",
                _ID,
                sa.ForeignKey("projects.id", ondelete="CASCADE"),
                primary_key=True,
            ),
            sa.Column(value, sa.String(length), primary_key=True),
        )
        op.create_index(f"ix_{table}_{value}", table, [value, "project_id"])

    op.create_table(
        "milestones",
        sa.Column("id", _ID, primary_key=True),
        sa.Column(
            "project_id", _ID, sa.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("due_date", sa.Date),
        *_times(),
    )
    op.create_index("ix_milestones_project", "milestones", ["project_id", "id"])
    op.create_index(
        "ix_milestones_project_display_name", "milestones", ["project_id", "display_name", "id"]
    )

    op.create_table(
        "tasks",
        sa.Column("id", _ID, primary_key=True),
        sa.Column(
            "project_id", _ID, sa.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("milestone_id", _ID, sa.ForeignKey("milestones.id")),
        sa.Column("title", sa.String(250), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("assignee", _REFERENCE, nullable=False),
        sa.Column("due_time", UtcDateTime, nullable=False),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("checklist_total", sa.Integer, nullable=False),
        sa.Column("checklist_done", sa.Integer, nullable=False),
        sa.Column("contact", _REFERENCE, nullable=False),
        sa.Column("opportunity", _REFERENCE, nullable=False),
        sa.Column("ticket", _REFERENCE, nullable=False),
        *_times(),
    )
    op.create_index(
        "ix_tasks_assignee_status_due", "tasks", ["assignee", "status", "due_time", "id"]
    )
    op.create_index("ix_tasks_project_due", "tasks", ["project_id", "due_time", "id"])
    for column in ("milestone_id", "contact", "opportunity", "ticket"):
        op.create_index(f"ix_tasks_{column.removesuffix('_id')}", "tasks", [column])

    op.create_table(
        "task_checklist_items",
        sa.Column("task_id", _ID, sa.ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("text", sa.String(500), nullable=False),
        sa.Column("done", sa.Boolean, nullable=False),
    )
    op.create_table(
        "task_dependencies",
        sa.Column("task_id", _ID, sa.ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True),
        sa.Column(
            "depends_on_id",
            _ID,
            sa.ForeignKey("tasks.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("project_id", _ID, nullable=False),
    )
    op.create_index(
        "ix_task_dependencies_depends_on", "task_dependencies", ["depends_on_id", "task_id"]
    )
    op.create_index("ix_task_dependencies_project", "task_dependencies", ["project_id"])

    op.create_table(
        "task_comments",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("task_id", _ID, sa.ForeignKey("tasks.id", ondelete="CASCADE"), nullable=False),
        sa.Column("project_id", _ID, nullable=False),
        sa.Column("author", _REFERENCE, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("create_time", UtcDateTime, nullable=False),
    )
    op.create_index("ix_task_comments_task", "task_comments", ["task_id", "create_time", "id"])


def downgrade() -> None:
    for table in (
        "task_comments",
        "task_dependencies",
        "task_checklist_items",
        "tasks",
        "milestones",
        "project_tags",
        "project_people",
        "projects",
    ):
        op.drop_table(table)
