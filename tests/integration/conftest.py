"""Each suite gets its own NATS server: durable consumer names are fixed per
service, so two suites on one broker would share (and split) their events."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from crm_cli.servers import NatsServer, PostgresServer
from tests.integration.harness import Databases, Suite, running_suite


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def databases(
    backend: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Databases:
    postgres: PostgresServer | None = (
        request.getfixturevalue("postgres_server") if backend == "postgresql" else None
    )
    return Databases(backend, tmp_path_factory.mktemp("sqlite"), postgres)


@pytest.fixture(scope="module")
def suite_nats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    with NatsServer(tmp_path_factory.mktemp("suite-nats") / "store") as server:
        yield server


def _suite(
    services: list[str],
    suite_nats: NatsServer,
    databases: Databases,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Suite]:
    logs: Path = tmp_path_factory.mktemp("logs")
    with running_suite(services, suite_nats, databases, logs) as running:
        yield running


@pytest.fixture(scope="module")
def suite(
    suite_nats: NatsServer, databases: Databases, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Suite]:
    yield from _suite(["contacts", "support"], suite_nats, databases, tmp_path_factory)


@pytest.fixture(scope="module")
def sales_suite(
    suite_nats: NatsServer, databases: Databases, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Suite]:
    yield from _suite(["contacts", "sales"], suite_nats, databases, tmp_path_factory)


@pytest.fixture(scope="module")
def projects_suite(
    suite_nats: NatsServer, databases: Databases, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Suite]:
    """Projects with the services whose events it follows."""
    yield from _suite(
        ["contacts", "sales", "support", "projects"], suite_nats, databases, tmp_path_factory
    )
