"""Which project each won opportunity got: the key that makes it one project per deal."""

from datetime import datetime

from sqlalchemy import Column, Index, String, Table, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_common.storage.db import UtcDateTime
from crm_projects.storage.projects import REFERENCE_MAX
from crm_projects.storage.tables import metadata

# No foreign key to projects: a project deleted on purpose stays made, so a
# later win of the same deal does not bring it back.
won_deal_projects = Table(
    "won_deal_projects",
    metadata,
    # `opportunities/{id}`; the primary key lets one project exist per deal,
    # whichever replica or redelivery tries to make a second.
    Column("opportunity", String(REFERENCE_MAX), primary_key=True),
    Column("project_id", String(63), nullable=False),
    Column("template_id", String(63), nullable=False),
    Column("create_time", UtcDateTime, nullable=False),
    Index("ix_won_deal_projects_project", "project_id"),
)


async def project_for(session: AsyncSession, opportunity: str) -> str | None:
    """The id of the project made for the opportunity, if one was."""
    query = select(won_deal_projects.c.project_id).where(
        won_deal_projects.c.opportunity == opportunity
    )
    return await session.scalar(query)


async def record_project(
    session: AsyncSession, opportunity: str, project_id: str, template_id: str, now: datetime
) -> None:
    """Claims the opportunity for the project; IntegrityError if another claimed it first."""
    await session.execute(
        insert(won_deal_projects).values(
            opportunity=opportunity, project_id=project_id, template_id=template_id, create_time=now
        )
    )
