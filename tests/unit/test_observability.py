"""The pure pieces of metrics and tracing: addresses, trace context carried in
strings, spans and log lines as JSON, the RPC interceptor's counting and the
outbox backlog query."""

import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from prometheus_client import REGISTRY
from sqlalchemy import insert

from crm_common.grpc.telemetry import TelemetryInterceptor, client_interceptors, split_method
from crm_common.logs import JsonFormatter
from crm_common.messaging.relay import outbox_backlog
from crm_common.messaging.tables import messaging_metadata, outbox
from crm_common.metrics import parse_address
from crm_common.storage.db import create_engine, session_factory
from crm_common.tracing import (
    JsonLinesSpanExporter,
    context_from_headers,
    context_from_metadata,
    context_from_traceparent,
    current_traceparent,
)

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{SPAN_ID}-01"


@pytest.fixture
def tracer() -> trace.Tracer:
    # A provider of the test's own: the process-wide one stays untouched.
    return TracerProvider().get_tracer("test")


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("0.0.0.0:9464", ("0.0.0.0", 9464)),
        ("127.0.0.1:0", ("127.0.0.1", 0)),
        ("[::]:9464", ("::", 9464)),
        (":9464", ("0.0.0.0", 9464)),
    ],
)
def test_metrics_addresses_are_host_and_port(address: str, expected: tuple[str, int]) -> None:
    assert parse_address(address) == expected


@pytest.mark.parametrize("address", ["9464", "localhost", "host:port"])
def test_a_metrics_address_without_a_port_is_refused(address: str) -> None:
    with pytest.raises(ValueError, match="HOST:PORT"):
        parse_address(address)


def test_rpc_methods_split_into_service_and_name() -> None:
    assert split_method("/crm.contacts.v1.ContactsService/CreatePerson") == (
        "crm.contacts.v1.ContactsService",
        "CreatePerson",
    )


def test_no_traceparent_outside_a_trace() -> None:
    assert current_traceparent() is None
    assert context_from_traceparent(None) is None
    assert context_from_traceparent("") is None
    assert context_from_headers(None) is None
    assert context_from_headers({"Nats-Msg-Id": "x"}) is None


def test_a_stored_traceparent_continues_its_trace(tracer: trace.Tracer) -> None:
    with tracer.start_as_current_span("apply", context=context_from_traceparent(TRACEPARENT)):
        context = trace.get_current_span().get_span_context()
        assert trace.format_trace_id(context.trace_id) == TRACE_ID
        assert context.span_id != int(SPAN_ID, 16)
        assert current_traceparent() == (
            f"00-{TRACE_ID}-{trace.format_span_id(context.span_id)}-01"
        )


def test_nats_headers_and_grpc_metadata_carry_the_caller(tracer: trace.Tracer) -> None:
    for context in (
        context_from_headers({"Nats-Msg-Id": "x", "traceparent": TRACEPARENT}),
        context_from_metadata((("user-agent", "grpc"), ("traceparent", TRACEPARENT))),
    ):
        parent = trace.get_current_span(context).get_span_context()
        assert (trace.format_trace_id(parent.trace_id), parent.is_remote) == (TRACE_ID, True)
    assert not trace.get_current_span(context_from_metadata(None)).get_span_context().is_valid


def test_log_lines_name_the_current_trace(tracer: trace.Tracer) -> None:
    formatter = JsonFormatter("contacts")
    record = logging.makeLogRecord({"msg": "hello", "levelname": "INFO"})
    assert "trace_id" not in json.loads(formatter.format(record))
    with tracer.start_as_current_span("rpc", context=context_from_traceparent(TRACEPARENT)):
        line = json.loads(formatter.format(record))
        span_id = trace.format_span_id(trace.get_current_span().get_span_context().span_id)
    assert (line["trace_id"], line["span_id"], line["msg"]) == (TRACE_ID, span_id, "hello")


def test_finished_spans_are_written_as_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "traces" / "spans.jsonl"
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(JsonLinesSpanExporter(path)))
    tracer = provider.get_tracer("test")
    with (
        tracer.start_as_current_span("outer", context=context_from_traceparent(TRACEPARENT)),
        tracer.start_as_current_span("inner", attributes={"rpc.method": "CreatePerson"}),
    ):
        pass
    provider.shutdown()
    inner, outer = (json.loads(line) for line in path.read_text().splitlines())
    assert (inner["name"], outer["name"]) == ("inner", "outer")
    assert inner["trace_id"] == outer["trace_id"] == TRACE_ID
    assert (inner["parent_span_id"], outer["parent_span_id"]) == (outer["span_id"], SPAN_ID)
    assert inner["attributes"] == {"rpc.method": "CreatePerson"}
    assert inner["kind"] == "INTERNAL" and inner["end_unix_nano"] >= inner["start_unix_nano"]


def _handled(code: str, service: str = "grpc.health.v1.Health") -> float:
    labels = {"grpc_service": service, "grpc_method": "Check", "grpc_code": code}
    return REGISTRY.get_sample_value("grpc_server_handled_total", labels) or 0.0


async def test_the_interceptor_counts_each_call_by_its_final_code() -> None:
    server = grpc.aio.server(interceptors=[TelemetryInterceptor()])
    health = health_aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    await health.set("known", health_pb2.HealthCheckResponse.SERVING)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    ok, not_found = _handled("OK"), _handled("NOT_FOUND")
    seconds = {"grpc_service": "grpc.health.v1.Health", "grpc_method": "Check"}
    timed = REGISTRY.get_sample_value("grpc_server_handling_seconds_count", seconds) or 0.0
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            await stub.Check(health_pb2.HealthCheckRequest(service="known"))
            with pytest.raises(grpc.aio.AioRpcError):
                await stub.Check(health_pb2.HealthCheckRequest(service="unknown"))
    finally:
        await server.stop(None)
    assert (_handled("OK") - ok, _handled("NOT_FOUND") - not_found) == (1, 1)
    assert REGISTRY.get_sample_value("grpc_server_handling_seconds_count", seconds) == timed + 2


async def test_the_outbox_backlog_is_its_size_and_oldest_age(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'outbox.db'}")
    async with engine.begin() as connection:
        await connection.run_sync(messaging_metadata.create_all)
    sessions = session_factory(engine)
    now = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    try:
        empty = await outbox_backlog(sessions, now)
        assert (empty.events, empty.oldest_age_seconds) == (0, 0.0)
        async with sessions() as session, session.begin():
            await session.execute(
                insert(outbox),
                [
                    {
                        "event_id": f"event-{age}",
                        "subject": "crm.events.contacts.person.created",
                        "body": b"",
                        "created_at": now - timedelta(seconds=age),
                        "traceparent": TRACEPARENT if age else None,
                    }
                    for age in (0, 90)
                ],
            )
        backlog = await outbox_backlog(sessions, now)
        assert (backlog.events, backlog.oldest_age_seconds) == (2, 90.0)
    finally:
        await engine.dispose()


async def test_client_interceptors_send_the_callers_trace_context(tracer: trace.Tracer) -> None:
    def traceparent_seen(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        metadata = dict(context.invocation_metadata() or ())
        return str(metadata.get("traceparent", "")).encode()

    server = grpc.aio.server()
    server.add_generic_rpc_handlers(
        [
            grpc.method_handlers_generic_handler(
                "test.Echo", {"Traceparent": grpc.unary_unary_rpc_method_handler(traceparent_seen)}
            )
        ]
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(
            f"127.0.0.1:{port}", interceptors=client_interceptors()
        ) as channel:
            call = channel.unary_unary("/test.Echo/Traceparent")
            assert await call(b"") == b""  # outside any trace: nothing to send
            with tracer.start_as_current_span(
                "caller", context=context_from_traceparent(TRACEPARENT)
            ):
                seen = (await call(b"")).decode()
    finally:
        await server.stop(None)
    assert seen.split("-")[1] == TRACE_ID
