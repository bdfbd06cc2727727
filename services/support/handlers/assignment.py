"""The assignment rule every ticket change goes through, and the automatic pick
it shares with AssignTicket.

After a change a ticket's assignee and group must exist, its assignee must be
a member of its group, and a working ticket left without an assignee in a
group with an automatic strategy gets one (see AgentService in the contract).
"""

from dataclasses import replace
from typing import Any

from crm_common.errors import FailedPrecondition
from crm_support.domain.agents import WORKING_STATUSES, required_skills
from crm_support.domain.assignment import choose_agent
from crm_support.domain.tickets import AGENTS, GROUPS, Ticket
from crm_support.handlers.change import TicketChange
from crm_support.storage.agents import AssignmentStore, Turn


async def assignment_rule(ticket: Ticket, change: TicketChange) -> None:
    store = AssignmentStore(change.session)
    before = change.before.details if change.before else None
    assignee = ticket.details.assignee
    assignee_changed = assignee != (before.assignee if before else "")
    group_changed = ticket.details.group != (before.group if before else "")
    group = ticket.details.group
    joins_default_group = bool(assignee_changed and assignee and not group)
    if joins_default_group:
        default = await store.default_group(assignee.removeprefix(AGENTS))
        group = GROUPS + default if default else ""
    # The group is locked before the agent: every locker takes them in this order.
    turn: Turn | None = None
    if group and (group_changed or joins_default_group or _waits_for_agent(ticket)):
        turn = await store.take_turns(group.removeprefix(GROUPS))
        if turn is None and group_changed:
            raise FailedPrecondition(f"ticket.group: {group} does not exist")
    if assignee_changed and assignee and not await store.hold_agent(assignee.removeprefix(AGENTS)):
        raise FailedPrecondition(f"ticket.assignee: {assignee} does not exist")
    if joins_default_group and turn is not None:
        _set(ticket, change, group=group)
    elif assignee and ticket.details.group and (assignee_changed or group_changed):
        await _check_membership(store, ticket, change, assignee_changed)
    if turn is not None and turn.strategy.automatic and _waits_for_agent(ticket):
        picked = await pick_agent(
            store, ticket.details.group, turn, ticket.id, required_skills(ticket.details.tags)
        )
        if picked:
            _set(ticket, change, assignee=picked)


async def pick_agent(
    store: AssignmentStore, group: str, turn: Turn, ticket_id: str, required: frozenset[str]
) -> str:
    """The member the group's strategy gives the ticket (`agents/{id}`), or "".

    Members are read without locks, then the chosen one is locked and read
    again: if a concurrent assignment filled it up meanwhile, the choice is
    made again with what is now known.
    """
    group_id = group.removeprefix(GROUPS)
    known = {c.agent_id: c for c in await store.candidates(group_id, ticket_id)}
    while choice := choose_agent(turn.strategy, known.values(), required, turn.last_turn):
        held = await store.hold_candidate(choice, group_id, ticket_id)
        if held is None:
            del known[choice]
        elif held.qualifies(required) and held.load <= known[choice].load:
            await store.record_turn(group_id, choice)
            return AGENTS + choice
        else:
            known[choice] = held
    return ""


async def _check_membership(
    store: AssignmentStore, ticket: Ticket, change: TicketChange, assignee_changed: bool
) -> None:
    """An agent works tickets of its own groups: naming a non-member is refused,
    and a ticket moved away from its assignee's groups is unassigned."""
    assignee, group = ticket.details.assignee, ticket.details.group
    if await store.is_member(assignee.removeprefix(AGENTS), group.removeprefix(GROUPS)):
        return
    if assignee_changed:
        raise not_a_member("ticket.assignee", assignee, group)
    _set(ticket, change, assignee="")


def not_a_member(field: str, agent: str, group: str) -> FailedPrecondition:
    return FailedPrecondition(
        f"{field}: {agent} is not a member of {group}; assign a member, "
        "or move the ticket to one of the agent's groups in the same change"
    )


def _waits_for_agent(ticket: Ticket) -> bool:
    return not ticket.details.assignee and ticket.status in WORKING_STATUSES


def _set(ticket: Ticket, change: TicketChange, **fields: Any) -> None:
    ticket.details = replace(ticket.details, **fields)
    change.record(*fields)
    if change.before is not None and ticket.version == change.before.version:
        ticket.touch(change.now)
