"""The outbox and inbox tables every service database has.

Each service creates them in its first migration with `create_messaging_tables`.
"""

from alembic import op
from sqlalchemy import BigInteger, Column, Integer, LargeBinary, MetaData, String, Table

from crm_common.storage.db import UtcDateTime

messaging_metadata = MetaData()


def _outbox_columns() -> list[Column]:
    return [
        # Commit order within one database; the relay publishes in this order.
        # SQLite only auto-increments INTEGER PRIMARY KEY columns.
        Column(
            "position",
            BigInteger().with_variant(Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        Column("event_id", String(36), nullable=False, unique=True),
        Column("subject", String(255), nullable=False),
        Column("body", LargeBinary, nullable=False),
        Column("created_at", UtcDateTime, nullable=False),
    ]


def _inbox_columns() -> list[Column]:
    return [
        Column("consumer", String(100), primary_key=True),
        Column("event_id", String(36), primary_key=True),
        Column("processed_at", UtcDateTime, nullable=False),
    ]


outbox = Table("outbox", messaging_metadata, *_outbox_columns())
inbox = Table("inbox", messaging_metadata, *_inbox_columns())


def create_messaging_tables() -> None:
    """For a service's first alembic migration."""
    op.create_table("outbox", *_outbox_columns())
    op.create_table("inbox", *_inbox_columns())
