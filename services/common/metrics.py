"""Prometheus metrics every service exposes (deploy/README.md, Observability).

One process serves one service, so the metrics live in prometheus_client's
default registry (which adds the process_* and python_* collectors) and carry
no service label: Prometheus adds the scrape target's labels.

RPC metrics use go-grpc-prometheus' names, so existing dashboards and alerts
for gRPC servers apply as they are.
"""

import logging
from wsgiref.simple_server import WSGIServer

from prometheus_client import Counter, Gauge, Histogram, start_http_server

log = logging.getLogger(__name__)

# Unary CRM calls take milliseconds; the tail goes up to the call deadlines.
_RPC_SECONDS_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)

rpc_started = Counter(
    "grpc_server_started_total",
    "RPCs started on the server.",
    ["grpc_service", "grpc_method"],
)
rpc_handled = Counter(
    "grpc_server_handled_total",
    "RPCs completed on the server, by status code.",
    ["grpc_service", "grpc_method", "grpc_code"],
)
rpc_seconds = Histogram(
    "grpc_server_handling_seconds",
    "Time from receiving an RPC to its final status.",
    ["grpc_service", "grpc_method"],
    buckets=_RPC_SECONDS_BUCKETS,
)

outbox_backlog = Gauge(
    "crm_outbox_backlog_events",
    "Events committed to the outbox and not yet acknowledged by the broker.",
)
outbox_oldest_age = Gauge(
    "crm_outbox_oldest_event_age_seconds",
    "Age of the oldest event still in the outbox; 0 when it is empty.",
)
outbox_published = Counter(
    "crm_outbox_published_events_total",
    "Events this process moved from the outbox to the broker.",
)

consumer_events = Counter(
    "crm_consumer_events_total",
    "Deliveries a consumer handled, by outcome: applied, duplicate (already in the "
    "inbox), ignored (no handler for the type), retried, dead_lettered.",
    ["consumer", "outcome"],
)
consumer_redeliveries = Counter(
    "crm_consumer_redeliveries_total",
    "Deliveries of an event this consumer had been given before.",
    ["consumer"],
)
consumer_pending = Gauge(
    "crm_consumer_pending_events",
    "Consumer lag: events in the stream not yet delivered to the durable consumer "
    "(JetStream num_pending).",
    ["consumer"],
)
consumer_ack_pending = Gauge(
    "crm_consumer_ack_pending_events",
    "Events delivered to the durable consumer and not yet acknowledged.",
    ["consumer"],
)
dead_letters = Gauge(
    "crm_dead_letter_events",
    "Events of this consumer parked in the dead-letter stream now (replay or "
    "drop them with `crm events dead-letters`).",
    ["consumer"],
)


def parse_address(address: str) -> tuple[str, int]:
    """("0.0.0.0", 9464) from "0.0.0.0:9464"; IPv6 hosts in brackets ("[::]:9464")."""
    host, separator, port = address.rpartition(":")
    if not separator or not port.isdigit():
        raise ValueError(f"metrics address {address!r} is not HOST:PORT")
    return host.strip("[]") or "0.0.0.0", int(port)


def serve_metrics(address: str) -> WSGIServer:
    """Serves /metrics from a background thread; `shutdown()` the result to stop."""
    host, port = parse_address(address)
    try:
        server, _ = start_http_server(port, host)
    except OSError as error:
        raise SystemExit(f"cannot serve metrics on {address}: {error}") from error
    log.info("serving metrics", extra={"address": f"{host}:{server.server_port}"})
    return server
