"""Use cases of the contacts service, as plain functions over a unit of work."""

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from crm_common.errors import NotFound
from crm_common.etags import check_etag
from crm_common.filtering import Expr
from crm_common.messaging.uow import UnitOfWork
from crm_common.pagination import SortKey
from crm_contacts.domain.model import Definitions, Person, PersonDetails
from crm_contacts.domain.people_listing import check_query, custom_field_ids
from crm_contacts.events import published
from crm_contacts.storage.custom_fields import CustomFieldDefinitionRepository
from crm_contacts.storage.dependents import delete_dependents_of
from crm_contacts.storage.repository import PersonRepository


@dataclass(frozen=True)
class Page:
    people: list[Person]
    # The sort key values to continue after; None on the last page.
    next_key: list[Any] | None


async def create_person(uow: UnitOfWork, details: PersonDetails, person_id: str = "") -> Person:
    async with uow:
        definitions = await _definitions_for(uow, details.custom_fields)
        person = Person.create(
            person_id or uuid.uuid4().hex, details, datetime.now(UTC), definitions
        )
        await PersonRepository(uow.session).add(person)
        uow.publish(published.contact_created(person))
        await uow.commit()
    return person


async def get_person(uow: UnitOfWork, person_id: str) -> Person:
    async with uow:
        return await _existing(PersonRepository(uow.session), person_id)


async def update_person(
    uow: UnitOfWork, person_id: str, changes: dict[str, Any], etag: str
) -> Person:
    async with uow:
        people = PersonRepository(uow.session)
        person = await _existing(people, person_id)
        check_etag(etag, person.version, f"people/{person_id}")
        read_version = person.version
        definitions = await _definitions_for(uow, changes.get("custom_fields", {}))
        changed = person.update(changes, datetime.now(UTC), definitions)
        if changed:
            await people.save(person, expected_version=read_version)
            uow.publish(published.contact_updated(person, changed))
            await uow.commit()
    return person


async def delete_person(uow: UnitOfWork, person_id: str, etag: str) -> None:
    async with uow:
        people = PersonRepository(uow.session)
        person = await _existing(people, person_id)
        check_etag(etag, person.version, f"people/{person_id}")
        await delete_dependents_of(uow.session, f"people/{person_id}")
        await people.delete(person_id)
        uow.publish(published.contact_deleted(person))
        await uow.commit()


async def list_people(
    uow: UnitOfWork,
    expr: Expr | None,
    keys: tuple[SortKey, ...],
    after: Sequence[Any] | None,
    size: int,
) -> Page:
    """A page of people matching `expr`, whose custom fields are checked here."""
    async with uow:
        ids = custom_field_ids(expr, keys)
        definitions = await CustomFieldDefinitionRepository(uow.session).get_many(ids)
        query = check_query(expr, keys, definitions)
        found = await PersonRepository(uow.session).page(query, after, size)
    next_key = found[size - 1][1] if len(found) > size else None
    return Page(people=[person for person, _ in found[:size]], next_key=next_key)


async def _definitions_for(uow: UnitOfWork, custom_fields: Iterable[str]) -> Definitions:
    """The definitions of the fields a write sets, locked against change until commit."""
    return await CustomFieldDefinitionRepository(uow.session).get_many(custom_fields, share=True)


async def _existing(people: PersonRepository, person_id: str) -> Person:
    person = await people.get(person_id)
    if person is None:
        raise NotFound(f"people/{person_id} does not exist")
    return person
