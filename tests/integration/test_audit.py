"""The audit trail: each change an RPC makes is recorded, in the owning service,
with who, what, when, from where and the fields written; reads record nothing;
events carry who caused them."""

from datetime import UTC, datetime, timedelta

import grpc
from google.protobuf.field_mask_pb2 import FieldMask

from crm.audit.v1 import audit_service_pb2 as audit
from crm.audit.v1.audit_service_pb2_grpc import AuditServiceStub
from crm.contacts.v1 import contacts_service_pb2 as contacts
from crm.contacts.v1 import person_pb2
from crm.contacts.v1.contacts_service_pb2_grpc import ContactsServiceStub
from crm.support.v1 import agent_pb2
from crm.support.v1 import agent_service_pb2 as agents
from crm.support.v1.agent_service_pb2_grpc import AgentServiceStub
from crm_common.auth.roles import ADMIN
from tests.integration.harness import Suite, published_events, rpc_error, token

CONTACTS = "/crm.contacts.v1.ContactsService"


def entries(suite: Suite, service: str, filter_text: str) -> list[audit.AuditEntry]:
    stub = suite.stub(service, AuditServiceStub)
    found: list[audit.AuditEntry] = []
    page_token = ""
    while True:
        page = stub.ListAuditEntries(
            audit.ListAuditEntriesRequest(filter=filter_text, page_size=2, page_token=page_token)
        )
        found += page.audit_entries
        page_token = page.next_page_token
        if not page_token:
            return found


def test_create_update_and_delete_of_a_person_are_each_recorded(suite: Suite) -> None:
    before = datetime.now(UTC) - timedelta(seconds=5)
    person = suite.contacts.CreatePerson(
        contacts.CreatePersonRequest(
            person=person_pb2.Person(given_name="Ada", family_name="Lovelace")
        )
    )
    updated = suite.contacts.UpdatePerson(
        contacts.UpdatePersonRequest(
            person=person_pb2.Person(name=person.name, job_title="Analyst", etag=person.etag),
            update_mask=FieldMask(paths=["job_title"]),
        )
    )
    suite.contacts.GetPerson(contacts.GetPersonRequest(name=person.name))
    suite.contacts.DeletePerson(contacts.DeletePersonRequest(name=person.name, etag=updated.etag))

    deleted, changed, created = entries(suite, "contacts", f'resource = "{person.name}"')
    assert [created.method, changed.method, deleted.method] == [
        f"{CONTACTS}/CreatePerson",
        f"{CONTACTS}/UpdatePerson",
        f"{CONTACTS}/DeletePerson",
    ]
    assert [created.action, changed.action, deleted.action] == [
        "contact.created",
        "contact.updated",
        "contact.deleted",
    ]
    assert {"given_name", "family_name"} <= set(created.changed_fields)
    assert list(changed.changed_fields) == ["job_title"]
    assert list(deleted.changed_fields) == []
    for entry in (created, changed, deleted):
        assert (entry.actor, entry.actor_kind) == ("test-admin", "user")
        assert entry.peer.startswith(("ipv4:127.0.0.1:", "ipv6:"))
        assert entry.create_time.ToDatetime(UTC) >= before
        assert entry.name.startswith("auditEntries/")


def test_entries_are_found_per_actor_and_events_carry_the_actor(suite: Suite) -> None:
    alice = suite.stub("contacts", ContactsServiceStub, token=token("alice", ADMIN))
    person = alice.CreatePerson(
        contacts.CreatePersonRequest(person=person_pb2.Person(given_name="Grace"))
    )
    hers = entries(suite, "contacts", 'actor = "alice"')
    assert [entry.resource for entry in hers] == [person.name]

    (created,) = published_events(suite.nats.url, "contacts", person.name.removeprefix("people/"))[
        :1
    ]
    assert (created.actor.subject, created.actor.kind) == ("alice", "user")


def test_changes_that_announce_no_event_are_recorded_from_the_rows_written(suite: Suite) -> None:
    desk = suite.stub("support", AgentServiceStub)
    agent = desk.CreateAgent(
        agents.CreateAgentRequest(
            agent=agent_pb2.Agent(display_name="Linus", email="linus@example.com"),
            agent_id="audited-agent",
        )
    )
    updated = desk.UpdateAgent(
        agents.UpdateAgentRequest(
            agent=agent_pb2.Agent(name=agent.name, capacity=7, etag=agent.etag),
            update_mask=FieldMask(paths=["capacity"]),
        )
    )
    desk.GetAgent(agents.GetAgentRequest(name=agent.name))
    desk.DeleteAgent(agents.DeleteAgentRequest(name=agent.name, etag=updated.etag))

    deleted, changed, created = entries(suite, "support", f'resource = "{agent.name}"')
    assert [created.action, changed.action, deleted.action] == ["created", "updated", "deleted"]
    assert {"display_name", "email"} <= set(created.changed_fields)
    assert list(changed.changed_fields) == ["capacity"]
    assert created.method == "/crm.support.v1.AgentService/CreateAgent"


def test_reads_record_nothing(suite: Suite) -> None:
    person = suite.contacts.CreatePerson(
        contacts.CreatePersonRequest(person=person_pb2.Person(given_name="Read"))
    )
    for _ in range(3):
        suite.contacts.GetPerson(contacts.GetPersonRequest(name=person.name))
        suite.contacts.ListPeople(contacts.ListPeopleRequest(page_size=5))
    assert len(entries(suite, "contacts", f'resource = "{person.name}"')) == 1
    assert entries(suite, "contacts", 'method = "/crm.contacts.v1.ContactsService/GetPerson"') == []


def test_a_bad_audit_filter_is_invalid_argument(suite: Suite) -> None:
    stub = suite.stub("contacts", AuditServiceStub)
    for bad in ('peer = "x"', "resource = ", 'resource = "a" OR (', "x" * 10_000):
        error = rpc_error(
            lambda bad=bad: stub.ListAuditEntries(audit.ListAuditEntriesRequest(filter=bad))
        )
        assert error.code() is grpc.StatusCode.INVALID_ARGUMENT, bad
