"""A service of the suite running as its own process, as in production.

Used by `crm up`, the integration tests and the benchmarks: each starts
`python -m crm_<service>.main` with the environment a deployment would set
and waits for the service's own health check to say SERVING.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from crm_cli.servers import ServerError, log_tail, stop_process

READY_TIMEOUT = 30.0


class ServiceProcess:
    def __init__(self, service: str, address: str, env: Mapping[str, str], log_path: Path) -> None:
        self.service = service
        self.address = address
        self.log_path = log_path
        self._env = {
            **os.environ,
            **env,
            f"CRM_{service.upper()}_LISTEN_ADDRESS": address,
            "PYTHONUNBUFFERED": "1",
        }
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, *, wait_serving: bool = True, timeout: float = READY_TIMEOUT) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", f"crm_{self.service}.main"],
                env=self._env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        if wait_serving:
            self.wait_serving(timeout)

    def wait_serving(self, timeout: float = READY_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        with grpc.insecure_channel(self.address) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            while True:
                if not self.running:
                    raise ServerError(f"{self.service} exited:\n{log_tail(self.log_path)}")
                if self._serving(health):
                    return
                if time.monotonic() > deadline:
                    raise ServerError(f"{self.service} not SERVING after {timeout:.0f}s:\n{log_tail(self.log_path)}")
                time.sleep(0.1)

    def stop(self) -> int:
        """SIGTERM (a clean drain), SIGKILL if it hangs; returns the exit code."""
        if self._process is None:
            return 0
        return stop_process(self._process)

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to flush anything."""
        if self._process is not None and self.running:
            self._process.send_signal(signal.SIGKILL)
            self._process.wait()

    @staticmethod
    def _serving(health: health_pb2_grpc.HealthStub) -> bool:
        try:
            response = health.Check(health_pb2.HealthCheckRequest(service=""), timeout=1)
        except grpc.RpcError:
            return False
        return response.status == health_pb2.HealthCheckResponse.SERVING
