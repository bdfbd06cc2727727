"""The contacts database schema (SQLAlchemy Core)."""

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    false,
)

from crm_common.storage import child_rows
from crm_common.storage.db import UtcDateTime

metadata = MetaData()

people = Table(
    "people",
    metadata,
    Column("id", String(63), primary_key=True),
    Column("given_name", String(200), nullable=False),
    Column("family_name", String(200), nullable=False),
    Column("job_title", String(200), nullable=False),
    Column("owner", String(200), nullable=False),
    Column("background", Text, nullable=False),
    # Contact points travel as a whole with the person; emails are also in
    # person_emails, where the database enforces their uniqueness.
    Column("email_addresses", JSON, nullable=False),
    Column("phone_numbers", JSON, nullable=False),
    Column("addresses", JSON, nullable=False),
    Column("social_handles", JSON, nullable=False),
    Column("tags", JSON, nullable=False),
    # {"<definition id>": {"<type>": value}}: self-describing, so a person
    # reads back without its definitions; filters use person_custom_values.
    Column("custom_fields", JSON, nullable=False, server_default="{}"),
    Column("create_time", UtcDateTime, nullable=False),
    Column("update_time", UtcDateTime, nullable=False),
    Column("version", Integer, nullable=False),
    # A tombstone left by ErasePerson: the row stays so that references hold.
    Column("erased", Boolean, nullable=False, server_default=false()),
    Index("ix_people_create_time", "create_time", "id"),
    Index("ix_people_update_time", "update_time", "id"),
    Index("ix_people_family_given", "family_name", "given_name", "id"),
    # "My contacts, newest first" is an index range, not a scan and a sort.
    Index("ix_people_owner_create_time", "owner", "create_time", "id"),
)

person_emails = Table(
    "person_emails",
    metadata,
    Column("address", String(254), primary_key=True),
    Column(
        "person_id",
        String(63),
        ForeignKey("people.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
)


def repeated_values_table(name: str, records: Table, key: str, value: str, length: int) -> Table:
    """crm_common's repeated_values_table in the contacts schema."""
    return child_rows.repeated_values_table(metadata, name, records, key, value, length)


person_tags = repeated_values_table("person_tags", people, "person_id", "tag", 64)
