"""Indexes for the hot reads at scale: an owner's deals by state, newest first
(the filtered opportunity list), and the forecast's two range scans covering
every column they sum, so PostgreSQL answers them from the index alone.

Revision ID: 0008
Revises: 0007
"""

from alembic import op

revision = "0008"
down_revision = "0007"

# What the forecast reads of each deal besides the indexed keys (PostgreSQL
# only; SQLite has no INCLUDE and keeps the plain indexes).
FORECAST_COLUMNS = [
    "owner",
    "pipeline_id",
    "currency_code",
    "forecast_category",
    "amount_units",
    "amount_nanos",
    "effective_probability",
]
COVERING = {
    "ix_opportunities_state_expected": ["state", "expected_close_date"],
    "ix_opportunities_state_close_time": ["state", "close_time"],
}


def upgrade() -> None:
    op.create_index(
        "ix_opportunities_owner_state_create",
        "opportunities",
        ["owner", "state", "create_time", "id"],
    )
    for name, columns in COVERING.items():
        op.drop_index(name, "opportunities")
        op.create_index(name, "opportunities", columns, postgresql_include=FORECAST_COLUMNS)


def downgrade() -> None:
    for name, columns in COVERING.items():
        op.drop_index(name, "opportunities")
        op.create_index(name, "opportunities", columns)
    op.drop_index("ix_opportunities_owner_state_create", "opportunities")
