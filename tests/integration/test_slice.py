"""The foundation's vertical slice, on SQLite and on PostgreSQL: a person
created in contacts reaches the support service's customer read model."""

import uuid

import grpc
from google.protobuf.field_mask_pb2 import FieldMask

from crm.contacts.v1 import contacts_service_pb2 as contacts
from crm.contacts.v1 import person_pb2
from crm.support.v1 import support_service_pb2 as support
from tests.integration.harness import Suite, eventually, rpc_error


def ada(email: str = "") -> person_pb2.Person:
    email = email or f"ada-{uuid.uuid4().hex[:8]}@example.com"
    return person_pb2.Person(
        given_name="Ada",
        family_name="Lovelace",
        email_addresses=[person_pb2.EmailAddress(address=email)],
        tags=["vip"],
    )


def test_created_person_reaches_the_support_read_model(suite: Suite) -> None:
    created = suite.contacts.CreatePerson(contacts.CreatePersonRequest(person=ada()))
    assert created.name.startswith("people/")
    assert suite.contacts.GetPerson(contacts.GetPersonRequest(name=created.name)) == created

    customer_name = created.name.replace("people/", "customers/")
    customer = eventually(
        lambda: suite.support.GetCustomer(support.GetCustomerRequest(name=customer_name))
    )
    assert customer.display_name == "Ada Lovelace"
    assert list(customer.email_addresses) == list(e.address for e in created.email_addresses)
    assert customer.person == created.name


def test_updates_and_deletes_follow(suite: Suite) -> None:
    created = suite.contacts.CreatePerson(contacts.CreatePersonRequest(person=ada()))
    updated = suite.contacts.UpdatePerson(
        contacts.UpdatePersonRequest(
            person=person_pb2.Person(
                name=created.name, given_name="Augusta Ada", etag=created.etag
            ),
            update_mask=FieldMask(paths=["given_name"]),
        )
    )
    assert updated.display_name == "Augusta Ada Lovelace"
    assert updated.etag != created.etag
    customer_name = created.name.replace("people/", "customers/")
    request = support.GetCustomerRequest(name=customer_name)
    eventually(
        lambda: _assert_equal(
            suite.support.GetCustomer(request).display_name, "Augusta Ada Lovelace"
        )
    )

    suite.contacts.DeletePerson(contacts.DeletePersonRequest(name=created.name, etag=updated.etag))
    assert (
        rpc_error(
            lambda: suite.contacts.GetPerson(contacts.GetPersonRequest(name=created.name))
        ).code()
        == grpc.StatusCode.NOT_FOUND
    )
    eventually(
        lambda: _assert_equal(
            rpc_error(lambda: suite.support.GetCustomer(request)).code(), grpc.StatusCode.NOT_FOUND
        )
    )


def test_list_pages_are_stable_and_complete(suite: Suite) -> None:
    names = {
        suite.contacts.CreatePerson(
            contacts.CreatePersonRequest(person=person_pb2.Person(given_name=f"P{i:02d}"))
        ).name
        for i in range(7)
    }
    seen: list[str] = []
    token = ""
    while True:
        page = suite.contacts.ListPeople(
            contacts.ListPeopleRequest(page_size=3, page_token=token, order_by="given_name")
        )
        seen += [p.name for p in page.people]
        token = page.next_page_token
        if not token:
            break
    assert [n for n in seen if n in names] == sorted(names, key=lambda n: seen.index(n))
    assert names <= set(seen) and len(seen) == len(set(seen))


def test_stale_etag_is_aborted_and_changes_nothing(suite: Suite) -> None:
    created = suite.contacts.CreatePerson(
        contacts.CreatePersonRequest(person=ada("etag@example.com"))
    )
    suite.contacts.UpdatePerson(
        contacts.UpdatePersonRequest(
            person=person_pb2.Person(name=created.name, job_title="Analyst", etag=created.etag),
            update_mask=FieldMask(paths=["job_title"]),
        )
    )
    stale_update = contacts.UpdatePersonRequest(
        person=person_pb2.Person(name=created.name, job_title="Countess", etag=created.etag),
        update_mask=FieldMask(paths=["job_title"]),
    )
    assert (
        rpc_error(lambda: suite.contacts.UpdatePerson(stale_update)).code()
        == grpc.StatusCode.ABORTED
    )
    stale_delete = contacts.DeletePersonRequest(name=created.name, etag=created.etag)
    assert (
        rpc_error(lambda: suite.contacts.DeletePerson(stale_delete)).code()
        == grpc.StatusCode.ABORTED
    )
    current = suite.contacts.GetPerson(contacts.GetPersonRequest(name=created.name))
    assert current.job_title == "Analyst"


def _assert_equal(actual: object, expected: object) -> None:
    assert actual == expected
