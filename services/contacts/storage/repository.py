"""Loading and saving people."""

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from sqlalchemy import Row, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crm_common.errors import Aborted, AlreadyExists
from crm_common.pagination import SortKey
from crm_common.storage.keyset import paged
from crm_contacts.domain.model import Person, PersonDetails
from crm_contacts.storage.contact_points import (
    CONTACT_POINT_COLUMNS,
    contact_points_from_row,
    contact_points_to_columns,
)
from crm_contacts.storage.tables import people, person_emails

SORT_COLUMNS = {
    "create_time": people.c.create_time,
    "update_time": people.c.update_time,
    "given_name": people.c.given_name,
    "family_name": people.c.family_name,
    "id": people.c.id,
}


class PersonRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, person_id: str) -> Person | None:
        row = (await self._session.execute(select(people).where(people.c.id == person_id))).first()
        return _to_person(row) if row else None

    async def add(self, person: Person) -> None:
        if await self.get(person.id) is not None:
            raise AlreadyExists(f"people/{person.id} already exists")
        await self._session.execute(insert(people).values(_to_row(person)))
        await self._claim_emails(person)

    async def save(self, person: Person, expected_version: int) -> None:
        """Writes a changed person unless someone else changed it first."""
        result = await self._session.execute(
            update(people)
            .where(people.c.id == person.id, people.c.version == expected_version)
            .values(_to_row(person))
        )
        if result.rowcount != 1:
            raise Aborted(f"people/{person.id} was changed concurrently; get it again and retry")
        await self._session.execute(
            delete(person_emails).where(person_emails.c.person_id == person.id)
        )
        await self._claim_emails(person)

    async def delete(self, person_id: str) -> None:
        await self._session.execute(
            delete(person_emails).where(person_emails.c.person_id == person_id)
        )
        await self._session.execute(delete(people).where(people.c.id == person_id))

    async def page(
        self, keys: Sequence[SortKey], after: Sequence[Any] | None, size: int
    ) -> list[Person]:
        rows = (
            await self._session.execute(paged(select(people), keys, SORT_COLUMNS, after, size))
        ).all()
        return [_to_person(row) for row in rows]

    async def _claim_emails(self, person: Person) -> None:
        addresses = person.normalised_emails
        if not addresses:
            return
        taken = (
            await self._session.execute(
                select(person_emails).where(
                    person_emails.c.address.in_(addresses), person_emails.c.person_id != person.id
                )
            )
        ).first()
        if taken:
            raise AlreadyExists(f"{taken.address} already belongs to people/{taken.person_id}")
        try:
            await self._session.execute(
                insert(person_emails), [{"address": a, "person_id": person.id} for a in addresses]
            )
        except IntegrityError as error:
            # A concurrent request claimed the address between check and insert.
            raise AlreadyExists("an email address already belongs to another person") from error


def _to_row(person: Person) -> dict[str, Any]:
    details = person.details
    scalars = {
        name: value for name, value in asdict(details).items() if name not in CONTACT_POINT_COLUMNS
    }
    return {
        **scalars,
        **contact_points_to_columns(details),
        "id": person.id,
        "create_time": person.create_time,
        "update_time": person.update_time,
        "version": person.version,
    }


def _to_person(row: Row) -> Person:
    return Person(
        id=row.id,
        details=PersonDetails(
            given_name=row.given_name,
            family_name=row.family_name,
            job_title=row.job_title,
            owner=row.owner,
            background=row.background,
            **contact_points_from_row(row),
        ),
        create_time=row.create_time,
        update_time=row.update_time,
        version=row.version,
    )
