"""Canonical emails and phones of people, for finding likely duplicates.

Backfilled from every person's contact points. The keys are derived data that
must equal what the running code computes, so the backfill uses the domain's
rule (`match_keys`) rather than a copy frozen here; a change to that rule needs
a migration that recomputes the keys.

Revision ID: 0007
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from crm_contacts.storage.duplicates import match_key_rows

revision = "0007"
down_revision = "0001"

BATCH = 1000


def upgrade() -> None:
    keys = op.create_table(
        "person_match_keys",
        sa.Column("kind", sa.String(10), primary_key=True),
        sa.Column("key", sa.String(254), primary_key=True),
        sa.Column(
            "person_id",
            sa.String(63),
            sa.ForeignKey("people.id", ondelete="CASCADE"),
            primary_key=True,
        ),
    )
    op.create_index("ix_person_match_keys_person", "person_match_keys", ["person_id"])
    _backfill(keys)


def _backfill(keys: sa.Table) -> None:
    people = sa.table(
        "people",
        sa.column("id", sa.String),
        sa.column("email_addresses", sa.JSON),
        sa.column("phone_numbers", sa.JSON),
    )
    connection = op.get_bind()
    rows = connection.execute(sa.select(people).order_by(people.c.id))
    while batch := rows.fetchmany(BATCH):
        values = [
            key
            for person in batch
            for key in match_key_rows(
                person.id,
                [email["address"] for email in person.email_addresses],
                [phone["number"] for phone in person.phone_numbers],
            )
        ]
        if values:
            op.bulk_insert(keys, values)


def downgrade() -> None:
    op.drop_table("person_match_keys")
