"""The WorkflowService servicer: proto in, handler call, proto out."""

from google.protobuf.empty_pb2 import Empty
from grpc.aio import ServicerContext

from crm.sales.v1 import workflow_rule_pb2
from crm.sales.v1 import workflow_service_pb2 as pb
from crm.sales.v1 import workflow_service_pb2_grpc as pb_grpc
from crm_common.errors import InvalidArgument
from crm_common.fieldmask import resolve_update_mask
from crm_common.filtering import FilterField, FilterSchema
from crm_common.listing import list_request
from crm_common.messaging.uow import UnitOfWorkFactory
from crm_common.pagination import SortKey
from crm_sales.domain.workflows import RULE_FIELDS, Outcome
from crm_sales.handlers import workflows as handlers
from crm_sales.workflow_proto import (
    rule_field,
    rule_from_proto,
    rule_id_from_name,
    rule_id_from_parent,
    rule_to_proto,
    run_to_proto,
)

RULE_FILTER_SCHEMA = FilterSchema(
    {
        "display_name": FilterField.string(),
        "trigger": FilterField.string(),
        "enabled": FilterField.boolean(),
        "create_time": FilterField.timestamp(),
        "update_time": FilterField.timestamp(),
    }
)
RULE_SORTABLE = ("display_name", "create_time", "update_time")
BY_DISPLAY_NAME = (SortKey("display_name"),)

RUN_FILTER_SCHEMA = FilterSchema(
    {
        "outcome": FilterField.enum({outcome.name: int(outcome) for outcome in Outcome}),
        "event_id": FilterField.string(),
        "event_type": FilterField.string(),
        "subject": FilterField.string(),
        "depth": FilterField.integer(),
        "create_time": FilterField.timestamp(),
    }
)
RUN_SORTABLE = ("create_time",)
NEWEST_FIRST = (SortKey("create_time", descending=True),)


class WorkflowServicer(pb_grpc.WorkflowServiceServicer):
    def __init__(self, units: UnitOfWorkFactory) -> None:
        self._units = units

    async def CreateWorkflowRule(
        self, request: pb.CreateWorkflowRuleRequest, context: ServicerContext
    ) -> workflow_rule_pb2.WorkflowRule:
        if not request.HasField("workflow_rule"):
            raise InvalidArgument.single("workflow_rule", "is required")
        rule = rule_from_proto(request.workflow_rule, request.workflow_rule_id)
        return rule_to_proto(await handlers.create_rule(self._units(), rule))

    async def GetWorkflowRule(
        self, request: pb.GetWorkflowRuleRequest, context: ServicerContext
    ) -> workflow_rule_pb2.WorkflowRule:
        record = await handlers.get_rule(self._units(), rule_id_from_name(request.name))
        return rule_to_proto(record)

    async def ListWorkflowRules(
        self, request: pb.ListWorkflowRulesRequest, context: ServicerContext
    ) -> pb.ListWorkflowRulesResponse:
        query = list_request(request, RULE_FILTER_SCHEMA, RULE_SORTABLE, BY_DISPLAY_NAME)
        page = await handlers.list_rules(
            self._units(), query.expr, query.keys, query.after, query.size
        )
        return pb.ListWorkflowRulesResponse(
            workflow_rules=[rule_to_proto(record) for record in page.items],
            next_page_token=query.next_page_token(page.next_key),
        )

    async def UpdateWorkflowRule(
        self, request: pb.UpdateWorkflowRuleRequest, context: ServicerContext
    ) -> workflow_rule_pb2.WorkflowRule:
        if not request.HasField("workflow_rule"):
            raise InvalidArgument.single("workflow_rule", "is required")
        message = request.workflow_rule
        rule_id = rule_id_from_name(message.name, "workflow_rule.name")
        fields = resolve_update_mask(request.update_mask, message, RULE_FIELDS)
        changes = {name: rule_field(message, name) for name in sorted(fields)}
        record = await handlers.update_rule(self._units(), rule_id, changes, message.etag)
        return rule_to_proto(record)

    async def DeleteWorkflowRule(
        self, request: pb.DeleteWorkflowRuleRequest, context: ServicerContext
    ) -> Empty:
        await handlers.delete_rule(self._units(), rule_id_from_name(request.name), request.etag)
        return Empty()

    async def ListWorkflowRuns(
        self, request: pb.ListWorkflowRunsRequest, context: ServicerContext
    ) -> pb.ListWorkflowRunsResponse:
        rule_id = rule_id_from_parent(request.parent)
        query = list_request(request, RUN_FILTER_SCHEMA, RUN_SORTABLE, NEWEST_FIRST)
        page = await handlers.list_runs(
            self._units(), rule_id, query.expr, query.keys, query.after, query.size
        )
        return pb.ListWorkflowRunsResponse(
            workflow_runs=[run_to_proto(run) for run in page.items],
            next_page_token=query.next_page_token(page.next_key),
        )
