"""ConvertLead: proto in, the conversion use case, proto out."""

from grpc.aio import ServicerContext

from crm.sales.v1 import lead_service_pb2 as pb
from crm_common.errors import Violations
from crm_common.messaging.uow import UnitOfWorkFactory
from crm_common.resources import require_id
from crm_sales.contacts_gateway import ContactsGateway
from crm_sales.handlers.lead_conversion import OpportunitySpec, convert_lead
from crm_sales.lead_proto import lead_id_from_name, lead_to_proto
from crm_sales.opportunity_proto import PIPELINES, money_from_proto, stage_from_name


class LeadConversionApi:
    _units: UnitOfWorkFactory
    _contacts: ContactsGateway

    async def ConvertLead(
        self, request: pb.ConvertLeadRequest, context: ServicerContext
    ) -> pb.ConvertLeadResponse:
        lead_id = lead_id_from_name(request.name)
        spec = _spec(request.opportunity) if request.HasField("opportunity") else None
        result = await convert_lead(self._units, self._contacts, lead_id, spec, request.request_id)
        return pb.ConvertLeadResponse(
            person=result.person,
            organization=result.organization,
            opportunity=result.opportunity,
            lead=lead_to_proto(result.lead),
        )


def _spec(message: pb.ConvertLeadRequest.OpportunitySpec) -> OpportunitySpec:
    """The opportunity asked for; its content is checked as creating it checks it."""
    violations = Violations()
    value = money_from_proto(message.value, violations, "opportunity.value")
    violations.raise_if_any()
    pipeline_id = require_id(
        message.pipeline, PIPELINES, "opportunity.pipeline", "like pipelines/123"
    )
    stage_id = ""
    if message.stage:
        stage_pipeline, stage_id = stage_from_name(message.stage, "opportunity.stage")
        if stage_pipeline != pipeline_id:
            violations.add("opportunity.stage", f"is not a stage of {message.pipeline}")
    violations.raise_if_any()
    return OpportunitySpec(message.display_name, value, f"{PIPELINES}{pipeline_id}", stage_id)
