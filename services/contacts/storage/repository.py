"""Loading and saving people."""

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from sqlalchemy import Row, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crm_common.errors import Aborted, AlreadyExists
from crm_common.storage.filter_sql import ChildTableBinding, ColumnBinding, filter_clause
from crm_common.storage.filter_values import NormalisedValue
from crm_contacts.domain.contact_points import normalise_email
from crm_contacts.domain.model import Person, PersonDetails
from crm_contacts.domain.people_listing import CUSTOM_FIELDS, PeopleQuery
from crm_contacts.storage.contact_points import (
    CONTACT_POINT_COLUMNS,
    contact_points_from_row,
    contact_points_to_columns,
)
from crm_contacts.storage.custom_fields import (
    CustomSort,
    CustomValueBinding,
    CustomValueRows,
    custom_sort,
    person_custom_values,
    sorted_page,
    values_from_json,
    values_to_json,
)
from crm_contacts.storage.tables import people, person_emails, person_tags

SORT_COLUMNS = {
    "create_time": people.c.create_time,
    "update_time": people.c.update_time,
    "given_name": people.c.given_name,
    "family_name": people.c.family_name,
    "id": people.c.id,
}

FILTER_BINDINGS = {
    **{
        name: ColumnBinding(people.c[name])
        for name in ("given_name", "family_name", "job_title", "owner")
    },
    "create_time": ColumnBinding(people.c.create_time),
    "update_time": ColumnBinding(people.c.update_time),
    # Stored lower-cased: `tags:"VIP"` means the tag vip.
    "tags": NormalisedValue(
        ChildTableBinding(people.c.id, person_tags.c.person_id, person_tags.c.tag), str.lower
    ),
    "email_addresses": NormalisedValue(
        ChildTableBinding(people.c.id, person_emails.c.person_id, person_emails.c.address),
        normalise_email,
    ),
}


class PersonRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._custom_values = CustomValueRows(session, person_custom_values)

    async def get(self, person_id: str) -> Person | None:
        row = (await self._session.execute(select(people).where(people.c.id == person_id))).first()
        return _to_person(row) if row else None

    async def add(self, person: Person) -> None:
        if await self.get(person.id) is not None:
            raise AlreadyExists(f"people/{person.id} already exists")
        await self._session.execute(insert(people).values(_to_row(person)))
        await self._claim_emails(person)
        await self._write_children(person)

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
        await self._delete_tags(person.id)
        await self._write_children(person)

    async def delete(self, person_id: str) -> None:
        await self._session.execute(
            delete(person_emails).where(person_emails.c.person_id == person_id)
        )
        await self._delete_tags(person_id)
        await self._custom_values.delete(person_id)
        await self._session.execute(delete(people).where(people.c.id == person_id))

    async def page(
        self, query: PeopleQuery, after: Sequence[Any] | None, size: int
    ) -> list[tuple[Person, list[Any]]]:
        """Up to size + 1 people, each with its values of the keys SQL sorts by.

        Those values are what a page token must carry: custom sorts add keys
        of their own (see CustomSort), which the caller need not know.
        """
        where = filter_clause(query.filter, _filter_bindings(query))
        rows = await sorted_page(
            self._session,
            people,
            where,
            query.keys,
            SORT_COLUMNS,
            _custom_sorts(query),
            after,
            size,
        )
        return [(_to_person(row), key) for row, key in rows]

    async def custom_field_in_use(self, field_id: str, options: Sequence[str] | None) -> bool:
        """Whether a person holds the field (or, given `options`, one of them)."""
        return await self._custom_values.in_use(field_id, options)

    async def _write_children(self, person: Person) -> None:
        """The rows that make tags and custom fields quick to filter on."""
        tags = person.details.tags
        if tags:
            await self._session.execute(
                insert(person_tags), [{"person_id": person.id, "tag": tag} for tag in tags]
            )
        await self._custom_values.replace(person.id, person.details.custom_fields)

    async def _delete_tags(self, person_id: str) -> None:
        await self._session.execute(delete(person_tags).where(person_tags.c.person_id == person_id))

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
        name: value
        for name, value in asdict(details).items()
        if name not in CONTACT_POINT_COLUMNS and name != CUSTOM_FIELDS
    }
    return {
        **scalars,
        **contact_points_to_columns(details),
        CUSTOM_FIELDS: values_to_json(details.custom_fields),
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
            custom_fields=values_from_json(row.custom_fields),
            **contact_points_from_row(row),
        ),
        create_time=row.create_time,
        update_time=row.update_time,
        version=row.version,
    )


def _custom_sorts(query: PeopleQuery) -> dict[str, CustomSort]:
    prefix = f"{CUSTOM_FIELDS}."
    return {
        key.field: custom_sort(
            person_custom_values,
            people.c.id,
            query.definitions[key.field.removeprefix(prefix)],
            label=f"sort_{index}",
        )
        for index, key in enumerate(query.keys)
        if key.field.startswith(prefix)
    }


def _filter_bindings(query: PeopleQuery) -> dict[str, Any]:
    custom = {
        f"{CUSTOM_FIELDS}.{definition.id}": CustomValueBinding(
            person_custom_values, people.c.id, definition.id, definition.type
        )
        for definition in query.definitions.values()
    }
    return {**FILTER_BINDINGS, **custom}
