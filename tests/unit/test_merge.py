from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from crm_common.errors import FailedPrecondition, InvalidArgument
from crm_contacts.domain.contact_points import CONTACT_POINTS_MAX
from crm_contacts.domain.custom_fields import (
    ContactKind,
    CustomFieldDefinition,
    CustomValue,
    DefinitionSpec,
    FieldType,
)
from crm_contacts.domain.merge import MERGED_MAX, absorb, merge_into, parse_merge_request
from crm_contacts.domain.model import (
    ContactPointType,
    EmailAddress,
    Person,
    PersonDetails,
    PhoneNumber,
    PostalAddress,
    SocialHandle,
)

NOW = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)
WORK, HOME = ContactPointType.WORK, ContactPointType.HOME
REGION = CustomFieldDefinition.create(
    "region",
    DefinitionSpec("Region", FieldType.TEXT, applies_to=(ContactKind.PERSON,)),
    NOW,
)
TIER = CustomFieldDefinition.create(
    "tier",
    DefinitionSpec("Tier", FieldType.NUMBER, applies_to=(ContactKind.PERSON,)),
    NOW,
)
DEFINITIONS = {"region": REGION, "tier": TIER}


def violations(call: Callable[[], object]) -> dict[str, str]:
    with pytest.raises(InvalidArgument) as error:
        call()
    return {v.field: v.description for v in error.value.violations}


# --- The request ----------------------------------------------------------------


def test_request_names_are_parsed() -> None:
    request = parse_merge_request("people/ada", ["people/a2", "people/a3"])
    assert (request.survivor_id, request.merged_ids) == ("ada", ("a2", "a3"))


def test_every_bad_name_is_reported_with_its_field() -> None:
    found = violations(
        lambda: parse_merge_request(
            "people/ada",
            ["people/a2", "people/ada", "people/a2", "organizations/x", "", "people/a/b"],
        )
    )
    assert set(found) == {f"merged_people[{i}]" for i in range(1, 6)}
    assert "surviving person" in found["merged_people[1]"]
    assert "twice" in found["merged_people[2]"]
    assert found["merged_people[4]"] == "is required"


@pytest.mark.parametrize(
    ("person", "merged", "field"),
    [
        ("", ["people/a2"], "person"),
        ("people/", ["people/a2"], "person"),
        ("organizations/ada", ["people/a2"], "person"),
        ("people/ada", [], "merged_people"),
        ("people/ada", [f"people/p{i}" for i in range(MERGED_MAX + 1)], "merged_people"),
    ],
)
def test_bad_survivor_and_list_sizes(person: str, merged: list[str], field: str) -> None:
    assert field in violations(lambda: parse_merge_request(person, merged))


def test_the_most_people_allowed_merge() -> None:
    merged = [f"people/p{i}" for i in range(MERGED_MAX)]
    assert len(parse_merge_request("people/ada", merged).merged_ids) == MERGED_MAX


# --- What the survivor absorbs --------------------------------------------------


SURVIVOR = PersonDetails(
    given_name="Ada",
    family_name="",
    email_addresses=(EmailAddress("ada@example.com", WORK),),
    phone_numbers=(PhoneNumber("+44 20 7946 0958", WORK),),
    addresses=(PostalAddress(("1 Main St",), city="London", type=WORK),),
    social_handles=(SocialHandle("github", "Ada"),),
    tags=("vip",),
    custom_fields={"region": CustomValue(FieldType.TEXT, "emea")},
)
OTHER = PersonDetails(
    given_name="Augusta Ada",
    family_name="Lovelace",
    job_title="Analyst",
    email_addresses=(
        EmailAddress("ada.lovelace@example.com", HOME),
        EmailAddress("ada@example.com", HOME),
    ),
    # The survivor's number written the national way: the same phone.
    phone_numbers=(PhoneNumber("020 7946 0958", HOME), PhoneNumber("+1 212 555 0100")),
    addresses=(PostalAddress(("1 Main St",), city="London", type=HOME),),
    social_handles=(SocialHandle("github", "ada"), SocialHandle("x", "ada")),
    tags=("board", "vip"),
    custom_fields={
        "region": CustomValue(FieldType.TEXT, "apac"),
        "tier": CustomValue(FieldType.NUMBER, 2.0),
    },
)
THIRD = PersonDetails(
    family_name="King",
    job_title="Countess",
    background="Wrote the first program.",
    tags=("math",),
    custom_fields={"tier": CustomValue(FieldType.NUMBER, 3.0)},
)


def test_survivor_keeps_its_own_and_gains_what_only_others_have() -> None:
    absorbed = absorb(SURVIVOR, [OTHER, THIRD]).details
    assert [e.address for e in absorbed.email_addresses] == [
        "ada@example.com",
        "ada.lovelace@example.com",
    ]
    assert absorbed.email_addresses[0].type is WORK
    assert [p.number for p in absorbed.phone_numbers] == ["+44 20 7946 0958", "+1 212 555 0100"]
    assert absorbed.addresses == SURVIVOR.addresses
    assert absorbed.social_handles == (SocialHandle("github", "Ada"), SocialHandle("x", "ada"))
    assert absorbed.tags == ("vip", "board", "math")
    # Scalars: the survivor's unless empty, else the first merged person's.
    assert (absorbed.given_name, absorbed.family_name) == ("Ada", "Lovelace")
    assert absorbed.job_title == "Analyst"
    assert absorbed.background == "Wrote the first program."
    assert absorbed.owner == ""
    assert absorbed.custom_fields == {
        "region": CustomValue(FieldType.TEXT, "emea"),
        "tier": CustomValue(FieldType.NUMBER, 2.0),
    }


def test_changed_fields_are_those_that_differ() -> None:
    assert set(absorb(SURVIVOR, [OTHER, THIRD]).changed_fields) == {
        "family_name",
        "job_title",
        "background",
        "email_addresses",
        "phone_numbers",
        "social_handles",
        "tags",
        "custom_fields",
    }
    assert absorb(SURVIVOR, [SURVIVOR]).changed_fields == ()
    assert absorb(SURVIVOR, [PersonDetails(given_name="Ada")]).changed_fields == ()


def test_every_writable_field_has_a_merge_rule() -> None:
    # A field without one raises KeyError rather than losing its values.
    assert absorb(PersonDetails(), [PersonDetails()]).changed_fields == ()


# --- Merging into a person ------------------------------------------------------


def person(person_id: str, details: PersonDetails) -> Person:
    return Person.create(person_id, details, NOW, DEFINITIONS)


def test_merge_into_updates_the_survivor_and_its_version() -> None:
    survivor = person("ada", SURVIVOR)
    changed = merge_into(survivor, [person("a2", OTHER)], LATER, DEFINITIONS)
    assert "email_addresses" in changed and survivor.version == 2
    assert survivor.update_time == LATER
    assert survivor.display_name == "Ada Lovelace"


def test_merge_into_advances_the_version_even_when_no_field_changes() -> None:
    survivor = person("ada", SURVIVOR)
    assert merge_into(survivor, [person("a2", PersonDetails(given_name="A"))], LATER, {}) == []
    assert survivor.version == 2 and survivor.update_time == LATER


def test_merge_beyond_a_limit_is_a_failed_precondition() -> None:
    def emails(prefix: str) -> tuple[EmailAddress, ...]:
        return tuple(EmailAddress(f"{prefix}{i}@example.com") for i in range(CONTACT_POINTS_MAX))

    survivor = person("ada", PersonDetails(given_name="Ada", email_addresses=emails("a")))
    other = person("a2", PersonDetails(given_name="Ada", email_addresses=emails("b")))
    with pytest.raises(FailedPrecondition, match="email_addresses"):
        merge_into(survivor, [other], LATER, {})
    assert survivor.version == 1
