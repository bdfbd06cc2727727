"""Custom field definitions and values; what makes people quick to filter.

Adds people.custom_fields, the typed person_custom_values rows filters and
sorts use, person_tags (backfilled from people.tags), and indexes for the
common list orders.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from crm_common.storage.db import UtcDateTime

revision = "0002"
down_revision = "0001"

TEXT_KEY_LENGTH = 200

# Tags one a row from each person's JSON array; DISTINCT guards the key
# against arrays written before tags were de-duplicated.
_BACKFILL_TAGS = {
    "sqlite": (
        "INSERT INTO person_tags (person_id, tag) "
        "SELECT DISTINCT people.id, tag.value FROM people, json_each(people.tags) AS tag"
    ),
    "postgresql": (
        "INSERT INTO person_tags (person_id, tag) "
        "SELECT DISTINCT id, json_array_elements_text(tags) FROM people"
    ),
}


def upgrade() -> None:
    op.create_table(
        "custom_field_definitions",
        sa.Column("id", sa.String(63), primary_key=True),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("type", sa.String(20), nullable=False),
        sa.Column("options", sa.JSON, nullable=False),
        sa.Column("applies_to", sa.JSON, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("create_time", UtcDateTime, nullable=False),
        sa.Column("update_time", UtcDateTime, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )
    # Batch mode: SQLite alters tables by rebuilding them when it must.
    with op.batch_alter_table("people") as people:
        people.add_column(sa.Column("custom_fields", sa.JSON, nullable=False, server_default="{}"))
    op.create_index("ix_people_update_time", "people", ["update_time", "id"])
    op.create_index("ix_people_owner_create_time", "people", ["owner", "create_time", "id"])

    op.create_table(
        "person_custom_values",
        sa.Column(
            "record_id",
            sa.String(63),
            sa.ForeignKey("people.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "field_id",
            sa.String(63),
            sa.ForeignKey("custom_field_definitions.id"),
            primary_key=True,
        ),
        sa.Column("text_value", sa.Text),
        sa.Column("text_key", sa.String(TEXT_KEY_LENGTH)),
        sa.Column("number_value", sa.Float),
    )
    op.create_index(
        "ix_person_custom_values_text",
        "person_custom_values",
        ["field_id", "text_key", "record_id"],
    )
    op.create_index(
        "ix_person_custom_values_number",
        "person_custom_values",
        ["field_id", "number_value", "record_id"],
    )

    op.create_table(
        "person_tags",
        sa.Column(
            "person_id",
            sa.String(63),
            sa.ForeignKey("people.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("tag", sa.String(64), primary_key=True),
    )
    op.create_index("ix_person_tags_tag", "person_tags", ["tag", "person_id"])
    op.execute(_BACKFILL_TAGS[op.get_bind().dialect.name])


def downgrade() -> None:
    op.drop_table("person_tags")
    op.drop_table("person_custom_values")
    op.drop_index("ix_people_owner_create_time", "people")
    op.drop_index("ix_people_update_time", "people")
    with op.batch_alter_table("people") as people:
        people.drop_column("custom_fields")
    op.drop_table("custom_field_definitions")
