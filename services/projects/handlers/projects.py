"""Project use cases. Each runs inside the caller's open unit of work and
leaves the commit to it (see handlers/units.py)."""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from crm_common.errors import NotFound
from crm_common.etags import check_etag
from crm_common.filtering import Expr
from crm_common.listing import Page
from crm_common.messaging.uow import UnitOfWork
from crm_common.pagination import SortKey
from crm_common.resources import check_retried_create
from crm_projects.domain.completion import roll_up
from crm_projects.domain.projects import Project, ProjectDraft
from crm_projects.events.published import project_changed, project_created
from crm_projects.storage.projects import ProjectRepository
from crm_projects.storage.tasks import TaskRepository


async def create_project(uow: UnitOfWork, draft: ProjectDraft, project_id: str = "") -> Project:
    """Adds a project and announces it; with a client-chosen id, a retry
    returns the project it created."""
    repository = ProjectRepository(uow.session)
    project = Project.create(project_id or uuid.uuid4().hex, draft, datetime.now(UTC))
    if project_id and (existing := await repository.get(project_id)) is not None:
        check_retried_create(existing.name, existing.draft, project.draft)
        return await _with_completion(uow, existing)
    await repository.add(project)
    uow.publish(project_created(project))
    return project


async def get_project(uow: UnitOfWork, project_id: str) -> Project:
    return await _with_completion(uow, await existing_project(uow, project_id))


async def list_projects(
    uow: UnitOfWork,
    expr: Expr | None,
    keys: tuple[SortKey, ...],
    after: Sequence[Any] | None,
    size: int,
) -> Page[Project]:
    found = await ProjectRepository(uow.session).page(expr, keys, after, size)
    progress = await TaskRepository(uow.session).progress([project.id for project, _ in found])
    for project, _ in found:
        project.completion = roll_up(progress[project.id])
    return Page.of(found, size)


async def update_project(
    uow: UnitOfWork, project_id: str, changes: dict[str, Any], etag: str = ""
) -> Project:
    """Changes the project and announces it (`project.completed` too when it
    has just been completed); ABORTED when `etag` is stale."""
    project = await get_project(uow, project_id)
    check_etag(etag, project.version, project.name)
    read_version, before = project.version, project.status
    changed = project.update(changes, datetime.now(UTC))
    if changed:
        await ProjectRepository(uow.session).save(project, expected_version=read_version)
        for event in project_changed(project, changed, before):
            uow.publish(event)
    return project


async def delete_project(uow: UnitOfWork, project_id: str, etag: str = "") -> None:
    """Deletes the project with its milestones, tasks and comments."""
    project = await existing_project(uow, project_id)
    check_etag(etag, project.version, project.name)
    await ProjectRepository(uow.session).delete(project_id)


async def existing_project(uow: UnitOfWork, project_id: str) -> Project:
    """The project, NOT_FOUND when there is none."""
    project = await ProjectRepository(uow.session).get(project_id)
    if project is None:
        raise _no_such_project(project_id)
    return project


async def lock_project(uow: UnitOfWork, project_id: str) -> None:
    """Locks the project as ProjectRepository.lock does; NOT_FOUND when there is none."""
    if not await ProjectRepository(uow.session).lock(project_id):
        raise _no_such_project(project_id)


def _no_such_project(project_id: str) -> NotFound:
    return NotFound(f"projects/{project_id} does not exist")


async def _with_completion(uow: UnitOfWork, project: Project) -> Project:
    progress = await TaskRepository(uow.session).progress([project.id])
    project.completion = roll_up(progress[project.id])
    return project
