"""The outbox keeps each event's trace context, so its consumers continue the trace.

A branch off the messaging tables (0001), independent of the service's own
tables: `upgrade heads` applies it wherever the service's history stands.

Revision ID: 0010
Revises: 0001
"""

from crm_common.messaging.tables import add_outbox_traceparent, drop_outbox_traceparent

revision = "0010"
down_revision = "0001"


def upgrade() -> None:
    add_outbox_traceparent()


def downgrade() -> None:
    drop_outbox_traceparent()
