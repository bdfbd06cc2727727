"""Loading and saving people."""

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import Row, bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crm_common.errors import Aborted, AlreadyExists
from crm_common.storage.db import DIALECT_INSERTS
from crm_common.storage.filter_sql import ColumnBinding
from crm_contacts.domain.contact_points import normalise_email
from crm_contacts.domain.listing import CUSTOM_FIELDS, ListQuery
from crm_contacts.domain.model import Person, PersonDetails
from crm_contacts.storage.contact_points import (
    CONTACT_POINT_COLUMNS,
    contact_points_from_row,
    contact_points_to_columns,
)
from crm_contacts.storage.custom_fields import (
    CustomValueRows,
    person_custom_values,
    values_from_json,
    values_to_json,
)
from crm_contacts.storage.duplicates import (
    delete_match_keys,
    insert_match_keys,
    match_key_rows,
    person_match_keys,
    write_match_keys,
)
from crm_contacts.storage.listing import ChildRows, RecordListing
from crm_contacts.storage.tables import people, person_emails, person_tags

_TAGS = ChildRows(person_tags.c.person_id, person_tags.c.tag)
# Emails are written by _claim_emails, which also keeps them unique.
_EMAILS = ChildRows(person_emails.c.person_id, person_emails.c.address)

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
    "tags": _TAGS.binding(people.c.id, str.lower),
    "email_addresses": _EMAILS.binding(people.c.id, normalise_email),
}

_SCALAR_FIELDS = tuple(
    name
    for name in PersonDetails.__dataclass_fields__
    if name not in CONTACT_POINT_COLUMNS and name != CUSTOM_FIELDS
)

LISTING = RecordListing(people, person_custom_values, FILTER_BINDINGS, SORT_COLUMNS)

# Built once: a statement made per call costs more to build and to key for
# SQLAlchemy's compiled cache than to run.
_BY_ID = select(people).where(people.c.id == bindparam("person_id"))
# A new person, and the addresses they claim, skipping an id or address
# already held: one statement both writes and says whether it was free.
_NEW_PERSON = {
    dialect: insert_(people).on_conflict_do_nothing(index_elements=[people.c.id])
    for dialect, insert_ in DIALECT_INSERTS.items()
}
_NEW_EMAILS = {
    dialect: insert_(person_emails)
    .on_conflict_do_nothing(index_elements=[person_emails.c.address])
    .returning(person_emails.c.address)
    for dialect, insert_ in DIALECT_INSERTS.items()
}


class PersonRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._custom_values = CustomValueRows(session, person_custom_values)

    async def get(self, person_id: str) -> Person | None:
        row = (await self._session.execute(_BY_ID, {"person_id": person_id})).first()
        return _to_person(row) if row else None

    async def add(self, person: Person) -> None:
        dialect = self._session.bind.dialect.name
        written = await self._session.execute(_NEW_PERSON[dialect], _to_row(person))
        if written.rowcount != 1:
            raise AlreadyExists(f"people/{person.id} already exists")
        await self._claim_new_emails(person, dialect)
        # A new person has no child rows to replace yet.
        await _TAGS.insert_many(self._session, {person.id: person.details.tags})
        await self._custom_values.insert_many({person.id: person.details.custom_fields})
        await insert_match_keys(self._session, person)

    async def get_many(self, person_ids: Collection[str]) -> dict[str, Person]:
        """The people that exist among `person_ids`, by id."""
        if not person_ids:
            return {}
        query = select(people).where(people.c.id.in_(person_ids))
        return {row.id: _to_person(row) for row in await self._session.execute(query)}

    async def owners_of(self, addresses: Collection[str]) -> dict[str, str]:
        """Of the (normalised) email addresses, those someone holds, each with the person's id."""
        if not addresses:
            return {}
        query = select(person_emails).where(person_emails.c.address.in_(addresses))
        return {row.address: row.person_id for row in await self._session.execute(query)}

    async def add_many(self, new: Sequence[Person]) -> None:
        """`add` for many people at once, one statement per table, as imports need.

        The caller has checked that the ids and emails are free; should one
        have been taken since, the keys refuse it (AlreadyExists).
        """
        if not new:
            return
        emails = [{"address": a, "person_id": p.id} for p in new for a in p.normalised_emails]
        try:
            await self._session.execute(insert(people), [_to_row(person) for person in new])
            if emails:
                await self._session.execute(insert(person_emails), emails)
        except IntegrityError as error:
            raise AlreadyExists("a person id or email address was taken meanwhile") from error
        await _TAGS.insert_many(self._session, {p.id: p.details.tags for p in new})
        await self._custom_values.insert_many({p.id: p.details.custom_fields for p in new})
        keys = [row for person in new for row in _match_key_rows(person)]
        if keys:
            await self._session.execute(insert(person_match_keys), keys)

    async def save(self, person: Person, expected_version: int) -> None:
        """Writes a changed person unless someone else changed it first."""
        result = await self._session.execute(
            update(people)
            .where(people.c.id == person.id, people.c.version == expected_version)
            .values(_to_row(person))
        )
        if result.rowcount != 1:
            raise Aborted(f"people/{person.id} was changed concurrently; get it again and retry")
        await _EMAILS.delete(self._session, person.id)
        await self._claim_emails(person)
        await self._write_children(person)

    async def delete(self, person_id: str, expected_version: int | None = None) -> None:
        """Deletes a person; given `expected_version`, only unless someone changed it first."""
        await _EMAILS.delete(self._session, person_id)
        await _TAGS.delete(self._session, person_id)
        await self._custom_values.delete(person_id)
        await delete_match_keys(self._session, person_id)
        statement = delete(people).where(people.c.id == person_id)
        if expected_version is not None:
            statement = statement.where(people.c.version == expected_version)
        result = await self._session.execute(statement)
        if expected_version is not None and result.rowcount != 1:
            raise Aborted(f"people/{person_id} was changed concurrently; get it again and retry")

    async def page(
        self, query: ListQuery, after: Sequence[Any] | None, size: int
    ) -> list[tuple[Person, list[Any]]]:
        """Up to size + 1 people, each with the key values a page token carries."""
        rows = await LISTING.page(self._session, query, after, size)
        return [(_to_person(row), key) for row, key in rows]

    async def custom_field_in_use(self, field_id: str, options: Sequence[str] | None) -> bool:
        """Whether a person holds the field (or, given `options`, one of them)."""
        return await self._custom_values.in_use(field_id, options)

    async def _write_children(self, person: Person) -> None:
        """The rows that make tags and custom fields quick to filter on, and duplicates to find."""
        await _TAGS.replace(self._session, person.id, person.details.tags)
        await self._custom_values.replace(person.id, person.details.custom_fields)
        await write_match_keys(self._session, person)

    async def _claim_new_emails(self, person: Person, dialect: str) -> None:
        """`_claim_emails` in one statement when all are free, as they mostly are."""
        addresses = person.normalised_emails
        if not addresses:
            return
        rows = [{"address": a, "person_id": person.id} for a in addresses]
        claimed = set((await self._session.execute(_NEW_EMAILS[dialect], rows)).scalars())
        if len(claimed) != len(addresses):
            await self._refuse_taken(person, addresses)
            raise AlreadyExists("an email address already belongs to another person")

    async def _claim_emails(self, person: Person) -> None:
        addresses = person.normalised_emails
        if not addresses:
            return
        await self._refuse_taken(person, addresses)
        try:
            await self._session.execute(
                insert(person_emails), [{"address": a, "person_id": person.id} for a in addresses]
            )
        except IntegrityError as error:
            # A concurrent request claimed the address between check and insert.
            raise AlreadyExists("an email address already belongs to another person") from error

    async def _refuse_taken(self, person: Person, addresses: Sequence[str]) -> None:
        """AlreadyExists naming an address someone else holds, if any does."""
        taken = (
            await self._session.execute(
                select(person_emails).where(
                    person_emails.c.address.in_(addresses), person_emails.c.person_id != person.id
                )
            )
        ).first()
        if taken:
            raise AlreadyExists(f"{taken.address} already belongs to people/{taken.person_id}")


def _to_row(person: Person) -> dict[str, Any]:
    details = person.details
    # Not asdict: it deep-copies every contact point, which imports pay per row.
    scalars = {name: getattr(details, name) for name in _SCALAR_FIELDS}
    return {
        **scalars,
        **contact_points_to_columns(details),
        CUSTOM_FIELDS: values_to_json(details.custom_fields),
        "id": person.id,
        "create_time": person.create_time,
        "update_time": person.update_time,
        "version": person.version,
        "erased": person.erased,
    }


def _match_key_rows(person: Person) -> list[dict[str, str]]:
    details = person.details
    emails = [email.address for email in details.email_addresses]
    return match_key_rows(person.id, emails, [phone.number for phone in details.phone_numbers])


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
        erased=row.erased,
    )
