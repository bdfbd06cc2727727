"""GDPR on SQLite and PostgreSQL: ErasePerson leaves an anonymous tombstone and
tells the other services; ExportPersonData returns everything held."""

import uuid
from datetime import UTC, datetime

import grpc
from google.protobuf.field_mask_pb2 import FieldMask

from crm.contacts.v1 import contacts_service_pb2 as contacts
from crm.contacts.v1 import custom_field_pb2 as cf
from crm.contacts.v1 import note_pb2, organization_pb2, person_pb2, relationship_pb2
from crm.support.v1 import support_service_pb2 as support
from crm_common.storage.db import create_engine, session_factory
from crm_contacts.domain.notes import ParentKind, ParentRef
from crm_contacts.domain.timeline import Announcement, TimelineKind
from crm_contacts.storage.timeline import TimelineRepository
from tests.integration.harness import Suite, eventually, rpc_error

EMPLOYMENT = "relationshipTypes/employment"


def unique(stem: str) -> str:
    return f"{stem}{uuid.uuid4().hex[:8]}"


def rich_person(suite: Suite) -> person_pb2.Person:
    """A person holding some of everything, with a note and a link to an organization."""
    field_id = unique("erasable_")
    suite.contacts.CreateCustomFieldDefinition(
        contacts.CreateCustomFieldDefinitionRequest(
            custom_field_definition=cf.CustomFieldDefinition(
                display_name="Nickname",
                type=cf.CUSTOM_FIELD_TYPE_TEXT,
                applies_to=[cf.CONTACT_KIND_PERSON],
            ),
            custom_field_definition_id=field_id,
        )
    )
    person = suite.contacts.CreatePerson(
        contacts.CreatePersonRequest(
            person=person_pb2.Person(
                given_name="Ada",
                family_name=unique("Lovelace"),
                email_addresses=[person_pb2.EmailAddress(address=f"{unique('ada')}@example.com")],
                phone_numbers=[person_pb2.PhoneNumber(number="+44 20 7946 0000")],
                addresses=[person_pb2.PostalAddress(city="London")],
                job_title="Analyst",
                owner="u1",
                background="Met at the Royal Society.",
                social_handles=[person_pb2.SocialHandle(network="github", handle="ada")],
                tags=["vip"],
                custom_fields={field_id: cf.CustomFieldValue(text_value="Enchantress")},
            )
        )
    )
    suite.contacts.CreateNote(
        contacts.CreateNoteRequest(parent=person.name, note=note_pb2.Note(body="Likes engines."))
    )
    organization = suite.contacts.CreateOrganization(
        contacts.CreateOrganizationRequest(
            organization=organization_pb2.Organization(display_name=unique("Engines "))
        )
    )
    suite.contacts.CreateRelationship(
        contacts.CreateRelationshipRequest(
            relationship=relationship_pb2.Relationship(
                type=EMPLOYMENT, to=organization.name, role="Analyst", **{"from": person.name}
            )
        )
    )
    return person


async def announce_deal(suite: Suite, person_name: str, summary: str) -> None:
    """A timeline entry as the sales service's events would leave one."""
    parent = ParentRef(ParentKind.PERSON, person_name.removeprefix("people/"))
    announcement = Announcement(
        kind=TimelineKind.DEAL_OPENED,
        summary=summary,
        source="sales",
        resource="opportunities/1",
        time=datetime.now(UTC),
        about=(parent,),
    )
    engine = create_engine(suite.database_urls["contacts"])
    try:
        async with session_factory(engine)() as session, session.begin():
            await TimelineRepository(session).record(str(uuid.uuid4()), announcement)
    finally:
        await engine.dispose()


def erase(suite: Suite, name: str) -> person_pb2.Person:
    return suite.contacts.ErasePerson(contacts.ErasePersonRequest(name=name))


def data_of(suite: Suite, name: str) -> contacts.PersonDataExport:
    return suite.contacts.ExportPersonData(contacts.ExportPersonDataRequest(name=name))


async def test_export_person_data_holds_everything(suite: Suite) -> None:
    person = rich_person(suite)
    await announce_deal(suite, person.name, "Deal opened: Engine for Ada")
    data = data_of(suite, person.name)
    assert data.person == person
    assert [note.body for note in data.notes] == ["Likes engines."]
    assert [link.role for link in data.relationships] == ["Analyst"]
    kinds = sorted(note_pb2.TimelineEntryKind.Name(e.kind) for e in data.timeline_entries)
    assert kinds == ["TIMELINE_ENTRY_KIND_DEAL_OPENED", "TIMELINE_ENTRY_KIND_NOTE"]


async def test_erasure_leaves_an_anonymous_tombstone(suite: Suite) -> None:
    person = rich_person(suite)
    await announce_deal(suite, person.name, f"Deal opened: Engine for {person.family_name}")
    customer = support.GetCustomerRequest(name=person.name.replace("people/", "customers/"))
    eventually(lambda: suite.support.GetCustomer(customer))

    tombstone = erase(suite, person.name)
    expected = person_pb2.Person(
        name=person.name,
        create_time=person.create_time,
        update_time=tombstone.update_time,
        etag=tombstone.etag,
        erased=True,
    )
    assert tombstone == expected
    assert tombstone.etag != person.etag
    assert suite.contacts.GetPerson(contacts.GetPersonRequest(name=person.name)) == tombstone

    data = data_of(suite, person.name)
    assert data.person == tombstone
    assert not data.notes and not data.relationships
    (entry,) = data.timeline_entries  # the deal stays, without its words
    assert entry.kind == note_pb2.TIMELINE_ENTRY_KIND_DEAL_OPENED
    assert entry.resource == "opportunities/1"
    assert person.family_name not in entry.summary

    # Nothing finds the person any more, and the email is free again.
    listed = suite.contacts.ListPeople(
        contacts.ListPeopleRequest(filter=f'family_name = "{person.family_name}"')
    )
    assert not listed.people
    found = suite.contacts.SearchContacts(contacts.SearchContactsRequest(query=person.family_name))
    assert not found.results
    email = person.email_addresses[0].address
    reused = suite.contacts.CreatePerson(
        contacts.CreatePersonRequest(
            person=person_pb2.Person(
                given_name="Someone", email_addresses=[person_pb2.EmailAddress(address=email)]
            )
        )
    )
    assert reused.name != person.name

    # contact.erased reached the helpdesk, which keeps the customer but nothing personal.
    def scrubbed() -> None:
        held = suite.support.GetCustomer(customer)
        assert (held.display_name, list(held.email_addresses)) == ("", [])

    eventually(scrubbed)


def test_erasing_again_changes_nothing_and_a_tombstone_stays_as_it_is(suite: Suite) -> None:
    person = rich_person(suite)
    tombstone = erase(suite, person.name)
    assert erase(suite, person.name) == tombstone

    update = rpc_error(
        lambda: suite.contacts.UpdatePerson(
            contacts.UpdatePersonRequest(
                person=person_pb2.Person(name=person.name, given_name="Back"),
                update_mask=FieldMask(paths=["given_name"]),
            )
        )
    )
    assert update.code() == grpc.StatusCode.FAILED_PRECONDITION
    delete = rpc_error(
        lambda: suite.contacts.DeletePerson(contacts.DeletePersonRequest(name=person.name))
    )
    assert delete.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert suite.contacts.GetPerson(contacts.GetPersonRequest(name=person.name)) == tombstone


def test_an_import_cannot_bring_an_erased_person_back(suite: Suite) -> None:
    person = rich_person(suite)
    erase(suite, person.name)
    csv_text = f"name,given_name,family_name\n{person.name},Ada,{person.family_name}\n"
    header = contacts.ImportHeader(kind=cf.CONTACT_KIND_PERSON)
    response = suite.contacts.ImportContacts(
        iter(
            [
                contacts.ImportContactsRequest(header=header),
                contacts.ImportContactsRequest(csv_data=csv_text.encode()),
            ]
        )
    )
    assert response.failed_count == 1
    assert "was erased" in response.errors[0].description


def test_unknown_people_are_not_found(suite: Suite) -> None:
    name = f"people/{unique('nobody-')}"
    assert rpc_error(lambda: erase(suite, name)).code() == grpc.StatusCode.NOT_FOUND
    assert rpc_error(lambda: data_of(suite, name)).code() == grpc.StatusCode.NOT_FOUND
    bad = rpc_error(lambda: erase(suite, "persons/1"))
    assert bad.code() == grpc.StatusCode.INVALID_ARGUMENT
