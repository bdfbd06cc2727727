"""Notes: names, body rules, edits."""

from datetime import UTC, datetime, timedelta

import pytest

from crm_common.errors import InvalidArgument
from crm_contacts.domain.notes import BODY_MAX, Note, NoteRef, ParentKind, ParentRef

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
ADA = ParentRef(ParentKind.PERSON, "ada")


def test_names_parse_and_print() -> None:
    assert ParentRef.parse("people/ada") == ADA
    assert ParentRef.parse("organizations/acme") == ParentRef(ParentKind.ORGANIZATION, "acme")
    ref = NoteRef.parse("organizations/acme/notes/n1")
    assert ref is not None and ref.name == "organizations/acme/notes/n1"
    for bad in ("", "people/", "people/a/b", "persons/a", "people/a/notes/n"):
        assert ParentRef.parse(bad) is None, bad
    for bad in ("", "people/a", "people/a/notes/", "people//notes/n", "people/a/notes/n/x"):
        assert NoteRef.parse(bad) is None, bad


def test_body_is_required_and_bounded() -> None:
    for body, problem in (
        ("", "is required"),
        (" \n ", "is required"),
        ("x" * (BODY_MAX + 1), "longer"),
    ):
        with pytest.raises(InvalidArgument) as error:
            Note.create(NoteRef(ADA, "n"), body, "", NOW)
        assert error.value.violations[0].field == "note.body"
        assert problem in error.value.violations[0].description
    assert Note.create(NoteRef(ADA, "n"), "x" * BODY_MAX, "u1", NOW).body == "x" * BODY_MAX


def test_edit_bumps_the_version_only_on_change() -> None:
    note = Note.create(NoteRef(ADA, "n"), "  First\n", " u1 ", NOW)
    assert note.body == "  First\n" and note.author == "u1"
    later = NOW + timedelta(minutes=1)
    assert not note.edit("  First\n", later)
    assert note.version == 1 and note.update_time == NOW
    assert note.edit("Second", later)
    assert (note.version, note.update_time, note.create_time) == (2, later, NOW)
    with pytest.raises(InvalidArgument):
        note.edit("", later)
