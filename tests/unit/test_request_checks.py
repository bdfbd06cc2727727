import pytest

from crm.contacts.v1 import contacts_service_pb2 as pb
from crm.contacts.v1 import custom_field_pb2, organization_pb2, person_pb2
from crm_common.errors import InvalidArgument
from crm_common.grpc.request_checks import check_request


def test_nul_characters_are_refused_with_their_paths() -> None:
    request = pb.CreateOrganizationRequest(
        organization=organization_pb2.Organization(
            display_name="Acme\x00",
            tags=["ok", "b\x00d"],
            email_addresses=[person_pb2.EmailAddress(address="a\x00@b.co")],
            custom_fields={"region": custom_field_pb2.CustomFieldValue(text_value="\x00")},
        )
    )
    with pytest.raises(InvalidArgument) as error:
        check_request(request)
    assert [v.field for v in error.value.violations] == [
        "organization.display_name",
        "organization.email_addresses[0].address",
        "organization.tags[1]",
        "organization.custom_fields['region'].text_value",
    ]


def test_clean_requests_and_non_messages_pass() -> None:
    check_request(pb.CreatePersonRequest(person=person_pb2.Person(given_name="Ada")))
    check_request(iter([]))
