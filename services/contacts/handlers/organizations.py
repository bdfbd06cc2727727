"""Use cases for organizations."""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from crm_common.errors import NotFound
from crm_common.etags import check_etag
from crm_common.filtering import Expr
from crm_common.messaging.uow import UnitOfWork
from crm_common.pagination import SortKey
from crm_contacts.domain.listing import ORGANIZATIONS_LISTING
from crm_contacts.domain.organizations import Organization, OrganizationDetails
from crm_contacts.events import published
from crm_contacts.handlers.records import Page, checked_query, definitions_for
from crm_contacts.storage.dependents import delete_dependents_of
from crm_contacts.storage.organizations import OrganizationRepository


async def create_organization(
    uow: UnitOfWork, details: OrganizationDetails, organization_id: str = ""
) -> Organization:
    async with uow:
        definitions = await definitions_for(uow.session, details.custom_fields)
        organization = Organization.create(
            organization_id or uuid.uuid4().hex, details, datetime.now(UTC), definitions
        )
        await OrganizationRepository(uow.session).add(organization)
        uow.publish(published.organization_created(organization))
        await uow.commit()
    return organization


async def get_organization(uow: UnitOfWork, organization_id: str) -> Organization:
    async with uow:
        return await _existing(OrganizationRepository(uow.session), organization_id)


async def update_organization(
    uow: UnitOfWork, organization_id: str, changes: dict[str, Any], etag: str
) -> Organization:
    async with uow:
        repository = OrganizationRepository(uow.session)
        organization = await _existing(repository, organization_id)
        check_etag(etag, organization.version, f"organizations/{organization_id}")
        read_version = organization.version
        definitions = await definitions_for(uow.session, changes.get("custom_fields", {}))
        changed = organization.update(changes, datetime.now(UTC), definitions)
        if changed:
            await repository.save(organization, expected_version=read_version)
            uow.publish(published.organization_updated(organization, changed))
            await uow.commit()
    return organization


async def delete_organization(uow: UnitOfWork, organization_id: str, etag: str) -> None:
    async with uow:
        repository = OrganizationRepository(uow.session)
        organization = await _existing(repository, organization_id)
        check_etag(etag, organization.version, f"organizations/{organization_id}")
        await delete_dependents_of(uow.session, f"organizations/{organization_id}")
        await repository.delete(organization_id)
        uow.publish(published.organization_deleted(organization))
        await uow.commit()


async def list_organizations(
    uow: UnitOfWork,
    expr: Expr | None,
    keys: tuple[SortKey, ...],
    after: Sequence[Any] | None,
    size: int,
) -> Page[Organization]:
    """A page of organizations matching `expr`, whose custom fields are checked here."""
    async with uow:
        query = await checked_query(uow.session, ORGANIZATIONS_LISTING, expr, keys)
        found = await OrganizationRepository(uow.session).page(query, after, size)
    return Page.of(found, size)


async def _existing(repository: OrganizationRepository, organization_id: str) -> Organization:
    organization = await repository.get(organization_id)
    if organization is None:
        raise NotFound(f"organizations/{organization_id} does not exist")
    return organization
