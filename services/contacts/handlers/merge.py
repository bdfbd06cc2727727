"""Use cases for duplicates: finding likely ones, and merging people into one."""

from dataclasses import dataclass
from datetime import UTC, datetime

from crm_common.errors import NotFound
from crm_common.etags import check_etag
from crm_common.messaging.uow import UnitOfWork
from crm_contacts.domain.duplicates import DuplicateGroup, GroupPosition
from crm_contacts.domain.merge import MergeRequest, merge_into
from crm_contacts.domain.model import Person
from crm_contacts.domain.privacy import ensure_not_erased
from crm_contacts.events import published
from crm_contacts.handlers.records import definitions_for
from crm_contacts.storage.dependents import move_dependents
from crm_contacts.storage.duplicates import duplicate_groups
from crm_contacts.storage.repository import PersonRepository


@dataclass(frozen=True)
class GroupsPage:
    groups: list[DuplicateGroup]
    # Where the next page starts; None on the last page.
    next_after: GroupPosition | None


async def find_duplicate_people(
    uow: UnitOfWork, after: GroupPosition | None, size: int
) -> GroupsPage:
    async with uow:
        found = await duplicate_groups(uow.session, after, size + 1, datetime.now(UTC).date())
    more = len(found) > size
    return GroupsPage(found[:size], found[size - 1].position if more else None)


async def merge_people(uow: UnitOfWork, request: MergeRequest, etag: str) -> Person:
    """Everything in one transaction: the survivor changes, the others go, and
    `contact.merged` is announced, or nothing happens at all."""
    async with uow:
        people = PersonRepository(uow.session)
        survivor = await _existing(people, request.survivor_id, "person")
        check_etag(etag, survivor.version, f"people/{survivor.id}")
        merged = [
            await _existing(people, person_id, f"merged_people[{index}]")
            for index, person_id in enumerate(request.merged_ids)
        ]
        # An erased survivor must not gain personal data again, and an erased
        # person's tombstone is what keeps references to it valid elsewhere.
        for person in (survivor, *merged):
            ensure_not_erased(person)
        read_version = survivor.version
        held = {key for person in (survivor, *merged) for key in person.details.custom_fields}
        definitions = await definitions_for(uow.session, held)
        changed = merge_into(survivor, merged, datetime.now(UTC), definitions)
        for person in merged:
            await move_dependents(uow.session, f"people/{person.id}", f"people/{survivor.id}")
            # Before the survivor is saved: its emails are still theirs until then.
            await people.delete(person.id, expected_version=person.version)
        await people.save(survivor, expected_version=read_version)
        uow.publish(published.contact_merged(survivor, request.merged_ids))
        if changed:
            # For consumers that follow a person's state through contact.updated
            # alone: the survivor's new emails and fields reach them too, with the
            # list of what changed. Same version as contact.merged, so a consumer
            # handling both applies the state once.
            uow.publish(published.contact_updated(survivor, changed))
        await uow.commit()
    return survivor


async def _existing(people: PersonRepository, person_id: str, field: str) -> Person:
    person = await people.get(person_id)
    if person is None:
        raise NotFound(f"people/{person_id} ({field}) does not exist")
    return person
