"""What a won deal's project looks like when a template is laid out on the win.

Offsets count whole days from the win: a milestone falls due on a calendar day
(the win's UTC day plus its offset), a task at the moment of the win plus its
offset. Default assignees become users.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from crm_common.errors import Violations
from crm_projects.domain.names import USERS, check_user_id, is_name
from crm_projects.domain.tasks import Priority
from crm_projects.domain.templates import (
    DealRole,
    DefaultAssignee,
    ProjectTemplate,
    in_dependency_order,
)


@dataclass(frozen=True)
class WonDeal:
    """The opportunity as sales announced its win."""

    opportunity: str
    display_name: str
    organization: str
    people: tuple[str, ...]
    owner: str
    pipeline: str
    won_at: datetime


@dataclass(frozen=True)
class PlannedMilestone:
    key: str
    display_name: str
    due_date: date


@dataclass(frozen=True)
class PlannedTask:
    key: str
    title: str
    description: str
    # Key of the planned milestone it belongs to; empty for none.
    milestone: str
    due_time: datetime
    # `users/{id}`; empty when unassigned.
    assignee: str
    priority: Priority
    checklist: tuple[str, ...]
    # Keys of planned tasks that come earlier in the plan.
    depends_on: tuple[str, ...]


@dataclass(frozen=True)
class ProjectPlan:
    display_name: str
    description: str
    opportunity: str
    organization: str
    people: tuple[str, ...]
    # A user id; empty when the deal's owner is not one the projects service accepts.
    owner: str
    start_date: date
    # The latest milestone or task due date; None when the template has neither.
    due_date: date | None
    milestones: tuple[PlannedMilestone, ...]
    # Every task after those it depends on, so each can be created in turn.
    tasks: tuple[PlannedTask, ...]


def plan_project(template: ProjectTemplate, deal: WonDeal) -> ProjectPlan:
    spec = template.spec
    start = win_date(deal.won_at)
    milestones = tuple(
        PlannedMilestone(m.key, m.display_name, start + timedelta(days=m.due_offset_days))
        for m in spec.milestones
    )
    tasks = tuple(
        PlannedTask(
            key=task.key,
            title=task.title,
            description=task.description,
            milestone=task.milestone,
            due_time=deal.won_at + timedelta(days=task.due_offset_days),
            assignee=resolve_assignee(task.assignee, deal),
            priority=task.priority,
            checklist=task.checklist,
            depends_on=task.depends_on,
        )
        for task in in_dependency_order(spec.tasks)
    )
    due_dates = [m.due_date for m in milestones] + [win_date(t.due_time) for t in tasks]
    return ProjectPlan(
        display_name=deal.display_name or deal.opportunity,
        description=spec.description,
        opportunity=deal.opportunity,
        organization=deal.organization,
        people=deal.people,
        owner=deal.owner if _is_user_id(deal.owner) else "",
        start_date=start,
        due_date=max(due_dates, default=None),
        milestones=milestones,
        tasks=tasks,
    )


def win_date(won_at: datetime) -> date:
    """The calendar day of the win; offsets count whole days from it."""
    return won_at.date()


def resolve_assignee(assignee: DefaultAssignee, deal: WonDeal) -> str:
    """The user a template task goes to, `users/{id}`; empty (unassigned) when the
    deal lacks the role or its holder is no user id the projects service accepts:
    a task without an assignee is better than a won deal without its project."""
    if assignee.role is DealRole.OWNER:
        user = USERS + deal.owner
        return user if deal.owner and is_name(user, USERS) else ""
    return assignee.user


def _is_user_id(value: str) -> bool:
    violations = Violations()
    check_user_id(violations, "owner", value)
    return not violations
