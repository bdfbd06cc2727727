"""Organization RPCs: proto in, handler call, proto out."""

from google.protobuf.empty_pb2 import Empty
from grpc.aio import ServicerContext

from crm.contacts.v1 import contacts_service_pb2 as pb
from crm.contacts.v1 import organization_pb2
from crm_common.errors import InvalidArgument
from crm_common.fieldmask import resolve_update_mask
from crm_common.messaging.uow import UnitOfWorkFactory
from crm_contacts.api.listing import list_request
from crm_contacts.domain.listing import ORGANIZATIONS_LISTING
from crm_contacts.domain.organizations import WRITABLE_FIELDS
from crm_contacts.handlers import organizations as handlers
from crm_contacts.organization_proto import (
    organization_details_field,
    organization_details_from_proto,
    organization_id_from_name,
    organization_to_proto,
)
from crm_contacts.storage.organizations import SORT_COLUMNS


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
        query = list_request(request, ORGANIZATIONS_LISTING, SORT_COLUMNS)
        page = await handlers.list_organizations(
            self._units(), query.expr, query.keys, query.after, query.size
        )
        return pb.ListOrganizationsResponse(
            organizations=[organization_to_proto(o) for o in page.items],
            next_page_token=query.next_page_token(page.next_key),
        )

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
