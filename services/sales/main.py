"""Wires the sales service: `python -m crm_sales.main`."""

from pathlib import Path

from crm.sales.v1 import sales_service_pb2, sales_service_pb2_grpc
from crm_common import server

SPEC = server.ServiceSpec(
    name="sales",
    migrations=Path(__file__).parent / "storage" / "migrations",
    grpc_services=[sales_service_pb2.DESCRIPTOR.services_by_name["SalesService"]],
    register=lambda grpc_server, runtime: sales_service_pb2_grpc.add_SalesServiceServicer_to_server(
        sales_service_pb2_grpc.SalesServiceServicer(), grpc_server
    ),
)


def main() -> None:
    server.main(SPEC)


if __name__ == "__main__":
    main()
