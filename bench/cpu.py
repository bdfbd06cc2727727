"""CPU time of the processes under test while a load runs, from /proc (Linux).

A figure says how fast; this says which process was busy, which is what
tells a CPU-bound service from one waiting on something else.
"""

import os
from collections.abc import Callable, Mapping
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")

Pids = Callable[[], list[int]]


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name may hold spaces; the fields after it do not.
    return text.rsplit(")", 1)[1].split()


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds of one process so far (0 once it is gone)."""
    fields = _stat(pid)
    if fields is None:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def one(pid: int | None) -> Pids:
    return lambda: [pid] if pid is not None else []


def with_children(pid: int | None) -> Pids:
    """A process and its direct children, e.g. the postmaster and its backends."""

    def pids() -> list[int]:
        if pid is None:
            return []
        found = [pid]
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                fields = _stat(int(entry.name))
                if fields is not None and int(fields[1]) == pid:
                    found.append(int(entry.name))
        return found

    return pids


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent on anything but idle and I/O wait, since boot."""
    try:
        fields = [int(value) for value in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    except (OSError, ValueError):
        return 0.0
    # user nice system idle iowait irq softirq; steal is the hypervisor's, and
    # guest time is already counted in user and nice.
    user, nice, system, _idle, _iowait, irq, softirq = fields[:7]
    return (user + nice + system + irq + softirq) / TICK


MACHINE = "machine"


class CpuMeter:
    """Percent of one core each named group of processes used between two snapshots.

    The `machine` group is every process on the host: what it shows beyond
    the named groups was taken by something else (noise in every figure).
    """

    def __init__(self, groups: Mapping[str, Pids]) -> None:
        self._groups = dict(groups)

    def snapshot(self) -> dict[str, dict[int, float]]:
        snapshot = {
            name: {pid: cpu_seconds(pid) for pid in pids()} for name, pids in self._groups.items()
        }
        snapshot[MACHINE] = {0: machine_busy_seconds()}
        return snapshot

    @staticmethod
    def percent(
        before: dict[str, dict[int, float]], after: dict[str, dict[int, float]], seconds: float
    ) -> dict[str, float]:
        usage = {}
        for name, now in after.items():
            # Processes that appeared meanwhile count from zero.
            used = sum(value - before.get(name, {}).get(pid, 0.0) for pid, value in now.items())
            usage[name] = 100.0 * used / seconds if seconds > 0 else 0.0
        return usage
