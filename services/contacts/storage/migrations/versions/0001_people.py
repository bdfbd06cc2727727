"""People, their unique emails, and the outbox/inbox.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from crm_common.messaging.tables import create_messaging_tables
from crm_common.storage.db import UtcDateTime

revision = "0001"
down_revision = None


def upgrade() -> None:
    create_messaging_tables()
    op.create_table(
        "people",
        sa.Column("id", sa.String(63), primary_key=True),
        sa.Column("given_name", sa.String(200), nullable=False),
        sa.Column("family_name", sa.String(200), nullable=False),
        sa.Column("job_title", sa.String(200), nullable=False),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("background", sa.Text, nullable=False),
        sa.Column("email_addresses", sa.JSON, nullable=False),
        sa.Column("phone_numbers", sa.JSON, nullable=False),
        sa.Column("addresses", sa.JSON, nullable=False),
        sa.Column("social_handles", sa.JSON, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("create_time", UtcDateTime, nullable=False),
        sa.Column("update_time", UtcDateTime, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_index("ix_people_create_time", "people", ["create_time", "id"])
    op.create_index("ix_people_family_given", "people", ["family_name", "given_name", "id"])
    op.create_table(
        "person_emails",
        sa.Column("address", sa.String(254), primary_key=True),
        sa.Column(
            "person_id",
            sa.String(63),
            sa.ForeignKey("people.id", ondelete="CASCADE"),
            nullable=False,
        ),
    )
    op.create_index("ix_person_emails_person_id", "person_emails", ["person_id"])


def downgrade() -> None:
    op.drop_table("person_emails")
    op.drop_table("people")
    op.drop_table("inbox")
    op.drop_table("outbox")
