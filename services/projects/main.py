"""Wires the projects service: `python -m crm_projects.main`."""

from pathlib import Path

from crm.projects.v1 import projects_service_pb2, projects_service_pb2_grpc
from crm_common import server

SPEC = server.ServiceSpec(
    name="projects",
    migrations=Path(__file__).parent / "storage" / "migrations",
    grpc_services=[projects_service_pb2.DESCRIPTOR.services_by_name["ProjectsService"]],
    register=lambda grpc_server, runtime: (
        projects_service_pb2_grpc.add_ProjectsServiceServicer_to_server(
            projects_service_pb2_grpc.ProjectsServiceServicer(), grpc_server
        )
    ),
)


def main() -> None:
    server.main(SPEC)


if __name__ == "__main__":
    main()
