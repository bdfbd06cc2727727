"""AutomationService RPCs: macros, triggers and automations; proto in, handler, proto out."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic

from google.protobuf.empty_pb2 import Empty
from grpc.aio import ServicerContext

from crm.support.v1 import automation_service_pb2 as pb
from crm.support.v1 import automation_service_pb2_grpc as pb_grpc
from crm.support.v1 import ticket_pb2
from crm_common.auth.principal import caller
from crm_common.errors import InvalidArgument
from crm_common.fieldmask import resolve_update_mask
from crm_common.listing import FilteredListRequest, list_request
from crm_common.messaging.uow import UnitOfWorkFactory
from crm_common.pagination import SortKey
from crm_common.resources import require_id
from crm_support.api import automation_proto as proto
from crm_support.domain.automation import (
    LIST_FILTER,
    MACRO_ORDER,
    MACRO_SORTABLE,
    RUN_ORDER,
    Automation,
    Macro,
    R,
    Trigger,
)
from crm_support.domain.tickets import AGENTS
from crm_support.handlers import automation_admin as admin
from crm_support.handlers.macros import apply_macro
from crm_support.storage.automation import (
    automation_repository,
    macro_repository,
    trigger_repository,
)
from crm_support.ticket_proto import ticket_id_from_name, ticket_to_proto


@dataclass(frozen=True)
class _InRunOrder:
    """A trigger or automation list request: those list in the order they run."""

    page_size: int
    page_token: str
    filter: str
    order_by: str = ""


@dataclass(frozen=True)
class _Rpcs(Generic[R]):
    """The standard methods of one resource: macros, triggers or automations."""

    kind: type[R]
    repositories: admin.Repositories[R]
    from_proto: Callable[[Any], R]
    to_proto: Callable[[R], Any]
    sortable: Sequence[str]
    default_order: Sequence[SortKey]

    @property
    def field(self) -> str:
        """The request field holding one, e.g. `macro`."""
        return self.kind.KIND

    def id_from_name(self, name: str, field: str = "name") -> str:
        collection = self.kind.COLLECTION
        return require_id(name, collection, field, f"like {collection}123")

    def message(self, request: Any) -> Any:
        if not request.HasField(self.field):
            raise InvalidArgument.single(self.field, "is required")
        return getattr(request, self.field)

    async def create(self, units: UnitOfWorkFactory, request: Any) -> Any:
        message = self.message(request)
        positioned = "position" in message.DESCRIPTOR.fields_by_name
        created = await admin.create_configured(
            units(),
            self.repositories,
            self.from_proto(message),
            getattr(request, f"{self.field}_id"),
            place_last=positioned and not message.HasField("position"),
        )
        return self.to_proto(created)

    async def get(self, units: UnitOfWorkFactory, request: Any) -> Any:
        resource_id = self.id_from_name(request.name)
        return self.to_proto(await admin.get_configured(units(), self.repositories, resource_id))

    async def list(
        self, units: UnitOfWorkFactory, request: FilteredListRequest
    ) -> tuple[list[Any], str]:
        query = list_request(request, LIST_FILTER, self.sortable, self.default_order)
        page = await admin.list_configured(
            units(), self.repositories, query.expr, query.keys, query.after, query.size
        )
        return [self.to_proto(r) for r in page.items], query.next_page_token(page.next_key)

    async def update(self, units: UnitOfWorkFactory, request: Any) -> Any:
        message = self.message(request)
        resource_id = self.id_from_name(message.name, f"{self.field}.name")
        fields = resolve_update_mask(request.update_mask, message, self.kind.UPDATABLE)
        changes = {
            name: proto.field_from_proto(message, self.field, name) for name in sorted(fields)
        }
        updated = await admin.update_configured(
            units(), self.repositories, resource_id, changes, message.etag
        )
        return self.to_proto(updated)

    async def delete(self, units: UnitOfWorkFactory, request: Any) -> Empty:
        resource_id = self.id_from_name(request.name)
        await admin.delete_configured(units(), self.repositories, resource_id, request.etag)
        return Empty()


_MACROS = _Rpcs(
    Macro,
    macro_repository,
    proto.macro_from_proto,
    proto.macro_to_proto,
    MACRO_SORTABLE,
    MACRO_ORDER,
)
_TRIGGERS = _Rpcs(
    Trigger,
    trigger_repository,
    proto.trigger_from_proto,
    proto.trigger_to_proto,
    (),
    RUN_ORDER,
)
_AUTOMATIONS = _Rpcs(
    Automation,
    automation_repository,
    proto.automation_from_proto,
    proto.automation_to_proto,
    (),
    RUN_ORDER,
)


def _in_run_order(request: pb.ListTriggersRequest | pb.ListAutomationsRequest) -> _InRunOrder:
    return _InRunOrder(request.page_size, request.page_token, request.filter)


class AutomationServicer(pb_grpc.AutomationServiceServicer):
    def __init__(self, units: UnitOfWorkFactory) -> None:
        self._units = units

    # --- Macros ---

    async def CreateMacro(
        self, request: pb.CreateMacroRequest, context: ServicerContext
    ) -> pb.Macro:
        return await _MACROS.create(self._units, request)

    async def GetMacro(self, request: pb.GetMacroRequest, context: ServicerContext) -> pb.Macro:
        return await _MACROS.get(self._units, request)

    async def ListMacros(
        self, request: pb.ListMacrosRequest, context: ServicerContext
    ) -> pb.ListMacrosResponse:
        macros, token = await _MACROS.list(self._units, request)
        return pb.ListMacrosResponse(macros=macros, next_page_token=token)

    async def UpdateMacro(
        self, request: pb.UpdateMacroRequest, context: ServicerContext
    ) -> pb.Macro:
        return await _MACROS.update(self._units, request)

    async def DeleteMacro(self, request: pb.DeleteMacroRequest, context: ServicerContext) -> Empty:
        return await _MACROS.delete(self._units, request)

    async def ApplyMacro(
        self, request: pb.ApplyMacroRequest, context: ServicerContext
    ) -> ticket_pb2.Ticket:
        macro_id = _MACROS.id_from_name(request.name)
        ticket_id = ticket_id_from_name(request.ticket, "ticket")
        if request.agent:
            require_id(request.agent, AGENTS, "agent", "like agents/123")
        ticket = await apply_macro(
            self._units(), caller(), macro_id, ticket_id, request.agent, request.ticket_etag
        )
        return ticket_to_proto(ticket)

    # --- Triggers ---

    async def CreateTrigger(
        self, request: pb.CreateTriggerRequest, context: ServicerContext
    ) -> pb.Trigger:
        return await _TRIGGERS.create(self._units, request)

    async def GetTrigger(
        self, request: pb.GetTriggerRequest, context: ServicerContext
    ) -> pb.Trigger:
        return await _TRIGGERS.get(self._units, request)

    async def ListTriggers(
        self, request: pb.ListTriggersRequest, context: ServicerContext
    ) -> pb.ListTriggersResponse:
        triggers, token = await _TRIGGERS.list(self._units, _in_run_order(request))
        return pb.ListTriggersResponse(triggers=triggers, next_page_token=token)

    async def UpdateTrigger(
        self, request: pb.UpdateTriggerRequest, context: ServicerContext
    ) -> pb.Trigger:
        return await _TRIGGERS.update(self._units, request)

    async def DeleteTrigger(
        self, request: pb.DeleteTriggerRequest, context: ServicerContext
    ) -> Empty:
        return await _TRIGGERS.delete(self._units, request)

    # --- Automations ---

    async def CreateAutomation(
        self, request: pb.CreateAutomationRequest, context: ServicerContext
    ) -> pb.Automation:
        return await _AUTOMATIONS.create(self._units, request)

    async def GetAutomation(
        self, request: pb.GetAutomationRequest, context: ServicerContext
    ) -> pb.Automation:
        return await _AUTOMATIONS.get(self._units, request)

    async def ListAutomations(
        self, request: pb.ListAutomationsRequest, context: ServicerContext
    ) -> pb.ListAutomationsResponse:
        automations, token = await _AUTOMATIONS.list(self._units, _in_run_order(request))
        return pb.ListAutomationsResponse(automations=automations, next_page_token=token)

    async def UpdateAutomation(
        self, request: pb.UpdateAutomationRequest, context: ServicerContext
    ) -> pb.Automation:
        return await _AUTOMATIONS.update(self._units, request)

    async def DeleteAutomation(
        self, request: pb.DeleteAutomationRequest, context: ServicerContext
    ) -> Empty:
        return await _AUTOMATIONS.delete(self._units, request)
