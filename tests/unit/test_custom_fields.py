"""Custom field rules, value checks, and what lists filter and sort custom fields with."""

import math
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, select
from sqlalchemy.dialects import postgresql

from crm_common.errors import InvalidArgument
from crm_common.filter_fields import field_names
from crm_common.filtering import Comparison, Kind, Op, parse_filter
from crm_common.pagination import SortKey, parse_order_by
from crm_common.storage.keyset import after_key
from crm_contacts.domain.custom_fields import (
    ContactKind,
    CustomFieldDefinition,
    CustomValue,
    DefinitionSpec,
    FieldType,
    filter_field,
    validate_values,
)
from crm_contacts.domain.listing import (
    ORGANIZATIONS_LISTING,
    PEOPLE_LISTING,
    check_query,
    custom_field_ids,
)
from crm_contacts.domain.model import Person, PersonDetails
from crm_contacts.domain.organizations import Organization, OrganizationDetails
from crm_contacts.events import published
from crm_contacts.organization_proto import organization_details_from_proto, organization_to_proto
from crm_contacts.storage.custom_fields import values_from_json, values_to_json

NOW = datetime(2026, 11, 24, tzinfo=UTC)
PERSON = (ContactKind.PERSON,)


def spec(field_type: FieldType | None = FieldType.TEXT, **overrides: Any) -> DefinitionSpec:
    fields: dict[str, Any] = {"display_name": "Field", "type": field_type, "applies_to": PERSON}
    return DefinitionSpec(**{**fields, **overrides})


def definition(
    definition_id: str, field_type: FieldType, **overrides: Any
) -> CustomFieldDefinition:
    return CustomFieldDefinition.create(definition_id, spec(field_type, **overrides), NOW)


def violations_of(call: Any) -> dict[str, str]:
    with pytest.raises(InvalidArgument) as error:
        call()
    return {v.field: v.description for v in error.value.violations}


REGION = definition("region", FieldType.SINGLE_SELECT, options=("EMEA", "APAC"))
DEFINITIONS = {
    "nickname": definition("nickname", FieldType.TEXT),
    "score": definition("score", FieldType.NUMBER),
    "since": definition("since", FieldType.DATE),
    "active": definition("active", FieldType.BOOLEAN),
    "region": REGION,
    "site": definition("site", FieldType.URL),
    "company_only": definition(
        "company_only", FieldType.TEXT, applies_to=(ContactKind.ORGANIZATION,)
    ),
}


# --- Definitions ----------------------------------------------------------------


def test_definition_is_normalised() -> None:
    created = definition(
        "sales_region",
        FieldType.SINGLE_SELECT,
        display_name="  Sales region ",
        options=(" EMEA", "APAC "),
        applies_to=(ContactKind.ORGANIZATION, ContactKind.PERSON, ContactKind.PERSON),
    )
    assert created.spec.display_name == "Sales region"
    assert created.spec.options == ("EMEA", "APAC")
    assert created.spec.applies_to == (ContactKind.PERSON, ContactKind.ORGANIZATION)
    assert created.version == 1 and created.type is FieldType.SINGLE_SELECT


@pytest.mark.parametrize("bad_id", ["", "Region", "1st", "with-dash", "x" * 64, "a b"])
def test_definition_id_pattern(bad_id: str) -> None:
    assert "custom_field_definition_id" in violations_of(
        lambda: CustomFieldDefinition.create(bad_id, spec(), NOW)
    )


def test_definition_reports_every_problem() -> None:
    bad = DefinitionSpec(display_name=" ", type=None, applies_to=(), description="d" * 1001)
    assert set(violations_of(lambda: CustomFieldDefinition.create("ok", bad, NOW))) == {
        "custom_field_definition.display_name",
        "custom_field_definition.type",
        "custom_field_definition.applies_to",
        "custom_field_definition.description",
    }
    unknown_kind = spec(applies_to=(ContactKind.PERSON, None))
    assert set(violations_of(lambda: CustomFieldDefinition.create("ok", unknown_kind, NOW))) == {
        "custom_field_definition.applies_to"
    }


@pytest.mark.parametrize(
    ("field_type", "options", "field"),
    [
        (FieldType.SINGLE_SELECT, (), "custom_field_definition.options"),
        (FieldType.SINGLE_SELECT, ("a", "A"), "custom_field_definition.options[1]"),
        (FieldType.SINGLE_SELECT, ("a", ""), "custom_field_definition.options[1]"),
        (FieldType.SINGLE_SELECT, ("x" * 101,), "custom_field_definition.options[0]"),
        (FieldType.NUMBER, ("a",), "custom_field_definition.options"),
    ],
)
def test_options_rules(field_type: FieldType, options: tuple[str, ...], field: str) -> None:
    assert set(violations_of(lambda: definition("f", field_type, options=options))) == {field}


def test_type_is_immutable_and_updates_report_removals() -> None:
    region = definition(
        "region",
        FieldType.SINGLE_SELECT,
        options=("EMEA", "APAC"),
        applies_to=(ContactKind.PERSON, ContactKind.ORGANIZATION),
    )
    assert set(violations_of(lambda: region.update({"type": FieldType.TEXT}, NOW))) == {
        "custom_field_definition.type"
    }
    unchanged = region.update({"type": FieldType.SINGLE_SELECT, "display_name": "Field"}, NOW)
    assert unchanged.changed_fields == [] and region.version == 1

    change = region.update({"options": ("APAC", "AMER"), "applies_to": (ContactKind.PERSON,)}, NOW)
    assert change.changed_fields == ["options", "applies_to"]
    assert change.removed_options == ("EMEA",)
    assert change.removed_kinds == (ContactKind.ORGANIZATION,)
    assert region.version == 2 and region.spec.options == ("APAC", "AMER")
    assert set(violations_of(lambda: region.update({"options": ()}, NOW))) == {
        "custom_field_definition.options"
    }


# --- Values -----------------------------------------------------------------------


def test_values_of_every_type_are_normalised() -> None:
    values = validate_values(
        DEFINITIONS,
        {
            "site": CustomValue(FieldType.URL, " https://ada.example/x "),
            "nickname": CustomValue(FieldType.TEXT, "  Countess "),
            "score": CustomValue(FieldType.NUMBER, 3),
            "since": CustomValue(FieldType.DATE, "1815-12-10"),
            "active": CustomValue(FieldType.BOOLEAN, False),
            "region": CustomValue(FieldType.SINGLE_SELECT, " emea"),
        },
        ContactKind.PERSON,
        "person",
    )
    assert list(values) == sorted(values)
    assert values == {
        "active": CustomValue(FieldType.BOOLEAN, False),
        "nickname": CustomValue(FieldType.TEXT, "Countess"),
        "region": CustomValue(FieldType.SINGLE_SELECT, "EMEA"),
        "score": CustomValue(FieldType.NUMBER, 3.0),
        "since": CustomValue(FieldType.DATE, date(1815, 12, 10)),
        "site": CustomValue(FieldType.URL, "https://ada.example/x"),
    }


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("nope", CustomValue(FieldType.TEXT, "x"), "no custom field 'nope'"),
        ("company_only", CustomValue(FieldType.TEXT, "x"), "does not apply to people"),
        ("nickname", CustomValue(FieldType.NUMBER, 1.0), "set text_value"),
        ("nickname", CustomValue(None, ""), "set text_value"),
        ("nickname", CustomValue(FieldType.TEXT, " "), "is empty"),
        ("nickname", CustomValue(FieldType.TEXT, "x" * 1001), "longer than 1000"),
        ("score", CustomValue(FieldType.NUMBER, math.nan), "finite"),
        ("score", CustomValue(FieldType.NUMBER, math.inf), "finite"),
        ("since", CustomValue(FieldType.DATE, "2026-02-30"), "not a valid calendar date"),
        ("since", CustomValue(FieldType.DATE, "0000-01-01"), "not a valid calendar date"),
        ("region", CustomValue(FieldType.SINGLE_SELECT, "Mars"), "EMEA, APAC"),
        ("region", CustomValue(FieldType.TEXT, "EMEA"), "set option_value"),
        ("site", CustomValue(FieldType.URL, "ftp://x.example"), "http(s)"),
        ("site", CustomValue(FieldType.URL, "https://"), "http(s)"),
        ("site", CustomValue(FieldType.URL, "http://[oops"), "http(s)"),
        ("site", CustomValue(FieldType.URL, "https://x.example/" + "a" * 2048), "http(s)"),
    ],
)
def test_bad_values_are_named(key: str, value: CustomValue, problem: str) -> None:
    found = violations_of(
        lambda: validate_values(DEFINITIONS, {key: value}, ContactKind.PERSON, "person")
    )
    assert list(found) == [f'person.custom_fields["{key}"]']
    assert problem in found[f'person.custom_fields["{key}"]']


def test_values_are_checked_for_organizations_too() -> None:
    found = violations_of(
        lambda: validate_values(
            DEFINITIONS,
            {"nickname": CustomValue(FieldType.TEXT, "x")},
            ContactKind.ORGANIZATION,
            "organization",
        )
    )
    assert list(found) == ['organization.custom_fields["nickname"]']


def test_person_checks_custom_fields_on_create_and_when_they_change() -> None:
    details = PersonDetails(
        given_name="Ada", custom_fields={"region": CustomValue(FieldType.SINGLE_SELECT, "apac")}
    )
    person = Person.create("p1", details, NOW, DEFINITIONS)
    assert person.details.custom_fields["region"].value == "APAC"
    with pytest.raises(InvalidArgument):
        Person.create("p1", details, NOW)  # no definitions: an unknown field
    # Kept values are not re-checked when other fields change...
    assert person.update({"job_title": "Analyst"}, NOW) == ["job_title"]
    # ...but new ones are.
    bad = {"custom_fields": {"score": CustomValue(FieldType.TEXT, "many")}}
    assert list(violations_of(lambda: person.update(bad, NOW, DEFINITIONS))) == [
        'person.custom_fields["score"]'
    ]
    same = {"custom_fields": {"region": CustomValue(FieldType.SINGLE_SELECT, "APAC")}}
    assert person.update(same, NOW, DEFINITIONS) == []


def test_organization_checks_custom_fields_for_organizations() -> None:
    both = definition(
        "tier", FieldType.NUMBER, applies_to=(ContactKind.PERSON, ContactKind.ORGANIZATION)
    )
    definitions = {**DEFINITIONS, "tier": both}
    details = OrganizationDetails(
        display_name="Engines",
        custom_fields={
            "company_only": CustomValue(FieldType.TEXT, " Ltd "),
            "tier": CustomValue(FieldType.NUMBER, 2),
        },
    )
    organization = Organization.create("o1", details, NOW, definitions)
    assert organization.details.custom_fields == {
        "company_only": CustomValue(FieldType.TEXT, "Ltd"),
        "tier": CustomValue(FieldType.NUMBER, 2.0),
    }
    people_only = {"custom_fields": {"nickname": CustomValue(FieldType.TEXT, "x")}}
    found = violations_of(lambda: organization.update(people_only, NOW, definitions))
    assert list(found) == ['organization.custom_fields["nickname"]']
    assert "does not apply to organizations" in found['organization.custom_fields["nickname"]']
    assert organization.update({"industry": "Computing"}, NOW) == ["industry"]


def test_organization_messages_and_events_carry_custom_fields() -> None:
    details = OrganizationDetails(
        display_name="Engines",
        custom_fields={"company_only": CustomValue(FieldType.TEXT, "Ltd")},
    )
    organization = Organization.create("o1", details, NOW, DEFINITIONS)
    message = organization_to_proto(organization)
    assert message.custom_fields["company_only"].text_value == "Ltd"
    assert organization_details_from_proto(message).custom_fields == details.custom_fields
    event = published.organization_created(organization)
    assert event.payload.organization.custom_fields == message.custom_fields  # type: ignore[attr-defined]


def test_stored_values_round_trip_through_json() -> None:
    values = {
        "region": CustomValue(FieldType.SINGLE_SELECT, "EMEA"),
        "since": CustomValue(FieldType.DATE, date(2024, 5, 1)),
        "score": CustomValue(FieldType.NUMBER, 2.5),
        "active": CustomValue(FieldType.BOOLEAN, True),
    }
    stored = values_to_json(values)
    assert stored["since"] == {"date": "2024-05-01"} and stored["region"] == {"option": "EMEA"}
    assert values_from_json(stored) == values


# --- Listing ----------------------------------------------------------------------


def test_filter_fields_follow_the_definition_type() -> None:
    kinds = {key: filter_field(d).kind for key, d in DEFINITIONS.items()}
    assert kinds["nickname"] is Kind.STRING and kinds["site"] is Kind.STRING
    assert kinds["score"] is Kind.FLOAT and kinds["active"] is Kind.BOOL
    assert kinds["since"] is Kind.TIMESTAMP and kinds["region"] is Kind.ENUM


def test_query_checks_custom_fields_against_their_definitions() -> None:
    expr = parse_filter(
        'tags:"vip" AND (custom_fields.score > "2" OR custom_fields:region) '
        'AND custom_fields.since < "2026-01-01"',
        PEOPLE_LISTING.filter_schema,
    )
    keys = parse_order_by(
        "custom_fields.nickname desc", ["create_time"], default=(), prefixes=["custom_fields"]
    )
    assert custom_field_ids(expr, keys) == {"score", "region", "since", "nickname"}
    query = check_query(PEOPLE_LISTING, expr, keys, DEFINITIONS)
    names = field_names(query.filter)
    assert names == {"tags", "custom_fields.score", "custom_fields.region", "custom_fields.since"}
    assert Comparison("custom_fields.score", Op.GT, 2.0) in query.filter.terms[1].terms  # type: ignore[union-attr]

    assert violations_of(lambda: check_query(PEOPLE_LISTING, expr, keys, {})) == {
        "order_by": "'custom_fields.nickname': no custom field 'nickname' is defined",
        "filter": "'custom_fields.since': no custom field 'since' is defined",
    }
    not_for_people = parse_filter('custom_fields.company_only = "x"', PEOPLE_LISTING.filter_schema)
    assert (
        "does not apply to people"
        in violations_of(lambda: check_query(PEOPLE_LISTING, not_for_people, (), DEFINITIONS))[
            "filter"
        ]
    )
    mistyped = parse_filter('custom_fields.region = "Mars"', PEOPLE_LISTING.filter_schema)
    assert "filter" in violations_of(lambda: check_query(PEOPLE_LISTING, mistyped, (), DEFINITIONS))


def test_organization_queries_take_organization_fields() -> None:
    expr = parse_filter(
        'domains:"example.com" AND custom_fields.company_only = "x"',
        ORGANIZATIONS_LISTING.filter_schema,
    )
    keys = parse_order_by(
        "custom_fields.company_only", ["display_name"], default=(), prefixes=["custom_fields"]
    )
    query = check_query(ORGANIZATIONS_LISTING, expr, keys, DEFINITIONS)
    assert field_names(query.filter) == {"domains", "custom_fields.company_only"}
    for_people = parse_filter('custom_fields.nickname = "x"', ORGANIZATIONS_LISTING.filter_schema)
    found = violations_of(
        lambda: check_query(ORGANIZATIONS_LISTING, for_people, keys[1:], DEFINITIONS)
    )
    assert found["filter"].endswith("custom field 'nickname' does not apply to organizations")
    assert "filter" in violations_of(
        lambda: parse_filter('given_name = "Ada"', ORGANIZATIONS_LISTING.filter_schema)
    )


def test_order_by_accepts_keys_under_prefixes_only() -> None:
    keys = parse_order_by(
        "custom_fields.region desc", ["create_time"], default=(), prefixes=["custom_fields"]
    )
    assert keys == (SortKey("custom_fields.region", True), SortKey("id", True))
    for bad in ("custom_fields", "custom_fields.a.b", "other.region", "custom_fields.-x"):
        found = violations_of(
            lambda bad=bad: parse_order_by(
                bad, ["create_time"], default=(), prefixes=["custom_fields"]
            )
        )
        assert "custom_fields.<key>" in found["order_by"], bad


# --- Keyset pages -------------------------------------------------------------------

_table = Table("t", MetaData(), Column("a", Integer), Column("b", String), Column("id", String))
_COLUMNS = {"a": _table.c.a, "b": _table.c.b, "id": _table.c.id}


def _where(keys: tuple[SortKey, ...], values: list[Any]) -> str:
    query = select(_table.c.id).where(after_key(keys, _COLUMNS, values))
    return str(query.compile(dialect=postgresql.dialect())).split("WHERE ", 1)[1]


def test_keyset_uses_a_row_comparison_when_it_can() -> None:
    same = (SortKey("a", True), SortKey("id", True))
    assert _where(same, [1, "x"]).startswith("(t.a, t.id) < (")
    mixed = (SortKey("a"), SortKey("id", True))
    assert " OR " in _where(mixed, [1, "x"])


def test_keyset_after_a_null_continues_among_the_nulls() -> None:
    keys = (SortKey("a"), SortKey("b"), SortKey("id"))
    where = _where(keys, [1, None, "x"])
    assert "t.b IS NULL AND t.id >" in where and "t.b >" not in where
