"""Use cases of the contacts service, as plain functions over a unit of work."""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from crm_common.errors import NotFound
from crm_common.etags import check_etag
from crm_common.filtering import Expr
from crm_common.messaging.uow import UnitOfWork
from crm_common.pagination import SortKey
from crm_contacts.domain.listing import PEOPLE_LISTING
from crm_contacts.domain.model import Person, PersonDetails
from crm_contacts.domain.privacy import ensure_not_erased
from crm_contacts.events import published
from crm_contacts.handlers.records import Page, checked_query, definitions_for
from crm_contacts.storage.dependents import delete_dependents_of
from crm_contacts.storage.repository import PersonRepository


async def create_person(uow: UnitOfWork, details: PersonDetails, person_id: str = "") -> Person:
    async with uow:
        definitions = await definitions_for(uow.session, details.custom_fields)
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
        ensure_not_erased(person)
        read_version = person.version
        definitions = await definitions_for(uow.session, changes.get("custom_fields", {}))
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
        # The tombstone is what keeps other services' references valid.
        ensure_not_erased(person)
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
) -> Page[Person]:
    """A page of people matching `expr`, whose custom fields are checked here."""
    async with uow:
        query = await checked_query(uow.session, PEOPLE_LISTING, expr, keys)
        found = await PersonRepository(uow.session).page(query, after, size)
    return Page.of(found, size)


async def _existing(people: PersonRepository, person_id: str) -> Person:
    person = await people.get(person_id)
    if person is None:
        raise NotFound(f"people/{person_id} does not exist")
    return person
