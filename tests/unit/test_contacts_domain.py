from datetime import UTC, datetime

import pytest

from crm_common.errors import InvalidArgument
from crm_contacts.domain.model import (
    ContactPointType,
    EmailAddress,
    Person,
    PersonDetails,
    PhoneNumber,
    PostalAddress,
)

NOW = datetime(2026, 11, 24, tzinfo=UTC)


def violations(details: PersonDetails, person_id: str = "p1") -> dict[str, str]:
    with pytest.raises(InvalidArgument) as error:
        Person.create(person_id, details, NOW)
    return {v.field: v.description for v in error.value.violations}


def test_create_normalises_names_emails_and_tags() -> None:
    person = Person.create(
        "p1",
        PersonDetails(
            given_name="  Ada ",
            family_name="Lovelace",
            email_addresses=(EmailAddress(" Ada@Example.COM ", ContactPointType.WORK),),
            addresses=(PostalAddress(street_lines=(" 1 Main St ", ""), country_code="gb"),),
            tags=("VIP", " vip", "Board"),
        ),
        NOW,
    )
    assert person.display_name == "Ada Lovelace"
    assert person.normalised_emails == ["ada@example.com"]
    assert person.details.tags == ("vip", "board")
    assert person.details.addresses[0].street_lines == ("1 Main St",)
    assert person.details.addresses[0].country_code == "GB"
    assert person.version == 1


def test_every_violation_is_reported_with_its_field_path() -> None:
    found = violations(
        PersonDetails(
            email_addresses=(
                EmailAddress("a@b.co"),
                EmailAddress("broken"),
                EmailAddress("A@B.CO"),
            ),
            phone_numbers=(PhoneNumber("call me"),),
            addresses=(PostalAddress(country_code="Germany"),),
            tags=("",),
        ),
        person_id="Bad Id",
    )
    assert set(found) == {
        "person_id",
        "person.given_name",
        "person.email_addresses[1].address",
        "person.email_addresses[2].address",
        "person.phone_numbers[0].number",
        "person.addresses[0].country_code",
        "person.tags[0]",
    }
    assert "listed twice" in found["person.email_addresses[2].address"]


def test_update_reports_only_real_changes_and_bumps_the_version() -> None:
    person = Person.create("p1", PersonDetails(given_name="Ada"), NOW)
    assert person.update({"given_name": " Ada "}, NOW) == []
    assert person.version == 1
    assert person.update({"given_name": "Augusta", "tags": ("x",)}, NOW) == ["given_name", "tags"]
    assert person.version == 2


def test_update_that_removes_both_names_is_refused_and_leaves_the_person_unchanged() -> None:
    person = Person.create("p1", PersonDetails(given_name="Ada"), NOW)
    with pytest.raises(InvalidArgument):
        person.update({"given_name": ""}, NOW)
    assert person.details.given_name == "Ada"
    assert person.version == 1
