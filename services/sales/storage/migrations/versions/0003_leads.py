"""Leads with their tags and activities, scoring rules and their generation,
and lead conversions.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

from crm_common.storage.db import UtcDateTime

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.create_table(
        "leads",
        sa.Column("id", sa.String(63), primary_key=True),
        sa.Column("given_name", sa.String(200), nullable=False),
        sa.Column("family_name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("phone", sa.String(50), nullable=False),
        sa.Column("company_name", sa.String(200), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("owner", sa.String(128), nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("disqualify_reason", sa.String(500), nullable=False),
        sa.Column("score", sa.BigInteger, nullable=False),
        sa.Column("score_breakdown", sa.JSON, nullable=False),
        sa.Column("scored_generation", sa.BigInteger, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("custom_fields", sa.JSON, nullable=False),
        sa.Column("converted_person", sa.String(63), nullable=False),
        sa.Column("converted_organization", sa.String(63), nullable=False),
        sa.Column("converted_opportunity", sa.String(63), nullable=False),
        sa.Column("convert_time", UtcDateTime, nullable=True),
        sa.Column("create_time", UtcDateTime, nullable=False),
        sa.Column("update_time", UtcDateTime, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_index("ix_leads_status_score", "leads", ["status", "score", "id"])
    op.create_index("ix_leads_owner_score", "leads", ["owner", "score", "id"])
    op.create_index("ix_leads_score", "leads", ["score", "id"])
    op.create_index("ix_leads_create_time", "leads", ["create_time", "id"])
    op.create_index("ix_leads_scored_generation", "leads", ["scored_generation"])
    op.create_table(
        "lead_tags",
        sa.Column(
            "lead_id",
            sa.String(63),
            sa.ForeignKey("leads.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("tag", sa.String(64), primary_key=True),
    )
    op.create_index("ix_lead_tags_tag", "lead_tags", ["tag", "lead_id"])
    op.create_table(
        "lead_activities",
        sa.Column(
            "lead_id",
            sa.String(63),
            sa.ForeignKey("leads.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("id", sa.String(63), primary_key=True),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("occur_time", UtcDateTime, nullable=False),
    )
    op.create_index("ix_lead_activities_kind", "lead_activities", ["lead_id", "kind"])
    op.create_table(
        "scoring_rules",
        sa.Column("id", sa.String(63), primary_key=True),
        sa.Column("display_name", sa.String(100), nullable=False),
        sa.Column("kind", sa.Integer, nullable=False),
        sa.Column("condition", sa.String(2000), nullable=False),
        sa.Column("activity", sa.String(64), nullable=False),
        sa.Column("points", sa.Integer, nullable=False),
        sa.Column("cap", sa.BigInteger, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("create_time", UtcDateTime, nullable=False),
        sa.Column("update_time", UtcDateTime, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_index("ix_scoring_rules_display_name", "scoring_rules", ["display_name", "id"])
    scoring_state = op.create_table(
        "scoring_state",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("generation", sa.BigInteger, nullable=False),
    )
    op.bulk_insert(scoring_state, [{"id": 1, "generation": 1}])
    op.create_table(
        "lead_conversions",
        sa.Column(
            "lead_id",
            sa.String(63),
            sa.ForeignKey("leads.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("person_id", sa.String(63), nullable=False),
        sa.Column("organization_id", sa.String(63), nullable=False),
        sa.Column("opportunity_id", sa.String(63), nullable=False),
        sa.Column("request", sa.JSON, nullable=True),
    )


def downgrade() -> None:
    for table in (
        "lead_conversions",
        "scoring_state",
        "scoring_rules",
        "lead_activities",
        "lead_tags",
        "leads",
    ):
        op.drop_table(table)
