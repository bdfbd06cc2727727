"""The outbox and inbox.

Revision ID: 0001
Revises:
"""

from alembic import op

from crm_common.messaging.tables import create_messaging_tables

revision = "0001"
down_revision = None


def upgrade() -> None:
    create_messaging_tables()


def downgrade() -> None:
    op.drop_table("inbox")
    op.drop_table("outbox")
