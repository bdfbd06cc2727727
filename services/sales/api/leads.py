"""The LeadService servicer: leads, their activities and scoring rules.

ConvertLead lives in api/lead_conversion.py.
"""

from datetime import UTC

from google.protobuf.empty_pb2 import Empty
from grpc.aio import ServicerContext

from crm.sales.v1 import lead_pb2
from crm.sales.v1 import lead_service_pb2 as pb
from crm.sales.v1 import lead_service_pb2_grpc as pb_grpc
from crm_common.errors import InvalidArgument
from crm_common.fieldmask import resolve_update_mask
from crm_common.listing import list_request
from crm_common.messaging.uow import UnitOfWorkFactory
from crm_common.pagination import (
    decode_page_token,
    encode_page_token,
    page_size,
    query_digest,
)
from crm_sales.api.lead_conversion import LeadConversionApi
from crm_sales.contacts_gateway import ContactsGateway
from crm_sales.domain.lead_listing import (
    LEAD_FILTER_SCHEMA,
    LEAD_SORTABLE,
    NEWEST_FIRST,
    RULE_ORDER,
)
from crm_sales.domain.scoring import RULE_FIELDS
from crm_sales.handlers import leads as handlers
from crm_sales.handlers import scoring_rules as rules
from crm_sales.lead_proto import (
    LEAD_FIELDS,
    lead_details_from_proto,
    lead_field,
    lead_id_from_name,
    lead_to_proto,
    rule_field,
    rule_from_proto,
    rule_id_from_name,
    rule_to_proto,
)

_RULES_DIGEST = query_digest(order_by=[(key.field, key.descending) for key in RULE_ORDER])


class LeadServicer(LeadConversionApi, pb_grpc.LeadServiceServicer):
    def __init__(self, units: UnitOfWorkFactory, contacts: ContactsGateway) -> None:
        self._units = units
        self._contacts = contacts

    async def CreateLead(
        self, request: pb.CreateLeadRequest, context: ServicerContext
    ) -> lead_pb2.Lead:
        if not request.HasField("lead"):
            raise InvalidArgument.single("lead", "is required")
        if request.lead.status not in (lead_pb2.LEAD_STATUS_UNSPECIFIED, lead_pb2.LEAD_STATUS_NEW):
            raise InvalidArgument.single("lead.status", "a lead starts NEW; move it by UpdateLead")
        details = lead_details_from_proto(request.lead)
        lead = await handlers.create_lead(self._units(), details, request.lead_id)
        return lead_to_proto(lead)

    async def GetLead(self, request: pb.GetLeadRequest, context: ServicerContext) -> lead_pb2.Lead:
        lead = await handlers.get_lead(self._units(), lead_id_from_name(request.name))
        return lead_to_proto(lead)

    async def ListLeads(
        self, request: pb.ListLeadsRequest, context: ServicerContext
    ) -> pb.ListLeadsResponse:
        query = list_request(
            request, LEAD_FILTER_SCHEMA, LEAD_SORTABLE, NEWEST_FIRST, ("custom_fields",)
        )
        page = await handlers.list_leads(
            self._units(), query.expr, query.keys, query.after, query.size
        )
        return pb.ListLeadsResponse(
            leads=[lead_to_proto(lead) for lead in page.items],
            next_page_token=query.next_page_token(page.next_key),
        )

    async def UpdateLead(
        self, request: pb.UpdateLeadRequest, context: ServicerContext
    ) -> lead_pb2.Lead:
        if not request.HasField("lead"):
            raise InvalidArgument.single("lead", "is required")
        lead_id = lead_id_from_name(request.lead.name, "lead.name")
        fields = resolve_update_mask(request.update_mask, request.lead, LEAD_FIELDS)
        changes = {name: lead_field(request.lead, name) for name in sorted(fields)}
        lead = await handlers.update_lead(self._units(), lead_id, changes, request.lead.etag)
        return lead_to_proto(lead)

    async def DeleteLead(self, request: pb.DeleteLeadRequest, context: ServicerContext) -> Empty:
        await handlers.delete_lead(self._units(), lead_id_from_name(request.name), request.etag)
        return Empty()

    async def RecordLeadActivity(
        self, request: pb.RecordLeadActivityRequest, context: ServicerContext
    ) -> lead_pb2.Lead:
        lead_id = lead_id_from_name(request.lead, "lead")
        occur_time = (
            request.occur_time.ToDatetime(tzinfo=UTC) if request.HasField("occur_time") else None
        )
        lead = await handlers.record_activity(
            self._units(), lead_id, request.kind.strip(), occur_time, request.request_id
        )
        return lead_to_proto(lead)

    async def CreateScoringRule(
        self, request: pb.CreateScoringRuleRequest, context: ServicerContext
    ) -> lead_pb2.ScoringRule:
        if not request.HasField("scoring_rule"):
            raise InvalidArgument.single("scoring_rule", "is required")
        rule = rule_from_proto(request.scoring_rule, request.scoring_rule_id)
        return rule_to_proto(await rules.create_rule(self._units(), rule))

    async def GetScoringRule(
        self, request: pb.GetScoringRuleRequest, context: ServicerContext
    ) -> lead_pb2.ScoringRule:
        record = await rules.get_rule(self._units(), rule_id_from_name(request.name))
        return rule_to_proto(record)

    async def ListScoringRules(
        self, request: pb.ListScoringRulesRequest, context: ServicerContext
    ) -> pb.ListScoringRulesResponse:
        size = page_size(request.page_size)
        after = decode_page_token(request.page_token, _RULES_DIGEST)
        page = await rules.list_rules(self._units(), RULE_ORDER, after, size)
        return pb.ListScoringRulesResponse(
            scoring_rules=[rule_to_proto(record) for record in page.items],
            next_page_token=(
                "" if page.next_key is None else encode_page_token(page.next_key, _RULES_DIGEST)
            ),
        )

    async def UpdateScoringRule(
        self, request: pb.UpdateScoringRuleRequest, context: ServicerContext
    ) -> lead_pb2.ScoringRule:
        if not request.HasField("scoring_rule"):
            raise InvalidArgument.single("scoring_rule", "is required")
        rule_id = rule_id_from_name(request.scoring_rule.name, "scoring_rule.name")
        fields = resolve_update_mask(request.update_mask, request.scoring_rule, RULE_FIELDS)
        changes = {name: rule_field(request.scoring_rule, name) for name in sorted(fields)}
        record = await rules.update_rule(self._units(), rule_id, changes, request.scoring_rule.etag)
        return rule_to_proto(record)

    async def DeleteScoringRule(
        self, request: pb.DeleteScoringRuleRequest, context: ServicerContext
    ) -> Empty:
        await rules.delete_rule(self._units(), rule_id_from_name(request.name), request.etag)
        return Empty()
