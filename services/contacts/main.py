"""Wires the contacts service: `python -m crm_contacts.main`."""

from pathlib import Path

from crm.contacts.v1 import contacts_service_pb2, contacts_service_pb2_grpc
from crm_common import server
from crm_common.audit.service import AUDIT_SERVICE
from crm_contacts.api.permissions import PERMISSIONS
from crm_contacts.api.servicer import ContactsServicer
from crm_contacts.events import requesters, timeline
from crm_contacts.events.subscriptions import one_per_source

SPEC = server.ServiceSpec(
    name="contacts",
    permissions=PERMISSIONS,
    migrations=Path(__file__).parent / "storage" / "migrations",
    services=[
        server.grpc_service(
            contacts_service_pb2, contacts_service_pb2_grpc, "ContactsService", ContactsServicer
        ),
        AUDIT_SERVICE,
    ],
    subscriptions=one_per_source(
        timeline.SALES, timeline.SUPPORT, requesters.SUPPORT, timeline.PROJECTS
    ),
)


def main() -> None:
    server.main(SPEC)


if __name__ == "__main__":
    main()
