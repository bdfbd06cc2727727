"""Use cases for keeping macros, triggers and automations: create, read, change, delete."""

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from crm_common.errors import NotFound
from crm_common.etags import check_etag
from crm_common.filtering import Expr
from crm_common.listing import Page
from crm_common.messaging.uow import UnitOfWork
from crm_common.pagination import SortKey
from crm_support.domain.automation import R, create, revise
from crm_support.handlers.action_lookups import check_references
from crm_support.storage.automation import ConfiguredRepository

Repositories = Callable[[AsyncSession], ConfiguredRepository[R]]


async def create_configured(
    uow: UnitOfWork,
    repositories: Repositories[R],
    draft: R,
    resource_id: str,
    *,
    place_last: bool = False,
) -> R:
    """Saves a new macro, trigger or automation; `place_last` puts it after the
    others in run order (its position was not given)."""
    now = datetime.now(UTC)
    resource = create(draft, resource_id or uuid.uuid4().hex, now)
    async with uow:
        await check_references(uow.session, resource.actions, f"{resource.KIND}.actions")
        repository = repositories(uow.session)
        if place_last:
            last = await repository.last_position()
            resource = replace(resource, position=0 if last is None else last + 1)
        await repository.add(resource)
        await uow.commit()
    return resource


async def get_configured(uow: UnitOfWork, repositories: Repositories[R], resource_id: str) -> R:
    async with uow:
        return await existing(repositories(uow.session), resource_id)


async def list_configured(
    uow: UnitOfWork,
    repositories: Repositories[R],
    expr: Expr | None,
    keys: Sequence[SortKey],
    after: Sequence[Any] | None,
    size: int,
) -> Page[R]:
    async with uow:
        found = await repositories(uow.session).page(expr, keys, after, size)
    return Page.of(found, size)


async def update_configured(
    uow: UnitOfWork,
    repositories: Repositories[R],
    resource_id: str,
    changes: Mapping[str, Any],
    etag: str,
) -> R:
    async with uow:
        repository = repositories(uow.session)
        resource = await existing(repository, resource_id)
        check_etag(etag, resource.version, resource.name)
        revised = revise(resource, changes, datetime.now(UTC))
        if revised is resource:
            return resource
        if "actions" in changes:
            await check_references(uow.session, revised.actions, f"{resource.KIND}.actions")
        await repository.save(revised, expected_version=resource.version)
        await uow.commit()
    return revised


async def delete_configured(
    uow: UnitOfWork, repositories: Repositories[R], resource_id: str, etag: str
) -> None:
    async with uow:
        repository = repositories(uow.session)
        resource = await existing(repository, resource_id)
        check_etag(etag, resource.version, resource.name)
        await repository.delete(resource)
        await uow.commit()


async def existing(repository: ConfiguredRepository[R], resource_id: str) -> R:
    """The resource, or NOT_FOUND."""
    resource = await repository.get(resource_id)
    if resource is None:
        raise NotFound(f"{repository.collection}{resource_id} does not exist")
    return resource
