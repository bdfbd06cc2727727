"""Organizations: CRUD, unique domains, validation, events to the outbox."""

import uuid

import grpc
from google.protobuf.field_mask_pb2 import FieldMask

from crm.contacts.v1 import contacts_service_pb2 as contacts
from crm.contacts.v1 import organization_pb2, person_pb2
from tests.integration.harness import Suite, field_violations, rpc_error


def engines(**overrides: object) -> organization_pb2.Organization:
    domain = f"engines-{uuid.uuid4().hex[:8]}.example"
    fields: dict[str, object] = {
        "display_name": "Analytical Engines Ltd",
        "domains": [f"WWW.{domain.upper()}"],
        "website": f"https://{domain}",
        "industry": "Computing",
        "email_addresses": [person_pb2.EmailAddress(address=f"info@{domain}")],
        "tags": ["Partner"],
    }
    return organization_pb2.Organization(**{**fields, **overrides})


def create(
    suite: Suite, organization: organization_pb2.Organization
) -> organization_pb2.Organization:
    return suite.contacts.CreateOrganization(
        contacts.CreateOrganizationRequest(organization=organization)
    )


def test_create_get_update_delete(suite: Suite) -> None:
    created = create(suite, engines())
    assert created.name.startswith("organizations/")
    assert created.domains[0].startswith("engines-") and created.domains[0].islower()
    assert list(created.tags) == ["partner"]
    fetched = suite.contacts.GetOrganization(contacts.GetOrganizationRequest(name=created.name))
    assert fetched == created

    updated = suite.contacts.UpdateOrganization(
        contacts.UpdateOrganizationRequest(
            organization=organization_pb2.Organization(
                name=created.name, industry="Engines", etag=created.etag
            ),
            update_mask=FieldMask(paths=["industry"]),
        )
    )
    assert updated.industry == "Engines" and updated.etag != created.etag
    assert updated.display_name == created.display_name

    stale = contacts.DeleteOrganizationRequest(name=created.name, etag=created.etag)
    assert (
        rpc_error(lambda: suite.contacts.DeleteOrganization(stale)).code()
        == grpc.StatusCode.ABORTED
    )
    suite.contacts.DeleteOrganization(
        contacts.DeleteOrganizationRequest(name=created.name, etag=updated.etag)
    )
    gone = rpc_error(
        lambda: suite.contacts.GetOrganization(contacts.GetOrganizationRequest(name=created.name))
    )
    assert gone.code() == grpc.StatusCode.NOT_FOUND


def test_domains_are_unique_across_organizations(suite: Suite) -> None:
    first = create(suite, engines())
    clash = engines(domains=[first.domains[0].upper()])
    error = rpc_error(lambda: create(suite, clash))
    assert error.code() == grpc.StatusCode.ALREADY_EXISTS
    assert first.domains[0] in error.details()
    # Deleting frees the domain.
    suite.contacts.DeleteOrganization(contacts.DeleteOrganizationRequest(name=first.name))
    assert create(suite, clash).domains == first.domains


def test_bad_input_names_the_fields(suite: Suite) -> None:
    bad = organization_pb2.Organization(
        domains=["not a domain", "ok.example", "OK.example"],
        website="ftp://files.example",
        email_addresses=[person_pb2.EmailAddress(address="nope")],
    )
    error = rpc_error(lambda: create(suite, bad))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(field_violations(error)) == {
        "organization.display_name",
        "organization.domains[0]",
        "organization.domains[2]",
        "organization.website",
        "organization.email_addresses[0].address",
    }
    missing = rpc_error(
        lambda: suite.contacts.CreateOrganization(contacts.CreateOrganizationRequest())
    )
    assert field_violations(missing) == {"organization": "is required"}
    for name in ("people/1", "organizations/", "organizations/a/b"):
        request = contacts.GetOrganizationRequest(name=name)
        wrong = rpc_error(lambda request=request: suite.contacts.GetOrganization(request))
        assert "name" in field_violations(wrong), name
    bad_id = contacts.CreateOrganizationRequest(organization=engines(), organization_id="No Way")
    assert "organization_id" in field_violations(
        rpc_error(lambda: suite.contacts.CreateOrganization(bad_id))
    )
    read_only = contacts.UpdateOrganizationRequest(
        organization=organization_pb2.Organization(name="organizations/x"),
        update_mask=FieldMask(paths=["create_time"]),
    )
    assert "update_mask" in field_violations(
        rpc_error(lambda: suite.contacts.UpdateOrganization(read_only))
    )


def test_list_pages_in_name_order(suite: Suite) -> None:
    marker = uuid.uuid4().hex[:6]
    names = {
        create(suite, engines(display_name=f"{marker} Org {i}", domains=[])).name for i in range(5)
    }
    seen: list[organization_pb2.Organization] = []
    token = ""
    while True:
        page = suite.contacts.ListOrganizations(
            contacts.ListOrganizationsRequest(
                page_size=2, page_token=token, order_by="display_name"
            )
        )
        seen += page.organizations
        token = page.next_page_token
        if not token:
            break
    ours = [o.display_name for o in seen if o.name in names]
    assert ours == sorted(ours) and len(ours) == 5
    assert len({o.name for o in seen}) == len(seen)
    for request, field in (
        (contacts.ListOrganizationsRequest(page_size=-5), "page_size"),
        (contacts.ListOrganizationsRequest(order_by="industry sideways"), "order_by"),
        (contacts.ListOrganizationsRequest(page_token="%%%"), "page_token"),
    ):
        error = rpc_error(lambda request=request: suite.contacts.ListOrganizations(request))
        assert field in field_violations(error)
