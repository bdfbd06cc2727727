"""`python -m bench.scale_suite [--quick] [--sizes N,N] [--keep]`: the queries at scale.

The issue's figure: at 1,000,000 rows in PostgreSQL, the filtered list,
search, agent queue, board and forecast queries within p99 20 ms (forecast and
funnel 50 ms), using indexes, and how p99 changes from 10,000 rows up.

For each service (contacts: people; support: tickets; sales: deals;
projects: tasks, 20 a project) and each size, `bench.<service>_scale` seeds a
fresh database on one PostgreSQL (COPY, indexes rebuilt), starts the service
on a fresh nats-server, makes the judged calls, EXPLAINs their statements and
stops everything it started; the database is dropped afterwards. The rows:

- per judged figure, p99 at the largest size against its target, with p99 at
  the smallest size as the baseline (the ratio is the growth);
- per judged figure with plans, the Seq Scans on the seeded tables (those
  whose rows grow with the size) in its statements' plans at the largest size,
  target 0, naming the scan node types the plans hold.

The table goes to stdout, progress to stderr, the rows with every run's
samples, plans and index checks to bench/scale_results.json.
"""

import argparse
import contextlib
import math
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import contacts_scale, projects_scale, report, sales_scale, support_scale
from bench.machine import machine
from bench.processes import scratch_folder, start_nats, start_postgres
from bench.report import CpuLine, Row
from bench.scale import ScaleRun, Servers, interrupt, sayer
from crm_cli.servers import PostgresServer

RESULTS = Path(__file__).parent / "scale_results.json"
FULL_SIZES = (10_000, 1_000_000)
QUICK_SIZES = (10_000, 50_000)
# The index check's unit: what a row counts (the roll-ups and definitions may be read whole).
SEQ_SCANS = "seeded-table seq scans"

say = sayer("scale")


@dataclass(frozen=True)
class Benchmark:
    service: str
    run: Callable[[Servers, int, Any], ScaleRun]
    full: Any
    quick: Any
    # What the size counts per unit `run` seeds (projects seed 20 tasks each).
    per_unit: int = 1


BENCHMARKS = (
    Benchmark(
        "contacts", contacts_scale.scale_run, contacts_scale.SUITE, contacts_scale.SUITE_QUICK
    ),
    Benchmark("support", support_scale.scale_run, support_scale.SUITE, support_scale.SUITE_QUICK),
    Benchmark("sales", sales_scale.scale_run, sales_scale.SUITE, sales_scale.SUITE_QUICK),
    Benchmark(
        "projects",
        projects_scale.scale_run,
        projects_scale.SUITE,
        projects_scale.SUITE_QUICK,
        projects_scale.TASKS_PER_PROJECT,
    ),
)


@dataclass
class ScaleResults:
    rows: list[Row] = field(default_factory=list)
    cpu: list[CpuLine] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


def scale_figures(
    postgres: PostgresServer,
    folder: Path,
    sizes: tuple[int, ...] = FULL_SIZES,
    quick: bool = False,
) -> ScaleResults:
    """Every service at every size on the running `postgres` (a fresh database
    each, dropped afterwards); scratch files and logs go under `folder`."""
    results = ScaleResults(details={"sizes": sorted(sizes), "quick": quick, "services": {}})
    for benchmark in BENCHMARKS:
        runs = [_run(benchmark, postgres, folder, size, quick) for size in sorted(sizes)]
        results.rows += rows_for(runs)
        largest = runs[-1]
        results.cpu += [
            CpuLine(line.backend, f"{_scope(largest)}: {line.load_name}", line.load)
            for line in largest.cpu_lines()
        ]
        results.details["services"][benchmark.service] = [run.as_json() for run in runs]
    return results


def _run(
    benchmark: Benchmark, postgres: PostgresServer, folder: Path, size: int, quick: bool
) -> ScaleRun:
    """One service at one size, on a nats-server of its own: the services' durable
    consumers would otherwise find the events of the runs before."""
    say(f"{benchmark.service}: {size:,} rows")
    place = folder / f"{benchmark.service}-{size}"
    with contextlib.ExitStack() as stack:
        servers = Servers(postgres, start_nats(stack, place / "nats"), place)
        stack.callback(servers.drop_databases)
        counts = benchmark.quick if quick else benchmark.full
        return benchmark.run(servers, size // benchmark.per_unit, counts)


def _short(size: int) -> str:
    if size % 1_000_000 == 0:
        return f"{size // 1_000_000}M"
    if size % 1_000 == 0:
        return f"{size // 1_000}k"
    return f"{size:,}"


def _scope(run: ScaleRun) -> str:
    return f"{run.service} {_short(run.size)} {run.unit}"


def rows_for(runs: list[ScaleRun]) -> list[Row]:
    """p99 of each judged figure at each larger size against the smallest (judged
    at the largest), then the index check of its plans at the largest."""
    smallest, largest = runs[0], runs[-1]
    rows = []
    for name, target in largest.targets.items():
        baseline = smallest.loads.get(name)
        for run in runs[1:] or runs:
            judged = run is largest
            rows.append(
                Row(
                    "postgresql",
                    f"{_scope(run)}: {name} p99",
                    "ms",
                    run.loads[name].latencies.p99,
                    f"{_short(smallest.size)} {smallest.unit}",
                    baseline.latencies.p99 if baseline and run is not smallest else math.nan,
                    "max" if judged else "",
                    target if judged else math.nan,
                )
            )
    checks = largest.index_checks()
    for name in largest.targets:
        check = checks.get(name)
        if check is None:
            continue
        rows.append(
            Row(
                "postgresql",
                f"{_scope(largest)}: {name} plan: {', '.join(check.node_types) or 'no scans'}",
                SEQ_SCANS,
                float(len(check.seq_scans)),
                "",
                math.nan,
                "max",
                0.0,
            )
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale_suite", description=__doc__)
    parser.add_argument("--quick", action="store_true", help=f"sizes {QUICK_SIZES} and fewer calls")
    parser.add_argument(
        "--sizes",
        type=lambda text: tuple(int(size) for size in text.split(",")),
        help=f"comma-separated row counts (default {FULL_SIZES}, --quick {QUICK_SIZES})",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)
    sizes = args.sizes or (QUICK_SIZES if args.quick else FULL_SIZES)
    signal.signal(signal.SIGTERM, interrupt)
    meta = machine(["postgresql"], args.quick, SuiteCounts(sizes))
    say(f"sizes {', '.join(f'{size:,}' for size in sizes)} on {meta['nproc']} cores")
    try:
        with (
            scratch_folder("crm-scale-suite-", args.keep, say) as folder,
            contextlib.ExitStack() as stack,
        ):
            say("starting PostgreSQL")
            postgres = start_postgres(stack, folder / "postgres")
            results = scale_figures(postgres, folder, sizes, args.quick)
    except KeyboardInterrupt:
        say("interrupted; everything started was stopped")
        return 130
    meta["load_average_at_end"] = [round(value, 2) for value in os.getloadavg()]
    print(report.table(results.rows))
    print()
    print("CPU while each load ran at the largest size (% of one core):")
    print(report.cpu_table(results.cpu, ("client", "server", "nats-server", "postgres")))
    busy = report.disturbed(results.cpu)
    if busy:
        print(
            "warning: other processes on this machine used more than "
            f"{report.NOISE_PERCENT:g}% of a core during: {', '.join(busy)}; "
            "those figures are skewed"
        )
    loads = (meta["load_average_at_start"], meta["load_average_at_end"])
    print(f"note: load averages (1, 5, 15 min) at start {loads[0]}, at end {loads[1]}")
    report.write_json(RESULTS, results.rows, results.cpu, results.details, meta)
    say(f"written to {RESULTS}")
    return 0


@dataclass(frozen=True)
class SuiteCounts:
    """What the run's metadata records as its counts."""

    sizes: tuple[int, ...]


if __name__ == "__main__":
    sys.exit(main())
