"""Nothing is lost: broker outages, killed processes and poison events.

Each test runs its own NATS server, because it stops, kills or floods it.
The figures (sent, stored, applied, duplicates) are printed for the record;
run with `-s` to see them.
"""

import asyncio
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import nats
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from crm.contacts.v1 import contacts_service_pb2 as contacts
from crm.contacts.v1 import events_pb2, person_pb2
from crm.events.v1.event_pb2 import Event
from crm.support.v1 import support_service_pb2 as support
from crm_cli.processes import ServiceProcess
from crm_cli.servers import NatsServer
from crm_common.messaging.deadletters import list_dead_letters, replay_dead_letter
from crm_common.messaging.envelope import stream_for, subject_for
from tests.integration.harness import Databases, Suite, eventually, running_suite

pytestmark = pytest.mark.slow


@pytest.fixture
def own_nats(tmp_path: Path) -> Iterator[NatsServer]:
    with NatsServer(tmp_path / "nats-store") as server:
        yield server


@pytest.fixture
def fault_suite(own_nats: NatsServer, databases: Databases, tmp_path: Path) -> Iterator[Suite]:
    # Fast retries so the poison test does not wait out production delays.
    env = {"CRM_CONSUMER_MAX_ATTEMPTS": "3", "CRM_CONSUMER_RETRY_BASE_SECONDS": "0.05"}
    with running_suite(
        ["contacts", "support"], own_nats, databases, tmp_path / "logs", **env
    ) as suite:
        yield suite


def create_person(suite: Suite, label: str) -> str:
    request = contacts.CreatePersonRequest(person=person_pb2.Person(given_name=label))
    return suite.contacts.CreatePerson(request, timeout=10).name.removeprefix("people/")


def support_customer_ids(suite: Suite) -> set[str]:
    ids: set[str] = set()
    token = ""
    while True:
        page = suite.support.ListCustomers(
            support.ListCustomersRequest(page_size=1000, page_token=token)
        )
        ids |= {c.name.removeprefix("customers/") for c in page.customers}
        token = page.next_page_token
        if not token:
            return ids


def scalar(url: str, sql: str) -> int:
    async def query() -> int:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as connection:
                return int(await connection.scalar(text(sql)) or 0)
        finally:
            await engine.dispose()

    return asyncio.run(query())


def stream_message_count(nats_url: str, source: str) -> int:
    async def count() -> int:
        client = await nats.connect(nats_url)
        try:
            info = await client.jetstream().stream_info(stream_for(source))
            return int(info.state.messages)
        finally:
            await client.close()

    return asyncio.run(count())


def test_broker_outage_during_1000_creates_loses_and_duplicates_nothing(
    fault_suite: Suite, own_nats: NatsServer
) -> None:
    total, outage_after = 1000, 250
    created: list[str] = []
    lock = threading.Lock()
    outage_started = threading.Event()

    def create(index: int) -> None:
        person_id = create_person(fault_suite, f"Outage {index}")
        with lock:
            created.append(person_id)
            if len(created) == outage_after:
                outage_started.set()

    with ThreadPoolExecutor(max_workers=16) as pool:
        futures = [pool.submit(create, i) for i in range(total)]
        outage_started.wait(timeout=60)
        own_nats.stop()
        stopped_at = len(created)
        time.sleep(1.0)  # writes keep committing while the broker is down
        for future in futures:
            future.result()
    during_outage = len(created) - stopped_at
    own_nats.start()

    expected = set(created)
    assert len(expected) == total
    eventually(lambda: _assert_equal(support_customer_ids(fault_suite), expected), timeout=90)
    stored = stream_message_count(own_nats.url, "contacts")
    applied = scalar(fault_suite.database_urls["support"], "SELECT count(*) FROM inbox")
    print(
        f"\nbroker outage: sent={total} created_while_down={during_outage} "
        f"stored_in_stream={stored} applied={applied} "
        f"duplicates_in_stream={stored - total} duplicates_applied={applied - total}"
    )
    assert stored == total
    assert applied == total
    assert scalar(fault_suite.database_urls["contacts"], "SELECT count(*) FROM outbox") == 0


def test_events_committed_before_a_kill_are_published_after_restart(
    fault_suite: Suite, own_nats: NatsServer
) -> None:
    # With the broker down, commits pile up in the outbox: the process is
    # then killed after its commits and before any publish.
    own_nats.stop()
    committed = {create_person(fault_suite, f"Unpublished {i}") for i in range(25)}
    contacts_url = fault_suite.database_urls["contacts"]
    assert scalar(contacts_url, "SELECT count(*) FROM outbox") == 25
    fault_suite.processes["contacts"].kill()

    own_nats.start()
    restarted = fault_suite.processes["contacts"]
    restarted.start()
    eventually(lambda: _assert_superset(support_customer_ids(fault_suite), committed), timeout=60)
    assert scalar(contacts_url, "SELECT count(*) FROM outbox") == 0
    print(f"\nkill before publish: committed={len(committed)} arrived={len(committed)}")


def test_kill_9_under_load_loses_no_acknowledged_write(fault_suite: Suite) -> None:
    acknowledged: list[str] = []
    failed = 0
    stop = threading.Event()

    def write_continuously() -> None:
        nonlocal failed
        index = 0
        while not stop.is_set():
            index += 1
            try:
                acknowledged.append(create_person(fault_suite, f"Load {index}"))
            except grpc.RpcError:
                failed += 1  # the process is down; such a write may or may not have committed
                time.sleep(0.02)

    writers = [threading.Thread(target=write_continuously) for _ in range(4)]
    for writer in writers:
        writer.start()
    contacts_process: ServiceProcess = fault_suite.processes["contacts"]
    eventually(lambda: _assert_equal(len(acknowledged) > 200, True), timeout=60)
    contacts_process.kill()
    killed_after = len(acknowledged)
    contacts_process.start()
    eventually(lambda: _assert_equal(len(acknowledged) > killed_after + 200, True), timeout=60)
    stop.set()
    for writer in writers:
        writer.join()

    arrived = eventually(
        lambda: _assert_superset(support_customer_ids(fault_suite), set(acknowledged)), timeout=90
    )
    print(
        f"\nkill -9 under load: acknowledged={len(acknowledged)} failed_while_down={failed} "
        f"arrived={len(arrived & set(acknowledged))}"
    )


def test_poison_events_are_dead_lettered_and_the_consumer_goes_on(
    fault_suite: Suite, own_nats: NatsServer
) -> None:
    wrong_payload = Event(
        id="poison-wrong-payload", type="contact.created", source="contacts", aggregate_id="p"
    )
    wrong_payload.payload.Pack(events_pb2.PersonDeleted(name="people/p"))

    async def publish_poison() -> None:
        client = await nats.connect(own_nats.url)
        js = client.jetstream()
        subject = subject_for("contacts", "contact.created")
        await js.publish(subject, b"\x0a\xff garbage", headers={"Nats-Msg-Id": "poison-garbage"})
        await js.publish(
            subject, wrong_payload.SerializeToString(), headers={"Nats-Msg-Id": wrong_payload.id}
        )
        await client.close()

    asyncio.run(publish_poison())
    healthy = create_person(fault_suite, "After the poison")
    eventually(lambda: _assert_superset(support_customer_ids(fault_suite), {healthy}))

    letters = eventually(lambda: _dead_letters(own_nats.url, expected=2))
    by_id = {letter.event_id: letter for letter in letters}
    assert by_id[""].event_type == "(undecodable)"
    assert "not an event envelope" in by_id[""].reason
    assert "failed 3 times" in by_id[wrong_payload.id].reason
    assert {letter.consumer for letter in letters} == {"support-from-contacts"}

    # Replaying puts it back on its subject; still poison, it is parked again.
    async def replay() -> None:
        client = await nats.connect(own_nats.url)
        await replay_dead_letter(client.jetstream(), by_id[wrong_payload.id].sequence)
        await client.close()

    asyncio.run(replay())
    parked_again = eventually(lambda: _dead_letters(own_nats.url, expected=2))
    replayed = next(letter for letter in parked_again if letter.event_id == wrong_payload.id)
    assert replayed.sequence > by_id[wrong_payload.id].sequence
    print(f"\npoison: dead_lettered={len(letters)} replayed_and_parked_again=1 healthy_applied=1")


def _dead_letters(nats_url: str, expected: int) -> list:
    async def fetch() -> list:
        client = await nats.connect(nats_url)
        try:
            return await list_dead_letters(client.jetstream())
        finally:
            await client.close()

    letters = asyncio.run(fetch())
    assert len(letters) == expected, letters
    return letters


def _assert_equal(actual: object, expected: object) -> None:
    assert actual == expected


def _assert_superset(actual: set[str], expected: set[str]) -> set[str]:
    missing = expected - actual
    assert not missing, f"{len(missing)} missing"
    return actual
