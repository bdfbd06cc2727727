"""Wires the projects service: `python -m crm_projects.main`."""

from pathlib import Path

from crm.projects.v1 import projects_service_pb2, projects_service_pb2_grpc
from crm_common import server

SPEC = server.ServiceSpec(
    name="projects",
    migrations=Path(__file__).parent / "storage" / "migrations",
    services=[
        server.grpc_service(
            projects_service_pb2,
            projects_service_pb2_grpc,
            "ProjectsService",
            lambda units: projects_service_pb2_grpc.ProjectsServiceServicer(),
        )
    ],
)


def main() -> None:
    server.main(SPEC)


if __name__ == "__main__":
    main()
