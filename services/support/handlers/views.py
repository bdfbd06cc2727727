"""Use cases for saved views, their tickets and counts, and the agent queue."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from crm_common.auth.principal import Principal
from crm_common.errors import NotFound
from crm_common.etags import check_etag
from crm_common.listing import Page
from crm_common.messaging.uow import UnitOfWork
from crm_common.pagination import decode_page_token, encode_page_token, query_digest
from crm_support.domain.tickets import AGENTS, Ticket
from crm_support.domain.views import (
    COUNT_LIMIT,
    POSITION_MAX,
    QUEUE_ORDER,
    VIEWS,
    View,
    ViewDetails,
    queue_filter,
)
from crm_support.handlers.access import ticket_access
from crm_support.storage.tickets import TicketRepository
from crm_support.storage.views import ViewRepository, groups_of_agent


@dataclass(frozen=True)
class ViewCount:
    view: str
    count: int
    # More tickets match than `count`, which stopped at COUNT_LIMIT.
    capped: bool


async def create_view(
    uow: UnitOfWork, details: ViewDetails, position: int | None, view_id: str = ""
) -> View:
    """Saves a view; without a position it goes after every existing one."""
    async with uow:
        repository = ViewRepository(uow.session)
        if position is None:
            last = await repository.last_position()
            position = 0 if last is None else min(last + 1, POSITION_MAX)
        now = datetime.now(UTC)
        view = View.create(view_id or uuid.uuid4().hex, replace(details, position=position), now)
        await repository.add(view)
        await uow.commit()
    return view


async def get_view(uow: UnitOfWork, view_id: str) -> View:
    async with uow:
        return await _existing(ViewRepository(uow.session), view_id)


async def list_views(
    uow: UnitOfWork, agent: str, after: Sequence[Any] | None, size: int
) -> Page[View]:
    async with uow:
        found = await ViewRepository(uow.session).page(agent, after, size)
    return Page.of(found, size)


async def update_view(uow: UnitOfWork, view_id: str, changes: dict[str, Any], etag: str) -> View:
    async with uow:
        repository = ViewRepository(uow.session)
        view = await _existing(repository, view_id)
        check_etag(etag, view.version, view.name)
        read_version = view.version
        if view.update(changes, datetime.now(UTC)):
            await repository.save(view, expected_version=read_version)
            await uow.commit()
    return view


async def delete_view(uow: UnitOfWork, view_id: str, etag: str) -> None:
    async with uow:
        repository = ViewRepository(uow.session)
        view = await _existing(repository, view_id)
        check_etag(etag, view.version, view.name)
        await repository.delete(view)
        await uow.commit()


async def list_view_tickets(
    uow: UnitOfWork, caller: Principal, view_id: str, agent: str, page_token: str, size: int
) -> tuple[list[Ticket], str]:
    """A page of the view's tickets and the token for the next one ("" on the last).

    Tokens are bound to the view's query as saved and to the agent it was run
    for, so a token outlives a rename but not a change of filter or order.
    """
    async with uow:
        view = await _existing(ViewRepository(uow.session), view_id)
        query = view.query(datetime.now(UTC), agent)
        digest = query_digest(**view.query_identity(agent))
        after = decode_page_token(page_token, digest)
        access = await ticket_access(uow.session, caller)
        found = await TicketRepository(uow.session).page(
            access.restrict(query.expr), query.keys, after, size
        )
    page = Page.of(found, size)
    next_token = "" if page.next_key is None else encode_page_token(page.next_key, digest)
    return page.items, next_token


async def count_view_tickets(
    uow: UnitOfWork, caller: Principal, view_ids: Sequence[str], agent: str
) -> list[ViewCount]:
    """Live counts of the views' tickets, in the order asked, from one snapshot."""
    async with uow:
        found = await ViewRepository(uow.session).by_ids(view_ids)
        missing = [VIEWS + view_id for view_id in dict.fromkeys(view_ids) if view_id not in found]
        if missing:
            raise NotFound(
                f"{', '.join(missing)} {'does' if len(missing) == 1 else 'do'} not exist"
            )
        now = datetime.now(UTC)
        queries = [found[view_id].query(now, agent) for view_id in view_ids]
        access = await ticket_access(uow.session, caller)
        counts = await TicketRepository(uow.session).counts(
            [access.restrict(query.expr) for query in queries], COUNT_LIMIT + 1
        )
    return [
        ViewCount(VIEWS + view_id, min(count, COUNT_LIMIT), count > COUNT_LIMIT)
        for view_id, count in zip(view_ids, counts, strict=True)
    ]


async def list_queue_tickets(
    uow: UnitOfWork, caller: Principal, agent: str, after: Sequence[Any] | None, size: int
) -> Page[Ticket]:
    async with uow:
        groups = await groups_of_agent(uow.session, agent.removeprefix(AGENTS))
        if groups is None:
            raise NotFound(f"{agent} does not exist")
        access = await ticket_access(uow.session, caller)
        found = await TicketRepository(uow.session).page(
            access.restrict(queue_filter(agent, groups)), QUEUE_ORDER, after, size
        )
    return Page.of(found, size)


async def _existing(repository: ViewRepository, view_id: str) -> View:
    view = await repository.get(view_id)
    if view is None:
        raise NotFound(f"{VIEWS}{view_id} does not exist")
    return view
