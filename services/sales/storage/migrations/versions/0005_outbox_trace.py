"""The outbox keeps each event's trace context, so its consumers continue the trace.

Revision ID: 0005
Revises: 0004
"""

from crm_common.messaging.tables import add_outbox_traceparent, drop_outbox_traceparent

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    add_outbox_traceparent()


def downgrade() -> None:
    drop_outbox_traceparent()
