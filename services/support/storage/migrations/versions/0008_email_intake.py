"""Email-to-ticket: received Message-IDs, customers by address, description attachments,
and names and addresses waiting for a contact.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

from crm_common.storage.db import UtcDateTime

revision = "0008"
down_revision = "0007"

_BATCH = 1000


def upgrade() -> None:
    op.create_table(
        "email_messages",
        sa.Column("message_key", sa.String(64), primary_key=True),
        sa.Column("message_id", sa.Text, nullable=False),
        sa.Column(
            "ticket_id",
            sa.String(63),
            sa.ForeignKey("tickets.id", ondelete="CASCADE", deferrable=True, initially="DEFERRED"),
            nullable=False,
        ),
        sa.Column("comment_id", sa.String(63), nullable=True),
        sa.Column("mailbox", sa.String(254), nullable=False),
        sa.Column("receive_time", UtcDateTime, nullable=False),
    )
    customer_emails = op.create_table(
        "customer_emails",
        sa.Column("address", sa.String(254), nullable=False),
        sa.Column("customer_id", sa.String(63), nullable=False),
        sa.PrimaryKeyConstraint("address", "customer_id"),
    )
    op.create_index("ix_customer_emails_customer", "customer_emails", ["customer_id"])
    _fill_customer_emails(customer_emails)
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(
            sa.Column("requester_name", sa.String(200), nullable=False, server_default="")
        )
        batch.add_column(sa.Column("attachments", sa.JSON, nullable=False, server_default="[]"))
    with op.batch_alter_table("ticket_comments") as batch:
        batch.add_column(
            sa.Column("author_email", sa.String(254), nullable=False, server_default="")
        )
    op.create_index(
        "ix_tickets_unresolved_requester",
        "tickets",
        ["requester_email"],
        postgresql_where=sa.text("requester_id = ''"),
        sqlite_where=sa.text("requester_id = ''"),
    )
    op.create_index(
        "ix_ticket_comments_unresolved_author",
        "ticket_comments",
        ["author_email"],
        postgresql_where=sa.text("author = ''"),
        sqlite_where=sa.text("author = ''"),
    )


def _fill_customer_emails(customer_emails: sa.Table) -> None:
    """The addresses of the customers already mirrored."""
    customers = sa.table(
        "customers",
        sa.column("id", sa.String),
        sa.column("email_addresses", sa.JSON),
        sa.column("deleted", sa.Boolean),
    )
    query = sa.select(customers.c.id, customers.c.email_addresses).where(
        customers.c.deleted.is_(False)
    )
    rows: list[dict[str, str]] = []
    for customer_id, addresses in op.get_bind().execute(query):
        for address in dict.fromkeys(a.strip().lower() for a in addresses):
            rows.append({"address": address, "customer_id": customer_id})
        if len(rows) >= _BATCH:
            op.bulk_insert(customer_emails, rows)
            rows = []
    if rows:
        op.bulk_insert(customer_emails, rows)


def downgrade() -> None:
    op.drop_index("ix_ticket_comments_unresolved_author", "ticket_comments")
    op.drop_index("ix_tickets_unresolved_requester", "tickets")
    with op.batch_alter_table("ticket_comments") as batch:
        batch.drop_column("author_email")
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("attachments")
        batch.drop_column("requester_name")
    op.drop_table("customer_emails")
    op.drop_table("email_messages")
