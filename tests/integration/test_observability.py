"""What an operator watches: Prometheus metrics from each service's /metrics,
and one request followed as a trace across services, in spans and in logs.

Contacts and support run with a metrics port each, and write their finished
spans as JSON lines (CRM_<SERVICE>_TRACES_FILE), the test's in-memory exporter
across the process boundary.
"""

import asyncio
import json
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import nats
import pytest
from prometheus_client.parser import text_string_to_metric_families

from crm.contacts.v1 import contacts_service_pb2 as contacts
from crm.contacts.v1 import person_pb2
from crm.support.v1 import support_service_pb2 as support
from crm_cli.servers import NatsServer, free_port
from tests.integration.harness import Databases, Suite, eventually, rpc_error, running_suite

SERVICES = ("contacts", "support")
CONTACTS_API = "crm.contacts.v1.ContactsService"
CONSUMER = "support-from-contacts"


@dataclass
class Observed:
    suite: Suite
    folder: Path
    metrics_ports: dict[str, int]

    def metrics(self, service: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
        """Every sample of the service's /metrics, by name and labels."""
        address = f"127.0.0.1:{self.metrics_ports[service]}"
        with urllib.request.urlopen(f"http://{address}/metrics", timeout=5) as response:
            text = response.read().decode()
        return {
            (sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }

    def spans(self, service: str) -> list[dict[str, Any]]:
        path = self.folder / f"{service}-spans.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line]

    def log_lines(self, service: str) -> list[dict[str, Any]]:
        text = self.suite.processes[service].log_path.read_text()
        return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


@pytest.fixture(scope="module")
def observed(
    suite_nats: NatsServer, databases: Databases, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Observed]:
    folder = tmp_path_factory.mktemp("observability")
    ports = {service: free_port() for service in SERVICES}
    env = {"CRM_LOG_LEVEL": "DEBUG"}
    for service in SERVICES:
        env[f"CRM_{service.upper()}_METRICS_ADDRESS"] = f"127.0.0.1:{ports[service]}"
        env[f"CRM_{service.upper()}_TRACES_FILE"] = str(folder / f"{service}-spans.jsonl")
    with running_suite(list(SERVICES), suite_nats, databases, folder / "logs", **env) as suite:
        yield Observed(suite, folder, ports)


def sample(
    metrics: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    """A sample's value; 0 for a series not yet reported (counters start there)."""
    return metrics.get((name, frozenset(labels.items())), 0.0)


def new_person_request(name: str = "Ada") -> contacts.CreatePersonRequest:
    email = f"{name.lower()}-{uuid.uuid4().hex[:8]}@example.com"
    return contacts.CreatePersonRequest(
        person=person_pb2.Person(
            given_name=name, email_addresses=[person_pb2.EmailAddress(address=email)]
        )
    )


def rpc(method: str, code: str) -> dict[str, str]:
    return {"grpc_service": CONTACTS_API, "grpc_method": method, "grpc_code": code}


def test_rpcs_are_counted_and_timed_by_method_and_code(observed: Observed) -> None:
    before = observed.metrics("contacts")
    stub = observed.suite.contacts
    stub.CreatePerson(new_person_request())
    missing = rpc_error(lambda: stub.GetPerson(contacts.GetPersonRequest(name="people/nobody")))
    assert missing.code() == grpc.StatusCode.NOT_FOUND
    invalid = rpc_error(lambda: stub.CreatePerson(contacts.CreatePersonRequest()))
    assert invalid.code() == grpc.StatusCode.INVALID_ARGUMENT

    def counted() -> dict:
        # A failed call is counted as the server finishes it, which may be a
        # moment after the client has its answer.
        after = observed.metrics("contacts")
        handled = "grpc_server_handled_total"
        for method_name, code, times in (
            ("CreatePerson", "OK", 1),
            ("CreatePerson", "INVALID_ARGUMENT", 1),
            ("GetPerson", "NOT_FOUND", 1),
            ("GetPerson", "OK", 0),
        ):
            grown = sample(after, handled, **rpc(method_name, code))
            grown -= sample(before, handled, **rpc(method_name, code))
            assert grown == times, (method_name, code)
        return after

    after = eventually(counted)

    def grew(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    handled = "grpc_server_handled_total"
    method = {"grpc_service": CONTACTS_API, "grpc_method": "CreatePerson"}
    assert grew("grpc_server_started_total", **method) == 2
    assert grew("grpc_server_handling_seconds_count", **method) == 2
    assert 0 < grew("grpc_server_handling_seconds_sum", **method) < 60
    buckets = sorted(
        (float(dict(labels)["le"]), value)
        for (name, labels), value in after.items()
        if name == "grpc_server_handling_seconds_bucket" and dict(labels).items() >= method.items()
    )
    counts = [value for _, value in buckets]
    assert counts == sorted(counts), "histogram buckets are cumulative"
    assert buckets[-1] == (
        float("inf"),
        sample(after, "grpc_server_handling_seconds_count", **method),
    )
    # Probes are counted like any call.
    health = {"grpc_service": "grpc.health.v1.Health", "grpc_method": "Check", "grpc_code": "OK"}
    assert sample(after, handled, **health) >= 1


def test_outbox_and_consumer_metrics_report_the_event_flow(observed: Observed) -> None:
    applied = {"consumer": CONSUMER, "outcome": "applied"}
    applied_before = sample(observed.metrics("support"), "crm_consumer_events_total", **applied)
    published_before = sample(observed.metrics("contacts"), "crm_outbox_published_events_total")
    person = observed.suite.contacts.CreatePerson(new_person_request())

    def flowed() -> None:
        sender, receiver = observed.metrics("contacts"), observed.metrics("support")
        assert sample(sender, "crm_outbox_published_events_total") >= published_before + 1
        assert sample(receiver, "crm_consumer_events_total", **applied) >= applied_before + 1
        # Refreshed on a timer: drained outbox, caught-up consumer.
        assert sample(sender, "crm_outbox_backlog_events") == 0
        assert sample(sender, "crm_outbox_oldest_event_age_seconds") == 0
        assert ("crm_outbox_backlog_events", frozenset()) in sender
        assert ("crm_consumer_pending_events", frozenset({("consumer", CONSUMER)})) in receiver
        assert sample(receiver, "crm_consumer_pending_events", consumer=CONSUMER) == 0

    eventually(flowed)
    customer = person.name.replace("people/", "customers/")
    observed.suite.support.GetCustomer(support.GetCustomerRequest(name=customer))


def test_a_poison_event_shows_as_a_dead_letter(observed: Observed) -> None:
    dead = {"consumer": CONSUMER, "outcome": "dead_lettered"}
    before = observed.metrics("support")
    asyncio.run(_publish_poison(observed.suite.nats.url))

    def parked() -> None:
        after = observed.metrics("support")
        grew = sample(after, "crm_consumer_events_total", **dead) - sample(
            before, "crm_consumer_events_total", **dead
        )
        assert grew == 1
        parked_now = sample(after, "crm_dead_letter_events", consumer=CONSUMER)
        assert parked_now == sample(before, "crm_dead_letter_events", consumer=CONSUMER) + 1
        assert ("crm_consumer_redeliveries_total", frozenset({("consumer", CONSUMER)})) in after

    eventually(parked)


async def _publish_poison(url: str) -> None:
    client = await nats.connect(url)
    try:
        await client.jetstream().publish(
            "crm.events.contacts.person.created",
            b"\xff not an event",
            headers={"Nats-Msg-Id": str(uuid.uuid4())},
        )
    finally:
        await client.close()


def test_one_request_is_one_trace_across_both_services_and_their_logs(
    observed: Observed,
) -> None:
    # The test is the first caller: its trace context goes out as metadata.
    trace_id, caller_span = uuid.uuid4().hex, uuid.uuid4().hex[:16]
    traceparent = f"00-{trace_id}-{caller_span}-01"
    person = observed.suite.contacts.CreatePerson(
        new_person_request("Grace"), metadata=[("traceparent", traceparent)]
    )

    def traced() -> tuple[dict[str, Any], dict[str, Any]]:
        requests = spans_of(observed, "contacts", trace_id, "SERVER")
        applications = spans_of(observed, "support", trace_id, "CONSUMER")
        assert len(requests) == 1 and len(applications) == 1, (requests, applications)
        return requests[0], applications[0]

    request, applied = eventually(traced)
    assert request["name"] == f"{CONTACTS_API}/CreatePerson"
    assert request["parent_span_id"] == caller_span
    assert request["attributes"]["rpc.grpc.status_code"] == 0
    assert request["service"] == "contacts"
    # The event carried the request's context from the outbox row to NATS.
    assert applied["parent_span_id"] == request["span_id"]
    assert applied["name"].startswith("process crm.events.contacts.")
    assert applied["service"] == "support"
    customer = person.name.replace("people/", "customers/")
    observed.suite.support.GetCustomer(support.GetCustomerRequest(name=customer))

    def logged() -> None:
        contacts_lines = [
            line for line in observed.log_lines("contacts") if line.get("trace_id") == trace_id
        ]
        support_lines = [
            line for line in observed.log_lines("support") if line.get("trace_id") == trace_id
        ]
        assert any(
            line["msg"] == "rpc handled" and line["span_id"] == request["span_id"]
            for line in contacts_lines
        )
        assert any(
            line["msg"] == "event handled" and line["span_id"] == applied["span_id"]
            for line in support_lines
        )

    eventually(logged)


def spans_of(observed: Observed, service: str, trace_id: str, kind: str) -> list[dict[str, Any]]:
    return [
        span
        for span in observed.spans(service)
        if span["trace_id"] == trace_id and span["kind"] == kind
    ]
