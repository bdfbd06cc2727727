"""Ticket numbers from a sequence on PostgreSQL, continuing after the last one.

Revision ID: 0010
Revises: 0009
"""

from alembic import op

revision = "0010"
down_revision = "0009"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE SEQUENCE ticket_number_seq")
    last_number = "(SELECT last FROM ticket_numbers WHERE id = 1)"
    op.execute(f"SELECT setval('ticket_number_seq', {last_number} + 1, false)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "UPDATE ticket_numbers SET last = (SELECT last_value FROM ticket_number_seq) WHERE id = 1"
    )
    op.execute("DROP SEQUENCE ticket_number_seq")
