"""Wires the projects service: `python -m crm_projects.main`."""

from pathlib import Path

from crm.projects.v1 import (
    board_service_pb2,
    board_service_pb2_grpc,
    projects_service_pb2,
    projects_service_pb2_grpc,
    task_service_pb2,
    task_service_pb2_grpc,
    template_service_pb2,
    template_service_pb2_grpc,
)
from crm_common import server
from crm_common.audit.service import AUDIT_SERVICE
from crm_common.messaging.consumer import Subscription
from crm_projects.api.boards import BoardServicer
from crm_projects.api.permissions import PERMISSIONS
from crm_projects.api.projects import ProjectsServicer
from crm_projects.api.tasks import TaskServicer
from crm_projects.api.template_service import TemplateServicer
from crm_projects.events.contacts import CONTACTS
from crm_projects.events.sales import SALES
from crm_projects.events.support import SUPPORT
from crm_projects.handlers.reminders import send_task_reminders

SERVICES = [
    server.grpc_service(
        projects_service_pb2, projects_service_pb2_grpc, "ProjectsService", ProjectsServicer
    ),
    server.grpc_service(task_service_pb2, task_service_pb2_grpc, "TaskService", TaskServicer),
    server.grpc_service(board_service_pb2, board_service_pb2_grpc, "BoardService", BoardServicer),
    server.grpc_service(
        template_service_pb2, template_service_pb2_grpc, "TemplateService", TemplateServicer
    ),
    AUDIT_SERVICE,
]

JOBS: list[server.Job] = [server.Job("task-reminders", send_task_reminders)]

SUBSCRIPTIONS: list[Subscription] = [SALES, CONTACTS, SUPPORT]


SPEC = server.ServiceSpec(
    name="projects",
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
