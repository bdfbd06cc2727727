"""The read model of the contacts service's people and organizations.

Sales links deals to contacts by resource name (`people/1`,
`organizations/2`); this table says which names exist, from contact.* and
organization.* events, so that links to unknown contacts are refused.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Column, Integer, String, Table, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_common.storage.db import UtcDateTime
from crm_sales.storage.tables import metadata

known_contacts = Table(
    "known_contacts",
    metadata,
    # `people/{id}` or `organizations/{id}`.
    Column("name", String(200), primary_key=True),
    Column("display_name", String(401), nullable=False),
    # The aggregate version of the last event applied: older events are ignored.
    Column("source_version", Integer, nullable=False),
    Column("update_time", UtcDateTime, nullable=False),
    # A tombstone (deleted, merged away or erased): remembers the version so a
    # late update does not bring the contact back.
    Column("gone", Boolean, nullable=False),
)


@dataclass(frozen=True)
class KnownContact:
    name: str
    display_name: str
    source_version: int
    update_time: datetime
    gone: bool = False


class KnownContacts:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, name: str) -> KnownContact | None:
        row = (
            await self._session.execute(select(known_contacts).where(known_contacts.c.name == name))
        ).first()
        return KnownContact(**row._mapping) if row else None

    async def put(self, contact: KnownContact, *, exists: bool) -> None:
        values: dict[str, Any] = {
            "display_name": contact.display_name,
            "source_version": contact.source_version,
            "update_time": contact.update_time,
            "gone": contact.gone,
        }
        if exists:
            await self._session.execute(
                update(known_contacts).where(known_contacts.c.name == contact.name).values(values)
            )
        else:
            await self._session.execute(insert(known_contacts).values(name=contact.name, **values))

    async def unknown(self, names: set[str]) -> set[str]:
        """Those of `names` the read model has not seen, or has seen go."""
        if not names:
            return set()
        query = select(known_contacts.c.name).where(
            known_contacts.c.name.in_(names), known_contacts.c.gone.is_(False)
        )
        return names - set((await self._session.execute(query)).scalars())
