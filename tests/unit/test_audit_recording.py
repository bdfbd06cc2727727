"""What a commit records in audit_entries (crm_common.audit.recording): from the
events it publishes, else from the rows it wrote."""

from datetime import UTC, datetime

from google.protobuf.field_mask_pb2 import FieldMask
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, delete, insert
from sqlalchemy import update as sql_update
from sqlalchemy.orm import Session

from crm.contacts.v1 import events_pb2, person_pb2
from crm.support.v1 import agent_pb2
from crm.support.v1 import agent_service_pb2 as agents
from crm_common.audit.context import Actor, Call
from crm_common.audit.recording import Executed, audit_rows, take_writes, track_writes
from crm_common.messaging.envelope import OutgoingEvent

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
ALICE = Actor("alice", "user")

metadata = MetaData()
agents_table = Table(
    "agents",
    metadata,
    Column("id", String, primary_key=True),
    Column("display_name", String),
    Column("capacity", Integer),
    Column("version", Integer),
)
# Child rows, keyed by two columns: their aggregate's write is the entry.
agent_groups = Table(
    "agent_groups",
    metadata,
    Column("agent_id", String, primary_key=True),
    Column("group_id", String, primary_key=True),
)


def executed_by(*statements: tuple[object, object]) -> list[Executed]:
    """The writes the audit listener notes while `statements` run."""
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    with Session(engine) as session:
        track_writes(session)  # type: ignore[arg-type]  # the sync session below the async one
        for statement, parameters in statements:
            session.execute(statement, parameters)  # type: ignore[call-overload]
        return take_writes(session)  # type: ignore[arg-type]


def entries(events: list[OutgoingEvent], executed: list[Executed], request: object) -> list:
    call = Call("/crm.x.v1.X/Method", "ipv4:10.0.0.7:5000", request)  # type: ignore[arg-type]
    rows = audit_rows(events, executed, call, ALICE, NOW)
    return [(row["resource"], row["action"], row["changed_fields"]) for row in rows]


def person_event(kind: str, payload: object) -> OutgoingEvent:
    return OutgoingEvent(f"contact.{kind}", "person", "p1", 1, payload)  # type: ignore[arg-type]


def test_events_name_the_resource_and_its_changed_fields() -> None:
    person = person_pb2.Person(name="people/p1", given_name="Ada", family_name="Lovelace")
    created = person_event("created", events_pb2.PersonCreated(person=person))
    updated = person_event(
        "updated", events_pb2.PersonUpdated(person=person, changed_fields=["job_title"])
    )
    deleted = person_event("deleted", events_pb2.PersonDeleted(name="people/p1"))
    assert entries([created, updated, deleted], [], None) == [
        ("people/p1", "contact.created", ["given_name", "family_name"]),
        ("people/p1", "contact.updated", ["job_title"]),
        ("people/p1", "contact.deleted", []),
    ]


def test_rows_written_without_events_become_entries_named_as_the_request_names_them() -> None:
    executed = executed_by(
        (insert(agents_table).values(id="a1", display_name="Linus", capacity=0, version=1), None),
        (insert(agent_groups), [{"agent_id": "a1", "group_id": "g1"}]),
        (
            sql_update(agents_table)
            .where(agents_table.c.id == "a2", agents_table.c.version == 3)
            .values(display_name="Ada", capacity=5, version=4),
            None,
        ),
        (delete(agents_table).where(agents_table.c.id == "a3"), None),
    )
    request = agents.UpdateAgentRequest(
        agent=agent_pb2.Agent(name="agents/a2"), update_mask=FieldMask(paths=["capacity"])
    )
    assert entries([], executed, request) == [
        ("agents/a1", "created", ["capacity", "display_name"]),
        ("agents/a2", "updated", ["capacity"]),  # the mask, not every column saved
        ("agents/a3", "deleted", []),
    ]


def test_a_resource_created_then_updated_in_one_commit_is_one_creation() -> None:
    executed = executed_by(
        (insert(agents_table).values(id="a1", display_name="Linus", version=1), None),
        (sql_update(agents_table).where(agents_table.c.id == "a1").values(capacity=2), None),
    )
    assert entries([], executed, None) == [("agents/a1", "created", ["capacity", "display_name"])]


def test_entries_say_who_from_where_and_when() -> None:
    deleted = person_event("deleted", events_pb2.PersonDeleted(name="people/p1"))
    call = Call("/crm.contacts.v1.ContactsService/DeletePerson", "ipv6:[::1]:5000")
    (row,) = audit_rows([deleted], [], call, ALICE, NOW)
    assert row["actor"] == "alice" and row["actor_kind"] == "user"
    assert row["method"] == "/crm.contacts.v1.ContactsService/DeletePerson"
    assert row["peer"] == "ipv6:[::1]:5000" and row["occurred_at"] == NOW
