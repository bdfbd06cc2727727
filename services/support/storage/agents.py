"""The agents and groups tables, their repositories, and what automatic
assignment reads and locks.

Locks (PostgreSQL; SQLite has one writer, which serialises everything) are
always taken group first, then agent, so that no two transactions wait on
each other in a circle.
"""

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    ColumnElement,
    ForeignKey,
    Index,
    Integer,
    Row,
    Select,
    String,
    Table,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crm_common.errors import Aborted, AlreadyExists
from crm_common.filtering import Expr
from crm_common.pagination import SortKey
from crm_common.storage.child_rows import ChildRows, repeated_values_table
from crm_common.storage.db import UtcDateTime
from crm_common.storage.filter_sql import ChildTableBinding, ColumnBinding, filter_clause
from crm_common.storage.filter_values import NormalisedValue
from crm_common.storage.keyset import paged
from crm_common.validation import normalise_email
from crm_support.domain.agents import (
    SKILL_MAX,
    WORKING_STATUSES,
    Agent,
    AgentDetails,
    AssignmentStrategy,
    Availability,
    Group,
    GroupDetails,
)
from crm_support.domain.assignment import Candidate
from crm_support.domain.tickets import GROUPS
from crm_support.storage.tables import metadata
from crm_support.storage.tickets import tickets

groups = Table(
    "groups",
    metadata,
    Column("id", String(63), primary_key=True),
    Column("display_name", String(200), nullable=False),
    Column("description", String(2000), nullable=False),
    Column("assignment_strategy", Integer, nullable=False),
    # The agent who got the group's last automatic assignment ("" before the
    # first): where the next turn starts.
    Column("last_turn", String(63), nullable=False),
    Column("create_time", UtcDateTime, nullable=False),
    Column("update_time", UtcDateTime, nullable=False),
    Column("version", Integer, nullable=False),
    Index("ix_groups_display_name", "display_name", "id"),
)

agents = Table(
    "agents",
    metadata,
    Column("id", String(63), primary_key=True),
    Column("display_name", String(200), nullable=False),
    Column("email", String(254), nullable=False),
    # BIGINT though capacities are small: a filter may compare it with any int64.
    Column("capacity", BigInteger, nullable=False),
    Column("availability", Integer, nullable=False),
    Column("create_time", UtcDateTime, nullable=False),
    Column("update_time", UtcDateTime, nullable=False),
    Column("version", Integer, nullable=False),
    Index("ix_agents_email", "email", unique=True),
    Index("ix_agents_display_name", "display_name", "id"),
)

# Membership, in the agent's order (position 0 is its default group). The
# key to groups makes a membership in a group deleted meanwhile fail rather
# than dangle.
agent_groups = Table(
    "agent_groups",
    metadata,
    Column("agent_id", String(63), ForeignKey(agents.c.id, ondelete="CASCADE"), primary_key=True),
    Column("group_id", String(63), ForeignKey(groups.c.id), primary_key=True),
    Column("position", Integer, nullable=False),
    Index("ix_agent_groups_group", "group_id", "agent_id"),
)

agent_skills = repeated_values_table(
    metadata, "agent_skills", agents, "agent_id", "skill", SKILL_MAX
)

_SKILLS = ChildRows(agent_skills.c.agent_id, agent_skills.c.skill)
_WORKING = [int(status) for status in WORKING_STATUSES]


def working_tickets(column: ColumnElement[Any], value: Any) -> Select[Any]:
    """Counts the working tickets whose `column` (assignee or group id) is `value`."""
    return (
        select(func.count())
        .select_from(tickets)
        .where(column == value, tickets.c.status.in_(_WORKING))
    )


def _load(exclude_ticket: str = "") -> ColumnElement[int]:
    """Each agent row's working tickets, leaving out the ticket being assigned."""
    query = working_tickets(tickets.c.assignee_id, agents.c.id)
    if exclude_ticket:
        query = query.where(tickets.c.id != exclude_ticket)
    return query.scalar_subquery().label("load")


_AGENTS_WITH_LOAD = select(agents, _load())

AGENT_SORT_COLUMNS: dict[str, ColumnElement[Any]] = {
    name: agents.c[name]
    for name in ("display_name", "email", "capacity", "create_time", "update_time", "id")
}
AGENT_FILTER_BINDINGS = {
    **{
        name: ColumnBinding(agents.c[name])
        for name in ("display_name", "capacity", "availability", "create_time", "update_time")
    },
    "email": NormalisedValue(ColumnBinding(agents.c.email), normalise_email),
    "groups": NormalisedValue(
        ChildTableBinding(agents.c.id, agent_groups.c.agent_id, agent_groups.c.group_id),
        lambda name: name.removeprefix(GROUPS),
    ),
    "skills": _SKILLS.binding(agents.c.id, lambda skill: skill.strip().lower()),
}

GROUP_SORT_COLUMNS: dict[str, ColumnElement[Any]] = {
    name: groups.c[name] for name in ("display_name", "create_time", "update_time", "id")
}
GROUP_FILTER_BINDINGS = {
    name: ColumnBinding(groups.c[name])
    for name in ("display_name", "assignment_strategy", "create_time", "update_time")
}


class AgentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, agent_id: str) -> Agent | None:
        row = (
            await self._session.execute(_AGENTS_WITH_LOAD.where(agents.c.id == agent_id))
        ).first()
        return (await self._with_children([row]))[0] if row else None

    async def lock(self, agent_id: str) -> Agent | None:
        """The agent, row-locked until commit so that no ticket is assigned to it meanwhile."""
        await self._session.execute(
            select(agents.c.id).where(agents.c.id == agent_id).with_for_update()
        )
        return await self.get(agent_id)

    async def email_owner(self, email: str) -> str | None:
        query = select(agents.c.id).where(agents.c.email == email)
        return (await self._session.execute(query)).scalar()

    async def add(self, agent: Agent) -> None:
        try:
            await self._session.execute(insert(agents).values(_agent_row(agent)))
        except IntegrityError as error:
            raise AlreadyExists(f"{agent.name} or its email already exists") from error
        await self._write_children(agent)

    async def save(self, agent: Agent, expected_version: int) -> None:
        try:
            result = await self._session.execute(
                update(agents)
                .where(agents.c.id == agent.id, agents.c.version == expected_version)
                .values(_agent_row(agent))
            )
        except IntegrityError as error:
            raise AlreadyExists(f"agent.email: {agent.details.email} is taken") from error
        if result.rowcount != 1:
            raise Aborted(f"{agent.name} was changed concurrently; retry")
        await self._session.execute(delete(agent_groups).where(agent_groups.c.agent_id == agent.id))
        await _SKILLS.delete(self._session, agent.id)
        await self._write_children(agent)

    async def delete(self, agent_id: str) -> None:
        await self._session.execute(delete(agents).where(agents.c.id == agent_id))

    async def leave_group(self, group_id: str, now: datetime) -> None:
        """Takes every member out of the group; their representation changes, so
        do their versions."""
        members = select(agent_groups.c.agent_id).where(agent_groups.c.group_id == group_id)
        await self._session.execute(
            update(agents)
            .where(agents.c.id.in_(members))
            .values(version=agents.c.version + 1, update_time=now)
        )
        await self._session.execute(delete(agent_groups).where(agent_groups.c.group_id == group_id))

    async def working_tickets(self, agent_id: str) -> int:
        return int(
            (
                await self._session.execute(working_tickets(tickets.c.assignee_id, agent_id))
            ).scalar_one()
        )

    async def page(
        self, expr: Expr | None, keys: Sequence[SortKey], after: Sequence[Any] | None, size: int
    ) -> list[tuple[Agent, list[Any]]]:
        """Up to size + 1 agents, each with the key values a page token carries."""
        query = _AGENTS_WITH_LOAD.where(filter_clause(expr, AGENT_FILTER_BINDINGS))
        rows = (
            await self._session.execute(paged(query, keys, AGENT_SORT_COLUMNS, after, size))
        ).all()
        found = await self._with_children(rows)
        return [
            (agent, [getattr(row, key.field) for key in keys])
            for agent, row in zip(found, rows, strict=True)
        ]

    async def _with_children(self, rows: Sequence[Row[Any]]) -> list[Agent]:
        ids = [row.id for row in rows]
        memberships, skills = (
            await _groups_of(self._session, ids),
            await _skills_of(self._session, ids),
        )
        return [_to_agent(row, memberships[row.id], skills[row.id]) for row in rows]

    async def _write_children(self, agent: Agent) -> None:
        memberships = [
            {"agent_id": agent.id, "group_id": group.removeprefix(GROUPS), "position": position}
            for position, group in enumerate(agent.details.groups)
        ]
        if memberships:
            await self._session.execute(insert(agent_groups), memberships)
        await _SKILLS.insert_many(self._session, {agent.id: agent.details.skills})


class GroupRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, group_id: str, *, lock: bool = False) -> Group | None:
        query = select(groups).where(groups.c.id == group_id)
        if lock:
            query = query.with_for_update()
        row = (await self._session.execute(query)).first()
        return _to_group(row) if row else None

    async def existing(self, group_ids: Collection[str]) -> set[str]:
        """Those of the ids that are groups, share-locked so that none is deleted
        before this transaction commits (in id order, so lockers never deadlock)."""
        if not group_ids:
            return set()
        query = (
            select(groups.c.id)
            .where(groups.c.id.in_(group_ids))
            .order_by(groups.c.id)
            .with_for_update(read=True, key_share=True)
        )
        return set((await self._session.execute(query)).scalars())

    async def add(self, group: Group) -> None:
        try:
            await self._session.execute(
                insert(groups).values({**_group_row(group), "last_turn": ""})
            )
        except IntegrityError as error:
            raise AlreadyExists(f"{group.name} already exists") from error

    async def save(self, group: Group, expected_version: int) -> None:
        result = await self._session.execute(
            update(groups)
            .where(groups.c.id == group.id, groups.c.version == expected_version)
            .values(_group_row(group))
        )
        if result.rowcount != 1:
            raise Aborted(f"{group.name} was changed concurrently; retry")

    async def delete(self, group_id: str) -> None:
        await self._session.execute(delete(groups).where(groups.c.id == group_id))

    async def working_tickets(self, group_id: str) -> int:
        return int(
            (
                await self._session.execute(working_tickets(tickets.c.group_id, group_id))
            ).scalar_one()
        )

    async def page(
        self, expr: Expr | None, keys: Sequence[SortKey], after: Sequence[Any] | None, size: int
    ) -> list[tuple[Group, list[Any]]]:
        query = select(groups).where(filter_clause(expr, GROUP_FILTER_BINDINGS))
        rows = (
            await self._session.execute(paged(query, keys, GROUP_SORT_COLUMNS, after, size))
        ).all()
        return [(_to_group(row), [getattr(row, key.field) for key in keys]) for row in rows]


@dataclass(frozen=True)
class Turn:
    """A group's strategy and whose turn it last was."""

    strategy: AssignmentStrategy
    last_turn: str


class AssignmentStore:
    """What assignment reads about agents and groups, with the locks that keep
    concurrent assignments from overfilling an agent or skipping a turn."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def take_turns(self, group_id: str) -> Turn | None:
        """Locks the group until commit: its assignments happen one at a time.

        FOR NO KEY UPDATE: membership changes (which key-share the group) go on
        meanwhile, while a delete of the group waits.
        """
        query = (
            select(groups.c.assignment_strategy, groups.c.last_turn)
            .where(groups.c.id == group_id)
            .with_for_update(key_share=True)
        )
        row = (await self._session.execute(query)).first()
        return Turn(AssignmentStrategy(row.assignment_strategy), row.last_turn) if row else None

    async def record_turn(self, group_id: str, agent_id: str) -> None:
        await self._session.execute(
            update(groups).where(groups.c.id == group_id).values(last_turn=agent_id)
        )

    async def hold_agent(self, agent_id: str) -> bool:
        """Whether the agent exists; share-locked so it is not deleted before commit."""
        query = select(agents.c.id).where(agents.c.id == agent_id).with_for_update(read=True)
        return (await self._session.execute(query)).first() is not None

    async def default_group(self, agent_id: str) -> str:
        """The agent's first group's id; empty when it has none."""
        query = (
            select(agent_groups.c.group_id)
            .where(agent_groups.c.agent_id == agent_id)
            .order_by(agent_groups.c.position)
            .limit(1)
        )
        return (await self._session.execute(query)).scalar() or ""

    async def is_member(self, agent_id: str, group_id: str) -> bool:
        query = select(agent_groups.c.agent_id).where(
            agent_groups.c.agent_id == agent_id, agent_groups.c.group_id == group_id
        )
        return (await self._session.execute(query)).first() is not None

    async def hold_candidate(
        self, agent_id: str, group_id: str, ticket_id: str
    ) -> Candidate | None:
        """The member as it is now, row-locked until commit: a concurrent
        assignment elsewhere waits, then counts this one."""
        await self._session.execute(
            select(agents.c.id).where(agents.c.id == agent_id).with_for_update()
        )
        found = await self.candidates(group_id, ticket_id, only=agent_id)
        return found[0] if found else None

    async def candidates(
        self, group_id: str, ticket_id: str, *, only: str | None = None
    ) -> list[Candidate]:
        """The group's members (or just `only`), their load leaving out the
        ticket being assigned."""
        query = (
            select(agents.c.id, agents.c.availability, agents.c.capacity, _load(ticket_id))
            .join(agent_groups, agent_groups.c.agent_id == agents.c.id)
            .where(agent_groups.c.group_id == group_id)
        )
        if only is not None:
            query = query.where(agents.c.id == only)
        rows = (await self._session.execute(query)).all()
        skills = await _skills_of(self._session, [row.id for row in rows])
        return [
            Candidate(
                row.id,
                Availability(row.availability),
                row.capacity,
                row.load,
                frozenset(skills[row.id]),
            )
            for row in rows
        ]


async def _groups_of(session: AsyncSession, agent_ids: Sequence[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = defaultdict(list)
    if agent_ids:
        query = (
            select(agent_groups.c.agent_id, agent_groups.c.group_id)
            .where(agent_groups.c.agent_id.in_(agent_ids))
            .order_by(agent_groups.c.agent_id, agent_groups.c.position)
        )
        for row in await session.execute(query):
            found[row.agent_id].append(GROUPS + row.group_id)
    return found


async def _skills_of(session: AsyncSession, agent_ids: Sequence[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = defaultdict(list)
    if agent_ids:
        query = (
            select(agent_skills.c.agent_id, agent_skills.c.skill)
            .where(agent_skills.c.agent_id.in_(agent_ids))
            .order_by(agent_skills.c.agent_id, agent_skills.c.skill)
        )
        for row in await session.execute(query):
            found[row.agent_id].append(row.skill)
    return found


def _agent_row(agent: Agent) -> dict[str, Any]:
    details = agent.details
    return {
        "id": agent.id,
        "display_name": details.display_name,
        "email": details.email,
        "capacity": details.capacity,
        "availability": int(details.availability),
        "create_time": agent.create_time,
        "update_time": agent.update_time,
        "version": agent.version,
    }


def _to_agent(row: Row[Any], memberships: list[str], skills: list[str]) -> Agent:
    return Agent(
        id=row.id,
        details=AgentDetails(
            display_name=row.display_name,
            email=row.email,
            groups=tuple(memberships),
            skills=tuple(skills),
            capacity=row.capacity,
            availability=Availability(row.availability),
        ),
        create_time=row.create_time,
        update_time=row.update_time,
        version=row.version,
        load=row.load,
    )


def _group_row(group: Group) -> dict[str, Any]:
    details = group.details
    return {
        "id": group.id,
        "display_name": details.display_name,
        "description": details.description,
        "assignment_strategy": int(details.assignment_strategy),
        "create_time": group.create_time,
        "update_time": group.update_time,
        "version": group.version,
    }


def _to_group(row: Row[Any]) -> Group:
    return Group(
        id=row.id,
        details=GroupDetails(
            display_name=row.display_name,
            description=row.description,
            assignment_strategy=AssignmentStrategy(row.assignment_strategy),
        ),
        create_time=row.create_time,
        update_time=row.update_time,
        version=row.version,
    )
