"""Metrics and a trace span for every RPC, on both ends of a call.

Server: `TelemetryInterceptor`, outermost, so it sees the status the client
gets (after ErrorMappingInterceptor turned exceptions into codes). It
continues the caller's trace from the `traceparent` metadata.

Client: a channel to another service made with `client_interceptors()` sends
the current trace context along, so the callee's spans join the caller's trace:

    transport.aio_channel(target, interceptors=client_interceptors())
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from typing import Any

import grpc
from opentelemetry.trace import SpanKind, Status, StatusCode

from crm_common import metrics
from crm_common.grpc.handlers import MethodWrappingInterceptor, wrap_handler
from crm_common.tracing import context_from_metadata, inject, tracer

log = logging.getLogger(__name__)

# Probes and tooling: counted, but a span per probe would bury the requests.
_UNTRACED_SERVICES = ("grpc.health.v1.", "grpc.reflection.")
# The codes that mean the server failed (OpenTelemetry's gRPC conventions);
# the others are the client's business and leave the span's status unset.
_SERVER_FAULTS = frozenset(
    {
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.UNIMPLEMENTED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DATA_LOSS,
    }
)
_NO_SPAN = contextlib.nullcontext()


def split_method(method: str) -> tuple[str, str]:
    """("crm.contacts.v1.ContactsService", "CreatePerson") from "/crm...Service/CreatePerson"."""
    service, _, name = method.lstrip("/").partition("/")
    return service, name


class _MethodTelemetry:
    """One method's metric series and span template, made on its first call so
    that each call only observes."""

    def __init__(self, method: str) -> None:
        self.service, self.name = split_method(method)
        self.span_name = f"{self.service}/{self.name}"
        self.traced = not self.service.startswith(_UNTRACED_SERVICES)
        self.attributes = {
            "rpc.system": "grpc",
            "rpc.service": self.service,
            "rpc.method": self.name,
        }
        self.started = metrics.rpc_started.labels(self.service, self.name)
        self.seconds = metrics.rpc_seconds.labels(self.service, self.name)
        self._handled: dict[grpc.StatusCode, Any] = {}

    def span(self, context: grpc.aio.ServicerContext) -> contextlib.AbstractContextManager[Any]:
        if not self.traced:
            return _NO_SPAN
        return tracer.start_as_current_span(
            self.span_name,
            context=context_from_metadata(context.invocation_metadata()),
            kind=SpanKind.SERVER,
            attributes=self.attributes,
            record_exception=False,
            set_status_on_exception=False,
        )

    def finish(self, code: grpc.StatusCode, seconds: float, span: Any) -> None:
        handled = self._handled.get(code)
        if handled is None:
            handled = self._handled[code] = metrics.rpc_handled.labels(
                self.service, self.name, code.name
            )
        handled.inc()
        self.seconds.observe(seconds)
        if log.isEnabledFor(logging.DEBUG):  # an access log, inside the call's span
            log.debug(
                "rpc handled",
                extra={"method": self.span_name, "code": code.name, "seconds": seconds},
            )
        if span is not None and span.is_recording():
            span.set_attribute("rpc.grpc.status_code", code.value[0])
            if code in _SERVER_FAULTS:
                span.set_status(Status(StatusCode.ERROR, code.name))


def _final_code(context: grpc.aio.ServicerContext) -> grpc.StatusCode:
    return context.code() or grpc.StatusCode.OK


class TelemetryInterceptor(MethodWrappingInterceptor):
    def wrap(self, handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
        telemetry = _MethodTelemetry(method)
        return wrap_handler(
            handler,
            partial(_observe_unary, telemetry=telemetry),
            partial(_observe_stream, telemetry=telemetry),
        )


def _observe_unary(
    behavior: Callable[..., Awaitable[Any]], telemetry: _MethodTelemetry
) -> Callable[..., Awaitable[Any]]:
    async def observed(request: Any, context: grpc.aio.ServicerContext) -> Any:
        started = time.perf_counter()
        telemetry.started.inc()
        code = grpc.StatusCode.UNKNOWN
        with telemetry.span(context) as span:
            try:
                response = await behavior(request, context)
                code = _final_code(context)
                return response
            except grpc.aio.AbortError:
                code = _final_code(context)
                raise
            except asyncio.CancelledError:
                code = grpc.StatusCode.CANCELLED
                raise
            finally:
                telemetry.finish(code, time.perf_counter() - started, span)

    return observed


def _observe_stream(
    behavior: Callable[..., AsyncIterator[Any]], telemetry: _MethodTelemetry
) -> Callable[..., AsyncIterator[Any]]:
    async def observed(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        started = time.perf_counter()
        telemetry.started.inc()
        code = grpc.StatusCode.UNKNOWN
        with telemetry.span(context) as span:
            try:
                async for response in behavior(request, context):
                    yield response
                code = _final_code(context)
            except grpc.aio.AbortError:
                code = _final_code(context)
                raise
            except (asyncio.CancelledError, GeneratorExit):
                code = grpc.StatusCode.CANCELLED
                raise
            finally:
                telemetry.finish(code, time.perf_counter() - started, span)

    return observed


class TracingClientInterceptor(grpc.aio.UnaryUnaryClientInterceptor):
    """A CLIENT span per outgoing unary call, its context in the call's metadata."""

    async def intercept_unary_unary(
        self,
        continuation: Callable[[grpc.aio.ClientCallDetails, Any], Awaitable[Any]],
        client_call_details: grpc.aio.ClientCallDetails,
        request: Any,
    ) -> Any:
        method = client_call_details.method
        if isinstance(method, bytes):
            method = method.decode()
        service, name = split_method(method)
        with tracer.start_as_current_span(
            f"{service}/{name}",
            kind=SpanKind.CLIENT,
            attributes={"rpc.system": "grpc", "rpc.service": service, "rpc.method": name},
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            call = await continuation(_with_trace_context(client_call_details), request)
            code = await call.code()
            span.set_attribute("rpc.grpc.status_code", code.value[0])
            if code != grpc.StatusCode.OK:
                span.set_status(Status(StatusCode.ERROR, code.name))
            return call


def _with_trace_context(details: grpc.aio.ClientCallDetails) -> grpc.aio.ClientCallDetails:
    carrier: dict[str, str] = {}
    inject(carrier)
    metadata = grpc.aio.Metadata(*(details.metadata or ()))
    for key, value in carrier.items():
        metadata.add(key, value)
    return grpc.aio.ClientCallDetails(
        details.method, details.timeout, metadata, details.credentials, details.wait_for_ready
    )


def client_interceptors() -> list[grpc.aio.ClientInterceptor]:
    """For channels from one CRM service to another: the callee joins the caller's trace."""
    return [TracingClientInterceptor()]
