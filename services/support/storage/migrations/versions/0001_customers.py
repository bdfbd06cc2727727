"""The customer read model, and the outbox/inbox.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from crm_common.messaging.tables import create_messaging_tables
from crm_common.storage.db import UtcDateTime

revision = "0001"
down_revision = None


def upgrade() -> None:
    create_messaging_tables()
    op.create_table(
        "customers",
        sa.Column("id", sa.String(63), primary_key=True),
        sa.Column("display_name", sa.String(401), nullable=False),
        sa.Column("email_addresses", sa.JSON, nullable=False),
        sa.Column("source_version", sa.Integer, nullable=False),
        sa.Column("update_time", UtcDateTime, nullable=False),
        sa.Column("deleted", sa.Boolean, nullable=False),
    )
    op.create_index("ix_customers_display_name", "customers", ["display_name", "id"])


def downgrade() -> None:
    op.drop_table("customers")
    op.drop_table("inbox")
    op.drop_table("outbox")
