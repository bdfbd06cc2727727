"""people.erased: the tombstone ErasePerson leaves.

Revision ID: 0008
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0001"


def upgrade() -> None:
    # A plain ADD COLUMN, never a batch rebuild: rebuilding `people` on SQLite
    # would drop its search triggers and, with foreign keys on, cascade away
    # every person's emails, tags and custom values.
    op.add_column(
        "people", sa.Column("erased", sa.Boolean, nullable=False, server_default=sa.false())
    )


def downgrade() -> None:
    op.drop_column("people", "erased")
