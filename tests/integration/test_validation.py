"""Bad input gets a precise answer: the right code and the offending field."""

import base64
import json

import grpc
from google.protobuf.field_mask_pb2 import FieldMask

from crm.contacts.v1 import contacts_service_pb2 as contacts
from crm.contacts.v1 import person_pb2
from crm.support.v1 import support_service_pb2 as support
from tests.integration.harness import Suite, field_violations, rpc_error


def test_create_reports_every_bad_field(suite: Suite) -> None:
    request = contacts.CreatePersonRequest(
        person=person_pb2.Person(
            email_addresses=[person_pb2.EmailAddress(address="not-an-email")],
            phone_numbers=[person_pb2.PhoneNumber(number="call me maybe")],
        ),
        person_id="Not Valid!",
    )
    error = rpc_error(lambda: suite.contacts.CreatePerson(request))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(field_violations(error)) == {
        "person_id",
        "person.given_name",
        "person.email_addresses[0].address",
        "person.phone_numbers[0].number",
    }


def test_missing_resource_and_malformed_names(suite: Suite) -> None:
    missing = rpc_error(lambda: suite.contacts.CreatePerson(contacts.CreatePersonRequest()))
    assert field_violations(missing) == {"person": "is required"}
    bad_name = rpc_error(
        lambda: suite.contacts.GetPerson(contacts.GetPersonRequest(name="persons/1"))
    )
    assert bad_name.code() == grpc.StatusCode.INVALID_ARGUMENT and "name" in field_violations(
        bad_name
    )
    unknown = rpc_error(
        lambda: suite.contacts.GetPerson(contacts.GetPersonRequest(name="people/nobody"))
    )
    assert unknown.code() == grpc.StatusCode.NOT_FOUND
    bad_customer = rpc_error(
        lambda: suite.support.GetCustomer(support.GetCustomerRequest(name="x"))
    )
    assert bad_customer.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_duplicate_email_and_id_already_exist(suite: Suite) -> None:
    first = person_pb2.Person(
        given_name="Grace", email_addresses=[person_pb2.EmailAddress(address="grace@navy.mil")]
    )
    suite.contacts.CreatePerson(contacts.CreatePersonRequest(person=first, person_id="grace"))
    again = person_pb2.Person(
        given_name="G", email_addresses=[person_pb2.EmailAddress(address=" GRACE@navy.mil")]
    )
    duplicate_email = rpc_error(
        lambda: suite.contacts.CreatePerson(contacts.CreatePersonRequest(person=again))
    )
    assert duplicate_email.code() == grpc.StatusCode.ALREADY_EXISTS
    assert "grace@navy.mil" in duplicate_email.details()
    other = person_pb2.Person(given_name="Other")
    duplicate_id = rpc_error(
        lambda: suite.contacts.CreatePerson(
            contacts.CreatePersonRequest(person=other, person_id="grace")
        )
    )
    assert duplicate_id.code() == grpc.StatusCode.ALREADY_EXISTS


def test_list_arguments_are_checked(suite: Suite) -> None:
    for request, field in (
        (contacts.ListPeopleRequest(page_size=-1), "page_size"),
        (contacts.ListPeopleRequest(page_size=5000), "page_size"),
        (contacts.ListPeopleRequest(page_token="garbage"), "page_token"),
        (contacts.ListPeopleRequest(order_by="shoe_size desc"), "order_by"),
    ):
        error = rpc_error(lambda request=request: suite.contacts.ListPeople(request))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, request
        assert field in field_violations(error)
    page = suite.contacts.ListPeople(contacts.ListPeopleRequest(page_size=1))
    if page.next_page_token:
        reordered = contacts.ListPeopleRequest(
            page_token=page.next_page_token, order_by="family_name"
        )
        assert "page_token" in field_violations(
            rpc_error(lambda: suite.contacts.ListPeople(reordered))
        )


def test_update_mask_is_checked(suite: Suite) -> None:
    created = suite.contacts.CreatePerson(
        contacts.CreatePersonRequest(person=person_pb2.Person(given_name="M"))
    )
    request = contacts.UpdatePersonRequest(
        person=person_pb2.Person(name=created.name),
        update_mask=FieldMask(paths=["create_time", "nope"]),
    )
    error = rpc_error(lambda: suite.contacts.UpdatePerson(request))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "update_mask" in field_violations(error)
    clear_names = contacts.UpdatePersonRequest(
        person=person_pb2.Person(name=created.name), update_mask=FieldMask(paths=["given_name"])
    )
    assert "person.given_name" in field_violations(
        rpc_error(lambda: suite.contacts.UpdatePerson(clear_names))
    )
    unchanged = suite.contacts.GetPerson(contacts.GetPersonRequest(name=created.name))
    assert unchanged.given_name == "M" and unchanged.etag == created.etag


def test_forged_page_token_is_invalid_argument(suite: Suite) -> None:
    """Tokens are opaque, not secret: one edited to carry values of the wrong
    type (its digest still right) must be refused as bad input."""
    for i in range(3):
        suite.contacts.CreatePerson(
            contacts.CreatePersonRequest(person=person_pb2.Person(given_name=f"Forge {i}"))
        )
    token = suite.contacts.ListPeople(contacts.ListPeopleRequest(page_size=1)).next_page_token
    decoded = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    for forged_values in (
        [12345, "x"],
        ["not a time", "x"],
        [{"dt": "1999-01-01T00:00:00+00:00"}, 7],
    ):
        forged = base64.urlsafe_b64encode(
            json.dumps({**decoded, "a": forged_values}).encode()
        ).decode()
        request = contacts.ListPeopleRequest(page_size=1, page_token=forged)
        error = rpc_error(lambda request=request: suite.contacts.ListPeople(request))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, forged_values
        assert "page_token" in field_violations(error)
