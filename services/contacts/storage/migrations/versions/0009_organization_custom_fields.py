"""Custom fields on organizations; what makes organizations quick to filter.

Adds organizations.custom_fields, the typed organization_custom_values rows
filters and sorts use, and organization_tags and organization_emails
(backfilled from the organizations' JSON arrays), as people have since 0002.

The column is added in place, never by rebuilding the table: on SQLite a
rebuild would drop the search triggers 0006 created on `organizations`, and
alembic may run this revision before or after that one.

Revision ID: 0009
Revises: 0003
Depends on: 0002 (custom_field_definitions)
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0003"
depends_on = "0002"

TEXT_KEY_LENGTH = 200

# One row per value from each organization's JSON array; DISTINCT guards the
# keys against arrays that repeat a value.
_BACKFILL = {
    "sqlite": (
        "INSERT INTO organization_tags (organization_id, tag) "
        "SELECT DISTINCT o.id, t.value FROM organizations AS o, json_each(o.tags) AS t",
        "INSERT INTO organization_emails (organization_id, address) "
        "SELECT DISTINCT o.id, json_extract(e.value, '$.address') "
        "FROM organizations AS o, json_each(o.email_addresses) AS e",
    ),
    "postgresql": (
        "INSERT INTO organization_tags (organization_id, tag) "
        "SELECT DISTINCT id, json_array_elements_text(tags) FROM organizations",
        "INSERT INTO organization_emails (organization_id, address) "
        "SELECT DISTINCT o.id, e ->> 'address' "
        "FROM organizations AS o, json_array_elements(o.email_addresses) AS e",
    ),
}


def upgrade() -> None:
    # Not batch mode: adding a column with a constant default is an ALTER
    # TABLE on SQLite too, which keeps the table and its triggers.
    op.add_column(
        "organizations", sa.Column("custom_fields", sa.JSON, nullable=False, server_default="{}")
    )
    op.create_index("ix_organizations_update_time", "organizations", ["update_time", "id"])
    _create_custom_values()
    _create_repeated_values("organization_tags", "tag", 64)
    _create_repeated_values("organization_emails", "address", 254)
    for statement in _BACKFILL[op.get_bind().dialect.name]:
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("organization_emails")
    op.drop_table("organization_tags")
    op.drop_table("organization_custom_values")
    op.drop_index("ix_organizations_update_time", "organizations")
    # Not batch mode either (see the module's note); SQLite 3.35+ drops columns in place.
    op.drop_column("organizations", "custom_fields")


def _create_custom_values() -> None:
    op.create_table(
        "organization_custom_values",
        sa.Column(
            "record_id",
            sa.String(63),
            sa.ForeignKey("organizations.id", ondelete="CASCADE"),
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
        "ix_organization_custom_values_text",
        "organization_custom_values",
        ["field_id", "text_key", "record_id"],
    )
    op.create_index(
        "ix_organization_custom_values_number",
        "organization_custom_values",
        ["field_id", "number_value", "record_id"],
    )


def _create_repeated_values(table: str, value: str, length: int) -> None:
    op.create_table(
        table,
        sa.Column(
            "organization_id",
            sa.String(63),
            sa.ForeignKey("organizations.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(value, sa.String(length), primary_key=True),
    )
    op.create_index(f"ix_{table}_{value}", table, [value, "organization_id"])
