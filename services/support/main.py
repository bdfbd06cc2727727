"""Wires the support service: `python -m crm_support.main`."""

from pathlib import Path

from crm.support.v1 import support_service_pb2, support_service_pb2_grpc
from crm_common import server
from crm_support.api.servicer import SupportServicer
from crm_support.events.contacts import CONTACTS

SPEC = server.ServiceSpec(
    name="support",
    migrations=Path(__file__).parent / "storage" / "migrations",
    grpc_services=[support_service_pb2.DESCRIPTOR.services_by_name["SupportService"]],
    register=lambda grpc_server, runtime: (
        support_service_pb2_grpc.add_SupportServiceServicer_to_server(
            SupportServicer(runtime.unit_of_work), grpc_server
        )
    ),
    subscriptions=[CONTACTS],
)


def main() -> None:
    server.main(SPEC)


if __name__ == "__main__":
    main()
