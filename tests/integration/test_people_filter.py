"""ListPeople filters and orders, custom fields included, on SQLite and PostgreSQL.

The suite is shared by the module's tests, so each test tags its people with
an owner of its own and filters on it.
"""

import asyncio
import json
import uuid
from typing import Any

import grpc
from alembic import command
from alembic.config import Config
from google.type import date_pb2
from sqlalchemy import Connection, text

from crm.contacts.v1 import contacts_service_pb2 as contacts
from crm.contacts.v1 import custom_field_pb2 as cf
from crm.contacts.v1 import person_pb2
from crm_common.storage.db import create_engine
from crm_common.storage.migrations import upgrade_to_head
from crm_contacts.main import SPEC
from tests.integration.harness import Databases, Suite, field_violations, rpc_error

MIGRATIONS = SPEC.migrations


def define(suite: Suite, field_type: int, options: tuple[str, ...] = ()) -> str:
    definition_id = f"f_{uuid.uuid4().hex[:8]}"
    suite.contacts.CreateCustomFieldDefinition(
        contacts.CreateCustomFieldDefinitionRequest(
            custom_field_definition=cf.CustomFieldDefinition(
                display_name=definition_id,
                type=field_type,
                options=options,
                applies_to=[cf.CONTACT_KIND_PERSON],
            ),
            custom_field_definition_id=definition_id,
        )
    )
    return definition_id


class People:
    """People created for one test, all owned by one unique owner."""

    def __init__(self, suite: Suite) -> None:
        self.suite = suite
        self.owner = f"owner-{uuid.uuid4().hex[:8]}"
        self.names: dict[str, str] = {}  # label -> people/{id}

    def add(self, label: str, **fields: Any) -> person_pb2.Person:
        fields.setdefault("given_name", label)
        person = self.suite.contacts.CreatePerson(
            contacts.CreatePersonRequest(person=person_pb2.Person(owner=self.owner, **fields))
        )
        self.names[label] = person.name
        return person

    def list(self, filter: str = "", order_by: str = "", page_size: int = 2) -> list[str]:
        """Labels of every person matching, in order, fetched page by page."""
        labels = {name: label for label, name in self.names.items()}
        seen: list[str] = []
        token = ""
        while True:
            page = self.suite.contacts.ListPeople(
                contacts.ListPeopleRequest(
                    filter=f'owner = "{self.owner}"' + (f" AND ({filter})" if filter else ""),
                    order_by=order_by,
                    page_size=page_size,
                    page_token=token,
                )
            )
            seen += [labels[p.name] for p in page.people]
            token = page.next_page_token
            if not token:
                break
        assert len(seen) == len(set(seen)), f"duplicates across pages: {seen}"
        return seen

    def matching(self, filter: str) -> set[str]:
        return set(self.list(filter))


def email(label: str) -> person_pb2.EmailAddress:
    return person_pb2.EmailAddress(address=f"{label}-{uuid.uuid4().hex[:8]}@example.com")


def test_filters_on_fields_tags_emails_and_logic(suite: Suite) -> None:
    people = People(suite)
    ada = people.add("ada", family_name="Lovelace", job_title="Analyst", tags=["VIP", "math"])
    people.add("grace", family_name="Hopper", job_title="Admiral", tags=["vip"])
    people.add("alan", family_name="Turing", job_title="Analyst", email_addresses=[email("al")])
    people.add("kurt", family_name="Goedel")
    alan_email = suite.contacts.GetPerson(
        contacts.GetPersonRequest(name=people.names["alan"])
    ).email_addresses[0]

    assert people.matching("") == {"ada", "grace", "alan", "kurt"}
    assert people.matching('tags:"vip"') == {"ada", "grace"}
    assert people.matching('tags:"VIP" tags:"math"') == {"ada"}
    assert people.matching("NOT tags:vip") == {"alan", "kurt"}
    assert people.matching('family_name = "Lovelace" OR family_name = "Goedel"') == {"ada", "kurt"}
    assert people.matching('job_title = "Analyst" AND -family_name = "Turing"') == {"ada"}
    assert people.matching(
        '(tags:"vip" OR job_title = "Analyst") AND NOT given_name = "grace"'
    ) == {
        "ada",
        "alan",
    }
    assert people.matching(f'email_addresses:"{alan_email.address.upper()}"') == {"alan"}
    assert people.matching('given_name >= "b" AND given_name < "h"') == {"grace"}
    assert people.matching("job_title:*") == {"ada", "grace", "alan"}

    cutoff = ada.create_time.ToJsonString()
    assert people.matching(f'create_time > "{cutoff}"') == {"grace", "alan", "kurt"}
    assert people.matching(f'create_time <= "{cutoff}"') == {"ada"}
    assert people.matching('create_time > "2020-01-01" AND update_time < "2100-01-01"') == {
        "ada",
        "grace",
        "alan",
        "kurt",
    }


def test_filters_on_custom_fields_of_every_type(suite: Suite) -> None:
    text = define(suite, cf.CUSTOM_FIELD_TYPE_TEXT)
    number = define(suite, cf.CUSTOM_FIELD_TYPE_NUMBER)
    day = define(suite, cf.CUSTOM_FIELD_TYPE_DATE)
    flag = define(suite, cf.CUSTOM_FIELD_TYPE_BOOLEAN)
    region = define(suite, cf.CUSTOM_FIELD_TYPE_SINGLE_SELECT, ("EMEA", "APAC"))
    site = define(suite, cf.CUSTOM_FIELD_TYPE_URL)
    people = People(suite)

    def values(
        nickname: str, score: float, year: int, active: bool, area: str, url: str
    ) -> dict[str, cf.CustomFieldValue]:
        return {
            text: cf.CustomFieldValue(text_value=nickname),
            number: cf.CustomFieldValue(number_value=score),
            day: cf.CustomFieldValue(date_value=date_pb2.Date(year=year, month=6, day=1)),
            flag: cf.CustomFieldValue(boolean_value=active),
            region: cf.CustomFieldValue(option_value=area),
            site: cf.CustomFieldValue(url_value=url),
        }

    people.add(
        "ada", custom_fields=values("Countess", 9.5, 2025, True, "EMEA", "https://a.example")
    )
    people.add(
        "grace", custom_fields=values("Amazing", -3, 2026, False, "APAC", "https://g.example")
    )
    people.add("alan", custom_fields={number: cf.CustomFieldValue(number_value=100)})
    people.add("kurt")

    assert people.matching(f'custom_fields.{text} = "Countess"') == {"ada"}
    assert people.matching(f'custom_fields.{text} != "Countess"') == {"grace"}
    assert people.matching(f"custom_fields.{number} > 0") == {"ada", "alan"}
    assert people.matching(f"custom_fields.{number} <= 9.5") == {"ada", "grace"}
    assert people.matching(f'custom_fields.{day} > "2026-01-01"') == {"grace"}
    assert people.matching(f'custom_fields.{day} = "2025-06-01"') == {"ada"}
    assert people.matching(f'custom_fields.{day} >= "2025-06-01T00:00:01Z"') == {"grace"}
    assert people.matching(f"custom_fields.{flag} = true") == {"ada"}
    assert people.matching(f"custom_fields.{flag} = false") == {"grace"}
    assert people.matching(f'custom_fields.{region} = "emea"') == {"ada"}
    assert people.matching(f'NOT custom_fields.{region} = "EMEA"') == {"grace", "alan", "kurt"}
    assert people.matching(f'custom_fields.{site} = "https://g.example"') == {"grace"}
    assert people.matching(f"custom_fields.{number}:*") == {"ada", "grace", "alan"}
    assert people.matching(f"custom_fields:{region}") == {"ada", "grace"}
    assert people.matching(f"custom_fields.{region} = null") == {"alan", "kurt"}
    assert people.matching(
        f'custom_fields.{region} = "APAC" OR (custom_fields.{number} > 50 AND NOT tags:"x")'
    ) == {"grace", "alan"}


def test_text_equality_tells_apart_values_longer_than_their_index_key(suite: Suite) -> None:
    text = define(suite, cf.CUSTOM_FIELD_TYPE_TEXT)
    people = People(suite)
    stem = "x" * 199
    nicknames = {"short": stem, "key": stem + "y", "long": stem + "yz", "longer": stem + "yzz"}
    for label, nickname in nicknames.items():
        people.add(label, custom_fields={text: cf.CustomFieldValue(text_value=nickname)})

    for label, nickname in nicknames.items():
        assert people.matching(f'custom_fields.{text} = "{nickname}"') == {label}
    assert people.matching(f'custom_fields.{text} != "{stem}yz"') == {"short", "key", "longer"}


def test_order_by_custom_field_pages_through_everything_once(suite: Suite) -> None:
    score = define(suite, cf.CUSTOM_FIELD_TYPE_NUMBER)
    region = define(suite, cf.CUSTOM_FIELD_TYPE_SINGLE_SELECT, ("EMEA", "APAC"))
    people = People(suite)
    scores = {"a": 3, "b": 1, "c": 3, "d": None, "e": 2, "f": None, "g": 5}
    for label, value in scores.items():
        custom = {region: cf.CustomFieldValue(option_value="EMEA" if value else "APAC")}
        if value is not None:
            custom[score] = cf.CustomFieldValue(number_value=value)
        people.add(label, custom_fields=custom)
    ids = {label: name.removeprefix("people/") for label, name in people.names.items()}

    def expected(descending: bool) -> list[str]:
        present = [label for label, value in scores.items() if value is not None]
        missing = [label for label, value in scores.items() if value is None]
        by_value = sorted(present, key=lambda lb: (scores[lb], ids[lb]), reverse=descending)
        # Without a value last, either way; ties broken by id in the key's direction.
        return by_value + sorted(missing, key=lambda lb: ids[lb], reverse=descending)

    for page_size in (1, 2, 3, 50):
        assert people.list(order_by=f"custom_fields.{score}", page_size=page_size) == expected(
            False
        )
        assert people.list(order_by=f"custom_fields.{score} desc", page_size=page_size) == expected(
            True
        )

        # Not first: every person is joined to the value and the whole order sorted.
        assert people.list(
            order_by=f"family_name, custom_fields.{score} desc", page_size=page_size
        ) == expected(True)

    by_region = people.list(order_by=f"custom_fields.{region}, given_name desc")
    assert by_region == ["f", "d", "g", "e", "c", "b", "a"]  # APAC, then EMEA
    filtered = people.list(
        filter=f'custom_fields.{region} = "EMEA" AND custom_fields.{score} >= 2',
        order_by=f"custom_fields.{score} desc, given_name",
    )
    assert filtered == ["g", "a", "c", "e"]


def test_pages_stay_stable_while_people_are_added(suite: Suite) -> None:
    people = People(suite)
    for index in range(6):
        people.add(f"p{index}", tags=["batch"])
    first = suite.contacts.ListPeople(
        contacts.ListPeopleRequest(filter=f'owner = "{people.owner}" AND tags:"batch"', page_size=4)
    )
    people.add("late", tags=["batch"])  # newest: sorts before the first page
    rest = suite.contacts.ListPeople(
        contacts.ListPeopleRequest(
            filter=f'owner = "{people.owner}" AND tags:"batch"',
            page_size=4,
            page_token=first.next_page_token,
        )
    )
    names = [p.name for p in [*first.people, *rest.people]]
    assert names == [people.names[f"p{i}"] for i in reversed(range(6))]
    assert not rest.next_page_token


def test_bad_filters_and_orders_are_invalid_arguments(suite: Suite) -> None:
    score = define(suite, cf.CUSTOM_FIELD_TYPE_NUMBER)
    region = define(suite, cf.CUSTOM_FIELD_TYPE_SINGLE_SELECT, ("EMEA",))
    flag = define(suite, cf.CUSTOM_FIELD_TYPE_BOOLEAN)

    def violations(**request: Any) -> dict[str, str]:
        error = rpc_error(lambda: suite.contacts.ListPeople(contacts.ListPeopleRequest(**request)))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, request
        return field_violations(error)

    for bad in (
        'family_name = "unterminated',
        "family_name =",
        "(tags:vip",
        "shoe_size = 42",
        "custom_fields.nope = 1",
        f'custom_fields.{score} = "many"',
        f'custom_fields.{region} = "Mars"',
        f"custom_fields.{flag} > true",
        'create_time > "yesterday"',
        "tags = vip",
        "custom_fields:*",
    ):
        assert set(violations(filter=bad)) == {"filter"}, bad
    assert "shoe_size" in violations(filter="shoe_size = 42")["filter"]
    assert set(violations(order_by="custom_fields.nope desc")) == {"order_by"}
    assert set(violations(order_by="custom_fields")) == {"order_by"}
    assert set(violations(page_size=1001, filter="tags:vip")) == {"page_size"}

    people = People(suite)
    for index in range(2):
        people.add(f"s{index}", custom_fields={score: cf.CustomFieldValue(number_value=index)})
    page = suite.contacts.ListPeople(
        contacts.ListPeopleRequest(filter=f"custom_fields.{score}:*", page_size=1)
    )
    assert page.next_page_token
    # A token is bound to its filter and order.
    for other in ({"filter": "tags:vip"}, {"order_by": f"custom_fields.{score}"}):
        assert set(violations(page_token=page.next_page_token, **other)) == {"page_token"}


def test_upgrade_indexes_the_tags_of_existing_people(databases: Databases) -> None:
    url = databases.new("contacts")
    asyncio.run(_upgrade_with_people_at_0001(url))


async def _upgrade_with_people_at_0001(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_alembic_upgrade, "0001")
            await connection.execute(
                text(
                    "INSERT INTO people (id, given_name, family_name, job_title, owner, "
                    "background, email_addresses, phone_numbers, addresses, social_handles, "
                    "tags, create_time, update_time, version) VALUES "
                    "('old', 'Ada', '', '', '', '', '[]', '[]', '[]', '[]', '[\"vip\", \"b\"]', "
                    "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 1)"
                )
            )
        await upgrade_to_head(url, MIGRATIONS)
        async with engine.connect() as connection:
            tags = await connection.execute(text("SELECT tag FROM person_tags ORDER BY tag"))
            assert [row.tag for row in tags] == ["b", "vip"]
            custom = await connection.execute(text("SELECT custom_fields FROM people"))
            assert json.loads(str(custom.scalar_one())) == {}
    finally:
        await engine.dispose()


def _alembic_upgrade(connection: Connection, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, revision)
