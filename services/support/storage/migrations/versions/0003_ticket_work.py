"""Ticket columns for assignment, SLA state, merging, links and satisfaction.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

from crm_common.storage.db import UtcDateTime

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    # The far-future key of tickets without a running SLA target, as each
    # backend's timestamp column spells it.
    postgres = op.get_bind().dialect.name == "postgresql"
    no_due_time = "9999-12-31 00:00:00+00" if postgres else "9999-12-31 00:00:00.000000"
    with op.batch_alter_table("tickets") as batch:
        for name in ("assignee_id", "group_id", "merged_into_id"):
            batch.add_column(sa.Column(name, sa.String(200), nullable=False, server_default=""))
        batch.add_column(
            sa.Column("sla_policy_id", sa.String(63), nullable=False, server_default="")
        )
        for name in ("links", "sla_targets"):
            batch.add_column(sa.Column(name, sa.JSON, nullable=False, server_default="[]"))
        batch.add_column(sa.Column("sla_due_time", UtcDateTime, nullable=True))
        batch.add_column(
            sa.Column("sla_due_order", UtcDateTime, nullable=False, server_default=no_due_time)
        )
        batch.add_column(sa.Column("sla_check_time", UtcDateTime, nullable=True))
        batch.add_column(sa.Column("satisfaction", sa.JSON, nullable=True))
        batch.add_column(sa.Column("satisfaction_score", sa.Integer, nullable=True))
    op.create_index("ix_tickets_assignee", "tickets", ["assignee_id", "status"])
    op.create_index("ix_tickets_group", "tickets", ["group_id", "status"])
    op.create_index("ix_tickets_sla_due", "tickets", ["sla_due_order", "id"])
    op.create_index("ix_tickets_sla_check", "tickets", ["sla_check_time"])


def downgrade() -> None:
    for index in (
        "ix_tickets_sla_check",
        "ix_tickets_sla_due",
        "ix_tickets_group",
        "ix_tickets_assignee",
    ):
        op.drop_index(index, "tickets")
    with op.batch_alter_table("tickets") as batch:
        for name in (
            "assignee_id",
            "group_id",
            "merged_into_id",
            "sla_policy_id",
            "links",
            "sla_targets",
            "sla_due_time",
            "sla_due_order",
            "sla_check_time",
            "satisfaction",
            "satisfaction_score",
        ):
            batch.drop_column(name)
