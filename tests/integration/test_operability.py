"""What a platform team relies on: reflection, health that tells the truth,
a clean SIGTERM, and log lines a machine can read."""

import json
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

from crm_cli.servers import NatsServer
from tests.integration.harness import Databases, Suite, eventually, running_suite

SERVICES = {
    "contacts": "crm.contacts.v1.ContactsService",
    "sales": "crm.sales.v1.SalesService",
    "projects": "crm.projects.v1.ProjectsService",
    "support": "crm.support.v1.SupportService",
}


@pytest.fixture
def whole_suite(tmp_path: Path) -> Iterator[Suite]:
    with (
        NatsServer(tmp_path / "nats-store") as nats,
        running_suite(
            list(SERVICES), nats, Databases("sqlite", tmp_path, None), tmp_path / "logs"
        ) as suite,
    ):
        yield suite


def health_status(suite: Suite, service: str, name: str = "") -> int:
    stub = health_pb2_grpc.HealthStub(suite.channel(service))
    return stub.Check(health_pb2.HealthCheckRequest(service=name), timeout=2).status


def test_every_service_serves_reflection_and_health(whole_suite: Suite) -> None:
    for service, full_name in SERVICES.items():
        listed = set(ProtoReflectionDescriptorDatabase(whole_suite.channel(service)).get_services())
        assert {full_name, "grpc.health.v1.Health"} <= listed, service
        assert (
            health_status(whole_suite, service, full_name) == health_pb2.HealthCheckResponse.SERVING
        )


def test_health_follows_the_broker(whole_suite: Suite) -> None:
    serving, not_serving = (
        health_pb2.HealthCheckResponse.SERVING,
        health_pb2.HealthCheckResponse.NOT_SERVING,
    )
    whole_suite.nats.stop()
    for service in SERVICES:
        eventually(
            lambda service=service: _assert_equal(health_status(whole_suite, service), not_serving)
        )
        # Unready, not dead: a restart would not bring the broker back.
        assert health_status(whole_suite, service, "liveness") == serving
    whole_suite.nats.start()
    for service in SERVICES:
        eventually(
            lambda service=service: _assert_equal(health_status(whole_suite, service), serving)
        )


def test_sigterm_drains_and_exits_cleanly_with_json_logs(whole_suite: Suite) -> None:
    for service, process in whole_suite.processes.items():
        assert process.stop() == 0, service
        # Every line the service wrote is JSON; "--- " lines are the launcher's markers.
        lines = [
            json.loads(line)
            for line in process.log_path.read_text().splitlines()
            if line.strip() and not line.startswith("--- ")
        ]
        messages = [line["msg"] for line in lines]
        assert "draining" in messages and messages[-1] == "stopped", service
        assert all(
            line["service"] == service and "ts" in line and "level" in line for line in lines
        )
    with pytest.raises(grpc.RpcError):
        health_status(whole_suite, "contacts")


def _assert_equal(actual: object, expected: object) -> None:
    assert actual == expected
