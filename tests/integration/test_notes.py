"""Notes on people and organizations: CRUD, pages, etags and bad input."""

import uuid

import grpc
from google.protobuf.field_mask_pb2 import FieldMask

from crm.contacts.v1 import contacts_service_pb2 as contacts
from crm.contacts.v1 import note_pb2, organization_pb2, person_pb2
from tests.integration.harness import Suite, field_violations, rpc_error


def new_person(suite: Suite) -> str:
    person = person_pb2.Person(given_name="Ada", family_name=uuid.uuid4().hex[:8])
    return suite.contacts.CreatePerson(contacts.CreatePersonRequest(person=person)).name


def new_organization(suite: Suite) -> str:
    organization = organization_pb2.Organization(display_name=f"Engines {uuid.uuid4().hex[:8]}")
    request = contacts.CreateOrganizationRequest(organization=organization)
    return suite.contacts.CreateOrganization(request).name


def add_note(suite: Suite, parent: str, body: str, author: str = "") -> note_pb2.Note:
    note = note_pb2.Note(body=body, author=author)
    return suite.contacts.CreateNote(contacts.CreateNoteRequest(parent=parent, note=note))


def all_notes(suite: Suite, parent: str, page_size: int = 0) -> list[note_pb2.Note]:
    found: list[note_pb2.Note] = []
    token = ""
    while True:
        page = suite.contacts.ListNotes(
            contacts.ListNotesRequest(parent=parent, page_size=page_size, page_token=token)
        )
        found += page.notes
        token = page.next_page_token
        if not token:
            return found


def update_body(suite: Suite, name: str, body: str, etag: str = "") -> note_pb2.Note:
    return suite.contacts.UpdateNote(
        contacts.UpdateNoteRequest(
            note=note_pb2.Note(name=name, body=body, etag=etag),
            update_mask=FieldMask(paths=["body"]),
        )
    )


def test_create_list_update_delete_on_a_person(suite: Suite) -> None:
    person = new_person(suite)
    created = add_note(suite, person, "Met at the Royal Society.\nKeen on engines.", " u42 ")
    assert created.name.startswith(f"{person}/notes/")
    assert created.body == "Met at the Royal Society.\nKeen on engines."
    assert created.author == "u42"
    assert created.create_time == created.update_time and created.etag

    assert all_notes(suite, person) == [created]

    updated = update_body(suite, created.name, "Met at the Royal Society.", created.etag)
    assert updated.body == "Met at the Royal Society."
    assert updated.etag != created.etag
    assert updated.create_time == created.create_time
    assert updated.update_time.ToDatetime() > created.update_time.ToDatetime()
    assert all_notes(suite, person) == [updated]

    suite.contacts.DeleteNote(contacts.DeleteNoteRequest(name=created.name, etag=updated.etag))
    assert all_notes(suite, person) == []
    gone = rpc_error(lambda: update_body(suite, created.name, "Again"))
    assert gone.code() == grpc.StatusCode.NOT_FOUND


def test_notes_on_an_organization(suite: Suite) -> None:
    organization = new_organization(suite)
    created = add_note(suite, organization, "Renewal due in March.")
    assert created.name.startswith(f"{organization}/notes/")
    assert all_notes(suite, organization) == [created]
    suite.contacts.DeleteNote(contacts.DeleteNoteRequest(name=created.name))
    assert all_notes(suite, organization) == []


def test_notes_list_newest_first_in_stable_pages(suite: Suite) -> None:
    person = new_person(suite)
    written = [add_note(suite, person, f"Note {i}") for i in range(7)]
    first = suite.contacts.ListNotes(contacts.ListNotesRequest(parent=person, page_size=3))
    # A note written while paging is newer than every page: no page shifts.
    late = add_note(suite, person, "Written while paging")
    rest = suite.contacts.ListNotes(
        contacts.ListNotesRequest(parent=person, page_size=3, page_token=first.next_page_token)
    )
    last = suite.contacts.ListNotes(
        contacts.ListNotesRequest(parent=person, page_size=3, page_token=rest.next_page_token)
    )
    paged = [*first.notes, *rest.notes, *last.notes]
    assert [n.body for n in paged] == [f"Note {i}" for i in reversed(range(7))]
    assert not last.next_page_token
    assert all_notes(suite, person) == [late, *reversed(written)]
    # Another parent's notes never leak in.
    assert all_notes(suite, new_person(suite)) == []


def test_update_changes_only_the_body(suite: Suite) -> None:
    person = new_person(suite)
    created = add_note(suite, person, "Original", "u1")
    # An empty mask means the fields set in the note: here only the body.
    implicit = suite.contacts.UpdateNote(
        contacts.UpdateNoteRequest(note=note_pb2.Note(name=created.name, body="Implicit"))
    )
    assert (implicit.body, implicit.author) == ("Implicit", "u1")
    unchanged = update_body(suite, created.name, "Implicit", implicit.etag)
    assert unchanged.etag == implicit.etag
    nothing = suite.contacts.UpdateNote(
        contacts.UpdateNoteRequest(note=note_pb2.Note(name=created.name))
    )
    assert nothing == implicit


def test_stale_etag_is_aborted_and_changes_nothing(suite: Suite) -> None:
    person = new_person(suite)
    created = add_note(suite, person, "v1")
    current = update_body(suite, created.name, "v2", created.etag)
    stale_update = rpc_error(lambda: update_body(suite, created.name, "v3", created.etag))
    assert stale_update.code() == grpc.StatusCode.ABORTED
    stale_delete = rpc_error(
        lambda: suite.contacts.DeleteNote(
            contacts.DeleteNoteRequest(name=created.name, etag=created.etag)
        )
    )
    assert stale_delete.code() == grpc.StatusCode.ABORTED
    assert all_notes(suite, person) == [current]


def test_missing_parents_and_notes_are_not_found(suite: Suite) -> None:
    person = new_person(suite)
    note = add_note(suite, person, "Here")
    other = new_person(suite)
    calls = [
        lambda: add_note(suite, "people/nobody", "Hello"),
        lambda: add_note(suite, "organizations/nothing", "Hello"),
        lambda: suite.contacts.ListNotes(contacts.ListNotesRequest(parent="people/nobody")),
        lambda: update_body(suite, f"{person}/notes/missing", "x"),
        # The same note id under another parent is another (missing) note.
        lambda: update_body(suite, note.name.replace(person, other), "x"),
        lambda: suite.contacts.DeleteNote(contacts.DeleteNoteRequest(name=f"{person}/notes/no")),
        lambda: suite.contacts.DeleteNote(
            contacts.DeleteNoteRequest(name=note.name.replace(person, "people/nobody"))
        ),
    ]
    for index, call in enumerate(calls):
        assert rpc_error(call).code() == grpc.StatusCode.NOT_FOUND, index
    assert all_notes(suite, person) == [note]


def test_bad_input_names_the_field(suite: Suite) -> None:
    person = new_person(suite)
    note = add_note(suite, person, "Fine")
    cases: list[tuple[object, str]] = [
        (lambda: add_note(suite, "persons/1", "Hello"), "parent"),
        (lambda: add_note(suite, "people/1/notes/2", "Hello"), "parent"),
        (lambda: add_note(suite, "", "Hello"), "parent"),
        (lambda: add_note(suite, person, ""), "note.body"),
        (lambda: add_note(suite, person, "  \n\t "), "note.body"),
        (lambda: add_note(suite, person, "x" * 100_001), "note.body"),
        (lambda: add_note(suite, person, "Hello", "a" * 201), "note.author"),
        (
            lambda: suite.contacts.CreateNote(contacts.CreateNoteRequest(parent=person)),
            "note.body",
        ),
        (lambda: suite.contacts.ListNotes(contacts.ListNotesRequest(parent="people")), "parent"),
        (
            lambda: suite.contacts.ListNotes(
                contacts.ListNotesRequest(parent=person, page_size=-1)
            ),
            "page_size",
        ),
        (
            lambda: suite.contacts.ListNotes(
                contacts.ListNotesRequest(parent=person, page_size=1001)
            ),
            "page_size",
        ),
        (
            lambda: suite.contacts.ListNotes(
                contacts.ListNotesRequest(parent=person, page_token="garbage")
            ),
            "page_token",
        ),
        (lambda: update_body(suite, person, "x"), "note.name"),
        (lambda: update_body(suite, "people/1/notes/", "x"), "note.name"),
        (lambda: update_body(suite, note.name, ""), "note.body"),
        (lambda: update_body(suite, note.name, "x" * 100_001), "note.body"),
        (
            lambda: suite.contacts.UpdateNote(
                contacts.UpdateNoteRequest(
                    note=note_pb2.Note(name=note.name, author="u2"),
                    update_mask=FieldMask(paths=["author"]),
                )
            ),
            "update_mask",
        ),
        (
            lambda: suite.contacts.UpdateNote(
                contacts.UpdateNoteRequest(
                    note=note_pb2.Note(name=note.name, body="x"),
                    update_mask=FieldMask(paths=["body", "colour"]),
                )
            ),
            "update_mask",
        ),
        (
            lambda: suite.contacts.DeleteNote(contacts.DeleteNoteRequest(name="notes/1")),
            "name",
        ),
    ]
    for index, (call, field) in enumerate(cases):
        error = rpc_error(call)  # type: ignore[arg-type]
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, index
        assert field in field_violations(error), (index, field_violations(error))
    assert all_notes(suite, person) == [note]


def test_page_token_belongs_to_its_parent(suite: Suite) -> None:
    person, other = new_person(suite), new_person(suite)
    for i in range(2):
        add_note(suite, person, f"Note {i}")
    token = suite.contacts.ListNotes(
        contacts.ListNotesRequest(parent=person, page_size=1)
    ).next_page_token
    assert token
    error = rpc_error(
        lambda: suite.contacts.ListNotes(contacts.ListNotesRequest(parent=other, page_token=token))
    )
    assert "page_token" in field_violations(error)
