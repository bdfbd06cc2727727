"""Organization RPCs: proto in, handler call, proto out."""

from google.protobuf.empty_pb2 import Empty
from grpc.aio import ServicerContext

from crm.contacts.v1 import contacts_service_pb2 as pb
from crm.contacts.v1 import organization_pb2
from crm_common.errors import InvalidArgument
from crm_common.fieldmask import resolve_update_mask
from crm_common.messaging.uow import UnitOfWorkFactory
from crm_common.pagination import (
    SortKey,
    decode_page_token,
    encode_page_token,
    page_size,
    parse_order_by,
    query_digest,
)
from crm_contacts.domain.organizations import WRITABLE_FIELDS, Organization
from crm_contacts.handlers import organizations as handlers
from crm_contacts.organization_proto import (
    organization_details_field,
    organization_details_from_proto,
    organization_id_from_name,
    organization_to_proto,
)
from crm_contacts.storage.organizations import SORT_COLUMNS

DEFAULT_ORDER = (SortKey("create_time", descending=True),)


class OrganizationsApi:
    _units: UnitOfWorkFactory

    async def CreateOrganization(
        self, request: pb.CreateOrganizationRequest, context: ServicerContext
    ) -> organization_pb2.Organization:
        if not request.HasField("organization"):
            raise InvalidArgument.single("organization", "is required")
        organization = await handlers.create_organization(
            self._units(),
            organization_details_from_proto(request.organization),
            request.organization_id,
        )
        return organization_to_proto(organization)

    async def GetOrganization(
        self, request: pb.GetOrganizationRequest, context: ServicerContext
    ) -> organization_pb2.Organization:
        organization_id = organization_id_from_name(request.name)
        return organization_to_proto(
            await handlers.get_organization(self._units(), organization_id)
        )

    async def ListOrganizations(
        self, request: pb.ListOrganizationsRequest, context: ServicerContext
    ) -> pb.ListOrganizationsResponse:
        size = page_size(request.page_size)
        keys = parse_order_by(request.order_by, list(SORT_COLUMNS), default=DEFAULT_ORDER)
        digest = query_digest(order_by=[(k.field, k.descending) for k in keys])
        after = decode_page_token(request.page_token, digest)
        found, has_more = await handlers.list_organizations(self._units(), keys, after, size)
        response = pb.ListOrganizationsResponse(
            organizations=[organization_to_proto(o) for o in found]
        )
        if has_more:
            response.next_page_token = encode_page_token(
                [_sort_value(found[-1], key.field) for key in keys], digest
            )
        return response

    async def UpdateOrganization(
        self, request: pb.UpdateOrganizationRequest, context: ServicerContext
    ) -> organization_pb2.Organization:
        if not request.HasField("organization"):
            raise InvalidArgument.single("organization", "is required")
        organization_id = organization_id_from_name(request.organization.name, "organization.name")
        fields = resolve_update_mask(request.update_mask, request.organization, WRITABLE_FIELDS)
        changes = {name: organization_details_field(request.organization, name) for name in fields}
        organization = await handlers.update_organization(
            self._units(), organization_id, changes, request.organization.etag
        )
        return organization_to_proto(organization)

    async def DeleteOrganization(
        self, request: pb.DeleteOrganizationRequest, context: ServicerContext
    ) -> Empty:
        organization_id = organization_id_from_name(request.name)
        await handlers.delete_organization(self._units(), organization_id, request.etag)
        return Empty()


def _sort_value(organization: Organization, field: str) -> object:
    if field in ("create_time", "update_time", "id"):
        return getattr(organization, field)
    return getattr(organization.details, field)
