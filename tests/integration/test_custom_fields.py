"""Custom field definitions and the values people hold, on SQLite and PostgreSQL."""

import math
import uuid
from collections.abc import Callable

import grpc
from google.protobuf.field_mask_pb2 import FieldMask
from google.type import date_pb2

from crm.contacts.v1 import contacts_service_pb2 as contacts
from crm.contacts.v1 import custom_field_pb2 as cf
from crm.contacts.v1 import person_pb2
from tests.integration.harness import Suite, field_violations, rpc_error

PERSON = cf.CONTACT_KIND_PERSON
ORGANIZATION = cf.CONTACT_KIND_ORGANIZATION


def unique_id(stem: str) -> str:
    return f"{stem}_{uuid.uuid4().hex[:8]}"


def define(
    suite: Suite,
    field_type: int,
    *,
    options: tuple[str, ...] = (),
    applies_to: tuple[int, ...] = (PERSON,),
    stem: str = "field",
) -> cf.CustomFieldDefinition:
    return suite.contacts.CreateCustomFieldDefinition(
        contacts.CreateCustomFieldDefinitionRequest(
            custom_field_definition=cf.CustomFieldDefinition(
                display_name=stem.title(),
                type=field_type,
                options=options,
                applies_to=applies_to,
            ),
            custom_field_definition_id=unique_id(stem),
        )
    )


def key(definition: cf.CustomFieldDefinition) -> str:
    return definition.name.removeprefix("customFieldDefinitions/")


def create_person(suite: Suite, **custom: cf.CustomFieldValue) -> person_pb2.Person:
    return suite.contacts.CreatePerson(
        contacts.CreatePersonRequest(
            person=person_pb2.Person(given_name="Ada", custom_fields=custom)
        )
    )


def set_custom_fields(
    suite: Suite, person: person_pb2.Person, **custom: cf.CustomFieldValue
) -> person_pb2.Person:
    return suite.contacts.UpdatePerson(
        contacts.UpdatePersonRequest(
            person=person_pb2.Person(name=person.name, custom_fields=custom),
            update_mask=FieldMask(paths=["custom_fields"]),
        )
    )


def invalid(call: Callable[[], object]) -> dict[str, str]:
    error = rpc_error(call)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
    return field_violations(error)


def test_definition_create_get_list_update_delete(suite: Suite) -> None:
    created = define(suite, cf.CUSTOM_FIELD_TYPE_SINGLE_SELECT, options=(" EMEA", "APAC"))
    assert created.name.startswith("customFieldDefinitions/field_")
    assert list(created.options) == ["EMEA", "APAC"]
    assert list(created.applies_to) == [PERSON]
    assert created.etag and created.create_time == created.update_time
    get = contacts.GetCustomFieldDefinitionRequest(name=created.name)
    assert suite.contacts.GetCustomFieldDefinition(get) == created

    listed: list[str] = []
    token = ""
    while True:
        page = suite.contacts.ListCustomFieldDefinitions(
            contacts.ListCustomFieldDefinitionsRequest(page_size=1, page_token=token)
        )
        listed += [d.name for d in page.custom_field_definitions]
        token = page.next_page_token
        if not token:
            break
    assert created.name in listed and listed == sorted(set(listed))

    updated = suite.contacts.UpdateCustomFieldDefinition(
        contacts.UpdateCustomFieldDefinitionRequest(
            custom_field_definition=cf.CustomFieldDefinition(
                name=created.name,
                display_name="Sales region",
                options=["EMEA", "APAC", "AMER"],
                applies_to=[ORGANIZATION, PERSON],
                etag=created.etag,
            ),
            update_mask=FieldMask(paths=["display_name", "options", "applies_to"]),
        )
    )
    assert updated.display_name == "Sales region" and len(updated.options) == 3
    assert list(updated.applies_to) == [PERSON, ORGANIZATION]
    assert updated.etag != created.etag and updated.type == created.type

    stale = contacts.DeleteCustomFieldDefinitionRequest(name=created.name, etag=created.etag)
    assert (
        rpc_error(lambda: suite.contacts.DeleteCustomFieldDefinition(stale)).code()
        == grpc.StatusCode.ABORTED
    )
    suite.contacts.DeleteCustomFieldDefinition(
        contacts.DeleteCustomFieldDefinitionRequest(name=created.name, etag=updated.etag)
    )
    assert (
        rpc_error(lambda: suite.contacts.GetCustomFieldDefinition(get)).code()
        == grpc.StatusCode.NOT_FOUND
    )


def test_bad_definitions_name_the_field(suite: Suite) -> None:
    create = suite.contacts.CreateCustomFieldDefinition
    assert "custom_field_definition" in invalid(
        lambda: create(contacts.CreateCustomFieldDefinitionRequest(custom_field_definition_id="x"))
    )
    empty = contacts.CreateCustomFieldDefinitionRequest(
        custom_field_definition=cf.CustomFieldDefinition(applies_to=[0]),
        custom_field_definition_id="Not-Valid",
    )
    assert set(invalid(lambda: create(empty))) == {
        "custom_field_definition_id",
        "custom_field_definition.display_name",
        "custom_field_definition.type",
        "custom_field_definition.applies_to",
    }
    select = cf.CustomFieldDefinition(
        display_name="Region", type=cf.CUSTOM_FIELD_TYPE_SINGLE_SELECT, applies_to=[PERSON]
    )
    for options, field in (
        ([], "custom_field_definition.options"),
        (["emea", "EMEA"], "custom_field_definition.options[1]"),
        (["emea", " "], "custom_field_definition.options[1]"),
    ):
        select.ClearField("options")
        select.options.extend(options)
        request = contacts.CreateCustomFieldDefinitionRequest(
            custom_field_definition=select, custom_field_definition_id=unique_id("region")
        )
        assert set(invalid(lambda request=request: create(request))) == {field}, options
    text_with_options = contacts.CreateCustomFieldDefinitionRequest(
        custom_field_definition=cf.CustomFieldDefinition(
            display_name="Note", type=cf.CUSTOM_FIELD_TYPE_TEXT, options=["a"], applies_to=[PERSON]
        ),
        custom_field_definition_id=unique_id("note"),
    )
    assert set(invalid(lambda: create(text_with_options))) == {"custom_field_definition.options"}

    existing = define(suite, cf.CUSTOM_FIELD_TYPE_TEXT)
    again = contacts.CreateCustomFieldDefinitionRequest(
        custom_field_definition=cf.CustomFieldDefinition(
            display_name="Again", type=cf.CUSTOM_FIELD_TYPE_TEXT, applies_to=[PERSON]
        ),
        custom_field_definition_id=key(existing),
    )
    assert rpc_error(lambda: create(again)).code() == grpc.StatusCode.ALREADY_EXISTS


def test_bad_get_list_update_delete_requests(suite: Suite) -> None:
    stub = suite.contacts
    assert "name" in invalid(
        lambda: stub.GetCustomFieldDefinition(
            contacts.GetCustomFieldDefinitionRequest(name="fields/x")
        )
    )
    missing = contacts.GetCustomFieldDefinitionRequest(name="customFieldDefinitions/nothing")
    assert (
        rpc_error(lambda: stub.GetCustomFieldDefinition(missing)).code()
        == grpc.StatusCode.NOT_FOUND
    )
    for request, field in (
        (contacts.ListCustomFieldDefinitionsRequest(page_size=-1), "page_size"),
        (contacts.ListCustomFieldDefinitionsRequest(page_size=1001), "page_size"),
        (contacts.ListCustomFieldDefinitionsRequest(page_token="garbage"), "page_token"),
    ):
        assert field in invalid(lambda request=request: stub.ListCustomFieldDefinitions(request))

    definition = define(suite, cf.CUSTOM_FIELD_TYPE_NUMBER)
    update = stub.UpdateCustomFieldDefinition
    assert "custom_field_definition" in invalid(
        lambda: update(contacts.UpdateCustomFieldDefinitionRequest())
    )
    for message, paths, field in (
        (cf.CustomFieldDefinition(name="x"), ["display_name"], "custom_field_definition.name"),
        (cf.CustomFieldDefinition(name=definition.name), ["create_time"], "update_mask"),
        (
            cf.CustomFieldDefinition(name=definition.name, type=cf.CUSTOM_FIELD_TYPE_TEXT),
            ["type"],
            "custom_field_definition.type",
        ),
        (
            cf.CustomFieldDefinition(name=definition.name),
            ["applies_to"],
            "custom_field_definition.applies_to",
        ),
        (
            cf.CustomFieldDefinition(name=definition.name),
            ["display_name"],
            "custom_field_definition.display_name",
        ),
    ):
        request = contacts.UpdateCustomFieldDefinitionRequest(
            custom_field_definition=message, update_mask=FieldMask(paths=paths)
        )
        assert field in invalid(lambda request=request: update(request)), paths
    unchanged = stub.GetCustomFieldDefinition(
        contacts.GetCustomFieldDefinitionRequest(name=definition.name)
    )
    assert unchanged == definition
    same_type = contacts.UpdateCustomFieldDefinitionRequest(
        custom_field_definition=cf.CustomFieldDefinition(
            name=definition.name, type=cf.CUSTOM_FIELD_TYPE_NUMBER
        ),
        update_mask=FieldMask(paths=["type"]),
    )
    assert update(same_type).etag == definition.etag  # nothing changed
    assert "name" in invalid(
        lambda: stub.DeleteCustomFieldDefinition(
            contacts.DeleteCustomFieldDefinitionRequest(name="")
        )
    )


def test_people_hold_typed_values(suite: Suite) -> None:
    text = define(suite, cf.CUSTOM_FIELD_TYPE_TEXT, stem="nickname")
    number = define(suite, cf.CUSTOM_FIELD_TYPE_NUMBER, stem="score")
    day = define(suite, cf.CUSTOM_FIELD_TYPE_DATE, stem="since")
    flag = define(suite, cf.CUSTOM_FIELD_TYPE_BOOLEAN, stem="active")
    region = define(suite, cf.CUSTOM_FIELD_TYPE_SINGLE_SELECT, options=("EMEA", "APAC"))
    site = define(suite, cf.CUSTOM_FIELD_TYPE_URL, stem="site")
    values = {
        key(text): cf.CustomFieldValue(text_value="  Countess "),
        key(number): cf.CustomFieldValue(number_value=42.5),
        key(day): cf.CustomFieldValue(date_value=date_pb2.Date(year=1815, month=12, day=10)),
        key(flag): cf.CustomFieldValue(boolean_value=False),
        key(region): cf.CustomFieldValue(option_value="emea"),
        key(site): cf.CustomFieldValue(url_value="https://ada.example/about"),
    }
    created = create_person(suite, **values)
    assert created.custom_fields[key(text)].text_value == "Countess"
    assert created.custom_fields[key(region)].option_value == "EMEA"
    assert created.custom_fields[key(flag)].WhichOneof("value") == "boolean_value"
    assert created.custom_fields[key(day)].date_value == values[key(day)].date_value
    assert created.custom_fields[key(number)].number_value == 42.5
    fetched = suite.contacts.GetPerson(contacts.GetPersonRequest(name=created.name))
    assert fetched == created

    updated = set_custom_fields(
        suite, created, **{key(number): cf.CustomFieldValue(number_value=7)}
    )
    assert dict(updated.custom_fields) == {key(number): cf.CustomFieldValue(number_value=7)}
    assert updated.etag != created.etag
    untouched = suite.contacts.UpdatePerson(
        contacts.UpdatePersonRequest(
            person=person_pb2.Person(name=created.name, job_title="Analyst"),
            update_mask=FieldMask(paths=["job_title"]),
        )
    )
    assert untouched.custom_fields == updated.custom_fields


def test_bad_values_name_the_custom_field(suite: Suite) -> None:
    text = define(suite, cf.CUSTOM_FIELD_TYPE_TEXT, stem="nickname")
    number = define(suite, cf.CUSTOM_FIELD_TYPE_NUMBER, stem="score")
    day = define(suite, cf.CUSTOM_FIELD_TYPE_DATE, stem="since")
    region = define(suite, cf.CUSTOM_FIELD_TYPE_SINGLE_SELECT, options=("EMEA",))
    site = define(suite, cf.CUSTOM_FIELD_TYPE_URL, stem="site")
    company_only = define(suite, cf.CUSTOM_FIELD_TYPE_TEXT, applies_to=(ORGANIZATION,))
    bad = {
        "no_such_field": cf.CustomFieldValue(text_value="x"),
        key(text): cf.CustomFieldValue(number_value=1),
        key(number): cf.CustomFieldValue(number_value=math.nan),
        key(day): cf.CustomFieldValue(date_value=date_pb2.Date(year=2026, month=2, day=30)),
        key(region): cf.CustomFieldValue(option_value="Mars"),
        key(site): cf.CustomFieldValue(url_value="ftp://files.example"),
        key(company_only): cf.CustomFieldValue(text_value="x"),
    }
    violations = invalid(lambda: create_person(suite, **bad))
    assert set(violations) == {f'person.custom_fields["{name}"]' for name in bad}
    assert "text_value" in violations[f'person.custom_fields["{key(text)}"]']
    assert "EMEA" in violations[f'person.custom_fields["{key(region)}"]']

    person = create_person(suite)
    too_long = {key(text): cf.CustomFieldValue(text_value="x" * 1001)}
    assert set(invalid(lambda: set_custom_fields(suite, person, **too_long))) == {
        f'person.custom_fields["{key(text)}"]'
    }
    no_case = {key(text): cf.CustomFieldValue()}
    assert f'person.custom_fields["{key(text)}"]' in invalid(
        lambda: set_custom_fields(suite, person, **no_case)
    )


def test_definitions_in_use_are_protected(suite: Suite) -> None:
    region = define(suite, cf.CUSTOM_FIELD_TYPE_SINGLE_SELECT, options=("EMEA", "APAC", "AMER"))
    person = create_person(suite, **{key(region): cf.CustomFieldValue(option_value="EMEA")})

    def update(options: list[str], applies_to: tuple[int, ...] = (PERSON,)) -> object:
        return suite.contacts.UpdateCustomFieldDefinition(
            contacts.UpdateCustomFieldDefinitionRequest(
                custom_field_definition=cf.CustomFieldDefinition(
                    name=region.name, options=options, applies_to=applies_to
                ),
                update_mask=FieldMask(paths=["options", "applies_to"]),
            )
        )

    def precondition_failed(call: Callable[[], object]) -> None:
        assert rpc_error(call).code() == grpc.StatusCode.FAILED_PRECONDITION

    delete = contacts.DeleteCustomFieldDefinitionRequest(name=region.name)
    precondition_failed(lambda: suite.contacts.DeleteCustomFieldDefinition(delete))
    precondition_failed(lambda: update(["APAC", "AMER"]))
    precondition_failed(lambda: update(["EMEA"], applies_to=(ORGANIZATION,)))
    assert list(update(["EMEA", "APAC"]).options) == ["EMEA", "APAC"]  # type: ignore[attr-defined]

    set_custom_fields(suite, person)  # clears the person's custom fields
    suite.contacts.DeleteCustomFieldDefinition(delete)
