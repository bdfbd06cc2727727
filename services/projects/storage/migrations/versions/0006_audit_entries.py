"""The audit trail: who changed which resource, when, from where, and which fields.

Revision ID: 0006
Revises: 0005
"""

from crm_common.messaging.tables import create_audit_entries, drop_audit_entries

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    create_audit_entries()


def downgrade() -> None:
    drop_audit_entries()
