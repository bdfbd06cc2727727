"""Milestone use cases. Each runs inside the caller's open unit of work and
leaves the commit to it (see handlers/units.py)."""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from crm_common.errors import FailedPrecondition, NotFound
from crm_common.etags import check_etag
from crm_common.filtering import Expr
from crm_common.listing import Page
from crm_common.messaging.uow import UnitOfWork
from crm_common.pagination import SortKey
from crm_common.resources import check_retried_create
from crm_projects.domain.completion import by_milestone
from crm_projects.domain.milestones import Milestone, MilestoneDraft, milestone_name
from crm_projects.domain.projects import Completion
from crm_projects.handlers.projects import existing_project
from crm_projects.storage.milestones import MilestoneRepository
from crm_projects.storage.tasks import TaskRepository


async def create_milestone(
    uow: UnitOfWork, draft: MilestoneDraft, milestone_id: str = ""
) -> Milestone:
    """Adds a milestone to `draft.project`; with a client-chosen id, a retry
    returns the milestone it created."""
    repository = MilestoneRepository(uow.session)
    milestone = Milestone.create(milestone_id or uuid.uuid4().hex, draft, datetime.now(UTC))
    await existing_project(uow, draft.project)
    if milestone_id and (existing := await repository.get(draft.project, milestone_id)):
        check_retried_create(existing.name, existing.draft, milestone.draft)
        return (await _with_completion(uow, [existing]))[0]
    await repository.add(milestone)
    return milestone


async def get_milestone(uow: UnitOfWork, project_id: str, milestone_id: str) -> Milestone:
    milestone = await _existing(uow, project_id, milestone_id)
    return (await _with_completion(uow, [milestone]))[0]


async def list_milestones(
    uow: UnitOfWork,
    project_id: str,
    expr: Expr | None,
    keys: tuple[SortKey, ...],
    after: Sequence[Any] | None,
    size: int,
) -> Page[Milestone]:
    await existing_project(uow, project_id)
    found = await MilestoneRepository(uow.session).page(project_id, expr, keys, after, size)
    await _with_completion(uow, [milestone for milestone, _ in found])
    return Page.of(found, size)


async def update_milestone(
    uow: UnitOfWork, project_id: str, milestone_id: str, changes: dict[str, Any], etag: str = ""
) -> Milestone:
    milestone = await get_milestone(uow, project_id, milestone_id)
    check_etag(etag, milestone.version, milestone.name)
    read_version = milestone.version
    if milestone.update(changes, datetime.now(UTC)):
        await MilestoneRepository(uow.session).save(milestone, expected_version=read_version)
    return milestone


async def delete_milestone(
    uow: UnitOfWork, project_id: str, milestone_id: str, etag: str = ""
) -> None:
    """Refused while tasks are in it: they would silently lose their milestone."""
    milestone = await _existing(uow, project_id, milestone_id)
    check_etag(etag, milestone.version, milestone.name)
    tasks = await TaskRepository(uow.session).in_milestone(milestone_id)
    if tasks:
        raise FailedPrecondition(
            f"{milestone.name} still has {tasks} task(s); move them to another milestone "
            "or none first"
        )
    await MilestoneRepository(uow.session).delete(milestone_id)


async def _existing(uow: UnitOfWork, project_id: str, milestone_id: str) -> Milestone:
    milestone = await MilestoneRepository(uow.session).get(project_id, milestone_id)
    if milestone is None:
        raise NotFound(f"{milestone_name(project_id, milestone_id)} does not exist")
    return milestone


async def _with_completion(uow: UnitOfWork, milestones: list[Milestone]) -> list[Milestone]:
    projects = {milestone.draft.project for milestone in milestones}
    progress = await TaskRepository(uow.session).progress(projects)
    completions = {project_id: by_milestone(tasks) for project_id, tasks in progress.items()}
    for milestone in milestones:
        milestone.completion = completions[milestone.draft.project].get(milestone.id, Completion())
    return milestones
