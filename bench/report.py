"""Figures into rows: value, baseline, ratio, target; printed as one table and as JSON."""

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.cpu import MACHINE
from bench.figures import WINDOW, BrokerFigures, ServiceFigures
from bench.load import Load

# From the project's performance issue. Writes and gets are judged at
# concurrency 32 (the "writes at concurrency 32"; gets read the same way).
WRITE_RATIO = {"sqlite": 0.5, "postgresql": 0.35}
GET_RATIO = 0.7
PROPAGATION_P50_MS = 3.0
PROPAGATION_P99_MS = 20.0
RELAY_RATIO = 0.5
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


def rows_for(
    backend: str, echo: dict[int, Load], services: ServiceFigures, broker: BrokerFigures
) -> list[Row]:
    rows: list[Row] = []
    for method, loads, ratio in (
        ("CreatePerson", services.creates, WRITE_RATIO[backend]),
        ("GetPerson", services.gets, GET_RATIO),
    ):
        for concurrency, load in loads.items():
            base = echo[concurrency]
            name = f"{method} c={concurrency}"
            echo_name = f"echo c={concurrency}"
            judged = concurrency == 32
            rows += [
                Row(
                    backend,
                    f"{name} calls/s",
                    "calls/s",
                    load.rate,
                    echo_name,
                    base.rate,
                    "ratio>=" if judged else "",
                    ratio if judged else math.nan,
                ),
                Row(
                    backend, f"{name} p50", "ms", load.latencies.p50, echo_name, base.latencies.p50
                ),
                Row(
                    backend, f"{name} p99", "ms", load.latencies.p99, echo_name, base.latencies.p99
                ),
            ]
    delivery = "JetStream publish->fetch"
    legs = services.propagation
    rows += [
        Row(
            backend,
            "propagation p50 (idle)",
            "ms",
            legs.total.p50,
            delivery,
            broker.delivery.p50,
            "max",
            PROPAGATION_P50_MS,
        ),
        Row(
            backend,
            "propagation p99 (idle)",
            "ms",
            legs.total.p99,
            delivery,
            broker.delivery.p99,
            "max",
            PROPAGATION_P99_MS,
        ),
        # Informational: the worst sample, and where the time goes (no targets).
        Row(backend, "propagation max (idle)", "ms", legs.total.max, delivery, broker.delivery.max),
        Row(backend, "  relay leg p50", "ms", legs.to_broker.p50, "", math.nan),
        Row(backend, "  relay leg p99", "ms", legs.to_broker.p99, "", math.nan),
        Row(backend, "  support leg p50", "ms", legs.to_visible.p50, "", math.nan),
        Row(backend, "  support leg p99", "ms", legs.to_visible.p99, "", math.nan),
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
    return f"{value:.2f}" if unit == "ms" else f"{value:.0f}"


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

    def as_json(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "load": self.load_name,
            "calls_per_second": self.load.rate,
            "cpu_percent": self.load.cpu,
            "server_cpu_ms_per_call": self.server_ms_per_call,
        }

    @property
    def server_ms_per_call(self) -> float:
        server = self.load.cpu.get("server", math.nan)
        return server / 100.0 * self.load.seconds / self.load.calls * 1000.0


CPU_GROUPS = ("client", "server", "support", "nats-server", "postgres")


def cpu_table(lines: list[CpuLine], groups: tuple[str, ...] = CPU_GROUPS) -> str:
    """CPU per process while each load ran; the server is echo or contacts.

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
            f"{line.server_ms_per_call:.2f} ms",
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
