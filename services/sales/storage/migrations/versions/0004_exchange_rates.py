"""The managed exchange-rate table forecasts and reports convert with.

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
        "exchange_rates",
        sa.Column("currency_code", sa.String(3), primary_key=True),
        sa.Column("rate", sa.String(32), nullable=False),
        sa.Column("update_time", UtcDateTime, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("exchange_rates")
