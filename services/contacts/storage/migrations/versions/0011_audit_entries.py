"""The audit trail: who changed which resource, when, from where, and which fields.

A branch off the messaging tables (0001), independent of the service's own
tables: `upgrade heads` applies it wherever the service's history stands.

Revision ID: 0011
Revises: 0001
"""

from crm_common.messaging.tables import create_audit_entries, drop_audit_entries

revision = "0011"
down_revision = "0001"


def upgrade() -> None:
    create_audit_entries()


def downgrade() -> None:
    drop_audit_entries()
