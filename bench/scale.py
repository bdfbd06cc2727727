"""What the `*_scale` benchmarks share: the servers a run uses, bulk loading rows
through COPY with the secondary indexes rebuilt afterwards, starting a service
as its own process, EXPLAIN of the statements the service's code sends, and
printing the figures with CPU and plans.

Each benchmark builds its rows with the service's own domain and row
functions; this module only moves them into PostgreSQL and reports. Each one
exposes `scale_run(servers, size, counts) -> ScaleRun`: seed a fresh database
on running servers, measure through gRPC, explain, stop what it started. Its
`python -m` entry point and `bench.scale_suite` both call that.
"""

import contextlib
import json
import math
import os
import re
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import asyncpg
from sqlalchemy import JSON, Table, event
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.load import Load
from bench.processes import (
    AUTH_ENVIRONMENT,
    _stop_quietly,
    scratch_folder,
    start_nats,
    start_postgres,
)
from bench.report import CPU_GROUPS, NOISE_PERCENT, CpuLine, Row, cpu_table, disturbed
from crm_cli.processes import ServiceProcess
from crm_cli.servers import LOOPBACK, NatsServer, PostgresServer, free_port

# Indexes that no constraint owns: dropped for a bulk load, rebuilt after it.
SECONDARY_INDEXES = """
SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS definition
FROM pg_index AS i
WHERE i.indrelid = ANY($1::regclass[])
  AND NOT EXISTS (SELECT FROM pg_constraint AS c WHERE c.conindid = i.indexrelid)
ORDER BY 1
"""

Say = Callable[[str], None]


def sayer(name: str) -> Say:
    """Progress to stderr, with the time and the load average (other work skews figures)."""

    def say(message: str) -> None:
        load = " ".join(f"{value:.2f}" for value in os.getloadavg())
        print(f"[{name} {time.strftime('%H:%M:%S')} load {load}] {message}", file=sys.stderr)
        sys.stderr.flush()

    return say


# ------------------------------------------------------------------ servers


@dataclass(frozen=True)
class Database:
    name: str
    url: str  # SQLAlchemy (asyncpg) URL, for the service and the handlers
    dsn: str  # plain asyncpg DSN, for COPY


@dataclass
class Servers:
    """The running PostgreSQL and nats-server a scale run seeds and measures on,
    and a folder for its services' logs. Each run takes fresh databases."""

    postgres: PostgresServer
    nats: NatsServer
    folder: Path
    created: list[str] = field(default_factory=list)

    def database(self, purpose: str) -> Database:
        name = f"{purpose}_{len(self.created) + 1}"
        url = self.postgres.create_database(name)
        self.created.append(name)
        return Database(name, url, f"{self.postgres.dsn}/{name}")

    def logs(self, run: str) -> Path:
        return self.folder / "logs" / run

    def drop_databases(self) -> None:
        """Frees the disk a run's databases took (a 1M-row one is 1-2 GB)."""
        while self.created:
            self.postgres.drop_database(self.created.pop())


def run_alone(
    prefix: str, keep: bool, say: Say, measure: Callable[[Servers], "ScaleRun"]
) -> "ScaleRun":
    """One scale run with its own PostgreSQL and nats-server in a temporary folder,
    all stopped afterwards; the folder is kept with `keep` or when the run fails."""
    with (
        scratch_folder(f"crm-{prefix}-scale-", keep, say) as folder,
        contextlib.ExitStack() as stack,
    ):
        say("starting PostgreSQL and nats-server")
        postgres = start_postgres(stack, folder / "postgres")
        nats = start_nats(stack, folder / "nats")
        return measure(Servers(postgres, nats, folder))


def start_service(
    stack: contextlib.ExitStack,
    service: str,
    url: str,
    nats_url: str,
    logs: Path,
    environment: dict[str, str] | None = None,
) -> ServiceProcess:
    """The service as its own process on a free port, its database migrated beforehand."""
    process = ServiceProcess(
        service,
        f"{LOOPBACK}:{free_port()}",
        {
            f"CRM_{service.upper()}_DATABASE_URL": url,
            "CRM_NATS_URL": nats_url,
            f"CRM_{service.upper()}_MIGRATE_ON_START": "false",
            **AUTH_ENVIRONMENT,
            **(environment or {}),
        },
        logs / f"{service}.log",
    )
    stack.callback(_stop_quietly, service, process.stop)
    process.start()
    return process


def interrupt(signum: int, frame: FrameType | None) -> None:
    """SIGTERM gets Ctrl-C's treatment, so every `finally` stops what it started."""
    raise KeyboardInterrupt


# ------------------------------------------------------------------ seeding


def columns(table_: Table) -> list[str]:
    return [column.name for column in table_.columns]


def record(table_: Table, row: dict[str, Any]) -> tuple[Any, ...]:
    """A row dict as the repository writes it, in column order for COPY (JSON as text)."""
    json_columns = {c.name for c in table_.columns if isinstance(c.type, JSON)}
    return tuple(
        json.dumps(row[name]) if name in json_columns and row[name] is not None else row[name]
        for name in columns(table_)
    )


async def drop_secondary_indexes(
    connection: asyncpg.Connection, tables: Sequence[str]
) -> list[asyncpg.Record]:
    """Drops the tables' secondary indexes; returns their definitions for `finish_load`."""
    indexes = await connection.fetch(SECONDARY_INDEXES, list(tables))
    for index in indexes:
        await connection.execute(f"DROP INDEX {index['name']}")
    return indexes


async def copy_rows(
    connection: asyncpg.Connection, tables: Sequence[Table], rows: dict[str, list[tuple[Any, ...]]]
) -> int:
    """COPYs one batch (table name -> records) in one transaction; returns the row count."""
    written = 0
    async with connection.transaction():
        for table_ in tables:
            records = rows.get(table_.name, [])
            if records:
                await connection.copy_records_to_table(
                    table_.name, records=records, columns=columns(table_)
                )
            written += len(records)
    return written


async def finish_load(
    connection: asyncpg.Connection,
    tables: Sequence[str],
    indexes: Sequence[asyncpg.Record],
    seconds: dict[str, float],
    say: Say,
) -> None:
    """Rebuilds the dropped indexes, VACUUM ANALYZE, CHECKPOINT; timings into `seconds`."""
    began = time.perf_counter()
    await connection.execute("SET maintenance_work_mem = '512MB'")
    for index in indexes:
        await connection.execute(index["definition"])
    seconds["indexes"] = time.perf_counter() - began
    say(f"rebuilt {len(indexes)} indexes in {seconds['indexes']:.0f} s")
    began = time.perf_counter()
    await connection.execute(f"VACUUM (ANALYZE) {', '.join(tables)}")
    await connection.execute("CHECKPOINT")
    seconds["vacuum_analyze"] = time.perf_counter() - began
    say(f"VACUUM ANALYZE and CHECKPOINT in {seconds['vacuum_analyze']:.0f} s")


async def table_figures(
    connection: asyncpg.Connection, tables: Sequence[str]
) -> tuple[dict[str, int], dict[str, int]]:
    """Rows and total size (with indexes) per table, and the database's size."""
    counts, sizes = {}, {}
    for name in tables:
        counts[name] = await connection.fetchval(
            f"SELECT count(*) FROM {name}"  # noqa: S608 (names from the schema)
        )
        sizes[name] = await connection.fetchval("SELECT pg_total_relation_size($1::regclass)", name)
    sizes["database"] = await connection.fetchval("SELECT pg_database_size(current_database())")
    return counts, sizes


# ------------------------------------------------------------------ plans

# Plan nodes that scan something.
SCAN_NODES = re.compile(r"Scan$")


@dataclass
class Plan:
    """EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) of one statement a figure's calls send."""

    label: str
    # The figure (load name) whose calls send this statement.
    figure: str
    sql: str
    # The one element of the JSON EXPLAIN gives: "Plan", "Execution Time", ...
    document: dict[str, Any]

    def nodes(self) -> Iterator[dict[str, Any]]:
        pending = [self.document["Plan"]]
        while pending:
            node = pending.pop(0)
            yield node
            pending += node.get("Plans", [])

    @property
    def execution_ms(self) -> float:
        return float(self.document.get("Execution Time", math.nan))

    @property
    def scans(self) -> list[str]:
        """Each scan as `type on relation using index`, in plan order, without repeats."""
        found = []
        for node in self.nodes():
            if SCAN_NODES.search(node["Node Type"]):
                text = node["Node Type"]
                if "Relation Name" in node:
                    text += f" on {node['Relation Name']}"
                if "Index Name" in node:
                    text += f" using {node['Index Name']}"
                found.append(text)
        return list(dict.fromkeys(found))

    @property
    def indexes(self) -> list[str]:
        return list(dict.fromkeys(n["Index Name"] for n in self.nodes() if "Index Name" in n))

    @property
    def seq_scans(self) -> list[str]:
        return list(
            dict.fromkeys(n["Relation Name"] for n in self.nodes() if n["Node Type"] == "Seq Scan")
        )

    @property
    def table(self) -> str:
        """The first table the statement reads, to tell one handler's statements apart."""
        found = re.search(r"\bFROM (\w+)", self.sql)
        return found.group(1) if found else "?"

    @property
    def buffers(self) -> str:
        """The top node's buffer use: everything the statement touched."""
        top = self.document["Plan"]
        parts = [
            f"{kind} {top.get(f'Shared {key} Blocks', 0)}"
            for kind, key in (("hit", "Hit"), ("read", "Read"))
            if top.get(f"Shared {key} Blocks")
        ]
        return ", ".join(parts)

    def as_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "figure": self.figure,
            "table": self.table,
            "execution_ms": self.execution_ms,
            "scans": self.scans,
            "indexes": self.indexes,
            "seq_scans": self.seq_scans,
            "buffers": self.buffers,
            "sql": self.sql,
            "plan": self.document,
        }


class PlanRecorder:
    """EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) of the SELECTs the service's own code
    sends, while armed.

    Hooked before each statement on the connection: it runs the same SQL with
    the same bound parameters under EXPLAIN first, so the plans are those of
    exactly what the repository and search code generate.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self.plans: list[Plan] = []
        self._label: str | None = None
        self._figure = ""
        event.listen(engine.sync_engine, "before_cursor_execute", self._before)

    def _before(
        self,
        conn: Any,
        cursor: Any,
        statement: str,
        parameters: Any,
        context: Any,
        executemany: bool,
    ) -> None:
        if self._label is None or executemany:
            return
        if not statement.lstrip().upper().startswith(("SELECT", "WITH")):
            return
        explain = conn.connection.cursor()
        try:
            explain.execute(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {statement}", parameters)
            (output,) = explain.fetchone()
        finally:
            explain.close()
        document = json.loads(output) if isinstance(output, str) else output
        self.plans.append(Plan(self._label, self._figure, statement, document[0]))

    @contextlib.contextmanager
    def recording(self, label: str, figure: str | None = None) -> Iterator[None]:
        """Plans of the statements sent meanwhile, for `figure` (default: the label)."""
        self._label, self._figure = label, figure or label
        try:
            yield
        finally:
            self._label = None


def plan_summary(plans: list[Plan]) -> str:
    lines = []
    for plan in plans:
        lines.append(f"{plan.label} [FROM {plan.table}]")
        lines.append(
            f"    {plan.execution_ms:.2f} ms; scans: {'; '.join(plan.scans) or '-'}; "
            f"buffers: {plan.buffers or '-'}"
        )
    return "\n".join(lines)


@dataclass(frozen=True)
class IndexCheck:
    """Whether a figure's statements read the seeded (size-proportional) tables
    through indexes only: no Seq Scan on any of them."""

    figure: str
    statements: int
    node_types: list[str]
    seq_scans: list[str]  # seeded tables read by a Seq Scan
    other_seq_scans: list[str]  # small tables (definitions, roll-ups) read whole

    @property
    def met(self) -> bool:
        return self.statements > 0 and not self.seq_scans

    def as_json(self) -> dict[str, Any]:
        return {
            "figure": self.figure,
            "statements": self.statements,
            "node_types": self.node_types,
            "seq_scans_on_seeded_tables": self.seq_scans,
            "seq_scans_on_other_tables": self.other_seq_scans,
            "uses_indexes": self.met,
        }


def index_check(figure: str, plans: Sequence[Plan], seeded: Sequence[str]) -> IndexCheck:
    mine = [plan for plan in plans if plan.figure == figure]
    # The nodes that read a table or an index (not CTE or subquery scans), a
    # Seq Scan with its table.
    types = [
        f"Seq Scan on {node['Relation Name']}"
        if node["Node Type"] == "Seq Scan"
        else node["Node Type"]
        for plan in mine
        for node in plan.nodes()
        if "Relation Name" in node or "Index Name" in node
    ]
    whole = list(dict.fromkeys(table for plan in mine for table in plan.seq_scans))
    return IndexCheck(
        figure,
        len(mine),
        list(dict.fromkeys(types)),
        [table for table in whole if table in seeded],
        [table for table in whole if table not in seeded],
    )


# ------------------------------------------------------------------ a run's results


@dataclass
class ScaleRun:
    """What one scale run measured: its rows for the table, the loads, their
    targets, the plans, and what went into the JSON."""

    service: str
    # How many of what the issue counts the run seeded (people, tickets, deals, tasks).
    size: int
    unit: str
    rows: list[Row]
    loads: dict[str, Load]
    # Load name -> p99 target in ms, for the figures the issue judges.
    targets: dict[str, float]
    plans: list[Plan]
    # The tables whose rows grow with the size: a Seq Scan on one misses the point.
    seeded_tables: tuple[str, ...]
    notes: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    cpu_groups: tuple[str, ...] = CPU_GROUPS

    def index_checks(self) -> dict[str, IndexCheck]:
        return {
            figure: index_check(figure, self.plans, self.seeded_tables)
            for figure in self.loads
            if any(plan.figure == figure for plan in self.plans)
        }

    def cpu_lines(self) -> list[CpuLine]:
        return [CpuLine("postgresql", name, load) for name, load in self.loads.items() if load.cpu]

    def as_json(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "size": self.size,
            "unit": self.unit,
            "rows": [row.as_json() for row in self.rows],
            "cpu": [line.as_json() for line in self.cpu_lines()],
            **self.details,
            "latencies_ms": {name: load.latencies.ms for name, load in self.loads.items()},
            "index_checks": [check.as_json() for check in self.index_checks().values()],
            "plans": [plan.as_json() for plan in self.plans],
        }


def info(figure: str, unit: str, value: float) -> Row:
    return Row("postgresql", figure, unit, value, "", math.nan)


def latency_rows(name: str, load: Load, target_p99_ms: float | None) -> list[Row]:
    """p50 (informational) and p99 (judged against the target when there is one)."""
    judged = target_p99_ms is not None
    return [
        info(f"{name} p50", "ms", load.latencies.p50),
        Row(
            "postgresql",
            f"{name} p99",
            "ms",
            load.latencies.p99,
            "",
            math.nan,
            "max" if judged else "",
            target_p99_ms if judged else math.nan,
        ),
    ]


def mb(size: int) -> str:
    return f"{size / 1024 / 1024:,.0f} MB"


def table(rows: list[Row]) -> str:
    cells = [
        (
            row.figure,
            f"{row.value:.2f} {row.unit}" if row.unit == "ms" else f"{row.value:,.0f} {row.unit}",
            row.target or "-",
            {True: "yes", False: "NO", None: "-"}[row.met],
        )
        for row in rows
    ]
    header = ("figure", "value", "target", "met")
    widths = [max(len(line[i]) for line in [header, *cells]) for i in range(len(header))]

    def render(line: tuple[str, ...]) -> str:
        return " | ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True))

    rule = "-+-".join("-" * width for width in widths)
    return "\n".join([render(header), rule, *(render(line).rstrip() for line in cells)])


def found_note(name: str, found: Sequence[int], what: str) -> str:
    return (
        f"note: {name} returned {min(found)}-{max(found)} {what} "
        f"(mean {sum(found) / len(found):.1f})"
    )


def sizes_note(count: int, what: str, sizes: dict[str, int], seconds: dict[str, float]) -> str:
    listed = ", ".join(f"{name} {mb(size)}" for name, size in sizes.items())
    return (
        f"note: {count:,} {what}; sizes with indexes: {listed}\n"
        f"note: seeding {seconds['load']:.0f} s load, {seconds['indexes']:.0f} s indexes, "
        f"{seconds['vacuum_analyze']:.0f} s VACUUM ANALYZE"
    )


def report(run: ScaleRun, meta: dict[str, Any], path: Path, say: Say) -> None:
    """The figures table, CPU per process (with a warning for disturbed loads), the
    plans and the notes on stdout; the same and the raw samples into `path`."""
    meta["load_average_at_end"] = [round(value, 2) for value in os.getloadavg()]
    print(table(run.rows))
    print()
    print("CPU while each load ran (% of one core; this machine has", meta["nproc"], "cores):")
    cpu_lines = run.cpu_lines()
    print(cpu_table(cpu_lines, run.cpu_groups))
    busy = disturbed(cpu_lines)
    if busy:
        print(
            "warning: other processes on this machine used more than "
            f"{NOISE_PERCENT:g}% of a core during: {', '.join(busy)}; those figures are skewed"
        )
    print()
    print("EXPLAIN (ANALYZE, BUFFERS) of the statements the service's code sends:")
    print(plan_summary(run.plans))
    print()
    for note in run.notes:
        print(note)
    loads = (meta["load_average_at_start"], meta["load_average_at_end"])
    print(f"note: load averages (1, 5, 15 min) at start {loads[0]}, at end {loads[1]}")
    path.write_text(json.dumps({"meta": meta, **run.as_json()}, indent=2, default=str) + "\n")
    say(f"written to {path}")
