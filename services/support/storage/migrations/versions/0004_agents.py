"""Agents, groups, membership and skills for assignment.

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
        "groups",
        sa.Column("id", sa.String(63), primary_key=True),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("description", sa.String(2000), nullable=False),
        sa.Column("assignment_strategy", sa.Integer, nullable=False),
        sa.Column("last_turn", sa.String(63), nullable=False),
        sa.Column("create_time", UtcDateTime, nullable=False),
        sa.Column("update_time", UtcDateTime, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_index("ix_groups_display_name", "groups", ["display_name", "id"])
    op.create_table(
        "agents",
        sa.Column("id", sa.String(63), primary_key=True),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("capacity", sa.BigInteger, nullable=False),
        sa.Column("availability", sa.Integer, nullable=False),
        sa.Column("create_time", UtcDateTime, nullable=False),
        sa.Column("update_time", UtcDateTime, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_index("ix_agents_email", "agents", ["email"], unique=True)
    op.create_index("ix_agents_display_name", "agents", ["display_name", "id"])
    op.create_table(
        "agent_groups",
        sa.Column(
            "agent_id",
            sa.String(63),
            sa.ForeignKey("agents.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("group_id", sa.String(63), sa.ForeignKey("groups.id"), primary_key=True),
        sa.Column("position", sa.Integer, nullable=False),
    )
    op.create_index("ix_agent_groups_group", "agent_groups", ["group_id", "agent_id"])
    op.create_table(
        "agent_skills",
        sa.Column(
            "agent_id",
            sa.String(63),
            sa.ForeignKey("agents.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("skill", sa.String(58), primary_key=True),
    )
    op.create_index("ix_agent_skills_skill", "agent_skills", ["skill", "agent_id"])


def downgrade() -> None:
    for table in ("agent_skills", "agent_groups", "agents", "groups"):
        op.drop_table(table)
