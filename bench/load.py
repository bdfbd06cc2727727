"""The one client loop every gRPC figure uses, and the statistics it yields.

Concurrency N means N coroutines sharing one channel, each taking the next
call number from a shared counter until `count` calls are done; throughput is
calls over wall time, latencies are per call as the client saw them.
"""

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from bench.cpu import CpuMeter


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


@dataclass(frozen=True)
class Latencies:
    """Sorted samples in milliseconds."""

    ms: tuple[float, ...]

    @classmethod
    def of_seconds(cls, seconds: Sequence[float]) -> "Latencies":
        return cls(tuple(sorted(s * 1000.0 for s in seconds)))

    @property
    def p50(self) -> float:
        return percentile(self.ms, 0.50)

    @property
    def p99(self) -> float:
        return percentile(self.ms, 0.99)

    @property
    def max(self) -> float:
        return self.ms[-1] if self.ms else math.nan


@dataclass(frozen=True)
class Load:
    calls: int
    concurrency: int
    seconds: float
    latencies: Latencies
    # Percent of one core per process group while the calls ran.
    cpu: dict[str, float] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.calls / self.seconds if self.seconds > 0 else math.nan


Call = Callable[[int], Awaitable[object]]


async def drive(call: Call, count: int, concurrency: int, meter: CpuMeter | None = None) -> Load:
    """Makes `count` calls of `call(i)` from `concurrency` coroutines."""
    return await _drive(call, lambda taken: taken < count, concurrency, meter)


async def drive_until(
    call: Call, stop: asyncio.Event, concurrency: int, meter: CpuMeter | None = None
) -> Load:
    """Calls `call(i)` from `concurrency` coroutines until `stop` is set (a background load)."""
    return await _drive(call, lambda _: not stop.is_set(), concurrency, meter)


async def _drive(
    call: Call, more: Callable[[int], bool], concurrency: int, meter: CpuMeter | None
) -> Load:
    taken = 0
    latencies: list[float] = []

    async def worker() -> None:
        nonlocal taken
        while more(taken):
            index = taken
            taken += 1
            start = time.perf_counter()
            await call(index)
            latencies.append(time.perf_counter() - start)

    before = meter.snapshot() if meter else {}
    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - start
    cpu = CpuMeter.percent(before, meter.snapshot(), elapsed) if meter else {}
    return Load(len(latencies), concurrency, elapsed, Latencies.of_seconds(latencies), cpu)


async def warm_then_drive(
    call: Call, count: int, concurrency: int, warmup: int, meter: CpuMeter | None = None
) -> Load:
    """A short unrecorded run first (connections, statement caches, lazy imports)."""
    if warmup:
        await drive(call, warmup, concurrency)
    return await drive(call, count, concurrency, meter)
