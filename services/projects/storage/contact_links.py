"""Where projects and tasks refer to a person of the contacts service."""

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_projects.storage.projects import project_people
from crm_projects.storage.tasks import tasks


async def projects_with_people(session: AsyncSession, people: Collection[str]) -> list[str]:
    """Ids of the projects listing any of `people` (`people/{id}`)."""
    query = (
        select(project_people.c.project_id)
        .where(project_people.c.person.in_(people))
        .distinct()
        .order_by(project_people.c.project_id)
    )
    return list((await session.scalars(query)).all())


async def tasks_for_contacts(session: AsyncSession, contacts: Collection[str]) -> list[str]:
    """Ids of the tasks linked to any of `contacts`."""
    query = select(tasks.c.id).where(tasks.c.contact.in_(contacts)).order_by(tasks.c.id)
    return list((await session.scalars(query)).all())
