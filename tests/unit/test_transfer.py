"""CSV import and export, the pure part: chunked CSV reading, columns, cells,
identity, and that every exported cell reads back as the value it came from."""

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from crm_common.errors import InvalidArgument
from crm_contacts.domain.contact_points import (
    ContactPointType,
    EmailAddress,
    PhoneNumber,
    PostalAddress,
    SocialHandle,
)
from crm_contacts.domain.csv_chunks import MAX_RECORD_CHARS, CsvChunkReader, MalformedRecord
from crm_contacts.domain.custom_fields import (
    ContactKind,
    CustomFieldDefinition,
    CustomValue,
    DefinitionSpec,
    FieldType,
)
from crm_contacts.domain.model import Person, PersonDetails
from crm_contacts.domain.organizations import Organization, OrganizationDetails
from crm_contacts.domain.privacy import erase
from crm_contacts.domain.transfer import (
    ImportPlan,
    ImportRow,
    Outcome,
    RowError,
    RowRejected,
    apply_row,
    derived_id,
    export_cells,
    export_header,
    join_items,
    parse_row,
    plan_import,
    resolve_target,
    split_items,
)

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
PERSON = ContactKind.PERSON
ORGANIZATION = ContactKind.ORGANIZATION


def definition(field_id: str, field_type: FieldType, *options: str) -> CustomFieldDefinition:
    spec = DefinitionSpec(
        display_name=field_id, type=field_type, options=options, applies_to=(PERSON, ORGANIZATION)
    )
    return CustomFieldDefinition.create(field_id, spec, NOW)


DEFINITIONS = {
    "region": definition("region", FieldType.SINGLE_SELECT, "EMEA", "APAC"),
    "score": definition("score", FieldType.NUMBER),
    "since": definition("since", FieldType.DATE),
    "active": definition("active", FieldType.BOOLEAN),
    "site": definition("site", FieldType.URL),
    "note": definition("note", FieldType.TEXT),
}
CUSTOM_KEYS = sorted(DEFINITIONS)


def read_all(data: bytes, size: int) -> list[object]:
    reader = CsvChunkReader()
    records: list[object] = []
    for start in range(0, len(data), size):
        records += reader.feed(data[start : start + size])
    return records + reader.close()


# --- Chunked CSV ---------------------------------------------------------------

CSV = 'a,b\n1,"two\nlines, ""quoted"""\r\nZoë,Łukasz 🙂\n\n"last",no newline'.encode()
RECORDS = [
    ["a", "b"],
    ["1", 'two\nlines, "quoted"'],
    ["Zoë", "Łukasz 🙂"],
    [],
    ["last", "no newline"],
]


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 64, len(CSV)])
def test_chunks_of_any_size_give_the_same_records(size: int) -> None:
    assert read_all(CSV, size) == RECORDS


def test_a_byte_order_mark_is_not_part_of_the_first_header() -> None:
    assert read_all(b"\xef\xbb\xbfgiven_name\nAda\n", 1) == [["given_name"], ["Ada"]]


def test_bad_quoting_is_one_malformed_record_and_reading_goes_on() -> None:
    records = read_all(b'a,"b"c\n1,2\n', 3)
    assert isinstance(records[0], MalformedRecord)
    assert records[1:] == [["1", "2"]]


def test_an_unclosed_quote_at_the_end_is_malformed() -> None:
    records = read_all(b'a\n"open\n', 4)
    assert records[0] == ["a"]
    assert isinstance(records[1], MalformedRecord)


def test_invalid_utf8_names_the_byte() -> None:
    reader = CsvChunkReader()
    reader.feed(b"abc\n\xc3")
    with pytest.raises(InvalidArgument) as raised:
        reader.feed(b"(")
    (violation,) = raised.value.violations
    assert violation.field == "csv_data"
    assert "byte 4" in violation.description


def test_a_line_without_end_is_refused_before_it_fills_memory() -> None:
    reader = CsvChunkReader()
    with pytest.raises(InvalidArgument):
        for _ in range(MAX_RECORD_CHARS // 1000 + 2):
            reader.feed(b"x" * 1000)


# --- Columns ----------------------------------------------------------------------


def test_without_mappings_headers_named_after_fields_map_and_others_are_ignored() -> None:
    plan = plan_import(PERSON, ["given_name", "Notes", "custom_fields.region"], {}, DEFINITIONS)
    assert [(c.index, c.field) for c in plan.columns] == [
        (0, "given_name"),
        (2, "custom_fields.region"),
    ]


def test_mappings_name_columns_and_fields() -> None:
    plan = plan_import(
        PERSON,
        ["E-mail", "First", "Skip"],
        {"E-mail": "email_addresses", "First": "given_name"},
        {},
    )
    assert [(c.header, c.field) for c in plan.columns] == [
        ("E-mail", "email_addresses"),
        ("First", "given_name"),
    ]


def test_bad_mappings_are_all_reported_with_the_mapping_as_field() -> None:
    with pytest.raises(InvalidArgument) as raised:
        plan_import(
            PERSON,
            ["A", "B", "C"],
            {"A": "display_name", "B": "custom_fields.nope", "Z": "tags"},
            DEFINITIONS,
        )
    fields = {v.field for v in raised.value.violations}
    assert fields == {
        'header.column_mappings["A"]',
        'header.column_mappings["B"]',
        'header.column_mappings["Z"]',
    }


def test_two_columns_for_one_field_and_no_column_at_all_are_refused() -> None:
    with pytest.raises(InvalidArgument, match="both map to tags"):
        plan_import(PERSON, ["x", "y"], {"x": "tags", "y": "tags"}, {})
    with pytest.raises(InvalidArgument, match="no column maps to a field"):
        plan_import(PERSON, ["First", "Last"], {}, {})


def test_a_custom_field_must_apply_to_the_kind() -> None:
    people_only = {
        "tier": CustomFieldDefinition.create(
            "tier",
            DefinitionSpec(display_name="Tier", type=FieldType.TEXT, applies_to=(PERSON,)),
            NOW,
        )
    }
    with pytest.raises(InvalidArgument, match="does not apply to organizations"):
        plan_import(ORGANIZATION, ["display_name", "custom_fields.tier"], {}, people_only)


# --- Rows ---------------------------------------------------------------------------


def person_plan(*headers: str) -> ImportPlan:
    return plan_import(PERSON, list(headers), {}, DEFINITIONS)


def test_cells_become_domain_values() -> None:
    plan = person_plan(
        "name",
        "given_name",
        "email_addresses",
        "phone_numbers",
        "social_handles",
        "tags",
        "addresses",
        "custom_fields.score",
        "custom_fields.active",
        "custom_fields.region",
    )
    row = parse_row(
        plan,
        7,
        [
            "people/ada-1",
            "Ada",
            "ada@example.com (work); a.l@example.org",
            "+44 20 7946 0000 (mobile)",
            "github:ada;x:@ada",
            "vip; pioneer\\;s ",
            '[{"street_lines": ["12 St James\'s Sq"], "city": "London", "type": "home"}]',
            "12.5",
            "Yes",
            "emea",
        ],
    )
    assert row is not None
    assert row.number == 7
    assert row.record_id == "ada-1"
    assert row.values == {
        "given_name": "Ada",
        "email_addresses": (
            EmailAddress("ada@example.com", ContactPointType.WORK),
            EmailAddress("a.l@example.org"),
        ),
        "phone_numbers": (PhoneNumber("+44 20 7946 0000", ContactPointType.MOBILE),),
        "social_handles": (SocialHandle("github", "ada"), SocialHandle("x", "@ada")),
        "tags": ("vip", "pioneer;s"),
        "addresses": (
            PostalAddress(("12 St James's Sq",), city="London", type=ContactPointType.HOME),
        ),
    }
    assert row.custom == {
        "score": CustomValue(FieldType.NUMBER, 12.5),
        "active": CustomValue(FieldType.BOOLEAN, True),
        "region": CustomValue(FieldType.SINGLE_SELECT, "emea"),
    }


def test_blank_rows_are_skipped_and_empty_custom_cells_clear() -> None:
    plan = person_plan("given_name", "custom_fields.region")
    assert parse_row(plan, 1, []) is None
    assert parse_row(plan, 2, [" ", ""]) is None
    row = parse_row(plan, 3, ["Ada", ""])
    assert row is not None
    assert row.custom == {"region": None}


def test_every_unreadable_cell_of_a_row_is_reported() -> None:
    plan = person_plan("name", "social_handles", "addresses", "custom_fields.score")
    with pytest.raises(RowRejected) as raised:
        parse_row(plan, 4, ["person/1", "github", "{not json", "many", "extra"])
    assert {(e.column, e.row) for e in raised.value.errors} == {
        ("", 4),
        ("name", 4),
        ("social_handles", 4),
        ("addresses", 4),
        ("custom_fields.score", 4),
    }


def test_domain_violations_name_the_column() -> None:
    plan = plan_import(
        PERSON,
        ["First", "Mail", "Region"],
        {"First": "given_name", "Mail": "email_addresses", "Region": "custom_fields.region"},
        DEFINITIONS,
    )
    row = parse_row(plan, 2, ["", "ok@example.com;not-an-email", "Mars"])
    assert row is not None
    with pytest.raises(RowRejected) as raised:
        apply_row(plan, row, None, "new-id", NOW, DEFINITIONS)
    errors = {(e.column, e.description) for e in raised.value.errors}
    assert ("First", "a person needs a given or a family name") in errors
    assert ("Mail", "item 2: 'not-an-email' is not an email address") in errors
    assert any(column == "Region" and "not one of the options" in d for column, d in errors)


# --- Identity and applying ----------------------------------------------------------


def row_of(plan: ImportPlan, *cells: str, number: int = 1) -> ImportRow:
    row = parse_row(plan, number, list(cells))
    assert row is not None
    return row


def test_derived_ids_follow_the_first_email_else_names_and_phones() -> None:
    plan = person_plan("given_name", "family_name", "email_addresses", "phone_numbers")
    one = row_of(plan, "Ada", "Lovelace", "ADA@example.com", "")
    same_email = row_of(plan, "Augusta", "King", " ada@example.com", "")
    other_email = row_of(plan, "Ada", "Lovelace", "ada@example.org", "")
    by_name = row_of(plan, " ada ", "LOVELACE", "", "+44 1")
    by_name_again = row_of(plan, "Ada", "Lovelace", "", "(44) 1")
    assert derived_id(PERSON, one) == derived_id(PERSON, same_email)
    assert derived_id(PERSON, one) != derived_id(PERSON, other_email)
    assert derived_id(PERSON, by_name) == derived_id(PERSON, by_name_again)
    assert derived_id(PERSON, by_name) != derived_id(PERSON, one)
    assert len(derived_id(PERSON, one)) == 32


def test_a_row_is_the_record_holding_its_email_unless_its_name_says_otherwise() -> None:
    plan = person_plan("name", "given_name", "email_addresses")
    found = row_of(plan, "", "Ada", "a@example.com;b@example.com")
    assert resolve_target(plan, found, {"b@example.com": "p1"}) == "p1"
    assert resolve_target(plan, found, {}) == derived_id(PERSON, found)
    two_owners = {"a@example.com": "p1", "b@example.com": "p2"}
    with pytest.raises(RowRejected, match="belongs to people/p"):
        resolve_target(plan, found, two_owners)
    named = row_of(plan, "people/p3", "Ada", "a@example.com")
    with pytest.raises(RowRejected) as raised:
        resolve_target(plan, named, {"a@example.com": "p1"})
    assert raised.value.errors[0].description == (
        "a@example.com belongs to people/p1, not to people/p3"
    )


def test_an_equal_row_leaves_the_record_unchanged_and_a_different_one_updates_it() -> None:
    plan = person_plan("given_name", "tags", "custom_fields.region")
    created = apply_row(plan, row_of(plan, "Ada", "b;a", "apac"), None, "p1", NOW, DEFINITIONS)
    assert created.outcome is Outcome.CREATED
    person = created.record
    held = {**person.details.custom_fields, "score": CustomValue(FieldType.NUMBER, 3.0)}
    person.details = replace(person.details, custom_fields=held)
    same = apply_row(plan, row_of(plan, " Ada", "B; a", "APAC"), person, "p1", NOW, DEFINITIONS)
    assert same.outcome is Outcome.UNCHANGED
    assert person.version == 1
    changed = apply_row(plan, row_of(plan, "Ada", "b;a", ""), person, "p1", NOW, DEFINITIONS)
    assert changed.outcome is Outcome.UPDATED
    assert changed.changed == ["custom_fields"]
    assert changed.read_version == 1
    # Columns not in the file stay as they were.
    assert person.details.custom_fields == {"score": CustomValue(FieldType.NUMBER, 3.0)}


def test_an_erased_person_refuses_rows() -> None:
    plan = person_plan("given_name")
    person = Person.create("p1", PersonDetails(given_name="Ada"), NOW)
    erase(person, NOW)
    with pytest.raises(RowRejected) as raised:
        apply_row(plan, row_of(plan, "Ada"), person, "p1", NOW, {})
    assert raised.value.errors == [
        RowError(1, "", "people/p1 was erased; it cannot change any more")
    ]


# --- Round trip ------------------------------------------------------------------------


def test_lists_escape_their_separator() -> None:
    items = ["a;b", "c\\d", "plain", "C:\\path"]
    assert split_items(join_items(items)) == items
    assert split_items(r"C:\path; x") == ["C:\\path", "x"]


def test_an_exported_person_reimports_unchanged() -> None:
    details = PersonDetails(
        given_name="Zoë",
        family_name="O'Brien; Jr",
        email_addresses=(
            EmailAddress("zoe@example.com", ContactPointType.WORK),
            EmailAddress("z@example.org"),
        ),
        phone_numbers=(PhoneNumber("+353 1 234 5678", ContactPointType.MOBILE),),
        addresses=(
            PostalAddress(
                ("1 Main St", "Flat 2"), "Dublin", "", "D01", "IE", ContactPointType.HOME
            ),
            PostalAddress(city="Cork"),
        ),
        job_title="Engineer",
        owner="u1",
        background='Line one\nline "two"',
        social_handles=(SocialHandle("github", "zoe;x"),),
        tags=("vip", "a\\b"),
        custom_fields={
            "region": CustomValue(FieldType.SINGLE_SELECT, "EMEA"),
            "score": CustomValue(FieldType.NUMBER, 0.1),
            "since": CustomValue(FieldType.DATE, date(2024, 5, 1)),
            "active": CustomValue(FieldType.BOOLEAN, False),
            "site": CustomValue(FieldType.URL, "https://example.com/z"),
            "note": CustomValue(FieldType.TEXT, "big; deal"),
        },
    )
    person = Person.create("zoe-1", details, NOW, DEFINITIONS)
    header = export_header(PERSON, CUSTOM_KEYS)
    cells = export_cells(PERSON, person.id, person.details, CUSTOM_KEYS)
    plan = plan_import(PERSON, header, {}, DEFINITIONS)
    row = row_of(plan, *cells)
    assert resolve_target(plan, row, {}) == "zoe-1"
    applied = apply_row(plan, row, person, "zoe-1", NOW, DEFINITIONS)
    assert applied.outcome is Outcome.UNCHANGED, applied.changed


def test_an_exported_organization_reimports_unchanged() -> None:
    details = OrganizationDetails(
        display_name="Analytical Engines; Ltd",
        domains=("example.com", "example.org"),
        website="https://example.com",
        industry="Computing",
        tags=("partner",),
        custom_fields={"score": CustomValue(FieldType.NUMBER, 12.0)},
    )
    organization = Organization.create("ae-1", details, NOW, DEFINITIONS)
    header = export_header(ORGANIZATION, ["score"])
    cells = export_cells(ORGANIZATION, "ae-1", organization.details, ["score"])
    assert cells[-1] == "12"
    plan = plan_import(ORGANIZATION, header, {}, DEFINITIONS)
    row = row_of(plan, *cells)
    applied = apply_row(plan, row, organization, "ae-1", NOW, DEFINITIONS)
    assert applied.outcome is Outcome.UNCHANGED
