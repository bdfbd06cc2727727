"""The container image: built from the Dockerfile with buildah (tools/build-image.sh,
what `make image` runs), then run the way Kubernetes runs it — as its numeric
non-root user, on a read-only root with only /tmp writable — first as the
migration Job (`crm migrate contacts`), then as the Deployment (`crm serve
contacts`), whose gRPC health check must report SERVING and which must stop
cleanly on SIGTERM.

Needs root (buildah's storage, a mount namespace for the read-only root) and
reaches Debian and PyPI while building; takes about a minute.
"""

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from crm_cli.servers import NatsServer, PostgresServer, free_port
from tests.integration.harness import AUTH_ENV

ROOT = Path(__file__).resolve().parents[2]
TAG = "localhost/crm-suite:test"

pytestmark = pytest.mark.image

# Runs a command from the image's root filesystem as Kubernetes would with
# readOnlyRootFilesystem and an emptyDir on /tmp: a private mount namespace,
# the root bind-mounted read-only, a fresh tmpfs on /tmp, and the image's user.
RUN_READ_ONLY = """
set -eu
root=$1 user=$2; shift 2
mount --bind "$root" "$root"
mount --rbind /dev "$root/dev"
mount -t proc proc "$root/proc"
mount -t tmpfs -o size=64m,mode=1777 tmpfs "$root/tmp"
mount -o remount,bind,ro "$root"
cd /
exec chroot --userspec="$user" "$root" "$@"
"""


@dataclass(frozen=True)
class Image:
    rootfs: Path
    user: str
    entrypoint: list[str]
    env: dict[str, str]

    def command(self, args: list[str], env: dict[str, str]) -> list[str]:
        variables = [f"{key}={value}" for key, value in {**self.env, **env}.items()]
        return [
            *["unshare", "--mount", "--propagation", "private"],
            *["sh", "-c", RUN_READ_ONLY, "sh", str(self.rootfs), self.user],
            *["/usr/bin/env", "-i", *variables, *self.entrypoint, *args],
        ]


def buildah(storage: Path, *args: str) -> str:
    result = subprocess.run(
        ["buildah", "--root", str(storage / "storage"), "--runroot", str(storage / "run"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "STORAGE_DRIVER": "vfs"},
    )
    assert result.returncode == 0, f"buildah {' '.join(args)}:\n{result.stderr}"
    return result.stdout.strip()


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Image]:
    # Only `make image-test` selects these tests; there, not being root is a
    # setup error to report, not a reason to pass quietly.
    assert os.geteuid() == 0, "building and running the image needs root (buildah, chroot)"
    storage = tmp_path_factory.mktemp("buildah")
    log = storage / "build.log"
    with log.open("w") as out:
        built = subprocess.run(
            ["bash", "tools/build-image.sh"],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=900,
            check=False,
            env={**os.environ, "BUILDAH_ROOT": str(storage), "IMAGE": TAG},
        )
    assert built.returncode == 0, f"image build failed:\n{log.read_text()[-4000:]}"
    (config,) = [json.loads(buildah(storage, "inspect", "--type", "image", TAG))["OCIv1"]["config"]]
    container = buildah(storage, "from", "--pull-never", TAG)
    try:
        rootfs = Path(buildah(storage, "mount", container))
        yield Image(
            rootfs=rootfs,
            user=config["User"],
            entrypoint=config["Entrypoint"],
            env=dict(item.split("=", 1) for item in config["Env"]),
        )
    finally:
        buildah(storage, "umount", container)
        buildah(storage, "rm", container)
        buildah(storage, "rmi", "--all", "--force")
        shutil.rmtree(storage, ignore_errors=True)


def test_image_runs_as_a_numeric_non_root_user_with_the_crm_entrypoint(image: Image) -> None:
    user, _, group = image.user.partition(":")
    assert user.isdigit() and int(user) != 0 and group.isdigit()
    assert image.entrypoint == ["crm"]
    assert not (image.rootfs / "usr" / "bin" / "gcc").exists(), "build tools in the final image"


def test_image_migrates_then_serves_health_on_a_read_only_root(
    image: Image,
    nats_server: NatsServer,
    postgres_server: PostgresServer,
    tmp_path: Path,
) -> None:
    database = postgres_server.create_database("image_contacts")
    env = {
        "CRM_NATS_URL": nats_server.url,
        "CRM_CONTACTS_DATABASE_URL": database,
        "CRM_CONTACTS_MIGRATE_ON_START": "false",
        # A service without a key to verify tokens with refuses to start.
        **AUTH_ENV,
    }

    # The migration Job.
    migrate = subprocess.run(
        image.command(["migrate", "contacts"], env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert migrate.returncode == 0, migrate.stderr
    assert "contacts: migrated" in migrate.stdout, migrate.stdout

    # The Deployment's container.
    address = f"127.0.0.1:{free_port()}"
    log = tmp_path / "contacts.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            image.command(["serve", "contacts"], {**env, "CRM_CONTACTS_LISTEN_ADDRESS": address}),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        assert wait_serving(address, server, timeout=60), log.read_text()[-4000:]
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=60) == 0, log.read_text()[-4000:]
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    assert "Read-only file system" not in log.read_text()


def wait_serving(address: str, server: subprocess.Popen[bytes], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    with grpc.insecure_channel(address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline and server.poll() is None:
            try:
                reply = health.Check(health_pb2.HealthCheckRequest(), timeout=2)
            except grpc.RpcError:
                reply = None
            if reply is not None and reply.status == health_pb2.HealthCheckResponse.SERVING:
                return True
            time.sleep(0.5)
    return False
