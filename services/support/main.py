"""Wires the support service: `python -m crm_support.main`."""

from pathlib import Path

from crm.support.v1 import (
    agent_service_pb2,
    agent_service_pb2_grpc,
    automation_service_pb2,
    automation_service_pb2_grpc,
    report_service_pb2,
    report_service_pb2_grpc,
    sla_service_pb2,
    sla_service_pb2_grpc,
    support_service_pb2,
    support_service_pb2_grpc,
    view_service_pb2,
    view_service_pb2_grpc,
)
from crm_common import server
from crm_common.audit.service import AUDIT_SERVICE
from crm_support.api.agent_service import AgentServicer
from crm_support.api.automation import AutomationServicer
from crm_support.api.permissions import PERMISSIONS
from crm_support.api.reports import ReportServicer
from crm_support.api.servicer import SupportServicer
from crm_support.api.sla import SlaServicer
from crm_support.api.views import ViewServicer
from crm_support.events.contacts import CONTACTS, CUSTOMERS
from crm_support.handlers.automations import run_automations
from crm_support.handlers.sla_clock import check_sla_clocks

SERVICES = [
    server.grpc_service(
        support_service_pb2, support_service_pb2_grpc, "SupportService", SupportServicer
    ),
    server.grpc_service(agent_service_pb2, agent_service_pb2_grpc, "AgentService", AgentServicer),
    server.grpc_service(view_service_pb2, view_service_pb2_grpc, "ViewService", ViewServicer),
    server.grpc_service(
        report_service_pb2, report_service_pb2_grpc, "ReportService", ReportServicer
    ),
    server.grpc_service(
        automation_service_pb2, automation_service_pb2_grpc, "AutomationService", AutomationServicer
    ),
    server.grpc_service(sla_service_pb2, sla_service_pb2_grpc, "SlaService", SlaServicer),
    AUDIT_SERVICE,
]

JOBS: list[server.Job] = [
    server.Job("automations", run_automations),
    server.Job("sla-clocks", check_sla_clocks),
]


SPEC = server.ServiceSpec(
    name="support",
    permissions=PERMISSIONS,
    migrations=Path(__file__).parent / "storage" / "migrations",
    services=SERVICES,
    subscriptions=[CONTACTS],
    read_models=[CUSTOMERS],
    jobs=JOBS,
)


def main() -> None:
    server.main(SPEC)


if __name__ == "__main__":
    main()
