"""Likely duplicates and merging people, on SQLite and PostgreSQL, down to the
support service's read model."""

import random
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import grpc
from sqlalchemy import insert

from crm.contacts.v1 import contacts_service_pb2 as contacts
from crm.contacts.v1 import custom_field_pb2 as cf
from crm.contacts.v1 import note_pb2, person_pb2
from crm.sales.v1 import events_pb2 as sales_events
from crm.support.v1 import support_service_pb2 as support
from crm_common.storage.db import create_engine, session_factory
from crm_contacts.domain.duplicates import DuplicateGroup, DuplicateReason
from crm_contacts.storage.duplicates import duplicate_groups
from tests.integration.harness import Databases, Suite, eventually, field_violations, rpc_error
from tests.integration.test_custom_fields import define, key
from tests.integration.test_relationships import EMPLOYMENT, day, link, listed, organization
from tests.integration.test_search_migration import _migrate, _record, people
from tests.integration.test_timeline import envelope, opportunity, publish, until_resources

SAME_EMAIL = contacts.DUPLICATE_REASON_SAME_EMAIL
SAME_PHONE = contacts.DUPLICATE_REASON_SAME_PHONE
SIMILAR_NAME = contacts.DUPLICATE_REASON_SIMILAR_NAME_SAME_ORGANIZATION


def create(
    suite: Suite,
    given_name: str,
    family_name: str = "",
    emails: tuple[str, ...] = (),
    phones: tuple[str, ...] = (),
    **fields: object,
) -> person_pb2.Person:
    person = person_pb2.Person(
        given_name=given_name,
        family_name=family_name,
        email_addresses=[person_pb2.EmailAddress(address=a) for a in emails],
        phone_numbers=[person_pb2.PhoneNumber(number=n) for n in phones],
        **fields,
    )
    return suite.contacts.CreatePerson(contacts.CreatePersonRequest(person=person))


def all_groups(suite: Suite, page_size: int = 0) -> list[contacts.DuplicateGroup]:
    groups: list[contacts.DuplicateGroup] = []
    token = ""
    while True:
        page = suite.contacts.FindDuplicatePeople(
            contacts.FindDuplicatePeopleRequest(page_size=page_size, page_token=token)
        )
        groups += page.groups
        token = page.next_page_token
        if not token:
            return groups


def groups_of(groups: list[contacts.DuplicateGroup], *people: str) -> list[tuple[object, ...]]:
    """(reason, evidence, people) of each group holding any of `people`."""
    return [(g.reason, g.evidence, list(g.people)) for g in groups if set(g.people) & set(people)]


def merge(suite: Suite, person: str, *merged: str, etag: str = "") -> person_pb2.Person:
    return suite.contacts.MergePeople(
        contacts.MergePeopleRequest(person=person, merged_people=merged, etag=etag)
    )


def get(suite: Suite, name: str) -> person_pb2.Person:
    return suite.contacts.GetPerson(contacts.GetPersonRequest(name=name))


def status(call: Callable[[], object]) -> tuple[grpc.StatusCode, str]:
    error = rpc_error(call)
    return error.code(), error.details() or ""


def local_number() -> str:
    return "".join(random.choices("0123456789", k=8))


# --- Finding duplicates ---------------------------------------------------------


def test_duplicates_by_email_phone_and_similar_name(suite: Suite) -> None:
    uid = uuid.uuid4().hex[:8]
    number = local_number()
    # Dots and tags in a Gmail address, and case: one mailbox.
    first = create(suite, "Ada", emails=(f"ada.{uid}@gmail.com",))
    second = create(suite, "Augusta", emails=(f"A.D.A.{uid}+crm@googlemail.com",))
    # One number, international and national.
    caller = create(suite, "Charles", phones=(f"+44 7{number}",))
    again = create(suite, "Charlie", phones=(f"07{number[:4]}-{number[4:]}",))
    # Dots count outside Gmail; different numbers are different.
    create(suite, "Xavier", emails=(f"x.{uid}@example.com",), phones=(f"+44 8{number}",))
    create(suite, "Xena", emails=(f"x{uid}@example.com",))
    # Names alike at the same organization, not elsewhere nor unalike.
    engines, elsewhere = organization(suite, f"Engines {uid}"), organization(suite, "Elsewhere")
    grace = create(suite, "Grace", f"Hopper{uid}")
    initial = create(suite, "G.", f"Hopper{uid}")
    typo = create(suite, "Grace", f"Hoppre{uid}")
    alan = create(suite, "Alan", f"Turing{uid}")
    turing = create(suite, "A.", f"Turing{uid}")
    away = create(suite, "Grace", f"Hopper{uid}")
    for person in (grace, initial, typo, alan, turing):
        link(suite, EMPLOYMENT, person.name, engines)
    link(suite, EMPLOYMENT, away.name, elsewhere)
    past = create(suite, "Grace", f"Hopper{uid}")
    link(suite, EMPLOYMENT, past.name, engines, end_date=day(date(2020, 1, 1)))

    groups = all_groups(suite)
    ours = groups_of(groups, *(p.name for p in (first, caller, grace, alan, away, past)))
    assert sorted(ours) == sorted(
        [
            (SAME_EMAIL, f"ada{uid}@gmail.com", [first.name, second.name]),
            (SAME_PHONE, f"7{number}", [caller.name, again.name]),
            (SIMILAR_NAME, engines, [grace.name, initial.name, typo.name]),
            (SIMILAR_NAME, engines, [alan.name, turing.name]),
        ]
    )
    assert not [g for g in groups if uid in g.evidence and g.evidence.startswith("x")]
    # Small pages give the same groups in the same order, also where a page
    # ends between two groups of one organization.
    assert all_groups(suite, page_size=1) == groups


def test_pages_of_groups_stay_stable_while_people_change(suite: Suite) -> None:
    uid = uuid.uuid4().hex[:8]
    for index in range(3):
        for address in (f"twin{index}.{uid}@gmail.com", f"twin{index}{uid}@gmail.com"):
            create(suite, "Twin", emails=(address,))
    first = suite.contacts.FindDuplicatePeople(contacts.FindDuplicatePeopleRequest(page_size=2))
    # A group sorting before where the first page ended does not shift the rest.
    early = f"0-{uid}@example.com"
    create(suite, "Early", emails=(early,))
    create(suite, "Early", emails=(early.replace("@", "+x@"),))
    rest = all_groups_after(suite, first.next_page_token)
    now = all_groups(suite)
    assert [g.evidence for g in now].count(early) == 1
    assert [*first.groups, *rest] == [g for g in now if g.evidence != early]
    listed = {g.evidence for g in (*first.groups, *rest)}
    assert {f"twin{i}{uid}@gmail.com" for i in range(3)} <= listed


def all_groups_after(suite: Suite, token: str) -> list[contacts.DuplicateGroup]:
    groups: list[contacts.DuplicateGroup] = []
    while token:
        page = suite.contacts.FindDuplicatePeople(
            contacts.FindDuplicatePeopleRequest(page_size=2, page_token=token)
        )
        groups += page.groups
        token = page.next_page_token
    return groups


async def test_migration_backfills_the_keys_of_existing_people(databases: Databases) -> None:
    engine = create_engine(databases.new("contacts"))
    try:
        await _migrate(engine, "upgrade", "0001")
        names = {"given_name": "Ada", "family_name": "Lovelace", "job_title": ""}
        async with engine.begin() as connection:
            await connection.execute(
                insert(people),
                [
                    {**_record("a1", ["ada@gmail.com"]), **names},
                    {**_record("a2", ["a.d.a+crm@gmail.com"]), **names},
                    {
                        **_record("b1", []),
                        **names,
                        "phone_numbers": [{"number": "+1 212 555 0100", "type": "work"}],
                    },
                    {
                        **_record("b2", []),
                        **names,
                        "phone_numbers": [{"number": "(212) 555-0100", "type": "home"}],
                    },
                ],
            )
        # Just what the finder reads: other branches are not this test's concern.
        for revision in ("0005", "0007"):
            await _migrate(engine, "upgrade", revision)
        async with session_factory(engine)() as session:
            found = await duplicate_groups(session, None, 10, date.today())
        assert found == [
            DuplicateGroup(DuplicateReason.SAME_EMAIL, "ada@gmail.com", ("a1", "a2")),
            DuplicateGroup(DuplicateReason.SAME_PHONE, "125550100", ("b1", "b2")),
        ]
    finally:
        await engine.dispose()


# --- Merging --------------------------------------------------------------------


def test_merge_moves_links_notes_timeline_fields_and_emails(suite: Suite) -> None:
    uid = uuid.uuid4().hex[:8]
    region, tier = (
        define(suite, cf.CUSTOM_FIELD_TYPE_TEXT, stem="region"),
        define(suite, cf.CUSTOM_FIELD_TYPE_NUMBER, stem="tier"),
    )
    engines, mills = organization(suite, f"Engines {uid}"), organization(suite, f"Mills {uid}")
    survivor = create(
        suite,
        "Ada",
        emails=(f"ada.{uid}@example.com",),
        tags=["VIP"],
        custom_fields={key(region): cf.CustomFieldValue(text_value="emea")},
    )
    first = create(
        suite,
        "Augusta Ada",
        "Lovelace",
        emails=(f"countess.{uid}@example.com",),
        job_title="Analyst",
        tags=["board", "vip"],
        custom_fields={
            key(region): cf.CustomFieldValue(text_value="apac"),
            key(tier): cf.CustomFieldValue(number_value=2),
        },
    )
    second = create(suite, "A.", "Lovelace", emails=(f"al.{uid}@example.com",))
    kept = link(suite, EMPLOYMENT, survivor.name, engines)
    link(suite, EMPLOYMENT, first.name, engines)  # the same link: dropped
    moved = link(suite, EMPLOYMENT, first.name, mills, role="Advisor")
    notes = [
        suite.contacts.CreateNote(
            contacts.CreateNoteRequest(parent=person.name, note=note_pb2.Note(body=body))
        )
        for person, body in ((first, "First note"), (second, "Second note"))
    ]
    both = opportunity(f"opportunities/{uuid.uuid4().hex}", "", [survivor.name, first.name], 1)
    own = opportunity(f"opportunities/{uuid.uuid4().hex}", "", [second.name], 2)
    when = datetime.now(UTC) - timedelta(days=1)
    publish(
        suite,
        envelope(
            "sales", "opportunity.created", sales_events.OpportunityCreated(opportunity=both), when
        ),
        envelope(
            "sales", "opportunity.created", sales_events.OpportunityCreated(opportunity=own), when
        ),
    )
    until_resources(suite, first.name, {both.name})
    until_resources(suite, second.name, {own.name})

    merged = merge(suite, survivor.name, first.name, second.name, etag=survivor.etag)

    assert merged.name == survivor.name and merged.etag != survivor.etag
    assert [e.address for e in merged.email_addresses] == [
        f"ada.{uid}@example.com",
        f"countess.{uid}@example.com",
        f"al.{uid}@example.com",
    ]
    assert (merged.given_name, merged.family_name, merged.job_title) == (
        "Ada",
        "Lovelace",
        "Analyst",
    )
    assert list(merged.tags) == ["vip", "board"]
    assert merged.custom_fields[key(region)].text_value == "emea"
    assert merged.custom_fields[key(tier)].number_value == 2
    assert get(suite, survivor.name) == merged
    for gone in (first.name, second.name):
        assert status(lambda gone=gone: get(suite, gone))[0] == grpc.StatusCode.NOT_FOUND

    # Links: the survivor's one at Engines (no duplicate), the moved one at Mills.
    assert listed(suite, engines) == [kept.name]
    assert listed(suite, mills) == [moved.name]
    assert set(listed(suite, survivor.name)) == {kept.name, moved.name}
    assert (
        getattr(
            suite.contacts.GetRelationship(contacts.GetRelationshipRequest(name=moved.name)), "from"
        )
        == survivor.name
    )
    # Notes, and the timeline with the shared event once.
    listed_notes = suite.contacts.ListNotes(contacts.ListNotesRequest(parent=survivor.name)).notes
    assert {n.body for n in listed_notes} == {"First note", "Second note"}
    assert all(n.name.startswith(survivor.name + "/notes/") for n in listed_notes)
    assert {n.name.rsplit("/", 1)[1] for n in listed_notes} == {
        n.name.rsplit("/", 1)[1] for n in notes
    }
    entries = suite.contacts.ListTimelineEntries(
        contacts.ListTimelineEntriesRequest(parent=survivor.name)
    ).timeline_entries
    assert sorted(e.resource for e in entries if e.source == "sales") == sorted(
        [both.name, own.name]
    )
    # The merged people's addresses find the survivor, and are still taken.
    found = suite.contacts.ListPeople(
        contacts.ListPeopleRequest(filter=f'email_addresses:"countess.{uid}@example.com"')
    ).people
    assert [p.name for p in found] == [survivor.name]
    taken = status(lambda: create(suite, "Eve", emails=(f"AL.{uid}@example.com",)))
    assert taken[0] == grpc.StatusCode.ALREADY_EXISTS and survivor.name in taken[1]
    # No longer listed as duplicates of anything.
    assert not groups_of(all_groups(suite), first.name, second.name)

    # An etag read before the merge is stale now.
    late = create(suite, "Ada", emails=(f"late.{uid}@example.com",))
    code, _ = status(lambda: merge(suite, survivor.name, late.name, etag=survivor.etag))
    assert code == grpc.StatusCode.ABORTED
    assert get(suite, late.name) == late and get(suite, survivor.name) == merged

    # The helpdesk follows: the merged customers go, the survivor is current.
    def support_followed() -> None:
        customer = suite.support.GetCustomer(
            support.GetCustomerRequest(name=survivor.name.replace("people/", "customers/"))
        )
        assert list(customer.email_addresses) == [e.address for e in merged.email_addresses]
        assert customer.display_name == "Ada Lovelace"
        for gone in (first.name, second.name):
            request = support.GetCustomerRequest(name=gone.replace("people/", "customers/"))
            error = rpc_error(lambda request=request: suite.support.GetCustomer(request))
            assert error.code() == grpc.StatusCode.NOT_FOUND

    eventually(support_followed)


def test_merge_without_new_fields_still_changes_the_etag(suite: Suite) -> None:
    uid = uuid.uuid4().hex[:8]
    survivor = create(suite, "Ada", f"Lovelace{uid}")
    twin = create(suite, "Ada", f"Lovelace{uid}")
    merged = merge(suite, survivor.name, twin.name)
    assert merged.etag != survivor.etag and merged.update_time != survivor.update_time
    assert merged.given_name == "Ada" and not merged.email_addresses


def test_bad_merge_requests_name_the_field_and_change_nothing(suite: Suite) -> None:
    uid = uuid.uuid4().hex[:8]
    ada = create(suite, "Ada", emails=(f"ada.{uid}@example.com",))
    twin = create(suite, "Ada", emails=(f"ada.{uid}+twin@example.com",))

    def invalid(person: str, *merged: str) -> dict[str, str]:
        error = rpc_error(lambda: merge(suite, person, *merged))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
        return field_violations(error)

    assert set(invalid(ada.name, ada.name)) == {"merged_people[0]"}
    assert set(invalid(ada.name, twin.name, twin.name)) == {"merged_people[1]"}
    assert set(invalid(ada.name)) == {"merged_people"}
    too_many = [f"people/p{i}-{uid}" for i in range(21)]
    assert set(invalid(ada.name, *too_many)) == {"merged_people"}
    assert set(invalid("", twin.name)) == {"person"}
    assert set(invalid("organizations/x", twin.name)) == {"person"}
    assert set(invalid(ada.name, "people/", "people/a/b")) == {
        "merged_people[0]",
        "merged_people[1]",
    }

    missing = f"people/missing-{uid}"
    code, details = status(lambda: merge(suite, missing, twin.name))
    assert code == grpc.StatusCode.NOT_FOUND and missing in details and "person" in details
    code, details = status(lambda: merge(suite, ada.name, twin.name, missing))
    assert code == grpc.StatusCode.NOT_FOUND
    assert missing in details and "merged_people[1]" in details

    # An erased person is a tombstone: it neither merges nor absorbs anyone.
    erased = create(suite, "Eve", emails=(f"eve.{uid}@example.com",))
    suite.contacts.ErasePerson(contacts.ErasePersonRequest(name=erased.name))
    for survivor, other in ((ada.name, erased.name), (erased.name, ada.name)):
        code, details = status(lambda s=survivor, o=other: merge(suite, s, o))
        assert code == grpc.StatusCode.FAILED_PRECONDITION and erased.name in details

    stale = 'W/"999"'
    assert status(lambda: merge(suite, ada.name, twin.name, etag=stale))[0] == (
        grpc.StatusCode.ABORTED
    )
    assert get(suite, ada.name) == ada and get(suite, twin.name) == twin

    for request, field in (
        (contacts.FindDuplicatePeopleRequest(page_size=101), "page_size"),
        (contacts.FindDuplicatePeopleRequest(page_size=-1), "page_size"),
        (contacts.FindDuplicatePeopleRequest(page_token="%%%"), "page_token"),
    ):
        error = rpc_error(lambda request=request: suite.contacts.FindDuplicatePeople(request))
        assert field in field_violations(error)
