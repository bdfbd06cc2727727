"""The support database schema (SQLAlchemy Core)."""

from sqlalchemy import JSON, Boolean, Column, Index, Integer, MetaData, String, Table

from crm_common.storage.db import UtcDateTime

metadata = MetaData()

customers = Table(
    "customers",
    metadata,
    Column("id", String(63), primary_key=True),
    Column("display_name", String(401), nullable=False),
    Column("email_addresses", JSON, nullable=False),
    Column("source_version", Integer, nullable=False),
    Column("update_time", UtcDateTime, nullable=False),
    # A tombstone: remembers the deletion's version so a late update is ignored.
    Column("deleted", Boolean, nullable=False),
    Index("ix_customers_display_name", "display_name", "id"),
)
