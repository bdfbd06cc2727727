"""Indexes for two filtered opportunity lists at scale: a pipeline's deals in a
state, newest first (with a tag, each candidate is one probe of the tag index,
so walking only the pipeline's open deals keeps the probes to about a page
over the tag's share), and deals in a state by value, with the expected close
date as a trailing key so a date range is checked in the index, not the heap
("open, closing this month, biggest first").

Revision ID: 0011
Revises: 0010
"""

from alembic import op

revision = "0011"
down_revision = "0010"

INDEXES = {
    "ix_opportunities_pipeline_state_create": ["pipeline_id", "state", "create_time", "id"],
    "ix_opportunities_state_value": ["state", "amount_units", "id", "expected_close_date"],
}


def upgrade() -> None:
    for name, columns in INDEXES.items():
        op.create_index(name, "opportunities", columns)


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, "opportunities")
