"""The outbox, inbox and audit_entries tables every service database has.

Each service creates them in its first migration with `create_messaging_tables`,
and adds later columns with the functions below, in a migration of its own.
"""

from alembic import op
from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
)

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


def _outbox_traceparent() -> Column:
    # The W3C trace context of the transaction that wrote the event: the relay
    # publishes with it, so consumers continue that request's trace. NULL for
    # rows written outside any trace (and before this column existed).
    return Column("traceparent", String(55), nullable=True)


outbox = Table("outbox", messaging_metadata, *_outbox_columns(), _outbox_traceparent())
inbox = Table("inbox", messaging_metadata, *_inbox_columns())


def _audit_entry_columns() -> list[Column]:
    # One row per resource an RPC changed, written in the change's transaction
    # (crm_common.audit); the position orders entries and names them.
    return [
        Column(
            "position",
            BigInteger().with_variant(Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        Column("occurred_at", UtcDateTime, nullable=False),
        Column("actor", String(255), nullable=False),
        Column("actor_kind", String(20), nullable=False),
        Column("method", String(255), nullable=False),
        Column("peer", String(255), nullable=False),
        Column("resource", String(512), nullable=False),
        Column("action", String(100), nullable=False),
        Column("changed_fields", JSON, nullable=False),
    ]


# Entries are read per resource or per actor, newest first.
_AUDIT_INDEXES = {
    "ix_audit_entries_resource": ("resource", "position"),
    "ix_audit_entries_actor": ("actor", "position"),
}

audit_entries = Table("audit_entries", messaging_metadata, *_audit_entry_columns())
for _index, _columns in _AUDIT_INDEXES.items():
    Index(_index, *(audit_entries.c[column] for column in _columns))


def create_messaging_tables() -> None:
    """For a service's first alembic migration."""
    op.create_table("outbox", *_outbox_columns())
    op.create_table("inbox", *_inbox_columns())


def add_outbox_traceparent() -> None:
    """For each service's migration `0090_outbox_trace`."""
    op.add_column("outbox", _outbox_traceparent())


def drop_outbox_traceparent() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("traceparent")


def create_audit_entries() -> None:
    """For each service's migration `audit_entries`."""
    op.create_table("audit_entries", *_audit_entry_columns())
    for index, columns in _AUDIT_INDEXES.items():
        op.create_index(index, "audit_entries", list(columns))


def drop_audit_entries() -> None:
    op.drop_table("audit_entries")
