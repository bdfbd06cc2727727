"""Figures into rows: value, baseline, ratio, target; printed as one table and as JSON."""

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.cpu import MACHINE
from bench.figures import (
    LOADED_PROPAGATION_TIMEOUT,
    WINDOW,
    BrokerFigures,
    EchoMemory,
    Memory,
    Propagation,
    ServiceFigures,
)
from bench.load import Latencies, Load

# From the project's performance issue. Writes and gets are judged at
# concurrency 32 (the "writes at concurrency 32"; gets read the same way).
JUDGED_CONCURRENCY = 32
WRITE_RATIO = {"sqlite": 0.5, "postgresql": 0.35}
GET_RATIO = 0.7
PROPAGATION_P50_MS = 3.0
PROPAGATION_P99_MS = 20.0
LOADED_PROPAGATION_P99_MS = 100.0
RELAY_RATIO = 0.5
RSS_IDLE_MB = 150.0
RSS_LOADED_MB = 300.0
# Other processes' CPU (percent of one core) beyond which a load is reported as disturbed.
NOISE_PERCENT = 25.0


@dataclass(frozen=True)
class Row:
    backend: str
    figure: str
    unit: str
    value: float
    baseline_name: str
    baseline: float
    # "ratio>=" (value/baseline at least threshold), "max" (value at most threshold) or "".
    target_kind: str = ""
    threshold: float = math.nan

    @property
    def ratio(self) -> float:
        return self.value / self.baseline if self.baseline else math.nan

    @property
    def target(self) -> str:
        if self.target_kind == "ratio>=":
            return f">= {self.threshold:g}x"
        if self.target_kind == "max":
            return f"<= {self.threshold:g} {self.unit}"
        return ""

    @property
    def met(self) -> bool | None:
        if self.target_kind == "ratio>=":
            return self.ratio >= self.threshold
        if self.target_kind == "max":
            return self.value <= self.threshold
        return None

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("target_kind")
        data.pop("threshold")
        data.update(ratio=self.ratio, target=self.target or None, met=self.met)
        return {key: (None if _is_nan(value) else value) for key, value in data.items()}


def _is_nan(value: object) -> bool:
    return isinstance(value, float) and math.isnan(value)


def entity_rows(backend: str, echo: dict[int, Load], services: ServiceFigures) -> list[Row]:
    """Create and Get of each entity at each concurrency, against echo at the same one."""
    rows: list[Row] = []
    for loads in services.entities:
        entity = loads.entity
        for method, by_concurrency, ratio in (
            (entity.create_method, loads.creates, WRITE_RATIO[backend]),
            (entity.get_method, loads.gets, GET_RATIO),
        ):
            for concurrency, load in by_concurrency.items():
                rows += _load_rows(
                    backend,
                    f"{method} c={concurrency}",
                    load,
                    f"echo c={concurrency}",
                    echo[concurrency],
                    ratio if concurrency == JUDGED_CONCURRENCY else None,
                )
    return rows


def _load_rows(
    backend: str, name: str, load: Load, echo_name: str, echo: Load, ratio: float | None
) -> list[Row]:
    judged = ratio is not None
    return [
        Row(
            backend,
            f"{name} calls/s",
            "calls/s",
            load.rate,
            echo_name,
            echo.rate,
            "ratio>=" if judged else "",
            ratio if ratio is not None else math.nan,
        ),
        Row(backend, f"{name} p50", "ms", load.latencies.p50, echo_name, echo.latencies.p50),
        Row(backend, f"{name} p99", "ms", load.latencies.p99, echo_name, echo.latencies.p99),
    ]


def propagation_rows(
    backend: str, echo: dict[int, Load], services: ServiceFigures, base: Latencies
) -> list[Row]:
    """Person -> support customer, idle and under the mixed write load."""
    delivery = "JetStream publish->fetch"
    idle, loaded = services.propagation, services.loaded_propagation
    background = services.background
    return [
        Row(
            backend,
            "propagation p50 (idle)",
            "ms",
            idle.total.p50,
            delivery,
            base.p50,
            "max",
            PROPAGATION_P50_MS,
        ),
        Row(
            backend,
            "propagation p99 (idle)",
            "ms",
            idle.total.p99,
            delivery,
            base.p99,
            "max",
            PROPAGATION_P99_MS,
        ),
        # Informational: the worst sample, and where the time goes (no targets).
        Row(backend, "propagation max (idle)", "ms", idle.total.max, delivery, base.max),
        *_leg_rows(backend, idle),
        Row(backend, "propagation p50 (under load)", "ms", loaded.total.p50, delivery, base.p50),
        Row(
            backend,
            "propagation p99 (under load)",
            "ms",
            loaded.total.p99,
            delivery,
            base.p99,
            "max",
            LOADED_PROPAGATION_P99_MS,
        ),
        Row(backend, "propagation max (under load)", "ms", loaded.total.max, delivery, base.max),
        Row(
            backend,
            f"  samples under load ({loaded.timed_out} cut off at "
            f"{LOADED_PROPAGATION_TIMEOUT:g} s, which ends sampling)",
            "samples",
            len(loaded.total.ms),
            "",
            math.nan,
        ),
        *_leg_rows(backend, loaded),
        Row(
            backend,
            f"  write load meanwhile (4 creates mixed, c={background.concurrency}) calls/s",
            "calls/s",
            background.rate,
            f"echo c={JUDGED_CONCURRENCY}",
            echo[JUDGED_CONCURRENCY].rate,
        ),
    ]


def _leg_rows(backend: str, propagation: Propagation) -> list[Row]:
    return [
        Row(backend, "  relay leg p50", "ms", propagation.to_broker.p50, "", math.nan),
        Row(backend, "  relay leg p99", "ms", propagation.to_broker.p99, "", math.nan),
        Row(backend, "  support leg p50", "ms", propagation.to_visible.p50, "", math.nan),
        Row(backend, "  support leg p99", "ms", propagation.to_visible.p99, "", math.nan),
    ]


def relay_rows(backend: str, broker: BrokerFigures) -> list[Row]:
    return [
        Row(
            backend,
            f"outbox relay events/s (in-process, median of {len(broker.relay_rates)})",
            "events/s",
            broker.relay_rate,
            f"raw JetStream, {WINDOW} in flight, median",
            broker.raw_rate,
            "ratio>=",
            RELAY_RATIO,
        ),
    ]


def memory_rows(backend: str, echo: EchoMemory, memory: Memory) -> list[Row]:
    """Each service's RSS idle and under load, beside the bare echo server's."""
    rows: list[Row] = []
    for service, idle in memory.idle.items():
        rows += [
            Row(
                backend,
                f"{service} RSS idle",
                "MB",
                idle,
                "echo server idle",
                echo.idle,
                "max",
                RSS_IDLE_MB,
            ),
            Row(
                backend,
                f"{service} RSS under load (largest)",
                "MB",
                memory.loaded[service],
                "echo server under load",
                echo.loaded,
                "max",
                RSS_LOADED_MB,
            ),
        ]
    return rows


def disturbed(lines: list["CpuLine"], threshold: float = NOISE_PERCENT) -> list[str]:
    """Loads during which other processes took more than `threshold` % of a core."""
    found = []
    for line in lines:
        ours = sum(value for name, value in line.load.cpu.items() if name != MACHINE)
        other = line.load.cpu.get(MACHINE, 0.0) - ours
        if other > threshold:
            found.append(f"{line.backend} {line.load_name} ({other:.0f}%)")
    return found


def _number(value: float, unit: str) -> str:
    if math.isnan(value):
        return "-"
    if unit == "ms":
        return f"{value:.2f}"
    return f"{value:.1f}" if unit == "MB" else f"{value:.0f}"


def _baseline(row: Row) -> str:
    if math.isnan(row.baseline):
        return "-"
    return f"{_number(row.baseline, row.unit)} ({row.baseline_name})"


def table(rows: list[Row]) -> str:
    header = ("backend", "figure", "value", "baseline", "ratio", "target", "met")
    lines = [
        (
            row.backend,
            row.figure,
            f"{_number(row.value, row.unit)} {row.unit}",
            _baseline(row),
            "-" if math.isnan(row.ratio) else f"{row.ratio:.2f}x",
            row.target or "-",
            {True: "yes", False: "NO", None: "-"}[row.met],
        )
        for row in rows
    ]
    return _render(header, lines)


@dataclass(frozen=True)
class CpuLine:
    """Which process was busy during one load (percent of one core)."""

    backend: str
    load_name: str
    load: Load
    # The CPU group that served the calls ("echo", "contacts", ...); "" for a mixed load.
    server: str = "server"

    def as_json(self) -> dict[str, Any]:
        per_call = self.server_ms_per_call
        return {
            "backend": self.backend,
            "load": self.load_name,
            "server": self.server or None,
            "calls_per_second": self.load.rate,
            "cpu_percent": self.load.cpu,
            "server_cpu_ms_per_call": None if math.isnan(per_call) else per_call,
        }

    @property
    def server_ms_per_call(self) -> float:
        server = self.load.cpu.get(self.server, math.nan)
        if not self.load.calls:
            return math.nan
        return server / 100.0 * self.load.seconds / self.load.calls * 1000.0


# One service under test (the scale scripts' default): the server, and support
# consuming its events.
CPU_GROUPS = ("client", "server", "support", "nats-server", "postgres")
# The whole suite, as `python -m bench` runs it.
SUITE_CPU_GROUPS = (
    "client",
    "echo",
    "contacts",
    "sales",
    "support",
    "projects",
    "nats-server",
    "postgres",
)


def cpu_table(lines: list[CpuLine], groups: tuple[str, ...] = CPU_GROUPS) -> str:
    """CPU per process while each load ran; `server CPU/call` is the serving process's.

    `ours` sums the processes under test and the client; `machine` is the
    whole host, so the difference is work of other processes.
    """
    header = ("backend", "load", "calls/s", *groups, "ours", "machine", "server CPU/call")
    cells = [
        (
            line.backend,
            line.load_name,
            f"{line.load.rate:.0f}",
            *(
                f"{line.load.cpu[group]:.0f}%" if group in line.load.cpu else "-"
                for group in groups
            ),
            f"{sum(v for k, v in line.load.cpu.items() if k != MACHINE):.0f}%",
            f"{line.load.cpu.get(MACHINE, math.nan):.0f}%",
            "-" if math.isnan(line.server_ms_per_call) else f"{line.server_ms_per_call:.2f} ms",
        )
        for line in lines
    ]
    return _render(header, cells)


def _render(header: tuple[str, ...], lines: list[tuple[str, ...]]) -> str:
    widths = [max(len(cells[i]) for cells in [header, *lines]) for i in range(len(header))]

    def render(cells: tuple[str, ...]) -> str:
        return " | ".join(
            cell.ljust(width) for cell, width in zip(cells, widths, strict=True)
        ).rstrip()

    rule = "-+-".join("-" * width for width in widths)
    return "\n".join([render(header), rule, *(render(cells) for cells in lines)])


def write_json(
    path: Path,
    rows: list[Row],
    cpu: list[CpuLine],
    details: dict[str, Any],
    meta: dict[str, Any],
) -> None:
    data = {
        "meta": meta,
        "rows": [row.as_json() for row in rows],
        "cpu": [line.as_json() for line in cpu],
        "details": details,
    }
    path.write_text(json.dumps(data, indent=2) + "\n")
