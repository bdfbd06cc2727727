"""The funnel's summaries (crm_sales.storage.funnel): per deal and pipeline it
entered, the furthest stage position reached there, and those summed per
pipeline, creation day, furthest position, stage, state and currency. Both are
backfilled from the stage history, as the service would have written them.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"

# A deal's state in a pipeline it has left (crm_sales.storage.funnel.ELSEWHERE).
ELSEWHERE = 0
OPEN = 1

CREATE_DAY = {
    "postgresql": "CAST(timezone('UTC', o.create_time) AS DATE)",
    # SQLite keeps UTC timestamps as ISO text.
    "sqlite": "date(o.create_time)",
}

BACKFILL_REACH = """
INSERT INTO opportunity_reach (opportunity_id, pipeline_id, furthest_position, stage_id,
    state, currency_code, amount_units, amount_nanos, create_day)
SELECT o.id, reached.pipeline_id, reached.furthest,
    CASE WHEN reached.pipeline_id = o.pipeline_id AND o.state = {open}
        THEN o.stage_id ELSE '' END,
    CASE WHEN reached.pipeline_id = o.pipeline_id THEN o.state ELSE {elsewhere} END,
    o.currency_code, o.amount_units, o.amount_nanos, {create_day}
FROM (
    SELECT h.opportunity_id, h.pipeline_id, max(s.position) AS furthest
    FROM opportunity_stage_history h
    JOIN stages s ON s.pipeline_id = h.pipeline_id AND s.id = h.stage_id
    GROUP BY h.opportunity_id, h.pipeline_id
) reached
JOIN opportunities o ON o.id = reached.opportunity_id
"""

BACKFILL_ROLLUP = """
INSERT INTO funnel_rollup (pipeline_id, create_day, furthest_position, stage_id, state,
    currency_code, deal_count, amount_units, amount_nanos)
SELECT pipeline_id, create_day, furthest_position, stage_id, state, currency_code,
    count(*), sum(amount_units), sum(amount_nanos)
FROM opportunity_reach
GROUP BY pipeline_id, create_day, furthest_position, stage_id, state, currency_code
"""


def upgrade() -> None:
    op.create_table(
        "opportunity_reach",
        sa.Column(
            "opportunity_id",
            sa.String(63),
            sa.ForeignKey("opportunities.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("pipeline_id", sa.String(63), primary_key=True),
        sa.Column("furthest_position", sa.Integer, nullable=False),
        sa.Column("stage_id", sa.String(63), nullable=False),
        sa.Column("state", sa.Integer, nullable=False),
        sa.Column("currency_code", sa.String(3), nullable=False),
        sa.Column("amount_units", sa.BigInteger, nullable=False),
        sa.Column("amount_nanos", sa.Integer, nullable=False),
        sa.Column("create_day", sa.Date, nullable=False),
    )
    op.create_index("ix_opportunity_reach_pipeline", "opportunity_reach", ["pipeline_id"])
    op.create_table(
        "funnel_rollup",
        sa.Column("pipeline_id", sa.String(63), primary_key=True),
        sa.Column("create_day", sa.Date, primary_key=True),
        sa.Column("furthest_position", sa.Integer, primary_key=True),
        sa.Column("stage_id", sa.String(63), primary_key=True),
        sa.Column("state", sa.Integer, primary_key=True),
        sa.Column("currency_code", sa.String(3), primary_key=True),
        sa.Column("deal_count", sa.BigInteger, nullable=False),
        sa.Column("amount_units", sa.BigInteger, nullable=False),
        sa.Column("amount_nanos", sa.BigInteger, nullable=False),
    )
    create_day = CREATE_DAY[op.get_bind().dialect.name]
    op.execute(BACKFILL_REACH.format(open=OPEN, elsewhere=ELSEWHERE, create_day=create_day))
    op.execute(BACKFILL_ROLLUP)


def downgrade() -> None:
    op.drop_table("funnel_rollup")
    op.drop_index("ix_opportunity_reach_pipeline", "opportunity_reach")
    op.drop_table("opportunity_reach")
