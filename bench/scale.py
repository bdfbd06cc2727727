"""What the `*_scale` benchmarks share: bulk loading rows through COPY with the
secondary indexes rebuilt afterwards, starting a service as its own process,
judged and informational rows, and printing the figures with CPU and plans.

Each benchmark builds its rows with the service's own domain and row
functions; this module only moves them into PostgreSQL and reports.
"""

import contextlib
import json
import math
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

import asyncpg
from sqlalchemy import JSON, Table

from bench.contacts_scale import Plan, mb, plan_summary, table
from bench.load import Load
from bench.processes import AUTH_ENVIRONMENT, _stop_quietly
from bench.report import CPU_GROUPS, NOISE_PERCENT, CpuLine, Row, cpu_table, disturbed
from crm_cli.processes import ServiceProcess
from crm_cli.servers import LOOPBACK, free_port

# Indexes that no constraint owns: dropped for a bulk load, rebuilt after it.
SECONDARY_INDEXES = """
SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS definition
FROM pg_index AS i
WHERE i.indrelid = ANY($1::regclass[])
  AND NOT EXISTS (SELECT FROM pg_constraint AS c WHERE c.conindid = i.indexrelid)
ORDER BY 1
"""

Say = Callable[[str], None]


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
    """Drops the tables' secondary indexes; returns their definitions for `rebuild_indexes`."""
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


def print_figures(
    rows: list[Row],
    loads: dict[str, Load],
    plans: list[Plan],
    meta: dict[str, Any],
    groups: tuple[str, ...] = CPU_GROUPS,
) -> list[CpuLine]:
    """The figures table, CPU per process (with a warning for disturbed loads) and
    the plans; returns the CPU lines for the JSON results."""
    meta["load_average_at_end"] = [round(value, 2) for value in os.getloadavg()]
    print(table(rows))
    print()
    print("CPU while each load ran (% of one core; this machine has", meta["nproc"], "cores):")
    cpu_lines = [CpuLine("postgresql", name, load) for name, load in loads.items() if load.cpu]
    print(cpu_table(cpu_lines, groups))
    busy = disturbed(cpu_lines)
    if busy:
        print(
            "warning: other processes on this machine used more than "
            f"{NOISE_PERCENT:g}% of a core during: {', '.join(busy)}; those figures are skewed"
        )
    print()
    print("EXPLAIN (ANALYZE, BUFFERS) of the statements the service's code sends:")
    print(plan_summary(plans))
    print()
    return cpu_lines


def sizes_note(count: int, what: str, sizes: dict[str, int], seconds: dict[str, float]) -> str:
    listed = ", ".join(f"{name} {mb(size)}" for name, size in sizes.items())
    return (
        f"note: {count:,} {what}; sizes with indexes: {listed}\n"
        f"note: seeding {seconds['load']:.0f} s load, {seconds['indexes']:.0f} s indexes, "
        f"{seconds['vacuum_analyze']:.0f} s VACUUM ANALYZE"
    )


def load_average_note(meta: dict[str, Any]) -> str:
    loads = (meta["load_average_at_start"], meta["load_average_at_end"])
    return f"note: load averages (1, 5, 15 min) at start {loads[0]}, at end {loads[1]}"


def write_results(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")
