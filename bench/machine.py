"""What a benchmark ran on and with: the machine, versions, counts, notes."""

import contextlib
import os
import platform
import subprocess
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from bench import figures
from bench.figures import Counts
from crm_cli.servers import NatsServer


def machine(backends: list[str], quick: bool, counts: Counts) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "mode": "quick" if quick else "default",
        "backends": backends,
        "nproc": len(os.sched_getaffinity(0)),
        "cpu": _cpu_model(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "grpcio": metadata.version("grpcio"),
        "nats-py": metadata.version("nats-py"),
        "sqlalchemy": metadata.version("sqlalchemy"),
        "nats-server": _version(
            [NatsServer(Path(tempfile.gettempdir())).command()[0], "--version"]
        ),
        "load_average_at_start": [round(value, 2) for value in os.getloadavg()],
        "counts": counts.__dict__,
        "notes": [
            "client, servers and broker share the machine's cores (loopback only)",
            "outbox relay figure runs in the benchmark process (in-process), not in a service",
            "propagation polls support's customers table in its database every "
            f"{figures.PROPAGATION_POLL * 1000:g} ms "
            f"(asyncio sleeps round up to 1 ms), or {figures.POLL_FRACTION:.0%} of the wait "
            "so far once that is longer",
            "CPU percentages come from /proc at 100 Hz ticks: a few percent either way",
        ],
    }
    if "postgresql" in backends:
        with contextlib.suppress(Exception):
            from crm_cli.servers import find_postgres_bin

            meta["postgresql"] = _version([str(find_postgres_bin() / "postgres"), "--version"])
    return meta


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor()


def _version(command: list[str]) -> str:
    try:
        return subprocess.run(
            command, capture_output=True, text=True, check=False, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
