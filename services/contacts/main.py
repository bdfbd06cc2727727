"""Wires the contacts service: `python -m crm_contacts.main`."""

from pathlib import Path

from crm.contacts.v1 import contacts_service_pb2, contacts_service_pb2_grpc
from crm_common import server
from crm_contacts.api.servicer import ContactsServicer
from crm_contacts.events import requesters, timeline
from crm_contacts.events.subscriptions import one_per_source

SPEC = server.ServiceSpec(
    name="contacts",
    migrations=Path(__file__).parent / "storage" / "migrations",
    grpc_services=[contacts_service_pb2.DESCRIPTOR.services_by_name["ContactsService"]],
    register=lambda grpc_server, runtime: (
        contacts_service_pb2_grpc.add_ContactsServiceServicer_to_server(
            ContactsServicer(runtime.unit_of_work), grpc_server
        )
    ),
    subscriptions=one_per_source(
        timeline.SALES, timeline.SUPPORT, requesters.SUPPORT, timeline.PROJECTS
    ),
)


def main() -> None:
    server.main(SPEC)


if __name__ == "__main__":
    main()
