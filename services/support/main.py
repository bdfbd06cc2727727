"""Wires the support service: `python -m crm_support.main`."""

from pathlib import Path
from types import ModuleType

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
from crm_common.messaging.uow import UnitOfWorkFactory
from crm_support.api.agent_service import AgentServicer
from crm_support.api.automation import AutomationServicer
from crm_support.api.reports import ReportServicer
from crm_support.api.servicer import SupportServicer
from crm_support.api.sla import SlaServicer
from crm_support.api.views import ViewServicer
from crm_support.events.contacts import CONTACTS
from crm_support.handlers.automations import run_automations
from crm_support.handlers.sla_clock import check_sla_clocks


def _service(pb2: ModuleType, pb2_grpc: ModuleType, name: str, servicer: type) -> tuple:
    """A gRPC service of the helpdesk: its descriptor, the generated function that
    adds it to a server, and the servicer class (built from the unit-of-work factory)."""
    add_to_server = getattr(pb2_grpc, f"add_{name}Servicer_to_server")
    return pb2.DESCRIPTOR.services_by_name[name], add_to_server, servicer


SERVICES = [
    _service(support_service_pb2, support_service_pb2_grpc, "SupportService", SupportServicer),
    _service(agent_service_pb2, agent_service_pb2_grpc, "AgentService", AgentServicer),
    _service(view_service_pb2, view_service_pb2_grpc, "ViewService", ViewServicer),
    _service(report_service_pb2, report_service_pb2_grpc, "ReportService", ReportServicer),
    _service(
        automation_service_pb2, automation_service_pb2_grpc, "AutomationService", AutomationServicer
    ),
    _service(sla_service_pb2, sla_service_pb2_grpc, "SlaService", SlaServicer),
]

JOBS: list[server.Job] = [
    server.Job("automations", run_automations),
    server.Job("sla-clocks", check_sla_clocks),
]


def _register(grpc_server: object, runtime: server.Runtime) -> None:
    units: UnitOfWorkFactory = runtime.unit_of_work
    for _, add_to_server, servicer in SERVICES:
        add_to_server(servicer(units), grpc_server)


SPEC = server.ServiceSpec(
    name="support",
    migrations=Path(__file__).parent / "storage" / "migrations",
    grpc_services=[descriptor for descriptor, _, _ in SERVICES],
    register=_register,  # type: ignore[arg-type]
    subscriptions=[CONTACTS],
    jobs=JOBS,
)


def main() -> None:
    server.main(SPEC)


if __name__ == "__main__":
    main()
