"""Relationship types (with the built-in `employment`) and relationships.

Revision ID: 0005
Revises: 0001
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from crm_common.storage.db import UtcDateTime

revision = "0005"
down_revision = "0001"

OPEN = sa.text("end_date IS NULL")


def upgrade() -> None:
    types = op.create_table(
        "relationship_types",
        sa.Column("id", sa.String(63), primary_key=True),
        sa.Column("display_name", sa.String(100), nullable=False),
        sa.Column("inverse_display_name", sa.String(100), nullable=False),
        sa.Column("from_kind", sa.String(20), nullable=False),
        sa.Column("to_kind", sa.String(20), nullable=False),
        sa.Column("create_time", UtcDateTime, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )
    # Written out rather than imported: a migration must keep meaning what it
    # meant when it first ran, whatever the domain code becomes.
    op.bulk_insert(
        types,
        [
            {
                "id": "employment",
                "display_name": "works at",
                "inverse_display_name": "employs",
                "from_kind": "person",
                "to_kind": "organization",
                "create_time": datetime.now(UTC),
                "version": 1,
            }
        ],
    )
    op.create_table(
        "relationships",
        sa.Column("id", sa.String(63), primary_key=True),
        sa.Column("type_id", sa.String(63), sa.ForeignKey("relationship_types.id"), nullable=False),
        sa.Column("from_resource", sa.String(100), nullable=False),
        sa.Column("to_resource", sa.String(100), nullable=False),
        sa.Column("role", sa.String(200), nullable=False),
        sa.Column("start_date", sa.Date),
        sa.Column("end_date", sa.Date),
        sa.Column("create_time", UtcDateTime, nullable=False),
        sa.Column("update_time", UtcDateTime, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_index(
        "ix_relationships_from", "relationships", ["from_resource", "create_time", "id"]
    )
    op.create_index("ix_relationships_to", "relationships", ["to_resource", "create_time", "id"])
    op.create_index(
        "ux_relationships_open",
        "relationships",
        ["type_id", "from_resource", "to_resource"],
        unique=True,
        sqlite_where=OPEN,
        postgresql_where=OPEN,
    )


def downgrade() -> None:
    op.drop_table("relationships")
    op.drop_table("relationship_types")
