"""The caller's ticket access (domain/access.py), from their roles and, for
an agent, their groups: the token's subject is the agent's id."""

from sqlalchemy.ext.asyncio import AsyncSession

from crm_common.auth.principal import Principal
from crm_common.auth.roles import Permission
from crm_common.errors import NotFound, PermissionDenied
from crm_support.domain.access import EVERY_TICKET, TicketAccess
from crm_support.domain.tickets import AGENTS, Ticket
from crm_support.storage.tickets import TicketRepository
from crm_support.storage.views import groups_of_agent


async def ticket_access(session: AsyncSession, caller: Principal) -> TicketAccess:
    if caller.may(Permission.SUPPORT_ALL_TICKETS):
        return EVERY_TICKET
    agent_id = caller.subject.removeprefix(AGENTS)
    # Someone who is not (or no longer) an agent has no groups.
    groups = await groups_of_agent(session, agent_id) or []
    return TicketAccess(agent=AGENTS + agent_id, groups=frozenset(groups))


async def accessible_ticket(
    repository: TicketRepository, ticket_id: str, access: TicketAccess
) -> Ticket:
    """The ticket; PERMISSION_DENIED, whether or not it exists, if `access`
    does not reach it; NOT_FOUND only for a caller who may see every ticket."""
    ticket = await repository.get(ticket_id)
    if ticket is not None and access.allows(ticket):
        return ticket
    if not access.unrestricted:
        raise PermissionDenied(f"tickets/{ticket_id} is not among the tickets you may access")
    raise NotFound(f"tickets/{ticket_id} does not exist")
