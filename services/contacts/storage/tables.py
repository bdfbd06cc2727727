"""The contacts database schema (SQLAlchemy Core)."""

from sqlalchemy import JSON, Column, ForeignKey, Index, Integer, MetaData, String, Table, Text

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
    Column("create_time", UtcDateTime, nullable=False),
    Column("update_time", UtcDateTime, nullable=False),
    Column("version", Integer, nullable=False),
    Index("ix_people_create_time", "create_time", "id"),
    Index("ix_people_family_given", "family_name", "given_name", "id"),
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
