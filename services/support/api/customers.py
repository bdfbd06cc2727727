"""Customer RPCs: the helpdesk's read model of the contacts' people."""

from grpc.aio import ServicerContext

from crm.support.v1 import customer_pb2
from crm.support.v1 import support_service_pb2 as pb
from crm_common.messaging.uow import UnitOfWorkFactory
from crm_common.pagination import (
    SortKey,
    decode_page_token,
    encode_page_token,
    page_size,
    query_digest,
)
from crm_common.resources import require_id
from crm_support.domain.customers import Customer
from crm_support.handlers import customers as handlers

CUSTOMER_PREFIX = "customers/"
CUSTOMER_ORDER = (SortKey("display_name"), SortKey("id"))


class CustomersApi:
    _units: UnitOfWorkFactory

    async def GetCustomer(
        self, request: pb.GetCustomerRequest, context: ServicerContext
    ) -> customer_pb2.Customer:
        customer_id = require_id(request.name, CUSTOMER_PREFIX, "name", "like customers/123")
        return _to_proto(await handlers.get_customer(self._units(), customer_id))

    async def ListCustomers(
        self, request: pb.ListCustomersRequest, context: ServicerContext
    ) -> pb.ListCustomersResponse:
        size = page_size(request.page_size)
        digest = query_digest(resource="customers")
        after = decode_page_token(request.page_token, digest)
        found, has_more = await handlers.list_customers(self._units(), CUSTOMER_ORDER, after, size)
        response = pb.ListCustomersResponse(customers=[_to_proto(c) for c in found])
        if has_more:
            response.next_page_token = encode_page_token(
                [found[-1].display_name, found[-1].id], digest
            )
        return response


def _to_proto(customer: Customer) -> customer_pb2.Customer:
    message = customer_pb2.Customer(
        name=CUSTOMER_PREFIX + customer.id,
        person=f"people/{customer.id}",
        display_name=customer.display_name,
        email_addresses=customer.email_addresses,
        source_version=customer.source_version,
    )
    message.update_time.FromDatetime(customer.update_time)
    return message
