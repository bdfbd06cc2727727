"""The forecast's roll-up (crm_sales.storage.forecast_rollup): deals summed per
month (of the expected close date while open, of the UTC close time once won),
owner, pipeline, currency, state and forecast category, with their amounts and
probability-weighted amounts as exact integers. Backfilled from the deals as
the service would have written it.

Revision ID: 0010
Revises: 0009
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"

OPEN = 1
WON = 2
KEY_COLUMNS = ("month", "owner", "pipeline_id", "currency_code", "state", "forecast_category")
SUM_COLUMNS = ("deal_count", "amount_units", "amount_nanos", "weighted_units", "weighted_nanos")

deals = sa.table(
    "opportunities",
    *(
        sa.column(name)
        for name in (
            "owner",
            "pipeline_id",
            "currency_code",
            "state",
            "forecast_category",
            "expected_close_date",
            "close_time",
            "amount_units",
            "amount_nanos",
            "effective_probability",
        )
    ),
).c


def upgrade() -> None:
    rollup = op.create_table(
        "forecast_rollup",
        sa.Column("month", sa.Integer, primary_key=True),
        sa.Column("owner", sa.String(128), primary_key=True),
        sa.Column("pipeline_id", sa.String(63), primary_key=True),
        sa.Column("currency_code", sa.String(3), primary_key=True),
        sa.Column("state", sa.Integer, primary_key=True),
        sa.Column("forecast_category", sa.Integer, primary_key=True),
        *(sa.Column(name, sa.BigInteger, nullable=False) for name in SUM_COLUMNS),
    )
    assert rollup is not None
    postgres = op.get_bind().dialect.name == "postgresql"
    # SQLite keeps UTC timestamps as ISO text; PostgreSQL's are shifted to UTC first.
    close_time = sa.func.timezone("UTC", deals.close_time) if postgres else deals.close_time
    open_deals = sa.and_(deals.state == OPEN, deals.expected_close_date.is_not(None))
    won_deals = sa.and_(deals.state == WON, deals.close_time.is_not(None))
    for day, where in ((deals.expected_close_date, open_deals), (close_time, won_deals)):
        op.execute(sa.insert(rollup).from_select([*KEY_COLUMNS, *SUM_COLUMNS], _summed(day, where)))


def _summed(day: Any, where: Any) -> Any:
    percent = deals.effective_probability
    month = sa.cast(sa.extract("year", day), sa.Integer) * 100 + sa.cast(
        sa.extract("month", day), sa.Integer
    )
    sub = (
        sa.select(
            month.label("month"),
            *(deals[name] for name in KEY_COLUMNS[1:]),
            sa.cast(deals.amount_units, sa.BigInteger).label("amount_units"),
            sa.cast(deals.amount_nanos, sa.BigInteger).label("amount_nanos"),
            (sa.cast(deals.amount_units, sa.BigInteger) * percent).label("weighted_units"),
            (sa.cast(deals.amount_nanos, sa.BigInteger) * percent).label("weighted_nanos"),
        )
        .where(where)
        .subquery()
    )
    keys = [sub.c[name] for name in KEY_COLUMNS]
    return sa.select(
        *keys, sa.func.count(), *(sa.func.sum(sub.c[name]) for name in SUM_COLUMNS[1:])
    ).group_by(*keys)


def downgrade() -> None:
    op.drop_table("forecast_rollup")
