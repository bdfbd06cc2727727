"""Saved views of tickets, with the built-in shared ones, and the agent queue's index.

Revision ID: 0006
Revises: 0005
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from crm_common.storage.db import UtcDateTime

revision = "0006"
down_revision = "0005"

_WORKING = "(status = NEW OR status = OPEN OR status = PENDING OR status = ON_HOLD)"

# Stable ids, so clients and the command line can name them; spaced
# positions leave room for views placed between them.
BUILT_IN_VIEWS = [
    {
        "id": "my-open",
        "display_name": "My open tickets",
        "filter": "assignee = @me AND (status = NEW OR status = OPEN)",
        "order_by": "sla_due_time, priority desc, create_time",
        "position": 100,
    },
    {
        "id": "breaching-soon",
        "display_name": "SLA breaching within 1 hour",
        "filter": "sla_due_time <= @now+1h",
        "order_by": "sla_due_time",
        "position": 200,
    },
    {
        "id": "unassigned-urgent",
        "display_name": "Unassigned urgent tickets",
        "filter": f'assignee = "" AND priority = URGENT AND {_WORKING}',
        "order_by": "sla_due_time",
        "position": 300,
    },
    {
        "id": "unsolved",
        "display_name": "All unsolved tickets",
        "filter": _WORKING,
        "order_by": "sla_due_time",
        "position": 400,
    },
]


def upgrade() -> None:
    views = op.create_table(
        "views",
        sa.Column("id", sa.String(63), primary_key=True),
        sa.Column("display_name", sa.String(100), nullable=False),
        sa.Column("filter", sa.String(2000), nullable=False),
        sa.Column("order_by", sa.String(500), nullable=False),
        sa.Column("owner_id", sa.String(200), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("create_time", UtcDateTime, nullable=False),
        sa.Column("update_time", UtcDateTime, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_index("ix_views_position", "views", ["position", "id"])
    op.create_index(
        "ix_tickets_queue", "tickets", ["assignee_id", "status", "group_id", "priority"]
    )
    now = datetime.now(UTC)
    op.bulk_insert(
        views,
        [
            {**view, "owner_id": "", "create_time": now, "update_time": now, "version": 1}
            for view in BUILT_IN_VIEWS
        ],
    )


def downgrade() -> None:
    op.drop_index("ix_tickets_queue", "tickets")
    op.drop_index("ix_views_position", "views")
    op.drop_table("views")
