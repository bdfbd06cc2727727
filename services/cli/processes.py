"""A service of the suite running as its own process, as in production.

Used by `crm up`, the integration tests and the benchmarks: each starts
`python -m crm_<service>.main` with the environment a deployment would set
and waits for the service's own health check to say SERVING.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from crm_cli.servers import STOP_TIMEOUT, ServerError, log_tail, stop_process
from crm_common import transport

READY_TIMEOUT = 30.0
POLL_INTERVAL = 0.1


class ServiceProcess:
    """One `python -m crm_<service>.main` child listening on `address`.

    Its environment is the caller's, then `env`, then the listen address; its
    output is appended to `log_path` after a header line per start. It runs in
    a session of its own, so a terminal's Ctrl-C reaches only whoever started
    it, who then decides the order of shutdown (as for the servers in
    `crm_cli.servers`).
    """

    def __init__(self, service: str, address: str, env: Mapping[str, str], log_path: Path) -> None:
        self.service = service
        self.address = address
        self.log_path = Path(log_path)
        self.env: dict[str, str] = {
            **os.environ,
            **env,
            f"CRM_{service.upper()}_LISTEN_ADDRESS": address,
            # Unbuffered, so the log shows a crash's last words.
            "PYTHONUNBUFFERED": "1",
        }
        self._process: subprocess.Popen[bytes] | None = None
        self._terminated = False

    @property
    def command(self) -> list[str]:
        return [sys.executable, "-m", f"crm_{self.service}.main"]

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def exit_code(self) -> int | None:
        """The exit code once the process has ended; None while it runs or before start."""
        return self._process.poll() if self._process else None

    def start(self, *, wait_serving: bool = True, timeout: float = READY_TIMEOUT) -> None:
        """Starts the process (unless it runs already) and by default waits for SERVING."""
        if not self.running:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            with self.log_path.open("ab") as log:
                log.write(f"--- starting {self.service} at {time.ctime()} ---\n".encode())
                log.flush()
                self._process = subprocess.Popen(
                    self.command,
                    env=self.env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            self._terminated = False
        if wait_serving:
            self.wait_serving(timeout)

    def wait_serving(
        self, timeout: float = READY_TIMEOUT, stop: threading.Event | None = None
    ) -> bool:
        """True once the service reports SERVING; False if `stop` was set meanwhile.

        Raises ServerError, with the end of the log, if the process exits or
        is not SERVING within `timeout` seconds.
        """
        deadline = time.monotonic() + timeout
        with transport.channel(self.address, transport.settings_from(self.env)) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            while True:
                # Exited first: something else could be serving on that port.
                self.check_running()
                if self._serving(health):
                    return True
                if time.monotonic() > deadline:
                    raise self._error(
                        f"{self.service} did not report SERVING on {self.address} "
                        f"within {timeout:.0f}s"
                    )
                if stop is None:
                    time.sleep(POLL_INTERVAL)
                elif stop.wait(POLL_INTERVAL):
                    return False

    def check_running(self) -> None:
        """Raises ServerError, with the end of the log, unless the process runs."""
        if self._process is None:
            raise ServerError(f"{self.service} was never started")
        code = self._process.poll()
        if code is not None:
            raise self._error(f"{self.service} exited with code {code}")

    def terminate(self) -> None:
        """SIGTERM without waiting, so that several services drain in parallel.

        Follow with `stop()`, which then only waits (and kills if it hangs).
        """
        if self.running:
            assert self._process is not None
            self._process.terminate()
            self._terminated = True

    def stop(self, timeout: float = STOP_TIMEOUT) -> int:
        """SIGTERM (a clean drain), SIGKILL if it hangs; returns the exit code."""
        if self._process is None:
            return 0
        if not self._terminated:
            return stop_process(self._process, timeout)
        # Already signalled: a second SIGTERM could land after the service's
        # own handler is gone and turn a clean exit into a kill.
        try:
            return self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            self._process.kill()
            return self._process.wait()

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to flush anything."""
        if self._process is not None and self.running:
            self._process.kill()
            self._process.wait()

    def _error(self, reason: str) -> ServerError:
        return ServerError(f"{reason}; last lines of {self.log_path}:\n{log_tail(self.log_path)}")

    @staticmethod
    def _serving(health: health_pb2_grpc.HealthStub) -> bool:
        try:
            response = health.Check(health_pb2.HealthCheckRequest(service=""), timeout=1)
        except grpc.RpcError:
            return False
        return bool(response.status == health_pb2.HealthCheckResponse.SERVING)
