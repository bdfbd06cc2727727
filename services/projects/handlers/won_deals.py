"""A won deal's project: made from the matching template, once per opportunity.

Runs inside the unit of work of the `opportunity.won` event it answers, so the
project, its milestones and tasks, their events and the inbox mark of the
event commit together or not at all.
"""

import logging
import uuid
from datetime import UTC, datetime

from crm_common.messaging.uow import UnitOfWork
from crm_projects.domain.milestones import MilestoneDraft
from crm_projects.domain.projects import ProjectDraft
from crm_projects.domain.tasks import ChecklistItem, TaskDraft
from crm_projects.domain.won_deals import ProjectPlan, WonDeal, plan_project
from crm_projects.handlers.milestones import create_milestone
from crm_projects.handlers.projects import create_project
from crm_projects.handlers.tasks import create_task
from crm_projects.storage.templates import TemplateRepository
from crm_projects.storage.won_deals import project_for, record_project

log = logging.getLogger(__name__)


async def start_won_deal_project(uow: UnitOfWork, deal: WonDeal) -> str | None:
    """The id of the deal's project, made now unless it exists; None when no
    template matches the deal. Leaves the commit to the caller."""
    existing = await project_for(uow.session, deal.opportunity)
    if existing is not None:
        # Won again after a reopen, or the same win delivered twice: the deal
        # keeps the project it got the first time.
        log.info(
            "won deal already has its project",
            extra={"opportunity": deal.opportunity, "project": existing},
        )
        return existing
    template = await TemplateRepository(uow.session).for_pipeline(deal.pipeline)
    if template is None:
        log.info(
            "no project template matches the won deal",
            extra={"opportunity": deal.opportunity, "pipeline": deal.pipeline},
        )
        return None
    # Claimed first: a replica handling the same win concurrently waits on
    # this row and then fails, before it has made anything.
    project_id = uuid.uuid4().hex
    await record_project(uow.session, deal.opportunity, project_id, template.id, datetime.now(UTC))
    await _create(uow, project_id, plan_project(template, deal))
    return project_id


async def _create(uow: UnitOfWork, project_id: str, plan: ProjectPlan) -> None:
    project = await create_project(
        uow,
        ProjectDraft(
            display_name=plan.display_name,
            description=plan.description,
            owner=plan.owner,
            start_date=plan.start_date,
            due_date=plan.due_date,
            organization=plan.organization,
            people=plan.people,
            opportunity=plan.opportunity,
        ),
        project_id,
    )
    milestone_ids = {}
    for planned in plan.milestones:
        milestone = await create_milestone(
            uow,
            MilestoneDraft(
                project=project.id, display_name=planned.display_name, due_date=planned.due_date
            ),
        )
        milestone_ids[planned.key] = milestone.id
    task_ids: dict[str, str] = {}
    for planned_task in plan.tasks:
        task = await create_task(
            uow,
            TaskDraft(
                project=project.id,
                title=planned_task.title,
                description=planned_task.description,
                milestone=milestone_ids.get(planned_task.milestone, ""),
                assignee=planned_task.assignee,
                due_time=planned_task.due_time,
                priority=planned_task.priority,
                checklist=tuple(ChecklistItem(text) for text in planned_task.checklist),
                depends_on=tuple(task_ids[key] for key in planned_task.depends_on),
            ),
        )
        task_ids[planned_task.key] = task.id
