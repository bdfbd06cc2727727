"""The organizations tables and repository."""

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    ForeignKey,
    Index,
    Integer,
    Row,
    String,
    Table,
    Text,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crm_common.errors import Aborted, AlreadyExists
from crm_common.pagination import SortKey
from crm_common.storage.db import UtcDateTime
from crm_common.storage.keyset import paged
from crm_contacts.domain.organizations import Organization, OrganizationDetails
from crm_contacts.storage.contact_points import (
    CONTACT_POINT_COLUMNS,
    contact_points_from_row,
    contact_points_to_columns,
)
from crm_contacts.storage.tables import metadata

organizations = Table(
    "organizations",
    metadata,
    Column("id", String(63), primary_key=True),
    Column("display_name", String(200), nullable=False),
    Column("website", String(2000), nullable=False),
    Column("industry", String(200), nullable=False),
    Column("owner", String(200), nullable=False),
    Column("background", Text, nullable=False),
    Column("domains", JSON, nullable=False),
    *(Column(name, JSON, nullable=False) for name in CONTACT_POINT_COLUMNS),
    Column("create_time", UtcDateTime, nullable=False),
    Column("update_time", UtcDateTime, nullable=False),
    Column("version", Integer, nullable=False),
    Index("ix_organizations_create_time", "create_time", "id"),
    Index("ix_organizations_display_name", "display_name", "id"),
)

# Domains are unique across organizations; the primary key enforces it.
organization_domains = Table(
    "organization_domains",
    metadata,
    Column("domain", String(253), primary_key=True),
    Column(
        "organization_id",
        String(63),
        ForeignKey("organizations.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
)

SORT_COLUMNS = {
    "create_time": organizations.c.create_time,
    "update_time": organizations.c.update_time,
    "display_name": organizations.c.display_name,
    "id": organizations.c.id,
}


class OrganizationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, organization_id: str) -> Organization | None:
        query = select(organizations).where(organizations.c.id == organization_id)
        row = (await self._session.execute(query)).first()
        return _to_organization(row) if row else None

    async def add(self, organization: Organization) -> None:
        if await self.get(organization.id) is not None:
            raise AlreadyExists(f"organizations/{organization.id} already exists")
        await self._session.execute(insert(organizations).values(_to_row(organization)))
        await self._claim_domains(organization)

    async def save(self, organization: Organization, expected_version: int) -> None:
        result = await self._session.execute(
            update(organizations)
            .where(
                organizations.c.id == organization.id,
                organizations.c.version == expected_version,
            )
            .values(_to_row(organization))
        )
        if result.rowcount != 1:
            raise Aborted(f"organizations/{organization.id} was changed concurrently; retry")
        await self._session.execute(
            delete(organization_domains).where(
                organization_domains.c.organization_id == organization.id
            )
        )
        await self._claim_domains(organization)

    async def delete(self, organization_id: str) -> None:
        await self._session.execute(
            delete(organization_domains).where(
                organization_domains.c.organization_id == organization_id
            )
        )
        await self._session.execute(
            delete(organizations).where(organizations.c.id == organization_id)
        )

    async def page(
        self, keys: Sequence[SortKey], after: Sequence[Any] | None, size: int
    ) -> list[Organization]:
        query = paged(select(organizations), keys, SORT_COLUMNS, after, size)
        return [_to_organization(row) for row in (await self._session.execute(query)).all()]

    async def _claim_domains(self, organization: Organization) -> None:
        domains = organization.details.domains
        if not domains:
            return
        taken = (
            await self._session.execute(
                select(organization_domains).where(
                    organization_domains.c.domain.in_(domains),
                    organization_domains.c.organization_id != organization.id,
                )
            )
        ).first()
        if taken:
            raise AlreadyExists(
                f"{taken.domain} already belongs to organizations/{taken.organization_id}"
            )
        try:
            await self._session.execute(
                insert(organization_domains),
                [{"domain": d, "organization_id": organization.id} for d in domains],
            )
        except IntegrityError as error:
            raise AlreadyExists("a domain already belongs to another organization") from error


def _to_row(organization: Organization) -> dict[str, Any]:
    details = organization.details
    scalars = {
        name: value
        for name, value in asdict(details).items()
        if name not in CONTACT_POINT_COLUMNS and name != "domains"
    }
    return {
        **scalars,
        **contact_points_to_columns(details),
        "domains": list(details.domains),
        "id": organization.id,
        "create_time": organization.create_time,
        "update_time": organization.update_time,
        "version": organization.version,
    }


def _to_organization(row: Row) -> Organization:
    return Organization(
        id=row.id,
        details=OrganizationDetails(
            display_name=row.display_name,
            domains=tuple(row.domains),
            website=row.website,
            industry=row.industry,
            owner=row.owner,
            background=row.background,
            **contact_points_from_row(row),
        ),
        create_time=row.create_time,
        update_time=row.update_time,
        version=row.version,
    )
