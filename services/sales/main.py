"""Wires the sales service: `python -m crm_sales.main`."""

from pathlib import Path

from crm.sales.v1 import sales_service_pb2, sales_service_pb2_grpc
from crm_common import server

SPEC = server.ServiceSpec(
    name="sales",
    migrations=Path(__file__).parent / "storage" / "migrations",
    services=[
        server.grpc_service(
            sales_service_pb2,
            sales_service_pb2_grpc,
            "SalesService",
            lambda units: sales_service_pb2_grpc.SalesServiceServicer(),
        )
    ],
)


def main() -> None:
    server.main(SPEC)


if __name__ == "__main__":
    main()
