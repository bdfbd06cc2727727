from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from crm_common.errors import InvalidArgument
from crm_contacts.domain.custom_fields import ContactKind
from crm_contacts.domain.relationships import (
    NewRelationship,
    RecordRef,
    Relationship,
    RelationshipDetails,
    RelationshipDraft,
    RelationshipType,
    RelationshipTypeDraft,
    parse_draft,
    plan_repoint,
)

NOW = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
TODAY = NOW.date()
PERSON, ORGANIZATION = ContactKind.PERSON, ContactKind.ORGANIZATION
EMPLOYMENT = RelationshipType("employment", "works at", "employs", PERSON, ORGANIZATION, NOW)
ADA, CHARLES = RecordRef(PERSON, "ada"), RecordRef(PERSON, "charles")
ENGINES = RecordRef(ORGANIZATION, "engines")


def violations(call: Callable[[], object]) -> dict[str, str]:
    with pytest.raises(InvalidArgument) as error:
        call()
    return {v.field: v.description for v in error.value.violations}


def draft(**fields: object) -> RelationshipDraft:
    base: dict[str, object] = {
        "type": "relationshipTypes/employment",
        "from_": "people/ada",
        "to": "organizations/engines",
    }
    return RelationshipDraft(**{**base, **fields})


def employment(end: date | None = None, **fields: object) -> Relationship:
    new = parse_draft(draft(end_date=(end.year, end.month, end.day) if end else None))
    made = Relationship.create("r1", new, EMPLOYMENT, NOW)
    return replace(made, **fields) if fields else made


# --- Types ----------------------------------------------------------------------


def test_type_labels_are_trimmed_and_ids_checked() -> None:
    created = RelationshipType.create(
        RelationshipTypeDraft("reports-to", " reports to ", "manages", PERSON, PERSON), NOW
    )
    assert created.name == "relationshipTypes/reports-to"
    assert created.display_name == "reports to" and created.version == 1


def test_type_reports_every_problem() -> None:
    empty = RelationshipTypeDraft("", "", " ", None, None)
    assert set(violations(lambda: RelationshipType.create(empty, NOW))) == {
        "relationship_type_id",
        "relationship_type.display_name",
        "relationship_type.inverse_display_name",
        "relationship_type.from_kind",
        "relationship_type.to_kind",
    }
    bad = RelationshipTypeDraft("Reports To", "x" * 101, "ok", PERSON, PERSON)
    assert set(violations(lambda: RelationshipType.create(bad, NOW))) == {
        "relationship_type_id",
        "relationship_type.display_name",
    }
    assert RelationshipType.create(replace(bad, id="a" * 63, display_name="x" * 100), NOW)
    too_long = replace(bad, id="a" * 64, display_name="ok")
    assert set(violations(lambda: RelationshipType.create(too_long, NOW))) == {
        "relationship_type_id"
    }


def test_ends_must_be_of_the_types_kinds() -> None:
    EMPLOYMENT.check_ends(ADA, ENGINES)
    assert set(violations(lambda: EMPLOYMENT.check_ends(ENGINES, ADA))) == {
        "relationship.from",
        "relationship.to",
    }
    assert set(violations(lambda: EMPLOYMENT.check_ends(ADA, CHARLES))) == {"relationship.to"}


# --- Drafts ---------------------------------------------------------------------


def test_record_names() -> None:
    assert RecordRef.parse("people/ada") == ADA
    assert RecordRef.parse("organizations/engines") == ENGINES
    assert ADA.name == "people/ada" and ENGINES.name == "organizations/engines"
    for name in ("", "people/", "people/a/b", "persons/a", "organizations", "relationships/1"):
        assert RecordRef.parse(name) is None, name


def test_a_good_draft_is_normalised() -> None:
    new = parse_draft(draft(role=" CTO ", start_date=(2020, 1, 6), end_date=(2020, 1, 6)))
    assert new == NewRelationship(
        "employment", ADA, ENGINES, RelationshipDetails("CTO", date(2020, 1, 6), date(2020, 1, 6))
    )


def test_a_draft_reports_every_problem() -> None:
    assert violations(lambda: parse_draft(draft(type="", from_="", to=""))) == {
        "relationship.type": "is required",
        "relationship.from": "is required",
        "relationship.to": "is required",
    }
    malformed = draft(type="employment", from_="person/1", to="organizations/")
    assert set(violations(lambda: parse_draft(malformed))) == {
        "relationship.type",
        "relationship.from",
        "relationship.to",
    }
    assert set(violations(lambda: parse_draft(draft(to="people/ada")))) == {"relationship.to"}


@pytest.mark.parametrize(
    "parts", [(2024, 0, 0), (0, 5, 17), (2023, 2, 29), (2024, 13, 1), (2024, 4, 31), (10000, 1, 1)]
)
def test_dates_must_be_full_and_valid(parts: tuple[int, int, int]) -> None:
    found = violations(lambda: parse_draft(draft(start_date=parts, end_date=parts)))
    assert set(found) == {"relationship.start_date", "relationship.end_date"}


def test_end_date_not_before_start_date_and_role_length() -> None:
    backwards = draft(start_date=(2024, 1, 2), end_date=(2024, 1, 1), role="r" * 201)
    assert violations(lambda: parse_draft(backwards)) == {
        "relationship.end_date": "is before relationship.start_date",
        "relationship.role": "is longer than 200 characters",
    }


# --- Relationships ----------------------------------------------------------------


def test_create_checks_kinds() -> None:
    new = parse_draft(draft(from_="organizations/engines", to="people/ada"))
    assert set(violations(lambda: Relationship.create("r1", new, EMPLOYMENT, NOW))) == {
        "relationship.from",
        "relationship.to",
    }


def test_current_means_no_end_date_or_one_still_ahead() -> None:
    assert employment().is_current(TODAY)
    assert employment(TODAY + timedelta(days=1)).is_current(TODAY)
    assert not employment(TODAY).is_current(TODAY)
    assert not employment(TODAY - timedelta(days=1)).is_current(TODAY)


def test_update_changes_only_what_differs_and_keeps_the_rules() -> None:
    relationship = employment()
    later = NOW + timedelta(hours=1)
    assert relationship.update({"role": "", "end_date": None}, later) == []
    assert relationship.version == 1 and relationship.update_time == NOW

    assert relationship.update({"role": " CTO", "start_date": (2020, 1, 1)}, later) == [
        "role",
        "start_date",
    ]
    assert relationship.details == RelationshipDetails("CTO", date(2020, 1, 1))
    assert relationship.version == 2 and relationship.update_time == later

    assert violations(lambda: relationship.update({"end_date": (2019, 1, 1)}, later)) == {
        "relationship.end_date": "is before relationship.start_date"
    }
    assert relationship.details.end_date is None and relationship.version == 2


# --- Repointing -------------------------------------------------------------------


def link(
    link_id: str, from_: RecordRef, to: RecordRef, *, type_id: str = "knows", **details: object
) -> Relationship:
    created = NOW + timedelta(minutes=len(link_id))
    return Relationship(
        link_id, type_id, from_, to, RelationshipDetails(**details), created, created
    )


def test_repointing_moves_both_ends_and_drops_self_links_and_duplicates() -> None:
    old, new, eve = RecordRef(PERSON, "old"), RecordRef(PERSON, "new"), RecordRef(PERSON, "eve")
    ended = {"role": "Analyst", "end_date": date(2001, 1, 1)}
    links = [
        link("kept", new, eve),
        link("from-old", old, CHARLES),
        link("to-old", eve, old, type_id="manages"),
        link("open-duplicate", old, eve, role="other role"),
        link("self", old, new),
        link("past", old, ENGINES, type_id="employment", **ended),
        link("past-duplicate", old, ENGINES, type_id="employment", **ended),
        link(
            "past-different",
            old,
            ENGINES,
            type_id="employment",
            role="CTO",
            end_date=date(2001, 1, 1),
        ),
    ]
    plan = plan_repoint(links, old, new, NOW)
    assert [r.id for r in plan.dropped] == ["self", "open-duplicate", "past-duplicate"]
    moved = {r.id: r for r in plan.moved}
    assert set(moved) == {"from-old", "to-old", "past", "past-different"}
    assert (moved["from-old"].from_, moved["from-old"].to) == (new, CHARLES)
    assert (moved["to-old"].from_, moved["to-old"].to) == (eve, new)
    assert all(r.version == 2 and r.update_time == NOW for r in plan.moved)
    # The input is not changed: the caller saves with the versions it read.
    assert links[1].from_ == old and links[1].version == 1


def test_repointing_needs_records_of_one_kind() -> None:
    with pytest.raises(ValueError):
        plan_repoint([], ADA, ENGINES, NOW)
