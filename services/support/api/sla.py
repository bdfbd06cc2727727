"""SlaService RPCs: business calendars and SLA policies; proto in, handler call, proto out."""

from typing import Any

from google.protobuf.empty_pb2 import Empty
from grpc.aio import ServicerContext

from crm.support.v1 import sla_service_pb2 as pb
from crm.support.v1 import sla_service_pb2_grpc as pb_grpc
from crm_common.errors import InvalidArgument
from crm_common.fieldmask import resolve_update_mask
from crm_common.messaging.uow import UnitOfWorkFactory
from crm_common.pagination import decode_page_token, encode_page_token, page_size, query_digest
from crm_support.api.sla_proto import (
    calendar_changes,
    calendar_id_from_name,
    calendar_spec_from_proto,
    calendar_to_proto,
    policy_changes,
    policy_id_from_name,
    policy_spec_from_proto,
    policy_to_proto,
)
from crm_support.domain import sla_calendars, sla_policies
from crm_support.handlers import sla_policies as handlers
from crm_support.storage.sla import CALENDAR_ORDER, POLICY_ORDER

_CALENDAR_DIGEST = query_digest(order_by=[(k.field, k.descending) for k in CALENDAR_ORDER])
_POLICY_DIGEST = query_digest(order_by=[(k.field, k.descending) for k in POLICY_ORDER])


def _token(next_key: list[Any] | None, digest: str) -> str:
    return "" if next_key is None else encode_page_token(next_key, digest)


class SlaServicer(pb_grpc.SlaServiceServicer):
    def __init__(self, units: UnitOfWorkFactory) -> None:
        self._units = units

    async def CreateCalendar(
        self, request: pb.CreateCalendarRequest, context: ServicerContext
    ) -> pb.Calendar:
        if not request.HasField("calendar"):
            raise InvalidArgument.single("calendar", "is required")
        spec = calendar_spec_from_proto(request.calendar)
        calendar = await handlers.create_calendar(self._units(), request.calendar_id, spec)
        return calendar_to_proto(calendar)

    async def GetCalendar(
        self, request: pb.GetCalendarRequest, context: ServicerContext
    ) -> pb.Calendar:
        calendar_id = calendar_id_from_name(request.name)
        return calendar_to_proto(await handlers.get_calendar(self._units(), calendar_id))

    async def ListCalendars(
        self, request: pb.ListCalendarsRequest, context: ServicerContext
    ) -> pb.ListCalendarsResponse:
        size = page_size(request.page_size)
        after = decode_page_token(request.page_token, _CALENDAR_DIGEST)
        page = await handlers.list_calendars(self._units(), after, size)
        return pb.ListCalendarsResponse(
            calendars=[calendar_to_proto(c) for c in page.items],
            next_page_token=_token(page.next_key, _CALENDAR_DIGEST),
        )

    async def UpdateCalendar(
        self, request: pb.UpdateCalendarRequest, context: ServicerContext
    ) -> pb.Calendar:
        if not request.HasField("calendar"):
            raise InvalidArgument.single("calendar", "is required")
        message = request.calendar
        calendar_id = calendar_id_from_name(message.name, "calendar.name")
        fields = resolve_update_mask(request.update_mask, message, sla_calendars.UPDATABLE_FIELDS)
        calendar = await handlers.update_calendar(
            self._units(), calendar_id, calendar_changes(message, sorted(fields)), message.etag
        )
        return calendar_to_proto(calendar)

    async def DeleteCalendar(
        self, request: pb.DeleteCalendarRequest, context: ServicerContext
    ) -> Empty:
        calendar_id = calendar_id_from_name(request.name)
        await handlers.delete_calendar(self._units(), calendar_id, request.etag)
        return Empty()

    async def CreateSlaPolicy(
        self, request: pb.CreateSlaPolicyRequest, context: ServicerContext
    ) -> pb.SlaPolicy:
        if not request.HasField("sla_policy"):
            raise InvalidArgument.single("sla_policy", "is required")
        spec = policy_spec_from_proto(request.sla_policy)
        policy = await handlers.create_policy(self._units(), request.sla_policy_id, spec)
        return policy_to_proto(policy)

    async def GetSlaPolicy(
        self, request: pb.GetSlaPolicyRequest, context: ServicerContext
    ) -> pb.SlaPolicy:
        policy_id = policy_id_from_name(request.name)
        return policy_to_proto(await handlers.get_policy(self._units(), policy_id))

    async def ListSlaPolicies(
        self, request: pb.ListSlaPoliciesRequest, context: ServicerContext
    ) -> pb.ListSlaPoliciesResponse:
        size = page_size(request.page_size)
        after = decode_page_token(request.page_token, _POLICY_DIGEST)
        page = await handlers.list_policies(self._units(), after, size)
        return pb.ListSlaPoliciesResponse(
            sla_policies=[policy_to_proto(p) for p in page.items],
            next_page_token=_token(page.next_key, _POLICY_DIGEST),
        )

    async def UpdateSlaPolicy(
        self, request: pb.UpdateSlaPolicyRequest, context: ServicerContext
    ) -> pb.SlaPolicy:
        if not request.HasField("sla_policy"):
            raise InvalidArgument.single("sla_policy", "is required")
        message = request.sla_policy
        policy_id = policy_id_from_name(message.name, "sla_policy.name")
        fields = resolve_update_mask(request.update_mask, message, sla_policies.UPDATABLE_FIELDS)
        policy = await handlers.update_policy(
            self._units(), policy_id, policy_changes(message, sorted(fields)), message.etag
        )
        return policy_to_proto(policy)

    async def DeleteSlaPolicy(
        self, request: pb.DeleteSlaPolicyRequest, context: ServicerContext
    ) -> Empty:
        policy_id = policy_id_from_name(request.name)
        await handlers.delete_policy(self._units(), policy_id, request.etag)
        return Empty()
