"""Macros, triggers, automations, and the tickets each automation acted on.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

from crm_common.storage.db import UtcDateTime

revision = "0007"
down_revision = "0006"


def _common_columns() -> list[sa.Column]:
    return [
        sa.Column("id", sa.String(63), primary_key=True),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("description", sa.String(2000), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("actions", sa.JSON, nullable=False),
        sa.Column("create_time", UtcDateTime, nullable=False),
        sa.Column("update_time", UtcDateTime, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    ]


def upgrade() -> None:
    op.create_table("macros", *_common_columns())
    op.create_index("ix_macros_display_name", "macros", ["display_name", "id"])
    op.create_table(
        "triggers",
        *_common_columns(),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("on_create", sa.Boolean, nullable=False),
        sa.Column("on_update", sa.Boolean, nullable=False),
        sa.Column("condition", sa.String(2000), nullable=False),
    )
    op.create_index("ix_triggers_position", "triggers", ["position", "id"])
    op.create_table(
        "automations",
        *_common_columns(),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("condition", sa.String(2000), nullable=False),
    )
    op.create_index("ix_automations_position", "automations", ["position", "id"])
    op.create_table(
        "automation_applications",
        sa.Column(
            "automation_id",
            sa.String(63),
            sa.ForeignKey("automations.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "ticket_id",
            sa.String(63),
            sa.ForeignKey("tickets.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("apply_time", UtcDateTime, nullable=False),
        sa.Column("failure", sa.Text, nullable=False),
    )
    op.create_index("ix_automation_applications_ticket", "automation_applications", ["ticket_id"])


def downgrade() -> None:
    op.drop_index("ix_automation_applications_ticket", "automation_applications")
    op.drop_table("automation_applications")
    for table, index in (
        ("automations", "ix_automations_position"),
        ("triggers", "ix_triggers_position"),
        ("macros", "ix_macros_display_name"),
    ):
        op.drop_index(index, table)
        op.drop_table(table)
