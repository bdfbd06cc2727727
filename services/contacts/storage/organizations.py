"""The organizations tables and repository."""

from collections.abc import Collection, Sequence
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
from crm_common.storage.db import UtcDateTime
from crm_common.storage.filter_sql import ColumnBinding
from crm_contacts.domain.contact_points import normalise_email
from crm_contacts.domain.listing import CUSTOM_FIELDS, ListQuery
from crm_contacts.domain.organizations import Organization, OrganizationDetails, normalise_domain
from crm_contacts.storage.contact_points import (
    CONTACT_POINT_COLUMNS,
    contact_points_from_row,
    contact_points_to_columns,
)
from crm_contacts.storage.custom_fields import (
    CustomValueRows,
    custom_values_table,
    values_from_json,
    values_to_json,
)
from crm_contacts.storage.listing import ChildRows, RecordListing
from crm_contacts.storage.tables import metadata, repeated_values_table

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
    # As people.custom_fields; filters use organization_custom_values.
    Column(CUSTOM_FIELDS, JSON, nullable=False, server_default="{}"),
    Column("create_time", UtcDateTime, nullable=False),
    Column("update_time", UtcDateTime, nullable=False),
    Column("version", Integer, nullable=False),
    Index("ix_organizations_create_time", "create_time", "id"),
    Index("ix_organizations_update_time", "update_time", "id"),
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

organization_custom_values = custom_values_table("organization_custom_values", organizations)
organization_tags = repeated_values_table(
    "organization_tags", organizations, "organization_id", "tag", 64
)
# Not unique, unlike person_emails: only for `email_addresses:"x"` filters.
organization_emails = repeated_values_table(
    "organization_emails", organizations, "organization_id", "address", 254
)

_TAGS = ChildRows(organization_tags.c.organization_id, organization_tags.c.tag)
_EMAILS = ChildRows(organization_emails.c.organization_id, organization_emails.c.address)
# Domains have rows of their own already, claimed by _claim_domains.
_DOMAINS = ChildRows(organization_domains.c.organization_id, organization_domains.c.domain)

SORT_COLUMNS = {
    "create_time": organizations.c.create_time,
    "update_time": organizations.c.update_time,
    "display_name": organizations.c.display_name,
    "id": organizations.c.id,
}

FILTER_BINDINGS = {
    **{
        name: ColumnBinding(organizations.c[name])
        for name in ("display_name", "industry", "owner", "website", "create_time", "update_time")
    },
    # Each value stored-form first: `tags:"VIP"` means the tag vip.
    "tags": _TAGS.binding(organizations.c.id, str.lower),
    "email_addresses": _EMAILS.binding(organizations.c.id, normalise_email),
    "domains": _DOMAINS.binding(organizations.c.id, normalise_domain),
}

LISTING = RecordListing(organizations, organization_custom_values, FILTER_BINDINGS, SORT_COLUMNS)


class OrganizationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._custom_values = CustomValueRows(session, organization_custom_values)

    async def get(self, organization_id: str) -> Organization | None:
        query = select(organizations).where(organizations.c.id == organization_id)
        row = (await self._session.execute(query)).first()
        return _to_organization(row) if row else None

    async def add(self, organization: Organization) -> None:
        if await self.get(organization.id) is not None:
            raise AlreadyExists(f"organizations/{organization.id} already exists")
        await self._session.execute(insert(organizations).values(_to_row(organization)))
        await self._claim_domains(organization)
        await self._write_children(organization)

    async def get_many(self, organization_ids: Collection[str]) -> dict[str, Organization]:
        """The organizations that exist among `organization_ids`, by id."""
        if not organization_ids:
            return {}
        query = select(organizations).where(organizations.c.id.in_(organization_ids))
        return {row.id: _to_organization(row) for row in await self._session.execute(query)}

    async def owners_of(self, domains: Collection[str]) -> dict[str, str]:
        """Of the (normalised) domains, those an organization holds, each with its id."""
        if not domains:
            return {}
        query = select(organization_domains).where(organization_domains.c.domain.in_(domains))
        return {row.domain: row.organization_id for row in await self._session.execute(query)}

    async def add_many(self, new: Sequence[Organization]) -> None:
        """`add` for many organizations at once, one statement per table, as imports need.

        The caller has checked that the ids and domains are free; should one
        have been taken since, the keys refuse it (AlreadyExists).
        """
        if not new:
            return
        domains = [{"domain": d, "organization_id": o.id} for o in new for d in o.details.domains]
        try:
            await self._session.execute(insert(organizations), [_to_row(o) for o in new])
            if domains:
                await self._session.execute(insert(organization_domains), domains)
        except IntegrityError as error:
            raise AlreadyExists("an organization id or domain was taken meanwhile") from error
        await _TAGS.insert_many(self._session, {o.id: o.details.tags for o in new})
        await _EMAILS.insert_many(
            self._session, {o.id: [e.address for e in o.details.email_addresses] for o in new}
        )
        await self._custom_values.insert_many({o.id: o.details.custom_fields for o in new})

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
        await _DOMAINS.delete(self._session, organization.id)
        await self._claim_domains(organization)
        await self._write_children(organization)

    async def delete(self, organization_id: str) -> None:
        for rows in (_DOMAINS, _TAGS, _EMAILS):
            await rows.delete(self._session, organization_id)
        await self._custom_values.delete(organization_id)
        await self._session.execute(
            delete(organizations).where(organizations.c.id == organization_id)
        )

    async def page(
        self, query: ListQuery, after: Sequence[Any] | None, size: int
    ) -> list[tuple[Organization, list[Any]]]:
        """Up to size + 1 organizations, each with the key values a page token carries."""
        rows = await LISTING.page(self._session, query, after, size)
        return [(_to_organization(row), key) for row, key in rows]

    async def custom_field_in_use(self, field_id: str, options: Sequence[str] | None) -> bool:
        """Whether an organization holds the field (or, given `options`, one of them)."""
        return await self._custom_values.in_use(field_id, options)

    async def _write_children(self, organization: Organization) -> None:
        """The rows that make tags, emails and custom fields quick to filter on."""
        details = organization.details
        await _TAGS.replace(self._session, organization.id, details.tags)
        await _EMAILS.replace(
            self._session, organization.id, (e.address for e in details.email_addresses)
        )
        await self._custom_values.replace(organization.id, details.custom_fields)

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
        if name not in CONTACT_POINT_COLUMNS and name not in ("domains", CUSTOM_FIELDS)
    }
    return {
        **scalars,
        **contact_points_to_columns(details),
        "domains": list(details.domains),
        CUSTOM_FIELDS: values_to_json(details.custom_fields),
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
            custom_fields=values_from_json(row.custom_fields),
            **contact_points_from_row(row),
        ),
        create_time=row.create_time,
        update_time=row.update_time,
        version=row.version,
    )
