"""OpenTelemetry tracing: one trace follows a request across services.

The trace context travels as a W3C `traceparent`: in gRPC metadata between
services (crm_common.grpc.telemetry), with each outbox row from the
transaction that wrote it, and in the NATS headers the relay publishes with,
so a consumer continues the trace of the request whose commit announced the
event. Log lines carry the current trace and span ids (crm_common.logs).

Spans are exported only where asked: over OTLP/gRPC when the standard
OTEL_EXPORTER_OTLP_ENDPOINT (or ..._TRACES_ENDPOINT) is set, and as JSON
lines to a file with CRM_<SERVICE>_TRACES_FILE (tests, debugging). With
neither, nothing is recorded, but ids are still made and passed on, so the
logs of all services still correlate by trace id.
"""

import json
import os
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.propagators.textmap import Getter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

TRACEPARENT = "traceparent"
_W3C = TraceContextTextMapPropagator()
_OTLP_ENDPOINTS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")

tracer = trace.get_tracer("crm_common")


def configure_tracing(
    service: str, traces_file: str = "", environ: Mapping[str, str] = os.environ
) -> TracerProvider:
    """Installs the process's tracer provider; `shutdown()` it to flush at exit."""
    exporters: list[tuple[SpanExporter, bool]] = []
    if traces_file:
        exporters.append((JsonLinesSpanExporter(Path(traces_file)), False))
    if any(environ.get(name) for name in _OTLP_ENDPOINTS) and (
        environ.get("OTEL_TRACES_EXPORTER", "otlp") != "none"
    ):
        # Imported only when used: it pulls in the OTLP protobufs.
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        exporters.append((OTLPSpanExporter(), True))
    resource = Resource.create({"service.namespace": "crm", "service.name": service})
    # Without an exporter nothing is sampled: spans cost next to nothing yet
    # still carry fresh ids into logs and to the next service. With one, the
    # standard OTEL_TRACES_SAMPLER applies (default: follow the caller, else all).
    provider = (
        TracerProvider(resource=resource)
        if exporters
        else TracerProvider(resource=resource, sampler=ALWAYS_OFF)
    )
    for exporter, batched in exporters:
        processor = BatchSpanProcessor(exporter) if batched else SimpleSpanProcessor(exporter)
        provider.add_span_processor(processor)
    trace.set_tracer_provider(provider)
    return provider


def current_traceparent() -> str | None:
    """The W3C traceparent of the current span, None outside any trace."""
    carrier: dict[str, str] = {}
    _W3C.inject(carrier)
    return carrier.get(TRACEPARENT)


def inject(carrier: dict[str, str]) -> None:
    """Adds the current trace context to outgoing headers or metadata."""
    _W3C.inject(carrier)


def context_from_traceparent(traceparent: str | None) -> otel_context.Context | None:
    """The context to continue a trace from a stored traceparent; None starts a new one."""
    if not traceparent:
        return None
    return _W3C.extract({TRACEPARENT: traceparent})


class _MetadataGetter(Getter[Sequence[tuple[str, Any]]]):
    """Reads gRPC invocation metadata (a sequence of key/value pairs) in place."""

    def get(self, carrier: Sequence[tuple[str, Any]], key: str) -> list[str] | None:
        values = [value for name, value in carrier if name == key and isinstance(value, str)]
        return values or None

    def keys(self, carrier: Sequence[tuple[str, Any]]) -> list[str]:
        return [name for name, _ in carrier]


_METADATA_GETTER = _MetadataGetter()


def context_from_metadata(metadata: Sequence[tuple[str, Any]] | None) -> otel_context.Context:
    """The caller's trace context from gRPC invocation metadata."""
    return _W3C.extract(metadata or (), getter=_METADATA_GETTER)


def context_from_headers(headers: Mapping[str, str] | None) -> otel_context.Context | None:
    """The publisher's trace context from NATS message headers, if it sent one."""
    return context_from_traceparent((headers or {}).get(TRACEPARENT))


class JsonLinesSpanExporter(SpanExporter):
    """Appends each finished span to a file as one JSON object per line."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("a", encoding="utf-8")
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = "".join(json.dumps(span_record(span), default=str) + "\n" for span in spans)
        with self._lock:
            self._file.write(lines)
            self._file.flush()
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        with self._lock:
            self._file.close()


def span_record(span: ReadableSpan) -> dict[str, Any]:
    """A finished span as plain data, ids in the hex forms logs and traceparents use."""
    context = span.get_span_context()
    return {
        "service": span.resource.attributes.get("service.name"),
        "name": span.name,
        "kind": span.kind.name,
        "trace_id": trace.format_trace_id(context.trace_id),
        "span_id": trace.format_span_id(context.span_id),
        "parent_span_id": trace.format_span_id(span.parent.span_id) if span.parent else None,
        "start_unix_nano": span.start_time,
        "end_unix_nano": span.end_time,
        "status": span.status.status_code.name,
        "attributes": dict(span.attributes or {}),
    }


def ids_of_current_span() -> tuple[str, str] | None:
    """(trace id, span id) in hex for log lines; None outside any trace."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return trace.format_trace_id(context.trace_id), trace.format_span_id(context.span_id)
