"""PostgreSQL stops and starts again under a running service: calls in the gap fail as
UNAVAILABLE (retryable, never INTERNAL), and once the database is back the
service serves again without a restart of its own, its pooled connections
replaced. The pool does not ping each connection before use (two extra round
trips on every request and every event); a lost connection is noticed by the
statement that finds it and the whole pool is replaced then."""

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from crm.contacts.v1 import contacts_service_pb2 as pb
from crm.contacts.v1 import person_pb2
from crm_cli.servers import NatsServer, PostgresServer
from tests.integration.harness import Databases, Suite, eventually, rpc_error, running_suite


@pytest.fixture(scope="module")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    # Its own server: restarting the shared one would cut other modules' services off.
    with PostgresServer(tmp_path_factory.mktemp("restarted-postgres")) as server:
        yield server


@pytest.fixture(scope="module")
def contacts_suite(
    postgres: PostgresServer, suite_nats: NatsServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Suite]:
    databases = Databases("postgresql", Path(tmp_path_factory.mktemp("unused")), postgres)
    logs = tmp_path_factory.mktemp("logs")
    with running_suite(["contacts"], suite_nats, databases, logs) as suite:
        yield suite


def _create(suite: Suite, number: int) -> person_pb2.Person:
    person = person_pb2.Person(given_name="Restart", family_name=f"Number{number}")
    return suite.contacts.CreatePerson(pb.CreatePersonRequest(person=person), timeout=10)


def test_a_stopped_database_makes_calls_unavailable_until_it_is_back(
    contacts_suite: Suite, postgres: PostgresServer
) -> None:
    before = _create(contacts_suite, 1)
    postgres.stop()
    try:
        stopped = rpc_error(lambda: _create(contacts_suite, 99))
        assert stopped.code() == grpc.StatusCode.UNAVAILABLE, stopped.details()
    finally:
        postgres.start()

    codes: list[grpc.StatusCode] = []

    def create_after_restart() -> person_pb2.Person:
        try:
            return _create(contacts_suite, 2)
        except grpc.RpcError as error:
            codes.append(error.code())
            raise

    after = eventually(create_after_restart)
    assert set(codes) <= {grpc.StatusCode.UNAVAILABLE}, codes
    # Every pooled connection was replaced: reads on any of them work.
    stub = contacts_suite.contacts
    for _ in range(25):
        assert stub.GetPerson(pb.GetPersonRequest(name=before.name), timeout=10) == before
    assert stub.GetPerson(pb.GetPersonRequest(name=after.name), timeout=10) == after
