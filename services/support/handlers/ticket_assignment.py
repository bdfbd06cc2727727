"""AssignTicket: an agent named by the caller, or one picked by a group's strategy.

Either way the change is settled like any other, so the assignment rule checks
what was named and `ticket.assigned` announces the outcome.
"""

from datetime import UTC, datetime
from typing import Any

from crm_common.auth.principal import Principal
from crm_common.errors import FailedPrecondition
from crm_common.etags import check_etag
from crm_common.messaging.uow import UnitOfWork
from crm_support.domain.agents import WORKING_STATUSES, required_skills
from crm_support.domain.assignment import AssignmentRequest
from crm_support.domain.tickets import AGENTS, GROUPS, Ticket
from crm_support.handlers.access import accessible_ticket, ticket_access
from crm_support.handlers.assignment import not_a_member, pick_agent
from crm_support.handlers.change import TicketChange
from crm_support.handlers.ticket_changes import settle, snapshot
from crm_support.storage.agents import AgentRepository, AssignmentStore, GroupRepository
from crm_support.storage.tickets import TicketRepository


async def assign_ticket(
    uow: UnitOfWork, caller: Principal, ticket_id: str, request: AssignmentRequest, etag: str
) -> Ticket:
    async with uow:
        access = await ticket_access(uow.session, caller)
        ticket = await accessible_ticket(TicketRepository(uow.session), ticket_id, access)
        check_etag(etag, ticket.version, ticket.name)
        changes = request.changes(ticket.details)
        if request.auto:
            changes["assignee"] = await _pick(AssignmentStore(uow.session), ticket, changes)
        else:
            await _check_named(uow, request, ticket)
        before, now = snapshot(ticket), datetime.now(UTC)
        changed = ticket.update(changes, now)
        if not changed:
            return ticket
        ticket = await settle(uow, ticket, TicketChange(uow.session, now, before, changed))
        await uow.commit()
    return ticket


async def _pick(store: AssignmentStore, ticket: Ticket, changes: dict[str, Any]) -> str:
    group = changes["group"]
    if ticket.status not in WORKING_STATUSES:
        raise FailedPrecondition(
            f"{ticket.name} is {ticket.status.name}; only new, open, pending and on-hold "
            "tickets are assigned automatically"
        )
    if not group:
        raise FailedPrecondition(f"{ticket.name} has no group; name one in `group`")
    turn = await store.take_turns(group.removeprefix(GROUPS))
    if turn is None:
        raise FailedPrecondition(f"group: {group} does not exist")
    if not turn.strategy.automatic:
        raise FailedPrecondition(
            f"{group} assigns manually; name an agent, or give the group the "
            "ROUND_ROBIN or LEAST_LOADED assignment strategy"
        )
    return await pick_agent(store, group, turn, ticket.id, required_skills(changes["tags"]))


async def _check_named(uow: UnitOfWork, request: AssignmentRequest, ticket: Ticket) -> None:
    """Names the request field when what it names does not fit; the rule checks
    again under lock, but cannot tell a named agent from one already assigned."""
    agent_id, group_id = request.agent.removeprefix(AGENTS), request.group.removeprefix(GROUPS)
    if request.agent and await AgentRepository(uow.session).get(agent_id) is None:
        raise FailedPrecondition(f"agent: {request.agent} does not exist")
    if request.group and await GroupRepository(uow.session).get(group_id) is None:
        raise FailedPrecondition(f"group: {request.group} does not exist")
    group = request.group or ticket.details.group
    store = AssignmentStore(uow.session)
    if request.agent and group and not await store.is_member(agent_id, group.removeprefix(GROUPS)):
        raise not_a_member("agent", request.agent, group)
