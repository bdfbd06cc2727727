"""Resident memory of the processes under test, from /proc (Linux).

RSS is `VmRSS` of a process plus its children (a service forking helpers
would own their memory too). `RssSampler` reads it every SAMPLE_SECONDS in a
thread while loads run, so the figure under load is the largest it saw.
"""

import threading
from collections.abc import Mapping
from pathlib import Path

from bench.cpu import Pids

SAMPLE_SECONDS = 0.25
KIB = 1024


def _status_kib(pid: int, field: str) -> int:
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return 0
    for line in lines:
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return 0


def rss_mb(pids: Pids) -> float:
    """Current resident memory of a group of processes, in MB (2^20 bytes)."""
    return sum(_status_kib(pid, "VmRSS") for pid in pids()) / KIB


def peak_rss_mb(pids: Pids) -> float:
    """The kernel's high-water mark (`VmHWM`) summed over the group, in MB."""
    return sum(_status_kib(pid, "VmHWM") for pid in pids()) / KIB


class RssSampler:
    """The largest RSS of each named group seen between `start` and `stop`."""

    def __init__(self, groups: Mapping[str, Pids]) -> None:
        self._groups = dict(groups)
        self.largest: dict[str, float] = dict.fromkeys(self._groups, 0.0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="rss-sampler", daemon=True)

    def _sample(self) -> None:
        while True:
            for name, pids in self._groups.items():
                self.largest[name] = max(self.largest[name], rss_mb(pids))
            if self._stop.wait(SAMPLE_SECONDS):
                return

    def start(self) -> "RssSampler":
        self._thread.start()
        return self

    def stop(self) -> dict[str, float]:
        self._stop.set()
        self._thread.join()
        return dict(self.largest)
