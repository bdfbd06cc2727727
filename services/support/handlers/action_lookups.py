"""What applying actions needs from the database: whether the groups and
agents they name exist, and the requester and agent their templates speak of."""

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_common.errors import InvalidArgument, Violations
from crm_common.resources import id_from_name
from crm_support.domain.actions import (
    ACTION_FIELDS,
    Action,
    ActionContext,
    AddComment,
    SetAssignee,
    SetGroup,
)
from crm_support.domain.tickets import AGENTS, GROUPS, PEOPLE, Ticket
from crm_support.storage.agents import AgentRepository, GroupRepository, agents
from crm_support.storage.repository import CustomerRepository


async def check_references(session: AsyncSession, actions: Sequence[Action], path: str) -> None:
    """INVALID_ARGUMENT naming (under `path`) each action whose group or agent
    does not exist: the ticket change it makes would be refused."""
    violations = Violations()
    for index, name in await _unknown_references(session, actions):
        member = ACTION_FIELDS[type(actions[index])]
        violations.add(f"{path}[{index}].{member}", f"{name} does not exist")
    violations.raise_if_any()


async def references_exist(session: AsyncSession, actions: Sequence[Action]) -> bool:
    """Whether every group and agent the actions name (still) exists."""
    return not await _unknown_references(session, actions)


async def _unknown_references(
    session: AsyncSession, actions: Sequence[Action]
) -> list[tuple[int, str]]:
    """(index, resource name) of the actions naming a group or agent that does not exist."""
    groups = {i: a.group for i, a in enumerate(actions) if isinstance(a, SetGroup) and a.group}
    assignees = {
        i: a.assignee for i, a in enumerate(actions) if isinstance(a, SetAssignee) and a.assignee
    }
    if not groups and not assignees:
        return []
    known_groups = await GroupRepository(session).existing(
        {name.removeprefix(GROUPS) for name in groups.values()}
    )
    agent_ids = {name.removeprefix(AGENTS) for name in assignees.values()}
    known_agents = set(
        (await session.execute(select(agents.c.id).where(agents.c.id.in_(agent_ids)))).scalars()
    )
    unknown = [(i, n) for i, n in groups.items() if n.removeprefix(GROUPS) not in known_groups]
    unknown += [(i, n) for i, n in assignees.items() if n.removeprefix(AGENTS) not in known_agents]
    return sorted(unknown)


async def action_context(
    session: AsyncSession,
    ticket: Ticket,
    actions: Sequence[Action],
    *,
    agent: str = "",
    automated: bool = False,
) -> ActionContext:
    """The context for applying `actions` to `ticket`: by a macro `agent`
    (`agents/{id}`) applies, or `automated`, by a trigger or an automation.

    The requester is looked up only when a comment may name them: triggers
    run on every change.
    """
    agent_name = await _agent_name(session, agent) if agent else ""
    if not any(isinstance(action, AddComment) for action in actions):
        return ActionContext(agent=agent, agent_name=agent_name, automated=automated)
    name, email = ticket.requester_display_name, ""
    requester_id = id_from_name(ticket.details.requester, PEOPLE)
    customer = await CustomerRepository(session).get(requester_id) if requester_id else None
    if customer is not None:
        name = customer.display_name
        email = customer.email_addresses[0] if customer.email_addresses else ""
    return ActionContext(name, email, agent, agent_name, automated=automated)


async def _agent_name(session: AsyncSession, agent: str) -> str:
    agent_id = id_from_name(agent, AGENTS)
    found = await AgentRepository(session).get(agent_id) if agent_id else None
    if found is None:
        raise InvalidArgument.single("agent", f"{agent!r} is not an agent of the helpdesk")
    return found.details.display_name
