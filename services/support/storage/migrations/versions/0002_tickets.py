"""Tickets, their tags and comments, and the ticket number counter.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from crm_common.storage.db import UtcDateTime

revision = "0002"
down_revision = "0001"

# The counter holds the last number handed out, so the first ticket is 1000.
FIRST_NUMBER = 1000


def upgrade() -> None:
    op.create_table(
        "tickets",
        sa.Column("id", sa.String(63), primary_key=True),
        sa.Column("number", sa.BigInteger, nullable=False, unique=True),
        sa.Column("subject", sa.String(250), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("requester_id", sa.String(200), nullable=False),
        sa.Column("requester_email", sa.String(254), nullable=False),
        sa.Column("organization_id", sa.String(200), nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("type", sa.Integer, nullable=False),
        sa.Column("channel", sa.Integer, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("custom_fields", sa.JSON, nullable=False),
        sa.Column("followers", sa.JSON, nullable=False),
        sa.Column("first_response_time", UtcDateTime, nullable=True),
        sa.Column("solve_time", UtcDateTime, nullable=True),
        sa.Column("create_time", UtcDateTime, nullable=False),
        sa.Column("update_time", UtcDateTime, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_index(
        "ix_tickets_status_priority", "tickets", ["status", "priority", "create_time", "id"]
    )
    op.create_index("ix_tickets_requester", "tickets", ["requester_id", "create_time"])
    op.create_index("ix_tickets_organization", "tickets", ["organization_id", "create_time"])
    op.create_index("ix_tickets_create_time", "tickets", ["create_time", "id"])
    op.create_table(
        "ticket_tags",
        sa.Column(
            "ticket_id",
            sa.String(63),
            sa.ForeignKey("tickets.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("tag", sa.String(64), primary_key=True),
    )
    op.create_index("ix_ticket_tags_tag", "ticket_tags", ["tag", "ticket_id"])
    op.create_table(
        "ticket_numbers",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("last", sa.BigInteger, nullable=False),
    )
    op.bulk_insert(
        sa.table("ticket_numbers", sa.column("id", sa.Integer), sa.column("last", sa.BigInteger)),
        [{"id": 1, "last": FIRST_NUMBER - 1}],
    )
    op.create_table(
        "ticket_comments",
        sa.Column("id", sa.String(63), primary_key=True),
        sa.Column(
            "ticket_id",
            sa.String(63),
            sa.ForeignKey("tickets.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("public", sa.Boolean, nullable=False),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("attachments", sa.JSON, nullable=False),
        sa.Column("create_time", UtcDateTime, nullable=False),
    )
    op.create_index(
        "ix_ticket_comments_ticket", "ticket_comments", ["ticket_id", "create_time", "id"]
    )


def downgrade() -> None:
    for table in ("ticket_comments", "ticket_numbers", "ticket_tags", "tickets"):
        op.drop_table(table)
