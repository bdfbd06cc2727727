"""The audit trail: who changed which resource, when, from where, and which fields.

Revision ID: 0007
Revises: 0006
"""

from crm_common.messaging.tables import create_audit_entries, drop_audit_entries

revision = "0007"
down_revision = "0006"


def upgrade() -> None:
    create_audit_entries()


def downgrade() -> None:
    drop_audit_entries()
