"""Index for reports: tickets solved per day are found by their solve time.

Revision ID: 0009
Revises: 0008
"""

from alembic import op

revision = "0009"
down_revision = "0008"


def upgrade() -> None:
    op.create_index("ix_tickets_solve_time", "tickets", ["solve_time"])


def downgrade() -> None:
    op.drop_index("ix_tickets_solve_time", "tickets")
