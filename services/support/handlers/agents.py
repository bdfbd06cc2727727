"""Use cases for agents and groups."""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from crm_common.errors import AlreadyExists, FailedPrecondition, NotFound
from crm_common.etags import check_etag
from crm_common.filtering import Expr
from crm_common.listing import Page
from crm_common.messaging.uow import UnitOfWork
from crm_common.pagination import SortKey
from crm_common.resources import check_retried_create
from crm_support.domain.agents import Agent, AgentDetails, Group, GroupDetails
from crm_support.domain.tickets import GROUPS
from crm_support.storage.agents import AgentRepository, GroupRepository

WORKING = "new, open, pending or on hold"


async def create_agent(uow: UnitOfWork, details: AgentDetails, agent_id: str = "") -> Agent:
    """Adds an agent; with a client-chosen id, a retry returns the agent it created."""
    async with uow:
        repository = AgentRepository(uow.session)
        agent = Agent.create(agent_id or uuid.uuid4().hex, details, datetime.now(UTC))
        if agent_id and (existing := await repository.get(agent_id)) is not None:
            check_retried_create(existing.name, existing.details, agent.details)
            return existing
        await _check_groups(GroupRepository(uow.session), agent.details.groups)
        await _check_email(repository, agent)
        await repository.add(agent)
        await uow.commit()
    return agent


async def get_agent(uow: UnitOfWork, agent_id: str) -> Agent:
    async with uow:
        return await _existing_agent(AgentRepository(uow.session), agent_id)


async def list_agents(
    uow: UnitOfWork,
    expr: Expr | None,
    keys: tuple[SortKey, ...],
    after: Sequence[Any] | None,
    size: int,
) -> Page[Agent]:
    async with uow:
        found = await AgentRepository(uow.session).page(expr, keys, after, size)
    return Page.of(found, size)


async def update_agent(uow: UnitOfWork, agent_id: str, changes: dict[str, Any], etag: str) -> Agent:
    async with uow:
        repository = AgentRepository(uow.session)
        agent = await _existing_agent(repository, agent_id)
        check_etag(etag, agent.version, agent.name)
        read_version = agent.version
        changed = agent.update(changes, datetime.now(UTC))
        if not changed:
            return agent
        if "groups" in changed:
            await _check_groups(GroupRepository(uow.session), agent.details.groups)
        if "email" in changed:
            await _check_email(repository, agent)
        await repository.save(agent, expected_version=read_version)
        await uow.commit()
    return agent


async def delete_agent(uow: UnitOfWork, agent_id: str, etag: str) -> None:
    """Refused while working tickets are assigned to the agent: they would be
    left with nobody to work them."""
    async with uow:
        repository = AgentRepository(uow.session)
        # Locked, so that no ticket is assigned to it between the count and the delete.
        agent = await repository.lock(agent_id)
        if agent is None:
            raise NotFound(f"agents/{agent_id} does not exist")
        check_etag(etag, agent.version, agent.name)
        if agent.load:
            raise FailedPrecondition(
                f"{agent.name} still works {agent.load} ticket(s) that are {WORKING}; "
                "reassign them first"
            )
        await repository.delete(agent_id)
        await uow.commit()


async def create_group(uow: UnitOfWork, details: GroupDetails, group_id: str = "") -> Group:
    """Adds a group; with a client-chosen id, a retry returns the group it created."""
    async with uow:
        repository = GroupRepository(uow.session)
        group = Group.create(group_id or uuid.uuid4().hex, details, datetime.now(UTC))
        if group_id and (existing := await repository.get(group_id)) is not None:
            check_retried_create(existing.name, existing.details, group.details)
            return existing
        await repository.add(group)
        await uow.commit()
    return group


async def get_group(uow: UnitOfWork, group_id: str) -> Group:
    async with uow:
        return await _existing_group(GroupRepository(uow.session), group_id)


async def list_groups(
    uow: UnitOfWork,
    expr: Expr | None,
    keys: tuple[SortKey, ...],
    after: Sequence[Any] | None,
    size: int,
) -> Page[Group]:
    async with uow:
        found = await GroupRepository(uow.session).page(expr, keys, after, size)
    return Page.of(found, size)


async def update_group(uow: UnitOfWork, group_id: str, changes: dict[str, Any], etag: str) -> Group:
    async with uow:
        repository = GroupRepository(uow.session)
        group = await _existing_group(repository, group_id)
        check_etag(etag, group.version, group.name)
        read_version = group.version
        if group.update(changes, datetime.now(UTC)):
            await repository.save(group, expected_version=read_version)
            await uow.commit()
    return group


async def delete_group(uow: UnitOfWork, group_id: str, etag: str) -> None:
    """Refused while working tickets are in the group; its members leave it."""
    async with uow:
        repository = GroupRepository(uow.session)
        group = await repository.get(group_id, lock=True)
        if group is None:
            raise NotFound(f"groups/{group_id} does not exist")
        check_etag(etag, group.version, group.name)
        working = await repository.working_tickets(group_id)
        if working:
            raise FailedPrecondition(
                f"{group.name} still holds {working} ticket(s) that are {WORKING}; "
                "move or solve them first"
            )
        await AgentRepository(uow.session).leave_group(group_id, datetime.now(UTC))
        await repository.delete(group_id)
        await uow.commit()


async def _existing_agent(repository: AgentRepository, agent_id: str) -> Agent:
    agent = await repository.get(agent_id)
    if agent is None:
        raise NotFound(f"agents/{agent_id} does not exist")
    return agent


async def _existing_group(repository: GroupRepository, group_id: str) -> Group:
    group = await repository.get(group_id)
    if group is None:
        raise NotFound(f"groups/{group_id} does not exist")
    return group


async def _check_groups(repository: GroupRepository, groups: tuple[str, ...]) -> None:
    """Every group named must exist (and is kept from deletion until commit)."""
    ids = [group.removeprefix(GROUPS) for group in groups]
    existing = await repository.existing(ids)
    missing = [
        f"agent.groups[{index}]: {GROUPS}{group_id} does not exist"
        for index, group_id in enumerate(ids)
        if group_id not in existing
    ]
    if missing:
        raise FailedPrecondition("; ".join(missing))


async def _check_email(repository: AgentRepository, agent: Agent) -> None:
    owner = await repository.email_owner(agent.details.email)
    if owner is not None and owner != agent.id:
        raise AlreadyExists(f"agent.email: {agent.details.email} belongs to agents/{owner}")
