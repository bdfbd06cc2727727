"""Translation between the contract's Organization and the domain."""

from crm.contacts.v1 import organization_pb2
from crm_common.etags import etag_for
from crm_common.resources import require_id
from crm_contacts.custom_field_proto import custom_values_to_proto
from crm_contacts.domain.organizations import Organization, OrganizationDetails
from crm_contacts.proto import contact_points_to_proto, details_field

RESOURCE_PREFIX = "organizations/"


def organization_id_from_name(name: str, field: str = "name") -> str:
    return require_id(name, RESOURCE_PREFIX, field, "like organizations/123")


def organization_details_field(message: organization_pb2.Organization, field: str) -> object:
    if field == "domains":
        return tuple(message.domains)
    return details_field(message, field)


def organization_details_from_proto(message: organization_pb2.Organization) -> OrganizationDetails:
    return OrganizationDetails(
        **{
            name: organization_details_field(message, name)
            for name in OrganizationDetails.__dataclass_fields__
        }
    )


def organization_to_proto(organization: Organization) -> organization_pb2.Organization:
    details = organization.details
    message = organization_pb2.Organization(
        name=RESOURCE_PREFIX + organization.id,
        display_name=details.display_name,
        domains=details.domains,
        website=details.website,
        industry=details.industry,
        owner=details.owner,
        background=details.background,
        etag=etag_for(organization.version),
        custom_fields=custom_values_to_proto(details.custom_fields),
        **contact_points_to_proto(details),
    )
    message.create_time.FromDatetime(organization.create_time)
    message.update_time.FromDatetime(organization.update_time)
    return message
