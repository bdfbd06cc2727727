"""Business calendars and SLA policies.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

from crm_common.storage.db import UtcDateTime

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    op.create_table(
        "sla_calendars",
        sa.Column("id", sa.String(63), primary_key=True),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("time_zone", sa.String(64), nullable=False),
        sa.Column("weekly_hours", sa.JSON, nullable=False),
        sa.Column("holidays", sa.JSON, nullable=False),
        sa.Column("holiday_country", sa.String(8), nullable=False),
        sa.Column("holiday_subdivision", sa.String(64), nullable=False),
        sa.Column("create_time", UtcDateTime, nullable=False),
        sa.Column("update_time", UtcDateTime, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_table(
        "sla_policies",
        sa.Column("id", sa.String(63), primary_key=True),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("conditions", sa.JSON, nullable=False),
        sa.Column("calendar_id", sa.String(63), sa.ForeignKey("sla_calendars.id"), nullable=False),
        sa.Column("first_response_seconds", sa.Integer, nullable=True),
        sa.Column("next_response_seconds", sa.Integer, nullable=True),
        sa.Column("resolution_seconds", sa.Integer, nullable=True),
        sa.Column("warning_lead_seconds", sa.Integer, nullable=False),
        sa.Column("escalation_priority", sa.Integer, nullable=True),
        sa.Column("escalation_group", sa.String(200), nullable=False),
        sa.Column("create_time", UtcDateTime, nullable=False),
        sa.Column("update_time", UtcDateTime, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_index("ix_sla_policies_position", "sla_policies", ["position", "id"])
    op.create_index("ix_sla_policies_calendar", "sla_policies", ["calendar_id"])


def downgrade() -> None:
    op.drop_index("ix_sla_policies_calendar", "sla_policies")
    op.drop_index("ix_sla_policies_position", "sla_policies")
    op.drop_table("sla_policies")
    op.drop_table("sla_calendars")
