"""The customer timeline: events from sales, support and projects, merged with notes.

Events are published onto the real streams exactly as those services' outbox
relays would: the envelope on `crm.events.<source>.<type>`, with the event id
as `Nats-Msg-Id`.
"""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import grpc
import nats
from google.protobuf.message import Message
from google.type.money_pb2 import Money

from crm.contacts.v1 import contacts_service_pb2 as contacts
from crm.contacts.v1 import note_pb2, organization_pb2, person_pb2
from crm.events.v1.event_pb2 import Event
from crm.projects.v1 import events_pb2 as projects_events
from crm.projects.v1.project_pb2 import Project
from crm.sales.v1 import events_pb2 as sales_events
from crm.sales.v1.opportunity_pb2 import Opportunity
from crm.support.v1 import events_pb2 as support_events
from crm.support.v1.ticket_pb2 import Ticket
from crm_common.messaging.broker import ensure_stream, event_stream_config
from crm_common.messaging.envelope import subject_for
from tests.integration.harness import Suite, eventually, field_violations, rpc_error

Kind = note_pb2.TimelineEntryKind
NOTE = Kind.TIMELINE_ENTRY_KIND_NOTE
DEAL_OPENED = Kind.TIMELINE_ENTRY_KIND_DEAL_OPENED
DEAL_WON = Kind.TIMELINE_ENTRY_KIND_DEAL_WON
DEAL_LOST = Kind.TIMELINE_ENTRY_KIND_DEAL_LOST
TICKET_OPENED = Kind.TIMELINE_ENTRY_KIND_TICKET_OPENED
TICKET_SOLVED = Kind.TIMELINE_ENTRY_KIND_TICKET_SOLVED
PROJECT_STARTED = Kind.TIMELINE_ENTRY_KIND_PROJECT_STARTED


def envelope(source: str, event_type: str, payload: Message, occurred_at: datetime) -> Event:
    event = Event(
        id=str(uuid.uuid4()),
        type=event_type,
        source=source,
        aggregate_type=event_type.split(".")[0],
        aggregate_id=uuid.uuid4().hex,
        aggregate_version=1,
    )
    event.occurred_at.FromDatetime(occurred_at)
    event.payload.Pack(payload)
    return event


def publish(suite: Suite, *events: Event, msg_ids: list[str] | None = None) -> None:
    """Publishes as a relay does; `msg_ids` overrides the Nats-Msg-Id headers."""

    async def run() -> None:
        client = await nats.connect(suite.nats.url)
        try:
            js = client.jetstream()
            for index, event in enumerate(events):
                await ensure_stream(js, event_stream_config(event.source, 1))
                msg_id = msg_ids[index] if msg_ids else event.id
                await js.publish(
                    subject_for(event.source, event.type),
                    event.SerializeToString(),
                    headers={"Nats-Msg-Id": msg_id},
                )
        finally:
            await client.close()

    asyncio.run(run())


def new_person(suite: Suite, person_id: str = "") -> str:
    person = person_pb2.Person(given_name="Ada", family_name=uuid.uuid4().hex[:8])
    request = contacts.CreatePersonRequest(person=person, person_id=person_id)
    return suite.contacts.CreatePerson(request).name


def new_organization(suite: Suite) -> str:
    organization = organization_pb2.Organization(display_name=f"Engines {uuid.uuid4().hex[:8]}")
    request = contacts.CreateOrganizationRequest(organization=organization)
    return suite.contacts.CreateOrganization(request).name


def add_note(suite: Suite, parent: str, body: str) -> note_pb2.Note:
    request = contacts.CreateNoteRequest(parent=parent, note=note_pb2.Note(body=body))
    return suite.contacts.CreateNote(request)


def timeline(suite: Suite, parent: str, page_size: int = 0) -> list[note_pb2.TimelineEntry]:
    entries: list[note_pb2.TimelineEntry] = []
    token = ""
    while True:
        page = suite.contacts.ListTimelineEntries(
            contacts.ListTimelineEntriesRequest(
                parent=parent, page_size=page_size, page_token=token
            )
        )
        entries += page.timeline_entries
        token = page.next_page_token
        if not token:
            return entries


def until_resources(
    suite: Suite, parent: str, resources: set[str], events: int = 0
) -> list[note_pb2.TimelineEntry]:
    """The timeline once every resource in `resources` appears on it, with at
    least `events` entries from events (each source has its own consumer, so
    they arrive in no particular order)."""

    def check() -> list[note_pb2.TimelineEntry]:
        entries = timeline(suite, parent)
        missing = resources - {e.resource for e in entries}
        assert not missing, f"not yet on the timeline: {missing}"
        assert sum(e.source != "contacts" for e in entries) >= events
        return entries

    return eventually(check)


def opportunity(name: str, organization: str, people: list[str], units: int) -> Opportunity:
    return Opportunity(
        name=name,
        display_name="Analytical Engine",
        value=Money(currency_code="GBP", units=units, nanos=500_000_000),
        organization=organization,
        people=people,
    )


def test_events_and_notes_merge_newest_first(suite: Suite) -> None:
    person, organization = new_person(suite), new_organization(suite)
    first_note = add_note(suite, person, "Called about engines.\nMore detail.")
    start = first_note.create_time.ToDatetime(tzinfo=UTC)
    deal = opportunity(f"opportunities/{uuid.uuid4().hex}", organization, [person], 12_000)
    ticket = Ticket(
        name=f"tickets/{uuid.uuid4().hex}",
        number=1042,
        subject="Printer on fire",
        requester=person,
        organization=organization,
    )
    project = Project(
        name=f"projects/{uuid.uuid4().hex}",
        display_name="Engine build",
        organization=organization,
        people=[person],
    )
    day = timedelta(days=1)
    publish(
        suite,
        envelope(
            "sales",
            "opportunity.created",
            sales_events.OpportunityCreated(opportunity=deal),
            start - 5 * day,
        ),
        envelope(
            "support",
            "ticket.created",
            support_events.TicketCreated(ticket=ticket),
            start - 4 * day,
        ),
        envelope(
            "sales",
            "opportunity.won",
            sales_events.OpportunityWon(opportunity=deal, reason="Best value"),
            start - 3 * day,
        ),
        envelope(
            "support", "ticket.solved", support_events.TicketSolved(ticket=ticket), start - 2 * day
        ),
        envelope(
            "projects",
            "project.created",
            projects_events.ProjectCreated(project=project),
            # Just after the first note: it must sort between the two notes.
            start + timedelta(milliseconds=1),
        ),
    )
    until_resources(suite, person, {deal.name, ticket.name, project.name}, events=5)
    second_note = add_note(suite, person, "Project kicked off.")

    entries = timeline(suite, person)
    assert [(e.kind, e.source, e.resource, e.summary) for e in entries] == [
        (NOTE, "contacts", second_note.name, "Project kicked off."),
        (PROJECT_STARTED, "projects", project.name, "Project started: Engine build"),
        (NOTE, "contacts", first_note.name, "Called about engines."),
        (TICKET_SOLVED, "support", ticket.name, "Ticket solved: #1042 Printer on fire"),
        (
            DEAL_WON,
            "sales",
            deal.name,
            "Deal won: Analytical Engine (GBP 12,000.50) — Best value",
        ),
        (TICKET_OPENED, "support", ticket.name, "Ticket opened: #1042 Printer on fire"),
        (DEAL_OPENED, "sales", deal.name, "Deal opened: Analytical Engine (GBP 12,000.50)"),
    ]
    assert entries[0].note == second_note and entries[2].note == first_note
    assert not any(e.HasField("note") for e in entries if e.kind != NOTE)
    times = [e.time.ToDatetime() for e in entries]
    assert times == sorted(times, reverse=True)
    assert entries[-1].time.ToDatetime(tzinfo=UTC) == start - 5 * day

    # The organization sees the same announcements, with its own notes only.
    org_note = add_note(suite, organization, "Account review booked.")
    org_entries = until_resources(suite, organization, {deal.name, ticket.name, project.name})
    assert org_entries[0].note == org_note
    assert [e.kind for e in org_entries] == [
        NOTE,
        PROJECT_STARTED,
        TICKET_SOLVED,
        DEAL_WON,
        TICKET_OPENED,
        DEAL_OPENED,
    ]


def test_pages_are_stable_across_the_merged_sequence(suite: Suite) -> None:
    person = new_person(suite)
    base = datetime.now(UTC) - timedelta(hours=1)
    events = []
    for index in range(6):
        deal = opportunity(f"opportunities/{uuid.uuid4().hex}", "", [person], index)
        payload = sales_events.OpportunityLost(opportunity=deal)
        # Pairs share a time: the tie-breaker must still give one order.
        events.append(
            envelope("sales", "opportunity.lost", payload, base + timedelta(minutes=index // 2))
        )
    publish(suite, *events)
    for index in range(3):
        add_note(suite, person, f"Note {index}")
    everything = eventually(lambda: _assert_length(timeline(suite, person, page_size=1000), 9))
    assert [e.kind for e in everything].count(DEAL_LOST) == 6
    assert "Deal lost: Analytical Engine (GBP 0.50)" in {e.summary for e in everything}

    for size in (1, 2, 4):
        assert timeline(suite, person, page_size=size) == everything, size
    first = suite.contacts.ListTimelineEntries(
        contacts.ListTimelineEntriesRequest(parent=person, page_size=4)
    )
    # A note written while paging is newer than every page: later pages do not shift.
    add_note(suite, person, "Written while paging")
    rest = timeline_after(suite, person, first.next_page_token, page_size=4)
    assert [*first.timeline_entries, *rest] == everything


def timeline_after(
    suite: Suite, parent: str, token: str, page_size: int
) -> list[note_pb2.TimelineEntry]:
    entries: list[note_pb2.TimelineEntry] = []
    while token:
        page = suite.contacts.ListTimelineEntries(
            contacts.ListTimelineEntriesRequest(
                parent=parent, page_size=page_size, page_token=token
            )
        )
        entries += page.timeline_entries
        token = page.next_page_token
    return entries


def test_a_redelivered_event_yields_one_entry(suite: Suite) -> None:
    person = new_person(suite)
    deal = opportunity(f"opportunities/{uuid.uuid4().hex}", "", [person, person], 1)
    event = envelope(
        "sales", "opportunity.created", sales_events.OpportunityCreated(opportunity=deal), _now()
    )
    # Twice with the same Nats-Msg-Id (the broker drops the copy), then once
    # more as a relay re-publishing after the duplicate window (the inbox does).
    publish(suite, event, event, event, msg_ids=[event.id, event.id, str(uuid.uuid4())])
    marker = opportunity(f"opportunities/{uuid.uuid4().hex}", "", [person], 2)
    publish(
        suite,
        envelope(
            "sales",
            "opportunity.created",
            sales_events.OpportunityCreated(opportunity=marker),
            _now(),
        ),
    )
    # One consumer applies the stream in order: once the marker is there, so
    # are all the copies before it.
    entries = until_resources(suite, person, {marker.name})
    assert [e.resource for e in entries].count(deal.name) == 1


def test_events_about_unknown_contacts_are_kept_for_them(suite: Suite) -> None:
    future_id = uuid.uuid4().hex
    ticket = Ticket(
        name=f"tickets/{uuid.uuid4().hex}",
        number=7,
        subject="Before we met",
        requester=f"people/{future_id}",
        organization="organizations/does-not-exist",
    )
    publish(
        suite,
        envelope("support", "ticket.created", support_events.TicketCreated(ticket=ticket), _now()),
    )
    missing = rpc_error(
        lambda: suite.contacts.ListTimelineEntries(
            contacts.ListTimelineEntriesRequest(parent=f"people/{future_id}")
        )
    )
    assert missing.code() == grpc.StatusCode.NOT_FOUND
    person = new_person(suite, person_id=future_id)
    entries = until_resources(suite, person, {ticket.name})
    assert [e.summary for e in entries] == ["Ticket opened: #7 Before we met"]


def test_bad_requests_name_the_field(suite: Suite) -> None:
    person, other = new_person(suite), new_person(suite)
    for index in range(3):
        add_note(suite, person, f"Note {index}")
    token = suite.contacts.ListTimelineEntries(
        contacts.ListTimelineEntriesRequest(parent=person, page_size=1)
    ).next_page_token
    notes_token = suite.contacts.ListNotes(
        contacts.ListNotesRequest(parent=person, page_size=1)
    ).next_page_token
    cases = [
        (contacts.ListTimelineEntriesRequest(parent=""), "parent"),
        (contacts.ListTimelineEntriesRequest(parent="customers/1"), "parent"),
        (contacts.ListTimelineEntriesRequest(parent=f"{person}/notes/1"), "parent"),
        (contacts.ListTimelineEntriesRequest(parent=person, page_size=-1), "page_size"),
        (contacts.ListTimelineEntriesRequest(parent=person, page_size=1001), "page_size"),
        (contacts.ListTimelineEntriesRequest(parent=person, page_token="garbage"), "page_token"),
        # A token is for the parent and the list it came from.
        (contacts.ListTimelineEntriesRequest(parent=other, page_token=token), "page_token"),
        (contacts.ListTimelineEntriesRequest(parent=person, page_token=notes_token), "page_token"),
    ]
    for request, field in cases:
        error = rpc_error(lambda request=request: suite.contacts.ListTimelineEntries(request))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, request
        assert field in field_violations(error), request
    for parent in ("people/nobody", "organizations/nothing"):
        request = contacts.ListTimelineEntriesRequest(parent=parent)
        missing = rpc_error(lambda request=request: suite.contacts.ListTimelineEntries(request))
        assert missing.code() == grpc.StatusCode.NOT_FOUND


def _now() -> datetime:
    return datetime.now(UTC)


def _assert_length(entries: list[note_pb2.TimelineEntry], length: int) -> list:
    assert len(entries) == length
    return entries
