"""The helpdesk tickets that name project tasks in their links: a read model kept
from support's `ticket.*` events, so a task shows its tickets without asking support."""

from collections.abc import Collection, Sequence

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    String,
    Table,
    bindparam,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from crm_projects.domain.ticket_links import TaskLink
from crm_projects.storage.tables import metadata

# One row per ticket that ever named a task: its version stays when the links
# go, so an older event delivered late cannot bring them back.
linked_tickets = Table(
    "linked_tickets",
    metadata,
    Column("id", String(63), primary_key=True),
    Column("version", BigInteger, nullable=False),
)

task_tickets = Table(
    "task_tickets",
    metadata,
    Column("task_id", String(63), primary_key=True),
    Column(
        "ticket_id",
        String(63),
        ForeignKey(linked_tickets.c.id, ondelete="CASCADE"),
        primary_key=True,
    ),
    # The project the link names; a link whose project is not the task's shows nowhere.
    Column("project_id", String(63), nullable=False),
    Index("ix_task_tickets_ticket", "ticket_id"),
)

# Built once: a statement made per call costs more to build than to run.
_TICKETS_OF = (
    select(task_tickets)
    .where(task_tickets.c.task_id.in_(bindparam("task_ids", expanding=True)))
    .order_by(task_tickets.c.task_id, task_tickets.c.ticket_id)
)


async def ticket_version(session: AsyncSession, ticket_id: str) -> int | None:
    query = select(linked_tickets.c.version).where(linked_tickets.c.id == ticket_id)
    return await session.scalar(query)


async def replace_links(
    session: AsyncSession,
    ticket_id: str,
    version: int,
    links: Collection[TaskLink],
    known: bool,
) -> None:
    """The ticket at `version` names exactly these tasks; `known`: it has a row already."""
    if known:
        await session.execute(
            update(linked_tickets).where(linked_tickets.c.id == ticket_id).values(version=version)
        )
        await session.execute(delete(task_tickets).where(task_tickets.c.ticket_id == ticket_id))
    else:
        await session.execute(insert(linked_tickets).values(id=ticket_id, version=version))
    rows = [
        {"task_id": link.task_id, "ticket_id": ticket_id, "project_id": link.project_id}
        for link in links
    ]
    if rows:
        await session.execute(insert(task_tickets), rows)


async def tickets_of(
    session: AsyncSession, tasks: Sequence[tuple[str, str]]
) -> dict[str, list[str]]:
    """Ticket ids linked to each task, by task id, for (project id, task id) pairs."""
    projects = {task_id: project_id for project_id, task_id in tasks}
    found: dict[str, list[str]] = {task_id: [] for task_id in projects}
    if not tasks:
        return found
    for row in await session.execute(_TICKETS_OF, {"task_ids": list(projects)}):
        if projects[row.task_id] == row.project_id:
            found[row.task_id].append(row.ticket_id)
    return found
