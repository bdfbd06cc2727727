"""Wires the sales service: `python -m crm_sales.main`."""

from pathlib import Path

from crm.sales.v1 import (
    forecast_service_pb2,
    forecast_service_pb2_grpc,
    lead_service_pb2,
    lead_service_pb2_grpc,
    sales_service_pb2,
    sales_service_pb2_grpc,
    workflow_service_pb2,
    workflow_service_pb2_grpc,
)
from crm_common import server
from crm_common.audit.service import AUDIT_SERVICE
from crm_common.config import SuiteSettings
from crm_common.messaging.uow import UnitOfWorkFactory
from crm_sales.api.forecasts import ForecastServicer
from crm_sales.api.leads import LeadServicer
from crm_sales.api.permissions import PERMISSIONS
from crm_sales.api.sales_service import SalesServicer
from crm_sales.api.workflows import WorkflowServicer
from crm_sales.contacts_gateway import ContactsGateway
from crm_sales.events.contacts import CONTACTS
from crm_sales.events.workflow_triggers import SALES_WORKFLOWS, SUPPORT_WORKFLOWS
from crm_sales.handlers.scoring_rules import rescore_stale_leads


def _lead_servicer(units: UnitOfWorkFactory) -> LeadServicer:
    return LeadServicer(units, ContactsGateway(SuiteSettings().contacts_target))


SERVICES = [
    server.grpc_service(sales_service_pb2, sales_service_pb2_grpc, "SalesService", SalesServicer),
    server.grpc_service(lead_service_pb2, lead_service_pb2_grpc, "LeadService", _lead_servicer),
    server.grpc_service(
        forecast_service_pb2, forecast_service_pb2_grpc, "ForecastService", ForecastServicer
    ),
    server.grpc_service(
        workflow_service_pb2, workflow_service_pb2_grpc, "WorkflowService", WorkflowServicer
    ),
    AUDIT_SERVICE,
]

# Workflow rules run on sales' own events and on support's ticket events
# (events/workflow_triggers.py).
SUBSCRIPTIONS = [CONTACTS, SALES_WORKFLOWS, SUPPORT_WORKFLOWS]

JOBS = [
    # Re-scores leads after scoring rules change, in batches (handlers/scoring_rules.py).
    server.Job("lead-scores", rescore_stale_leads),
]

SPEC = server.ServiceSpec(
    name="sales",
    permissions=PERMISSIONS,
    migrations=Path(__file__).parent / "storage" / "migrations",
    services=SERVICES,
    subscriptions=SUBSCRIPTIONS,
    jobs=JOBS,
)


def main() -> None:
    server.main(SPEC)


if __name__ == "__main__":
    main()
