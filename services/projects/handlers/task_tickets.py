"""Showing on tasks the helpdesk tickets whose links name them (events/support.py)."""

from collections.abc import Sequence

from crm_common.messaging.uow import UnitOfWork
from crm_projects.domain.tasks import Task
from crm_projects.storage.task_tickets import tickets_of


async def with_linked_tickets(uow: UnitOfWork, tasks: Sequence[Task]) -> None:
    """Fills each task's `linked_tickets` from the read model."""
    found = await tickets_of(uow.session, [(task.project, task.id) for task in tasks])
    for task in tasks:
        task.linked_tickets = tuple(found[task.id])
