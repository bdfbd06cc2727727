"""Workflow rules, their runs, and the changes rules caused (storage/workflows.py).

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

from crm_common.storage.db import UtcDateTime

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    op.create_table(
        "workflow_rules",
        sa.Column("id", sa.String(63), primary_key=True),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("trigger", sa.String(64), nullable=False),
        sa.Column("condition", sa.String(2000), nullable=False),
        sa.Column("target", sa.Integer, nullable=False),
        sa.Column("actions", sa.JSON, nullable=False),
        sa.Column("create_time", UtcDateTime, nullable=False),
        sa.Column("update_time", UtcDateTime, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_index("ix_workflow_rules_trigger", "workflow_rules", ["trigger", "enabled"])
    op.create_table(
        "workflow_runs",
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column(
            "rule_id",
            sa.String(63),
            sa.ForeignKey("workflow_rules.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("outcome", sa.Integer, nullable=False),
        sa.Column("detail", sa.String(2000), nullable=False),
        sa.Column("depth", sa.Integer, nullable=False),
        sa.Column("targets", sa.JSON, nullable=False),
        sa.Column("create_time", UtcDateTime, nullable=False),
    )
    op.create_index("ix_workflow_runs_time", "workflow_runs", ["create_time", "id"])
    op.create_index("ix_workflow_runs_rule_time", "workflow_runs", ["rule_id", "create_time", "id"])
    op.create_index("ix_workflow_runs_event", "workflow_runs", ["event_id"])
    op.create_table(
        "workflow_causes",
        sa.Column("aggregate_type", sa.String(32), primary_key=True),
        sa.Column("aggregate_id", sa.String(63), primary_key=True),
        sa.Column("aggregate_version", sa.Integer, primary_key=True),
        sa.Column("rule_id", sa.String(63), nullable=False),
        sa.Column("depth", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("workflow_causes")
    op.drop_table("workflow_runs")
    op.drop_table("workflow_rules")
