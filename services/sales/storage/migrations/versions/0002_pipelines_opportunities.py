"""Pipelines and stages, opportunities with their stage history, people and tags,
close reasons, and the read model of known contacts.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from crm_common.storage.db import UtcDateTime

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.create_table(
        "pipelines",
        sa.Column("id", sa.String(63), primary_key=True),
        sa.Column("display_name", sa.String(100), nullable=False),
        sa.Column("archived", sa.Boolean, nullable=False),
        sa.Column("create_time", UtcDateTime, nullable=False),
        sa.Column("update_time", UtcDateTime, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_index("ix_pipelines_display_name", "pipelines", ["display_name", "id"])
    op.create_table(
        "stages",
        sa.Column(
            "pipeline_id",
            sa.String(63),
            sa.ForeignKey("pipelines.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("id", sa.String(63), primary_key=True),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("display_name", sa.String(100), nullable=False),
        sa.Column("probability", sa.Integer, nullable=False),
        sa.Column("archived", sa.Boolean, nullable=False),
    )
    op.create_table(
        "close_reasons",
        sa.Column("id", sa.String(63), primary_key=True),
        sa.Column("display_name", sa.String(100), nullable=False),
        sa.Column("kind", sa.Integer, nullable=False),
        sa.Column("archived", sa.Boolean, nullable=False),
        sa.Column("create_time", UtcDateTime, nullable=False),
        sa.Column("update_time", UtcDateTime, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_index("ix_close_reasons_kind", "close_reasons", ["kind", "display_name", "id"])
    _opportunities()
    op.create_table(
        "known_contacts",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("display_name", sa.String(401), nullable=False),
        sa.Column("source_version", sa.Integer, nullable=False),
        sa.Column("update_time", UtcDateTime, nullable=False),
        sa.Column("gone", sa.Boolean, nullable=False),
    )


def _opportunities() -> None:
    op.create_table(
        "opportunities",
        sa.Column("id", sa.String(63), primary_key=True),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("amount_units", sa.BigInteger, nullable=False),
        sa.Column("amount_nanos", sa.Integer, nullable=False),
        sa.Column("currency_code", sa.String(3), nullable=False),
        sa.Column("pipeline_id", sa.String(63), sa.ForeignKey("pipelines.id"), nullable=False),
        sa.Column("stage_id", sa.String(63), nullable=False),
        sa.Column("probability", sa.Integer, nullable=True),
        sa.Column("effective_probability", sa.Integer, nullable=False),
        sa.Column("expected_close_date", sa.Date, nullable=True),
        sa.Column("owner", sa.String(128), nullable=False),
        sa.Column("organization", sa.String(200), nullable=False),
        sa.Column("state", sa.Integer, nullable=False),
        sa.Column("forecast_category_override", sa.Integer, nullable=True),
        sa.Column("forecast_category", sa.Integer, nullable=False),
        sa.Column("close_reason_id", sa.String(63), nullable=True),
        sa.Column("close_time", UtcDateTime, nullable=True),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("custom_fields", sa.JSON, nullable=False),
        sa.Column("create_time", UtcDateTime, nullable=False),
        sa.Column("update_time", UtcDateTime, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.ForeignKeyConstraint(["pipeline_id", "stage_id"], ["stages.pipeline_id", "stages.id"]),
    )
    for name, columns in {
        "ix_opportunities_board": ["pipeline_id", "stage_id", "state"],
        "ix_opportunities_owner_close": ["owner", "expected_close_date"],
        "ix_opportunities_state_expected": ["state", "expected_close_date"],
        "ix_opportunities_state_close_time": ["state", "close_time"],
        "ix_opportunities_create_time": ["create_time", "id"],
        "ix_opportunities_organization": ["organization", "id"],
    }.items():
        op.create_index(name, "opportunities", columns)
    op.create_table(
        "opportunity_stage_history",
        sa.Column(
            "opportunity_id",
            sa.String(63),
            sa.ForeignKey("opportunities.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("pipeline_id", sa.String(63), nullable=False),
        sa.Column("stage_id", sa.String(63), nullable=False),
        sa.Column("enter_time", UtcDateTime, nullable=False),
        sa.Column("leave_time", UtcDateTime, nullable=True),
    )
    op.create_index(
        "ix_opportunity_stage_history_stage",
        "opportunity_stage_history",
        ["pipeline_id", "stage_id", "enter_time"],
    )
    op.create_table(
        "opportunity_people",
        sa.Column(
            "opportunity_id",
            sa.String(63),
            sa.ForeignKey("opportunities.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("person", sa.String(200), primary_key=True),
        sa.Column("position", sa.Integer, nullable=False),
    )
    op.create_index(
        "ix_opportunity_people_person", "opportunity_people", ["person", "opportunity_id"]
    )
    op.create_table(
        "opportunity_tags",
        sa.Column(
            "opportunity_id",
            sa.String(63),
            sa.ForeignKey("opportunities.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("tag", sa.String(64), primary_key=True),
    )
    op.create_index("ix_opportunity_tags_tag", "opportunity_tags", ["tag", "opportunity_id"])


def downgrade() -> None:
    for table in (
        "known_contacts",
        "opportunity_tags",
        "opportunity_people",
        "opportunity_stage_history",
        "opportunities",
        "close_reasons",
        "stages",
        "pipelines",
    ):
        op.drop_table(table)
