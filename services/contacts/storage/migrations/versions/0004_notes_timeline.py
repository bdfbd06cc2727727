"""Notes on people and organizations, and timeline entries from other services.

Revision ID: 0004
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from crm_common.storage.db import UtcDateTime

revision = "0004"
down_revision = "0001"


def upgrade() -> None:
    op.create_table(
        "notes",
        sa.Column("id", sa.String(63), primary_key=True),
        sa.Column("parent_kind", sa.String(20), nullable=False),
        sa.Column("parent_id", sa.String(63), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("create_time", UtcDateTime, nullable=False),
        sa.Column("update_time", UtcDateTime, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_index(
        "ix_notes_parent_create_time", "notes", ["parent_kind", "parent_id", "create_time", "id"]
    )
    op.create_table(
        "timeline_entries",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("parent_kind", sa.String(20), nullable=False),
        sa.Column("parent_id", sa.String(63), nullable=False),
        sa.Column("time", UtcDateTime, nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("source", sa.String(63), nullable=False),
        sa.Column("resource", sa.Text, nullable=False),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.UniqueConstraint(
            "event_id", "parent_kind", "parent_id", name="uq_timeline_entries_event"
        ),
    )
    op.create_index(
        "ix_timeline_entries_parent_time",
        "timeline_entries",
        ["parent_kind", "parent_id", "time", "id"],
    )


def downgrade() -> None:
    op.drop_table("timeline_entries")
    op.drop_table("notes")
