"""Organizations: custom fields, ListOrganizations filters and orders, on SQLite and PostgreSQL.

The suite is shared by the module's tests, so each test gives its
organizations an owner of its own and filters on it.
"""

import asyncio
import json
import uuid
from collections.abc import Callable
from typing import Any

import grpc
from alembic import command
from alembic.config import Config
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from google.protobuf.field_mask_pb2 import FieldMask
from google.type import date_pb2
from sqlalchemy import Connection, inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from crm.contacts.v1 import contacts_service_pb2 as contacts
from crm.contacts.v1 import custom_field_pb2 as cf
from crm.contacts.v1 import organization_pb2, person_pb2
from crm_common.filtering import parse_filter
from crm_common.pagination import SortKey
from crm_common.storage.db import create_engine, session_factory
from crm_contacts.domain.custom_fields import ContactKind
from crm_contacts.domain.listing import ORGANIZATIONS_LISTING, check_query
from crm_contacts.domain.search import SearchQuery
from crm_contacts.main import SPEC
from crm_contacts.storage.organizations import OrganizationRepository
from crm_contacts.storage.search import ContactSearch, SearchHit
from tests.integration.harness import Databases, Suite, field_violations, rpc_error

ORGANIZATION = cf.CONTACT_KIND_ORGANIZATION
PERSON = cf.CONTACT_KIND_PERSON


def define(
    suite: Suite,
    field_type: int,
    options: tuple[str, ...] = (),
    applies_to: tuple[int, ...] = (ORGANIZATION,),
) -> str:
    definition_id = f"f_{uuid.uuid4().hex[:8]}"
    suite.contacts.CreateCustomFieldDefinition(
        contacts.CreateCustomFieldDefinitionRequest(
            custom_field_definition=cf.CustomFieldDefinition(
                display_name=definition_id,
                type=field_type,
                options=options,
                applies_to=applies_to,
            ),
            custom_field_definition_id=definition_id,
        )
    )
    return definition_id


class Organizations:
    """Organizations created for one test, all owned by one unique owner."""

    def __init__(self, suite: Suite) -> None:
        self.suite = suite
        self.owner = f"owner-{uuid.uuid4().hex[:8]}"
        self.names: dict[str, str] = {}  # label -> organizations/{id}

    def add(self, label: str, **fields: Any) -> organization_pb2.Organization:
        fields.setdefault("display_name", label)
        created = self.suite.contacts.CreateOrganization(
            contacts.CreateOrganizationRequest(
                organization=organization_pb2.Organization(owner=self.owner, **fields)
            )
        )
        self.names[label] = created.name
        return created

    def list(self, filter: str = "", order_by: str = "", page_size: int = 2) -> list[str]:
        """Labels of every organization matching, in order, fetched page by page."""
        labels = {name: label for label, name in self.names.items()}
        seen: list[str] = []
        token = ""
        while True:
            page = self.suite.contacts.ListOrganizations(
                contacts.ListOrganizationsRequest(
                    filter=f'owner = "{self.owner}"' + (f" AND ({filter})" if filter else ""),
                    order_by=order_by,
                    page_size=page_size,
                    page_token=token,
                )
            )
            seen += [labels[o.name] for o in page.organizations]
            token = page.next_page_token
            if not token:
                break
        assert len(seen) == len(set(seen)), f"duplicates across pages: {seen}"
        return seen

    def matching(self, filter: str) -> set[str]:
        return set(self.list(filter))


def unique_domain(stem: str) -> str:
    return f"{stem}-{uuid.uuid4().hex[:8]}.example"


def invalid(call: Callable[[], object]) -> dict[str, str]:
    error = rpc_error(call)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
    return field_violations(error)


def test_organizations_hold_custom_values_checked_against_definitions(suite: Suite) -> None:
    size = define(suite, cf.CUSTOM_FIELD_TYPE_NUMBER)
    region = define(suite, cf.CUSTOM_FIELD_TYPE_SINGLE_SELECT, ("EMEA", "APAC"))
    since = define(suite, cf.CUSTOM_FIELD_TYPE_DATE, applies_to=(PERSON, ORGANIZATION))
    people_only = define(suite, cf.CUSTOM_FIELD_TYPE_TEXT, applies_to=(PERSON,))
    organizations = Organizations(suite)
    values = {
        size: cf.CustomFieldValue(number_value=250),
        region: cf.CustomFieldValue(option_value="emea"),
        since: cf.CustomFieldValue(date_value=date_pb2.Date(year=1843, month=9, day=1)),
    }
    created = organizations.add("engines", custom_fields=values)
    assert created.custom_fields[region].option_value == "EMEA"
    assert created.custom_fields[size].number_value == 250
    assert created.custom_fields[since].date_value == values[since].date_value
    fetched = suite.contacts.GetOrganization(contacts.GetOrganizationRequest(name=created.name))
    assert fetched == created

    def set_custom_fields(**custom: cf.CustomFieldValue) -> organization_pb2.Organization:
        return suite.contacts.UpdateOrganization(
            contacts.UpdateOrganizationRequest(
                organization=organization_pb2.Organization(name=created.name, custom_fields=custom),
                update_mask=FieldMask(paths=["custom_fields"]),
            )
        )

    updated = set_custom_fields(**{size: cf.CustomFieldValue(number_value=7)})
    assert dict(updated.custom_fields) == {size: cf.CustomFieldValue(number_value=7)}
    assert updated.etag != created.etag

    bad = {
        "no_such_field": cf.CustomFieldValue(text_value="x"),
        size: cf.CustomFieldValue(text_value="many"),
        region: cf.CustomFieldValue(option_value="Mars"),
        people_only: cf.CustomFieldValue(text_value="x"),
    }
    violations = invalid(lambda: organizations.add("bad", custom_fields=bad))
    assert set(violations) == {f'organization.custom_fields["{key}"]' for key in bad}
    assert "number_value" in violations[f'organization.custom_fields["{size}"]']
    assert (
        "does not apply to organizations"
        in (violations[f'organization.custom_fields["{people_only}"]'])
    )
    assert set(invalid(lambda: set_custom_fields(**bad))) == set(violations)
    # A person cannot take an organizations-only field either.
    person = contacts.CreatePersonRequest(
        person=person_pb2.Person(given_name="Ada", custom_fields={size: values[size]})
    )
    assert set(invalid(lambda: suite.contacts.CreatePerson(person))) == {
        f'person.custom_fields["{size}"]'
    }


def test_filters_on_fields_tags_domains_emails_and_logic(suite: Suite) -> None:
    organizations = Organizations(suite)
    engines_domain, mills_domain = unique_domain("engines"), unique_domain("mills")
    engines = organizations.add(
        "engines",
        industry="Computing",
        domains=[engines_domain],
        tags=["Partner", "vip"],
        website="https://engines.example",
        email_addresses=[person_pb2.EmailAddress(address=f"info@{engines_domain}")],
    )
    organizations.add("mills", industry="Textiles", domains=[mills_domain], tags=["partner"])
    organizations.add("looms", industry="Textiles", tags=["prospect"])
    organizations.add("forge")

    assert organizations.matching("") == {"engines", "mills", "looms", "forge"}
    assert organizations.matching('tags:"PARTNER"') == {"engines", "mills"}
    assert organizations.matching('tags:"partner" tags:"vip"') == {"engines"}
    assert organizations.matching("NOT tags:partner") == {"looms", "forge"}
    assert organizations.matching("tags:*") == {"engines", "mills", "looms"}
    assert organizations.matching('industry = "Textiles"') == {"mills", "looms"}
    assert organizations.matching('industry = "Computing" OR industry = "Textiles"') == {
        "engines",
        "mills",
        "looms",
    }
    assert organizations.matching('industry = "Textiles" AND -tags:"prospect"') == {"mills"}
    assert organizations.matching(f'domains:"WWW.{mills_domain.upper()}"') == {"mills"}
    assert organizations.matching("domains:*") == {"engines", "mills"}
    assert organizations.matching(f'email_addresses:"INFO@{engines_domain}"') == {"engines"}
    assert organizations.matching("website:*") == {"engines"}
    assert organizations.matching('display_name >= "f" AND display_name < "m"') == {
        "forge",
        "looms",
    }
    assert organizations.matching(
        '(tags:"vip" OR industry = "Textiles") AND NOT display_name = "looms"'
    ) == {"engines", "mills"}

    cutoff = engines.create_time.ToJsonString()
    assert organizations.matching(f'create_time > "{cutoff}"') == {"mills", "looms", "forge"}
    assert organizations.matching(f'create_time <= "{cutoff}"') == {"engines"}
    assert organizations.matching('update_time < "2100-01-01"') == {
        "engines",
        "mills",
        "looms",
        "forge",
    }

    # Changed tags, emails and domains are what later filters see.
    suite.contacts.UpdateOrganization(
        contacts.UpdateOrganizationRequest(
            organization=organization_pb2.Organization(
                name=engines.name, tags=["former"], domains=[], email_addresses=[]
            ),
            update_mask=FieldMask(paths=["tags", "domains", "email_addresses"]),
        )
    )
    assert organizations.matching('tags:"partner"') == {"mills"}
    assert organizations.matching(f'domains:"{engines_domain}"') == set()
    assert organizations.matching(f'email_addresses:"info@{engines_domain}"') == set()
    assert organizations.matching('tags:"former"') == {"engines"}


def test_filters_on_custom_fields(suite: Suite) -> None:
    size = define(suite, cf.CUSTOM_FIELD_TYPE_NUMBER)
    region = define(suite, cf.CUSTOM_FIELD_TYPE_SINGLE_SELECT, ("EMEA", "APAC"))
    listed = define(suite, cf.CUSTOM_FIELD_TYPE_BOOLEAN)
    founded = define(suite, cf.CUSTOM_FIELD_TYPE_DATE)
    organizations = Organizations(suite)

    def values(employees: float, area: str, public: bool, year: int) -> dict[str, Any]:
        return {
            size: cf.CustomFieldValue(number_value=employees),
            region: cf.CustomFieldValue(option_value=area),
            listed: cf.CustomFieldValue(boolean_value=public),
            founded: cf.CustomFieldValue(date_value=date_pb2.Date(year=year, month=1, day=1)),
        }

    organizations.add("engines", custom_fields=values(250, "EMEA", True, 1843))
    organizations.add("mills", custom_fields=values(40, "APAC", False, 1901))
    organizations.add("looms", custom_fields={size: cf.CustomFieldValue(number_value=1000)})
    organizations.add("forge")

    assert organizations.matching(f"custom_fields.{size} > 100") == {"engines", "looms"}
    assert organizations.matching(f"custom_fields.{size} <= 250") == {"engines", "mills"}
    assert organizations.matching(f'custom_fields.{region} = "apac"') == {"mills"}
    assert organizations.matching(f'NOT custom_fields.{region} = "EMEA"') == {
        "mills",
        "looms",
        "forge",
    }
    assert organizations.matching(f"custom_fields.{listed} = true") == {"engines"}
    assert organizations.matching(f'custom_fields.{founded} < "1900-01-01"') == {"engines"}
    assert organizations.matching(f"custom_fields:{region}") == {"engines", "mills"}
    assert organizations.matching(f"custom_fields.{region} = null") == {"looms", "forge"}
    assert organizations.matching(
        f'custom_fields.{region} = "APAC" OR (custom_fields.{size} > 500 AND NOT tags:"x")'
    ) == {"mills", "looms"}


def test_order_by_custom_field_pages_through_everything_once(suite: Suite) -> None:
    size = define(suite, cf.CUSTOM_FIELD_TYPE_NUMBER)
    organizations = Organizations(suite)
    sizes = {"a": 3, "b": 1, "c": 3, "d": None, "e": 2, "f": None, "g": 5}
    for label, value in sizes.items():
        custom = {} if value is None else {size: cf.CustomFieldValue(number_value=value)}
        # One name for all, so that a sort by name leaves the order to the custom field.
        organizations.add(label, display_name="Same Ltd", custom_fields=custom)
    ids = {
        label: name.removeprefix("organizations/") for label, name in organizations.names.items()
    }

    def expected(descending: bool) -> list[str]:
        present = [label for label, value in sizes.items() if value is not None]
        missing = [label for label, value in sizes.items() if value is None]
        by_value = sorted(present, key=lambda lb: (sizes[lb], ids[lb]), reverse=descending)
        # Without a value last, either way; ties broken by id in the key's direction.
        return by_value + sorted(missing, key=lambda lb: ids[lb], reverse=descending)

    for page_size in (1, 2, 3, 50):
        for descending in (False, True):
            order = f"custom_fields.{size}" + (" desc" if descending else "")
            assert organizations.list(order_by=order, page_size=page_size) == expected(descending)
        # Not first: every organization is joined to the value and the whole order sorted.
        assert organizations.list(
            order_by=f"display_name, custom_fields.{size} desc", page_size=page_size
        ) == expected(True)

    filtered = organizations.list(
        filter=f"custom_fields.{size} >= 2", order_by=f"custom_fields.{size} desc, id"
    )
    assert filtered == ["g", *sorted(["a", "c"], key=ids.__getitem__), "e"]


def test_bad_filters_orders_and_tokens_are_invalid_arguments(suite: Suite) -> None:
    size = define(suite, cf.CUSTOM_FIELD_TYPE_NUMBER)
    people_only = define(suite, cf.CUSTOM_FIELD_TYPE_TEXT, applies_to=(PERSON,))

    def violations(**request: Any) -> dict[str, str]:
        return invalid(
            lambda: suite.contacts.ListOrganizations(contacts.ListOrganizationsRequest(**request))
        )

    for bad in (
        'industry = "unterminated',
        "given_name = 1",
        "custom_fields.nope = 1",
        f'custom_fields.{size} = "many"',
        f'custom_fields.{people_only} = "x"',
        'create_time > "yesterday"',
        "domains = example.com",
    ):
        assert set(violations(filter=bad)) == {"filter"}, bad
    assert (
        "does not apply to organizations"
        in (violations(filter=f'custom_fields.{people_only} = "x"')["filter"])
    )
    assert set(violations(order_by=f"custom_fields.{people_only}")) == {"order_by"}
    assert set(violations(order_by="industry")) == {"order_by"}

    organizations = Organizations(suite)
    for index in range(2):
        organizations.add(
            f"s{index}", custom_fields={size: cf.CustomFieldValue(number_value=index)}
        )
    page = suite.contacts.ListOrganizations(
        contacts.ListOrganizationsRequest(filter=f"custom_fields.{size}:*", page_size=1)
    )
    assert page.next_page_token
    # A token is bound to its filter and order.
    for other in ({"filter": "tags:vip"}, {"order_by": f"custom_fields.{size}"}):
        assert set(violations(page_token=page.next_page_token, **other)) == {"page_token"}


def test_definitions_held_by_organizations_are_protected(suite: Suite) -> None:
    region = define(
        suite, cf.CUSTOM_FIELD_TYPE_SINGLE_SELECT, ("EMEA", "APAC", "AMER"), (ORGANIZATION, PERSON)
    )
    name = f"customFieldDefinitions/{region}"
    organizations = Organizations(suite)
    engines = organizations.add(
        "engines", custom_fields={region: cf.CustomFieldValue(option_value="EMEA")}
    )

    def update(options: list[str], applies_to: tuple[int, ...]) -> cf.CustomFieldDefinition:
        return suite.contacts.UpdateCustomFieldDefinition(
            contacts.UpdateCustomFieldDefinitionRequest(
                custom_field_definition=cf.CustomFieldDefinition(
                    name=name, options=options, applies_to=applies_to
                ),
                update_mask=FieldMask(paths=["options", "applies_to"]),
            )
        )

    def precondition_failed(call: Callable[[], object]) -> str:
        error = rpc_error(call)
        assert error.code() == grpc.StatusCode.FAILED_PRECONDITION, error.details()
        return str(error.details())

    delete = contacts.DeleteCustomFieldDefinitionRequest(name=name)
    assert "organizations" in precondition_failed(
        lambda: suite.contacts.DeleteCustomFieldDefinition(delete)
    )
    assert "organizations" in precondition_failed(
        lambda: update(["APAC", "AMER"], (ORGANIZATION, PERSON))
    )
    assert "organizations" in precondition_failed(lambda: update(["EMEA"], (PERSON,)))
    # People hold none: the field may stop applying to them.
    assert list(update(["EMEA", "APAC"], (ORGANIZATION,)).applies_to) == [ORGANIZATION]

    suite.contacts.UpdateOrganization(
        contacts.UpdateOrganizationRequest(
            organization=organization_pb2.Organization(name=engines.name),
            update_mask=FieldMask(paths=["custom_fields"]),
        )
    )
    suite.contacts.DeleteCustomFieldDefinition(delete)


def test_upgrade_indexes_existing_organizations_and_keeps_search(databases: Databases) -> None:
    asyncio.run(_upgrade_with_an_organization_at_0006(databases.new("contacts")))


async def _upgrade_with_an_organization_at_0006(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_upgrade, "0006")
            await connection.execute(
                text(
                    "INSERT INTO organizations (id, display_name, website, industry, owner, "
                    "background, domains, email_addresses, phone_numbers, addresses, "
                    "social_handles, tags, create_time, update_time, version) VALUES "
                    "('old', 'Analytical Engines', '', '', '', '', '[]', "
                    '\'[{"address": "info@engines.example", "type": "work"}]\', '
                    "'[]', '[]', '[]', '[\"vip\", \"partner\"]', "
                    "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 1)"
                )
            )
        async with engine.begin() as connection:
            await connection.run_sync(_upgrade, "heads")
        await _assert_indexed(engine)

        # The search triggers on `organizations` survived: updates still reach the index.
        async with engine.begin() as connection:
            await connection.execute(
                text("UPDATE organizations SET display_name = 'Difference Mills' WHERE id = 'old'")
            )
        assert await _search(engine, "difference") == [SearchHit(ContactKind.ORGANIZATION, "old")]

        async with engine.begin() as connection:
            await connection.run_sync(_downgrade_0009_alone)
            assert "custom_fields" not in await connection.run_sync(_organization_columns)
            await connection.execute(
                text("UPDATE organizations SET display_name = 'Engine Works' WHERE id = 'old'")
            )
        assert await _search(engine, "works") == [SearchHit(ContactKind.ORGANIZATION, "old")]
    finally:
        await engine.dispose()


async def _assert_indexed(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        tags = await connection.execute(text("SELECT tag FROM organization_tags ORDER BY tag"))
        assert [row.tag for row in tags] == ["partner", "vip"]
        emails = await connection.execute(text("SELECT address FROM organization_emails"))
        assert [row.address for row in emails] == ["info@engines.example"]
        custom = await connection.execute(text("SELECT custom_fields FROM organizations"))
        assert json.loads(str(custom.scalar_one())) == {}
    async with session_factory(engine)() as session:
        expr = parse_filter('tags:"VIP" AND email_addresses:"info@engines.example"')
        query = check_query(ORGANIZATIONS_LISTING, expr, (SortKey("id"),), {})
        found = await OrganizationRepository(session).page(query, None, 10)
        assert [organization.id for organization, _ in found] == ["old"]


async def _search(engine: AsyncEngine, words: str) -> list[SearchHit]:
    async with session_factory(engine)() as session:
        return await ContactSearch(session).find(SearchQuery.parse(words), 0, 10)


def _organization_columns(connection: Connection) -> set[str]:
    return {column["name"] for column in inspect(connection).get_columns("organizations")}


def _config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(SPEC.migrations))
    config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection, revision: str) -> None:
    command.upgrade(_config(connection), revision)


def _downgrade_0009_alone(connection: Connection) -> None:
    """Runs 0009's downgrade by itself: alembic's own downgrade to 0003 would
    take 0006 (also built on 0003) down with it."""
    script = ScriptDirectory.from_config(_config(connection)).get_revision("0009")
    assert script is not None
    with Operations.context(MigrationContext.configure(connection)):
        script.module.downgrade()
