"""Organizations and their unique domains.

Revision ID: 0003
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from crm_common.storage.db import UtcDateTime

revision = "0003"
down_revision = "0001"


def upgrade() -> None:
    op.create_table(
        "organizations",
        sa.Column("id", sa.String(63), primary_key=True),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("website", sa.String(2000), nullable=False),
        sa.Column("industry", sa.String(200), nullable=False),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("background", sa.Text, nullable=False),
        sa.Column("domains", sa.JSON, nullable=False),
        sa.Column("email_addresses", sa.JSON, nullable=False),
        sa.Column("phone_numbers", sa.JSON, nullable=False),
        sa.Column("addresses", sa.JSON, nullable=False),
        sa.Column("social_handles", sa.JSON, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("create_time", UtcDateTime, nullable=False),
        sa.Column("update_time", UtcDateTime, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_index("ix_organizations_create_time", "organizations", ["create_time", "id"])
    op.create_index("ix_organizations_display_name", "organizations", ["display_name", "id"])
    op.create_table(
        "organization_domains",
        sa.Column("domain", sa.String(253), primary_key=True),
        sa.Column(
            "organization_id",
            sa.String(63),
            sa.ForeignKey("organizations.id", ondelete="CASCADE"),
            nullable=False,
        ),
    )
    op.create_index(
        "ix_organization_domains_organization_id", "organization_domains", ["organization_id"]
    )


def downgrade() -> None:
    op.drop_table("organization_domains")
    op.drop_table("organizations")
