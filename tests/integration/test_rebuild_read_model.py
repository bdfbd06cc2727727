"""`crm events rebuild support customers` remakes the helpdesk's customer read
model from the contacts stream's history: the same rows the live consumer
made (creations, updates, merges, deletions, erasures), and the service then
goes on with the newer events only."""

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import nats
import pytest
from sqlalchemy import select

from crm.contacts.v1 import contacts_service_pb2 as contacts
from crm.contacts.v1 import person_pb2
from crm.support.v1 import support_service_pb2 as support
from crm_cli.servers import NatsServer
from crm_common.messaging.envelope import stream_for
from crm_common.messaging.tables import inbox
from crm_common.storage.db import create_engine
from crm_support.storage.requester_emails import customer_emails
from crm_support.storage.tables import customers
from tests.integration.harness import Suite, eventually

CRM_COMMAND = os.path.join(os.path.dirname(sys.executable), "crm")
CONSUMER = "support-from-contacts"
STREAM = stream_for("contacts")


@pytest.fixture(scope="module")
def suite_nats(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    """A broker per backend: a rebuild reads the whole stream, which must hold this
    backend's history alone (conftest's broker serves both in turn)."""
    with NatsServer(tmp_path_factory.mktemp(f"rebuild-nats-{backend}") / "store") as server:
        yield server


def person(suite: Suite, given: str, *emails: str) -> person_pb2.Person:
    return suite.contacts.CreatePerson(
        contacts.CreatePersonRequest(
            person=person_pb2.Person(
                given_name=given,
                family_name=uuid.uuid4().hex[:8],
                email_addresses=[person_pb2.EmailAddress(address=e) for e in emails],
            )
        )
    )


def unique_email(who: str) -> str:
    return f"{who}-{uuid.uuid4().hex[:8]}@example.com"


def history(suite: Suite) -> None:
    """Every kind of event the read model follows."""
    renamed = person(suite, "Ada", unique_email("ada"))
    renamed.given_name = "Augusta"
    suite.contacts.UpdatePerson(contacts.UpdatePersonRequest(person=renamed))
    survivor = person(suite, "Grace", unique_email("grace"))
    merged = person(suite, "G.", unique_email("g"))
    suite.contacts.MergePeople(
        contacts.MergePeopleRequest(person=survivor.name, merged_people=[merged.name])
    )
    gone = person(suite, "Alan", unique_email("alan"))
    suite.contacts.DeletePerson(contacts.DeletePersonRequest(name=gone.name))
    erased = person(suite, "Kurt", unique_email("kurt"))
    suite.contacts.ErasePerson(contacts.ErasePersonRequest(name=erased.name))
    for number in range(30):
        person(suite, f"Bulk {number}", unique_email(f"bulk{number}"))


async def _caught_up(url: str) -> bool:
    client = await nats.connect(url)
    try:
        js = client.jetstream()
        last = (await js.stream_info(STREAM)).state.last_seq
        info = await js.consumer_info(STREAM, CONSUMER)
        return info.ack_floor.stream_seq == last and not info.num_ack_pending
    finally:
        await client.close()


def caught_up(suite: Suite) -> None:
    assert asyncio.run(_caught_up(suite.nats.url))


async def _read_model(url: str) -> dict[str, Any]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            rows = (await connection.execute(select(customers).order_by(customers.c.id))).all()
            emails = (
                await connection.execute(
                    select(customer_emails).order_by(
                        customer_emails.c.customer_id, customer_emails.c.address
                    )
                )
            ).all()
            applied = (
                await connection.execute(
                    select(inbox.c.event_id)
                    .where(inbox.c.consumer == CONSUMER)
                    .order_by(inbox.c.event_id)
                )
            ).all()
    finally:
        await engine.dispose()
    return {
        "customers": [row._asdict() for row in rows],
        "emails": [tuple(row) for row in emails],
        "inbox": [row.event_id for row in applied],
    }


def read_model(suite: Suite) -> dict[str, Any]:
    return asyncio.run(_read_model(suite.database_urls["support"]))


def rebuild(suite: Suite) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CRM_COMMAND, "events", "rebuild", "support", "customers", "--batch", "7"],
        env={
            **os.environ,
            "CRM_NATS_URL": suite.nats.url,
            "CRM_SUPPORT_DATABASE_URL": suite.database_urls["support"],
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def _republish_first_event(url: str) -> None:
    """What a relay does when it publishes an event again after the broker's
    duplicate window: the same envelope, a second message."""
    client = await nats.connect(url)
    try:
        js = client.jetstream()
        first = await js.get_msg(STREAM, 1)
        await js.publish(first.subject, first.data, headers={"Nats-Msg-Id": "again"})
    finally:
        await client.close()


def test_a_rebuilt_read_model_equals_the_live_one(suite: Suite) -> None:
    history(suite)
    asyncio.run(_republish_first_event(suite.nats.url))
    eventually(lambda: caught_up(suite))
    live = read_model(suite)
    erased = [row for row in live["customers"] if not row["deleted"] and not row["display_name"]]
    tombstones = [row for row in live["customers"] if row["deleted"]]
    assert len(erased) == 1 and len(tombstones) == 2  # the one merged, the one deleted

    refused = rebuild(suite)
    assert refused.returncode == 1
    assert "stop the service" in refused.stderr
    assert read_model(suite) == live

    suite.processes["support"].stop()
    try:
        done = eventually(lambda: _rebuilt(rebuild(suite)))
        assert f"{len(live['inbox'])} applied, 0 ignored, 1 duplicates, 0 failed" in done.stdout
        assert read_model(suite) == live
    finally:
        suite.processes["support"].start()

    # The service resumes with newer events and applies none of the old twice.
    newcomer = person(suite, "Barbara", unique_email("barbara"))
    found = eventually(
        lambda: suite.support.GetCustomer(
            support.GetCustomerRequest(name=newcomer.name.replace("people/", "customers/"))
        )
    )
    assert found.display_name == newcomer.display_name
    eventually(lambda: caught_up(suite))
    assert len(read_model(suite)["inbox"]) == len(live["inbox"]) + 1


def _rebuilt(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    # A stopped service's last pull request lingers on the broker for up to a second.
    assert result.returncode == 0, result.stderr
    return result
