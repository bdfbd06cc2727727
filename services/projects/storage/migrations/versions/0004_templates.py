"""Project templates, the project each won deal got, and tickets linked to tasks.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

from crm_common.storage.db import UtcDateTime

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    op.create_table(
        "project_templates",
        sa.Column("id", sa.String(63), primary_key=True),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("description", sa.String(2000), nullable=False),
        sa.Column("fallback", sa.Boolean, nullable=False),
        sa.Column("milestones", sa.JSON, nullable=False),
        sa.Column("tasks", sa.JSON, nullable=False),
        sa.Column("create_time", UtcDateTime, nullable=False),
        sa.Column("update_time", UtcDateTime, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_index(
        "ux_project_templates_fallback",
        "project_templates",
        ["fallback"],
        unique=True,
        sqlite_where=sa.text("fallback"),
        postgresql_where=sa.text("fallback"),
    )
    op.create_table(
        "project_template_pipelines",
        sa.Column("pipeline", sa.String(200), primary_key=True),
        sa.Column(
            "template_id",
            sa.String(63),
            sa.ForeignKey("project_templates.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("position", sa.Integer, nullable=False),
    )
    op.create_index(
        "ix_project_template_pipelines_template",
        "project_template_pipelines",
        ["template_id", "position"],
    )
    op.create_table(
        "won_deal_projects",
        sa.Column("opportunity", sa.String(100), primary_key=True),
        sa.Column("project_id", sa.String(63), nullable=False),
        sa.Column("template_id", sa.String(63), nullable=False),
        sa.Column("create_time", UtcDateTime, nullable=False),
    )
    op.create_index("ix_won_deal_projects_project", "won_deal_projects", ["project_id"])
    op.create_table(
        "linked_tickets",
        sa.Column("id", sa.String(63), primary_key=True),
        sa.Column("version", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "task_tickets",
        sa.Column("task_id", sa.String(63), primary_key=True),
        sa.Column(
            "ticket_id",
            sa.String(63),
            sa.ForeignKey("linked_tickets.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("project_id", sa.String(63), nullable=False),
    )
    op.create_index("ix_task_tickets_ticket", "task_tickets", ["ticket_id"])


def downgrade() -> None:
    op.drop_table("task_tickets")
    op.drop_table("linked_tickets")
    op.drop_table("won_deal_projects")
    op.drop_table("project_template_pipelines")
    op.drop_table("project_templates")
