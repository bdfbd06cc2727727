"""Wires the support service: `python -m crm_support.main`."""

from pathlib import Path

from crm.support.v1 import support_service_pb2, support_service_pb2_grpc
from crm_common import server
from crm_common.messaging.uow import UnitOfWorkFactory
from crm_support.api.servicer import SupportServicer
from crm_support.events.contacts import CONTACTS

# Each gRPC service of the helpdesk: its descriptor, how to add it to a
# server, and the servicer class (built from the unit-of-work factory).
SERVICES = [
    (
        support_service_pb2.DESCRIPTOR.services_by_name["SupportService"],
        support_service_pb2_grpc.add_SupportServiceServicer_to_server,
        SupportServicer,
    ),
]

JOBS: list[server.Job] = []


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
