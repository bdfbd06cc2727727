"""Bulk import and read-model rebuild at scale.

`python -m bench.import_replay [--quick] [--count N] [--backend sqlite|postgresql|both] [--keep]`

Import: N people through ContactsService.ImportContacts, the contacts
service running as its own process (with its outbox relay publishing the
`contact.created` events to its own nats-server), in IMPORT_CALLS sequential
calls of N / IMPORT_CALLS rows each. Each call is timed by the client, so the
first and last 10% of the rows are whole calls and show any slowdown as the
tables grow. Target: at least 5,000 rows/s overall, the last 10% no slower
than the first. After the import, how long the relay took to get every event
onto the broker (not part of rows/s).

Replay: N real `contact.created`/`contact.updated` envelopes published (windowed,
acked) into the contacts stream of a fresh nats-server, then support's customer
read model rebuilt from it (`crm_common.messaging.replay.rebuild`, what
`crm events rebuild support customers` runs) into a fresh, migrated support
database, in this process as the command would. Baseline: a raw pull consumer
draining the same stream in the same batches, nothing applied. Target: at
least 10,000 events/s.
"""

import argparse
import asyncio
import contextlib
import math
import os
import random
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
from nats.js import JetStreamContext
from sqlalchemy import func, select

from bench.cpu import CpuMeter, one, with_children
from bench.figures import publish_windowed
from bench.processes import (
    Databases,
    admin_token,
    scratch_folder,
    start_nats,
    start_postgres,
    start_services,
)
from bench.report import Row, table
from crm.contacts.v1 import contacts_service_pb2 as contacts_pb
from crm.contacts.v1 import contacts_service_pb2_grpc as contacts_grpc
from crm.contacts.v1 import custom_field_pb2, events_pb2, person_pb2
from crm_cli.servers import PostgresServer
from crm_common.messaging import replay
from crm_common.messaging.broker import connect, ensure_stream, event_stream_config
from crm_common.messaging.envelope import OutgoingEvent, seal, stream_for, subject_for
from crm_common.messaging.uow import UnitOfWork
from crm_common.storage.db import create_engine, session_factory
from crm_common.storage.migrations import upgrade_to_head
from crm_support.events.contacts import CUSTOMERS
from crm_support.main import SPEC as SUPPORT
from crm_support.storage.tables import customers

FULL_COUNT = 1_000_000
QUICK_COUNT = 10_000
IMPORT_TARGET = 5000.0  # rows/s, from the issue
REPLAY_TARGET = 10000.0  # events/s, from the issue
# Sequential ImportContacts calls: 10% of the rows is two whole calls.
IMPORT_CALLS = 20
CHUNK_ROWS = 2000  # CSV rows per csv_data message (~150 kB)
UPDATED_SHARE = 0.2  # of the replayed events, updates of a person created earlier
CSV_HEADER = "given_name,family_name,email_addresses,phone_numbers,tags\n"
RELAY_WAIT_SECONDS = 3600.0


@dataclass
class Figures:
    rows: list[Row] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


def say(message: str) -> None:
    print(f"[import_replay {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------ import


def csv_rows(first: int, count: int, run: str) -> list[str]:
    """People with unique emails: every row creates one."""
    return [
        f"Ada,Import {n},ada-{run}-{n}@example.com (work),+44 20 7946 {n % 10000:04d},bulk;vip\n"
        for n in range(first, first + count)
    ]


async def _requests(rows: list[str]) -> AsyncIterator[contacts_pb.ImportContactsRequest]:
    yield contacts_pb.ImportContactsRequest(
        header=contacts_pb.ImportHeader(kind=custom_field_pb2.CONTACT_KIND_PERSON)
    )
    for start in range(0, len(rows), CHUNK_ROWS):
        chunk = "".join(rows[start : start + CHUNK_ROWS])
        text = CSV_HEADER + chunk if start == 0 else chunk
        yield contacts_pb.ImportContactsRequest(csv_data=text.encode())


async def import_figures(
    backend: str, databases: Databases, folder: Path, count: int, postgres_pid: int | None = None
) -> Figures:
    """Starts nats-server and contacts (own process), imports `count` people, stops both."""
    per_call = max(1, count // IMPORT_CALLS)
    run = uuid.uuid4().hex[:8]
    with contextlib.ExitStack() as stack:
        nats = start_nats(stack, folder / "import-nats")
        contacts = start_services(
            stack, {"contacts": databases.new("import")}, nats, folder / "logs"
        )["contacts"]
        groups = {"contacts": one(contacts.pid), "client": one(os.getpid())}
        if postgres_pid is not None:
            groups["postgres"] = with_children(postgres_pid)
        meter = CpuMeter(groups)
        seconds: list[float] = []
        created = 0
        before = meter.snapshot()
        started = time.perf_counter()
        # The admin channel's interceptor covers unary calls only: the token goes along.
        metadata = (("authorization", f"Bearer {admin_token()}"),)
        async with grpc.aio.insecure_channel(contacts.address) as channel:
            stub = contacts_grpc.ContactsServiceStub(channel)
            for call in range(IMPORT_CALLS):
                rows = csv_rows(call * per_call, per_call, run)
                call_started = time.perf_counter()
                response = await stub.ImportContacts(_requests(rows), metadata=metadata)
                seconds.append(time.perf_counter() - call_started)
                if response.created_count != per_call or response.failed_count:
                    raise RuntimeError(f"import call {call}: {response}")
                created += response.created_count
                rate = per_call / seconds[-1]
                say(f"{backend}: import call {call + 1}/{IMPORT_CALLS}: {rate:.0f} rows/s")
        elapsed = time.perf_counter() - started
        cpu = CpuMeter.percent(before, meter.snapshot(), elapsed)
        relay_seconds = await _relay_lag(nats.url, created, started)
    return _import_result(backend, per_call, seconds, elapsed, cpu, relay_seconds)


async def _relay_lag(nats_url: str, events: int, started: float) -> float:
    """Seconds from the import's start until the broker held all its events."""
    client = await connect(nats_url, "bench-import")
    try:
        js = client.jetstream()
        deadline = time.monotonic() + RELAY_WAIT_SECONDS
        while (await js.stream_info(stream_for("contacts"))).state.messages < events:
            if time.monotonic() > deadline:
                raise RuntimeError("the outbox relay did not publish every import event")
            await asyncio.sleep(0.2)
        return time.perf_counter() - started
    finally:
        await client.close()


def _import_result(
    backend: str,
    per_call: int,
    seconds: list[float],
    elapsed: float,
    cpu: dict[str, float],
    relay_seconds: float,
) -> Figures:
    tenth = max(1, len(seconds) // 10)
    first = per_call * tenth / sum(seconds[:tenth])
    last = per_call * tenth / sum(seconds[-tenth:])
    total = per_call * len(seconds)
    overall = total / elapsed
    server_ms = {name: percent * elapsed * 10.0 / total for name, percent in cpu.items()}
    rows = [
        Row(
            backend,
            "import rows/s overall",
            "rows/s",
            overall,
            "target",
            IMPORT_TARGET,
            "ratio>=",
            1.0,
        ),
        Row(
            backend,
            "import rows/s first 10%",
            "rows/s",
            first,
            "target",
            IMPORT_TARGET,
            "ratio>=",
            1.0,
        ),
        # No slowdown: the last tenth at least as fast as the first (10% noise allowed).
        Row(
            backend,
            "import rows/s last 10%",
            "rows/s",
            last,
            "import first 10%",
            first,
            "ratio>=",
            0.9,
        ),
    ]
    details = {
        "rows": total,
        "calls": len(seconds),
        "rows_per_call": per_call,
        "call_seconds": seconds,
        "call_rates": [per_call / s for s in seconds],
        "seconds": elapsed,
        "relay_all_events_published_after_seconds": relay_seconds,
        "cpu_percent": cpu,
        "cpu_ms_per_row": server_ms,
    }
    return Figures(rows, {"import": details})


# ------------------------------------------------------------------ replay


def contact_events(count: int, seed: int = 7) -> Iterator[tuple[str, bytes, str]]:
    """(subject, body, id) of `count` sealed contact events, made as they are taken:
    mostly creations, the rest updates of people created earlier, each a version
    above their last."""
    rng = random.Random(seed)
    versions: dict[str, int] = {}
    people: list[str] = []
    now = datetime.now(UTC)
    for number in range(count):
        if people and rng.random() < UPDATED_SHARE:
            person_id = rng.choice(people)
            versions[person_id] += 1
            event = _person_event("contact.updated", person_id, versions[person_id], number)
        else:
            person_id = uuid.uuid4().hex
            people.append(person_id)
            versions[person_id] = 1
            event = _person_event("contact.created", person_id, 1, number)
        envelope = seal(event, "contacts", now)
        yield subject_for("contacts", event.type), envelope.SerializeToString(), envelope.id


def _person_event(kind: str, person_id: str, version: int, number: int) -> OutgoingEvent:
    person = person_pb2.Person(
        name=f"people/{person_id}",
        given_name="Ada",
        family_name=f"Replay {number}",
        display_name=f"Ada Replay {number}",
        email_addresses=[
            person_pb2.EmailAddress(address=f"ada-{person_id[:12]}-{version}@example.com")
        ],
        phone_numbers=[person_pb2.PhoneNumber(number="+44 20 7946 0000")],
        tags=["bench"],
        etag=f"W/{version}",
    )
    person.create_time.GetCurrentTime()
    person.update_time.CopyFrom(person.create_time)
    payload = (
        events_pb2.PersonCreated(person=person)
        if kind == "contact.created"
        else events_pb2.PersonUpdated(
            person=person, changed_fields=["family_name", "email_addresses"]
        )
    )
    return OutgoingEvent(
        type=kind,
        aggregate_type="person",
        aggregate_id=person_id,
        aggregate_version=version,
        payload=payload,
    )


def _counting_created(
    events: Iterable[tuple[str, bytes, str]], created: list[int]
) -> Iterator[tuple[str, bytes, str]]:
    """The events as they are; `created[0]` counts those that create a person."""
    for event in events:
        created[0] += event[0].endswith(".contact.created")
        yield event


async def raw_drain(js: JetStreamContext, last_sequence: int) -> float:
    """Seconds for a pull consumer to read the stream to `last_sequence`, nothing applied."""
    started = time.perf_counter()
    read = 0
    async for batch in replay.read_history(js, "contacts", last_sequence):
        read += len(batch)
    if read != last_sequence:
        raise RuntimeError(f"drained {read} of {last_sequence} messages")
    return time.perf_counter() - started


async def replay_figures(
    backend: str, databases: Databases, folder: Path, count: int, postgres_pid: int | None = None
) -> Figures:
    """Starts nats-server, publishes `count` contact events, rebuilds support's customers."""
    url = databases.new("replay")
    await upgrade_to_head(url, SUPPORT.migrations)
    engine = create_engine(url)
    sessions = session_factory(engine)
    with contextlib.ExitStack() as stack:
        nats = start_nats(stack, folder / "replay-nats")
        client = await connect(nats.url, "bench-replay")
        try:
            js = client.jetstream()
            await ensure_stream(js, event_stream_config("contacts", 1))
            created = [0]
            publish_seconds = await publish_windowed(
                js, _counting_created(contact_events(count), created), ack_wait=30.0
            )
            people = created[0]
            say(f"{backend}: published at {count / publish_seconds:.0f}/s; raw drain")
            last = (await js.stream_info(stream_for("contacts"))).state.last_seq
            if last != count:
                raise RuntimeError(f"the stream holds {last} of the {count} events published")
            drain_seconds = await raw_drain(js, last)
            groups = {"client": one(os.getpid()), "nats-server": one(nats.pid)}
            if postgres_pid is not None:
                groups["postgres"] = with_children(postgres_pid)
            meter = CpuMeter(groups)
            before = meter.snapshot()
            say(f"{backend}: drained at {last / drain_seconds:.0f}/s; rebuilding")
            report = await replay.rebuild(
                js, "support", CUSTOMERS, lambda: UnitOfWork(sessions, "support")
            )
            cpu = CpuMeter.percent(before, meter.snapshot(), report.seconds)
        finally:
            await client.close()
    async with sessions() as session:
        stored = await session.scalar(select(func.count()).select_from(customers))
    await engine.dispose()
    if report.applied != count or stored != people:
        raise RuntimeError(
            f"rebuild applied {report.applied} of {count}, {stored} of {people} customers"
        )
    return _replay_result(backend, report, last / drain_seconds, count / publish_seconds, cpu)


def _replay_result(
    backend: str,
    report: replay.RebuildReport,
    drain_rate: float,
    publish_rate: float,
    cpu: dict[str, float],
) -> Figures:
    rows = [
        Row(
            backend,
            "replay events/s (rebuild support customers)",
            "events/s",
            report.rate,
            "target",
            REPLAY_TARGET,
            "ratio>=",
            1.0,
        ),
        Row(
            backend,
            "replay vs raw pull drain",
            "events/s",
            report.rate,
            "raw pull drain",
            drain_rate,
        ),
    ]
    tenth = max(1, len(report.rates) // 10)
    details = {
        "events": report.messages,
        "applied": report.applied,
        "batches": report.batches,
        "batch_size": replay.BATCH_SIZE,
        "seconds": report.seconds,
        "rate": report.rate,
        "first_10pct_batch_rate": _mean(report.rates[:tenth]),
        "last_10pct_batch_rate": _mean(report.rates[-tenth:]),
        "raw_drain_rate": drain_rate,
        "publish_rate": publish_rate,
        "cpu_percent": cpu,
        "cpu_ms_per_event": {
            name: p * report.seconds * 10.0 / report.messages for name, p in cpu.items()
        },
    }
    return Figures(rows, {"replay": details})


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else math.nan


# ------------------------------------------------------------------ alone


async def _backend_figures(
    backend: str, folder: Path, postgres: PostgresServer | None, count: int, which: str
) -> Figures:
    databases = Databases(backend, folder / "sqlite", postgres)
    (folder / "sqlite").mkdir(parents=True, exist_ok=True)
    pid = postgres.pid if postgres is not None else None
    result = Figures()
    steps: list[tuple[str, Callable[..., Any]]] = [
        ("import", import_figures),
        ("replay", replay_figures),
    ]
    for name, figures in steps:
        if which in (name, "both"):
            say(f"{backend}: {name} of {count}")
            found = await figures(backend, databases, folder / name, count, pid)
            result.rows += found.rows
            result.details.update(found.details)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.import_replay", description=__doc__)
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_COUNT} rows and events")
    parser.add_argument("--count", type=int, help=f"rows and events (default {FULL_COUNT})")
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="postgresql")
    parser.add_argument("--only", choices=["import", "replay", "both"], default="both")
    parser.add_argument("--keep", action="store_true", help="keep logs and databases")
    args = parser.parse_args(argv)
    count = args.count or (QUICK_COUNT if args.quick else FULL_COUNT)
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    rows: list[Row] = []
    details: dict[str, Any] = {}
    with (
        scratch_folder("crm-import-replay-", args.keep, say) as folder,
        contextlib.ExitStack() as stack,
    ):
        postgres = start_postgres(stack, folder / "postgres") if "postgresql" in backends else None
        for backend in backends:
            found = asyncio.run(
                _backend_figures(backend, folder / backend, postgres, count, args.only)
            )
            rows += found.rows
            details[backend] = found.details
    print(table(rows))
    for backend, found in details.items():
        for name, values in found.items():
            print(
                f"{backend} {name}: "
                + ", ".join(
                    f"{k}={_short(v)}"
                    for k, v in values.items()
                    if "seconds" not in k or k.startswith("relay") or k == "seconds"
                )
            )
    return 0


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_short(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return f"[{len(value)} values]"
    return str(value)


if __name__ == "__main__":
    sys.exit(main())
