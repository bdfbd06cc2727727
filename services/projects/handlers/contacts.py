"""Keeping projects' and tasks' links to people right when the contacts service
merges or erases someone. Run inside the event's unit of work; every project
and task changed is announced like any other change."""

from collections.abc import Callable, Collection

from crm_common.messaging.uow import UnitOfWork
from crm_projects.handlers.projects import get_project, update_project
from crm_projects.handlers.tasks import change_task
from crm_projects.storage.contact_links import projects_with_people, tasks_for_contacts


async def repoint_people(uow: UnitOfWork, merged: Collection[str], survivor: str) -> None:
    """Links to any of the `merged` people (`people/{id}`) now go to `survivor`."""

    def repointed(person: str) -> str:
        return survivor if person in merged else person

    await _relink(uow, merged, repointed, survivor)


async def scrub_person(uow: UnitOfWork, person: str) -> None:
    """An erased person is no longer linked from any project or task."""
    await _relink(uow, [person], lambda linked: "" if linked == person else linked, "")


async def _relink(
    uow: UnitOfWork, people: Collection[str], relink: Callable[[str], str], replacement: str
) -> None:
    for project_id in await projects_with_people(uow.session, people):
        project = await get_project(uow, project_id)
        relinked = (relink(person) for person in project.draft.people)
        kept = tuple(dict.fromkeys(person for person in relinked if person))
        await update_project(uow, project_id, {"people": kept})
    for task_id in await tasks_for_contacts(uow.session, people):
        await change_task(uow, task_id, {"contact": replacement})
