"""The Kubernetes manifests in deploy/: every overlay renders with `kubectl
kustomize`, every rendered object is valid for KUBERNETES_VERSION, and the
workloads follow the suite's policies (probes, limits, non-root, read-only
root, a PDB, an HPA and a ServiceAccount per Deployment, ...).

Offline: kubernetes-validate ships the API schemas of each Kubernetes version.
"""

import functools
import json
import re
import shutil
import subprocess
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase

from crm_common import metrics
from crm_common.config import DEFAULT_PORTS, ServiceSettings, SuiteSettings
from crm_common.server import LIVENESS

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
OVERLAYS = sorted(path.name for path in (DEPLOY / "overlays").iterdir() if path.is_dir())
SERVICES = tuple(DEFAULT_PORTS)

# The Kubernetes version the manifests are validated against (the schemas of
# kubernetes-validate, strict: unknown fields fail too).
KUBERNETES_VERSION = "1.32.0"

# Custom resources have no schema in kubernetes-validate: a kind added here is
# reported as not validated, never silently passed. The ServiceMonitor
# (production) gets a structural check of its own below.
CUSTOM_KINDS = {
    ("postgresql.cnpg.io/v1", "Cluster"),
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
}

WORKLOADS = ("Deployment", "StatefulSet", "Job")
GRPC_PORT = 50051
METRICS_PORT = 9464
# NATS releases before this one can lose whole streams on a process crash
# (Jepsen's 2025 NATS analysis, fixed in 2.10.23).
MIN_NATS = (2, 10, 23)


def kubectl() -> str:
    found = shutil.which("kubectl") or (
        "/usr/bin/kubectl" if Path("/usr/bin/kubectl").exists() else None
    )
    if found is None:
        pytest.fail("kubectl is missing: run tools/bootstrap.sh (make system) as root")
    return found


@functools.cache
def render(path: str) -> tuple[dict[str, Any], ...]:
    result = subprocess.run(
        [kubectl(), "kustomize", str(DEPLOY / path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"kubectl kustomize {path} failed:\n{result.stderr}"
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def objects(overlay: str, kind: str | None = None) -> list[dict[str, Any]]:
    return [obj for obj in render(f"overlays/{overlay}") if kind is None or obj["kind"] == kind]


def name(obj: dict[str, Any]) -> str:
    return f"{obj['kind']}/{obj['metadata']['name']}"


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    return workload["spec"]["template"]["spec"]


def containers(workload: dict[str, Any]) -> Iterator[dict[str, Any]]:
    spec = pod_spec(workload)
    yield from spec.get("initContainers", [])
    yield from spec["containers"]


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """Whether a LabelSelector (matchLabels and matchExpressions) selects `labels`."""
    if any(labels.get(key) != value for key, value in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        key, operator, values = expression["key"], expression["operator"], expression.get("values")
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and labels.get(key) in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def pod_labels(workload: dict[str, Any]) -> dict[str, str]:
    return workload["spec"]["template"]["metadata"]["labels"]


def env_of(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in container.get("env", [])}


def config_map_data(overlay: str, container: dict[str, Any]) -> dict[str, str]:
    """The variables a container gets through envFrom configMapRef."""
    maps = {obj["metadata"]["name"]: obj.get("data", {}) for obj in objects(overlay, "ConfigMap")}
    data: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            data.update(maps[source["configMapRef"]["name"]])
    return data


def served_service(deployment: dict[str, Any]) -> str:
    args = pod_spec(deployment)["containers"][0]["args"]
    assert args[0] == "serve" and args[1] in SERVICES, f"{name(deployment)} runs {args}"
    return args[1]


# --- rendering and schema -------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_renders(overlay: str) -> None:
    rendered = objects(overlay)
    kinds = {obj["kind"] for obj in rendered}
    assert {"Deployment", "Job", "StatefulSet", "Service", "NetworkPolicy"} <= kinds
    names = [(obj["kind"], obj["metadata"]["name"]) for obj in rendered]
    assert len(names) == len(set(names)), "two objects of one kind share a name"
    namespaces = {
        obj["metadata"].get("namespace") for obj in rendered if obj["kind"] != "Namespace"
    }
    assert len(namespaces) == 1 and None not in namespaces, namespaces


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_is_valid_for_the_stated_kubernetes_version(overlay: str) -> None:
    failures = []
    unvalidated = []
    for obj in objects(overlay):
        if (obj["apiVersion"], obj["kind"]) in CUSTOM_KINDS:
            unvalidated.append(name(obj))
            continue
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            path = "/".join(str(part) for part in error.path)
            failures.append(f"{name(obj)}: {path}: {error.message}")
        except kubernetes_validate.SchemaNotFoundError as error:
            failures.append(f"{name(obj)}: {error.message} (a custom resource? see CUSTOM_KINDS)")
    if unvalidated:
        warnings.warn(
            f"{overlay}: custom resources not validated (no schema): {', '.join(unvalidated)}",
            stacklevel=1,
        )
    assert not failures, "\n".join(failures)


def test_base_commits_no_secret() -> None:
    rendered = render("base")
    assert not [name(obj) for obj in rendered if obj["kind"] == "Secret"]


# --- workload policy ------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_is_limited_non_root_and_read_only(overlay: str) -> None:
    failures = []
    for workload in (obj for kind in WORKLOADS for obj in objects(overlay, kind)):
        pod = pod_spec(workload)
        pod_security = pod.get("securityContext", {})
        if pod_security.get("seccompProfile", {}).get("type") != "RuntimeDefault":
            failures.append(f"{name(workload)}: pod seccompProfile is not RuntimeDefault")
        if pod.get("automountServiceAccountToken") is not False:
            failures.append(f"{name(workload)}: mounts a service account token")
        for container in containers(workload):
            where = f"{name(workload)} container {container['name']}"
            limits = container.get("resources", {}).get("limits", {})
            requests = container.get("resources", {}).get("requests", {})
            for resource in ("cpu", "memory"):
                if resource not in limits or resource not in requests:
                    failures.append(f"{where}: no {resource} request and limit")
            security = container.get("securityContext", {})
            non_root = security.get("runAsNonRoot", pod_security.get("runAsNonRoot"))
            user = security.get("runAsUser", pod_security.get("runAsUser"))
            if non_root is not True or not user:
                failures.append(f"{where}: not runAsNonRoot with a non-zero runAsUser")
            if security.get("readOnlyRootFilesystem") is not True:
                failures.append(f"{where}: root filesystem is writable")
            if security.get("allowPrivilegeEscalation") is not False:
                failures.append(f"{where}: allows privilege escalation")
            if security.get("capabilities", {}).get("drop") != ["ALL"]:
                failures.append(f"{where}: does not drop ALL capabilities")
            image = container["image"]
            if ":" not in image.rsplit("/", 1)[-1] or image.endswith(":latest"):
                failures.append(f"{where}: image {image} has no fixed tag")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_long_running_container_has_three_probes(overlay: str) -> None:
    failures = []
    for workload in objects(overlay, "Deployment") + objects(overlay, "StatefulSet"):
        for container in pod_spec(workload)["containers"]:
            for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
                if probe not in container:
                    failures.append(f"{name(workload)} container {container['name']}: no {probe}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_services_probe_grpc_health_on_their_grpc_port(overlay: str) -> None:
    for deployment in objects(overlay, "Deployment"):
        service = served_service(deployment)
        server = pod_spec(deployment)["containers"][0]
        ports = {port["name"]: port["containerPort"] for port in server["ports"]}
        config = config_map_data(overlay, server)
        # With TLS on the gRPC port, the probes ask a plaintext health-only port.
        probed = ports.pop("health", GRPC_PORT)
        assert ports == {"grpc": GRPC_PORT, "metrics": METRICS_PORT}, name(deployment)
        if probed != GRPC_PORT:
            health = config[f"CRM_{service.upper()}_HEALTH_ADDRESS"]
            assert health.endswith(f":{probed}"), (name(deployment), health)
        for probe in ("readinessProbe", "startupProbe"):
            assert server[probe]["grpc"] == {"port": probed}, (name(deployment), probe)
        # Liveness asks for the name that ignores database and NATS outages.
        liveness = {"port": probed, "service": LIVENESS}
        assert server["livenessProbe"]["grpc"] == liveness, name(deployment)
        listen = config[f"CRM_{service.upper()}_LISTEN_ADDRESS"]
        assert listen.endswith(f":{GRPC_PORT}"), (name(deployment), listen)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_deployment_has_its_own_account_pdb_and_autoscaler(overlay: str) -> None:
    deployments = objects(overlay, "Deployment")
    assert sorted(served_service(d) for d in deployments) == sorted(SERVICES)
    accounts = {obj["metadata"]["name"]: obj for obj in objects(overlay, "ServiceAccount")}
    used = [pod_spec(d).get("serviceAccountName", "default") for d in deployments]
    assert len(set(used)) == len(used), f"Deployments share a ServiceAccount: {used}"
    others = [
        pod_spec(w).get("serviceAccountName")
        for kind in ("StatefulSet",)
        for w in objects(overlay, kind)
    ]
    for deployment in deployments:
        account = pod_spec(deployment).get("serviceAccountName", "default")
        assert account in accounts, f"{name(deployment)}: ServiceAccount {account} not rendered"
        assert account not in others, f"{name(deployment)} shares {account} with a StatefulSet"
        assert accounts[account].get("automountServiceAccountToken") is False, account
        assert deployment["spec"]["replicas"] >= 2, name(deployment)

        labels = pod_labels(deployment)
        budgets = [
            pdb
            for pdb in objects(overlay, "PodDisruptionBudget")
            if selects(pdb["spec"]["selector"], labels)
        ]
        assert len(budgets) == 1, f"{name(deployment)}: {len(budgets)} PodDisruptionBudgets"

        autoscalers = [
            hpa
            for hpa in objects(overlay, "HorizontalPodAutoscaler")
            if hpa["spec"]["scaleTargetRef"]
            == {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": deployment["metadata"]["name"],
            }
        ]
        assert len(autoscalers) == 1, f"{name(deployment)}: {len(autoscalers)} autoscalers"
        assert autoscalers[0]["spec"]["minReplicas"] >= 2


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_selector_picks_one_workloads_pods(overlay: str) -> None:
    """Services, PDBs and autoscalers must not also pick a migration Job's pods."""
    workloads = [obj for kind in WORKLOADS for obj in objects(overlay, kind)]
    selectors = [
        (name(obj), {"matchLabels": obj["spec"]["selector"]}) for obj in objects(overlay, "Service")
    ] + [(name(obj), obj["spec"]["selector"]) for obj in objects(overlay, "PodDisruptionBudget")]
    for what, selector in selectors:
        picked = [name(w) for w in workloads if selects(selector, pod_labels(w))]
        assert len(picked) == 1, f"{what} selects {picked}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_service_has_a_migration_job_on_the_same_image_and_database(overlay: str) -> None:
    jobs = {pod_spec(job)["containers"][0]["args"][1]: job for job in objects(overlay, "Job")}
    for deployment in objects(overlay, "Deployment"):
        service = served_service(deployment)
        job = jobs[service]
        server, migrate = pod_spec(deployment)["containers"][0], pod_spec(job)["containers"][0]
        assert migrate["args"] == ["migrate", service]
        assert migrate["image"] == server["image"]
        database = f"CRM_{service.upper()}_DATABASE_URL"
        for container in (server, migrate):
            # From a Secret, by key: a missing Secret stops the pod instead of
            # the service silently falling back to SQLite.
            reference = env_of(container)[database]["valueFrom"]["secretKeyRef"]
            assert reference["key"] == "url" and reference["name"].startswith(f"crm-{service}-")
            assert reference.get("optional") is not True
        assert (
            config_map_data(overlay, server)[f"CRM_{service.upper()}_MIGRATE_ON_START"] == "false"
        )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_configuration_names_only_settings_the_services_read(overlay: str) -> None:
    """A misspelt CRM_* key would be ignored by the service: catch it here."""
    known = {f"CRM_{field.upper()}" for field in SuiteSettings.model_fields}
    known |= {
        f"CRM_{service.upper()}_{field.upper()}"
        for service in SERVICES
        for field in ServiceSettings.model_fields
        if field != "service"
    }
    for workload in objects(overlay, "Deployment") + objects(overlay, "Job"):
        for container in containers(workload):
            names = set(config_map_data(overlay, container)) | set(env_of(container))
            unknown = {key for key in names if key.startswith("CRM_")} - known
            assert not unknown, f"{name(workload)}: unknown settings {sorted(unknown)}"


# --- network policy -------------------------------------------------------


def policies_for(overlay: str, labels: dict[str, str]) -> list[dict[str, Any]]:
    return [
        policy
        for policy in objects(overlay, "NetworkPolicy")
        if selects(policy["spec"]["podSelector"], labels)
    ]


def egress_to(overlay: str, labels: dict[str, str], target: dict[str, str], port: Any) -> bool:
    for policy in policies_for(overlay, labels):
        for rule in policy["spec"].get("egress", []):
            ports = [p.get("port") for p in rule.get("ports", [])]
            if ports and port not in ports:
                continue
            peers = rule.get("to")
            if not peers:
                return True
            for peer in peers:
                in_namespace = "podSelector" in peer and "namespaceSelector" not in peer
                if in_namespace and selects(peer["podSelector"], target):
                    return True
    return False


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_network_policy_allows_only_what_each_service_needs(overlay: str) -> None:
    pods = {served_service(d): pod_labels(d) for d in objects(overlay, "Deployment")}
    nats = pod_labels(
        next(s for s in objects(overlay, "StatefulSet") if s["metadata"]["name"] == "nats")
    )
    for service, labels in pods.items():
        policies = policies_for(overlay, labels)
        assert any(set(p["spec"]["policyTypes"]) == {"Ingress", "Egress"} for p in policies)
        ingress = [rule for p in policies for rule in p["spec"].get("ingress", [])]
        assert ingress and all(
            (
                [port["port"] for port in rule["ports"]] == ["grpc"]
                and all(set(peer) == {"podSelector"} for peer in rule["from"])
            )
            or (
                [port["port"] for port in rule["ports"]] == ["metrics"]
                and all(_is_prometheus(peer) for peer in rule["from"])
            )
            for rule in ingress
        ), f"{service}: ingress beyond gRPC from this namespace and metrics from Prometheus"
        assert egress_to(overlay, labels, nats, 4222), f"{service} cannot reach NATS"
        assert egress_to(overlay, labels, {"app.kubernetes.io/name": "postgresql"}, 5432)
        for other, other_labels in pods.items():
            allowed = egress_to(overlay, labels, other_labels, "grpc")
            # Lead conversion: sales calls contacts; everything else is events.
            expected = (service, other) == ("sales", "contacts")
            assert allowed == expected, f"{service} -> {other} gRPC allowed: {allowed}"


def _is_prometheus(peer: dict[str, Any]) -> bool:
    """Prometheus pods in the monitoring namespace, and nothing wider."""
    return (
        set(peer) == {"namespaceSelector", "podSelector"}
        and selects(peer["namespaceSelector"], {"kubernetes.io/metadata.name": "monitoring"})
        and not selects(peer["namespaceSelector"], {"kubernetes.io/metadata.name": "default"})
        and selects(peer["podSelector"], {"app.kubernetes.io/name": "prometheus"})
        and not selects(peer["podSelector"], {"app.kubernetes.io/name": "contacts"})
    )


# --- metrics --------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_service_serves_metrics_on_its_metrics_port(overlay: str) -> None:
    services = {obj["metadata"]["name"]: obj for obj in objects(overlay, "Service")}
    for deployment in objects(overlay, "Deployment"):
        service = served_service(deployment)
        server = pod_spec(deployment)["containers"][0]
        address = config_map_data(overlay, server)[f"CRM_{service.upper()}_METRICS_ADDRESS"]
        assert address == f"0.0.0.0:{METRICS_PORT}", (name(deployment), address)
        (front,) = [
            s
            for s in services.values()
            if selects({"matchLabels": s["spec"]["selector"]}, pod_labels(deployment))
        ]
        ports = {port["name"]: port for port in front["spec"]["ports"]}
        assert ports["metrics"]["targetPort"] == "metrics", name(front)


def test_production_scrapes_every_service_with_a_service_monitor() -> None:
    (monitor,) = objects("production", "ServiceMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    spec = monitor["spec"]
    # The fields of the CRD this uses; a typo would be dropped silently by the API server.
    assert set(spec) <= {"selector", "endpoints", "namespaceSelector", "jobLabel"}
    (endpoint,) = spec["endpoints"]
    assert set(endpoint) <= {"port", "path", "interval", "scrapeTimeout", "scheme"}
    assert (endpoint["port"], endpoint["path"]) == ("metrics", "/metrics")
    scraped = {
        s["metadata"]["labels"]["app.kubernetes.io/name"]
        for s in objects("production", "Service")
        if selects(spec["selector"], s["metadata"].get("labels", {}))
    }
    assert scraped == set(SERVICES)


def test_the_dashboard_charts_only_metrics_the_services_export() -> None:
    (config,) = [
        m
        for m in objects("production", "ConfigMap")
        if m["metadata"].get("labels", {}).get("grafana_dashboard") == "1"
    ]
    dashboard = json.loads(config["data"]["crm-suite.json"])
    expressions = [
        target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])
    ]
    charted = {
        found for expr in expressions for found in re.findall(r"\b(grpc_server_\w+|crm_\w+)", expr)
    }
    suffixes = {"counter": ["_total"], "gauge": [""], "histogram": ["_bucket", "_count", "_sum"]}
    exported = {
        family.name + suffix
        for collector in vars(metrics).values()
        if isinstance(collector, MetricWrapperBase)
        for family in collector.describe()
        for suffix in suffixes[family.type]
    }
    assert charted and charted <= exported, charted - exported
    expected = {
        "grpc_server_handled_total",
        "grpc_server_handling_seconds_bucket",
        "crm_outbox_backlog_events",
        "crm_outbox_oldest_event_age_seconds",
        "crm_consumer_pending_events",
        "crm_consumer_redeliveries_total",
        "crm_dead_letter_events",
    }
    assert expected <= charted, expected - charted


# --- NATS -----------------------------------------------------------------


def nats_config(overlay: str) -> str:
    (config,) = [
        m for m in objects(overlay, "ConfigMap") if m["metadata"]["name"].startswith("nats-config-")
    ]
    return config["data"]["nats.conf"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_nats_image_is_not_one_that_loses_streams_on_crash(overlay: str) -> None:
    (nats,) = [s for s in objects(overlay, "StatefulSet") if s["metadata"]["name"] == "nats"]
    image = pod_spec(nats)["containers"][0]["image"]
    match = re.fullmatch(r"(?:.*/)?nats:(\d+)\.(\d+)\.(\d+)(?:-\w+)?", image)
    assert match, image
    assert tuple(int(part) for part in match.groups()) >= MIN_NATS, image


def test_production_runs_a_three_server_jetstream_cluster_with_replicated_streams() -> None:
    (nats,) = [s for s in objects("production", "StatefulSet") if s["metadata"]["name"] == "nats"]
    assert nats["spec"]["replicas"] == 3
    config = nats_config("production")
    routes = re.findall(r"nats://nats-(\d)\.nats-headless:6222", config)
    assert sorted(routes) == ["0", "1", "2"]
    assert re.search(r"^\s*sync_interval:\s*always\s*$", config, re.MULTILINE)
    spread = {c["topologyKey"] for c in pod_spec(nats)["topologySpreadConstraints"]}
    assert "topology.kubernetes.io/zone" in spread
    for deployment in objects("production", "Deployment"):
        keys = {c["topologyKey"] for c in pod_spec(deployment)["topologySpreadConstraints"]}
        assert "topology.kubernetes.io/zone" in keys, name(deployment)
        suite = config_map_data("production", pod_spec(deployment)["containers"][0])
        assert suite["CRM_STREAM_REPLICAS"] == "3"
    assert not objects("production", "Secret"), "production Secrets come from the operator"


def test_dev_runs_one_nats_server_and_one_postgresql_with_a_database_per_service() -> None:
    (nats,) = [s for s in objects("dev", "StatefulSet") if s["metadata"]["name"] == "nats"]
    assert nats["spec"]["replicas"] == 1
    assert "cluster" not in nats_config("dev")
    secrets = {s["metadata"]["name"].rsplit("-", 1)[0]: s for s in objects("dev", "Secret")}
    for service in SERVICES:
        assert f"crm-{service}-database" in secrets, service
    init = next(
        m
        for m in objects("dev", "ConfigMap")
        if m["metadata"]["name"].startswith("postgresql-init-")
    )
    script = init["data"]["init-databases.sh"]
    assert "for service in " + " ".join(SERVICES) in script


def test_production_uses_mutual_tls_for_grpc_and_tls_for_nats() -> None:
    for deployment in objects("production", "Deployment"):
        server = pod_spec(deployment)["containers"][0]
        mounts = {mount["name"]: mount["mountPath"] for mount in server["volumeMounts"]}
        secrets = {
            volume["name"]: volume["secret"]["secretName"]
            for volume in pod_spec(deployment)["volumes"]
            if "secret" in volume
        }
        assert secrets.get("tls") == "crm-tls", name(deployment)
        config = config_map_data("production", server)
        files = [
            "CRM_TLS_CERT_FILE",
            "CRM_TLS_KEY_FILE",
            "CRM_TLS_CLIENT_CA_FILE",  # servers demand client certificates
            "CRM_TLS_CA_FILE",
            "CRM_TLS_CLIENT_CERT_FILE",
            "CRM_TLS_CLIENT_KEY_FILE",
            "CRM_NATS_TLS_CA_FILE",
            "CRM_NATS_TLS_CERT_FILE",
            "CRM_NATS_TLS_KEY_FILE",
        ]
        for key in files:
            assert config[key].startswith(mounts["tls"] + "/"), (name(deployment), key)
        assert config["CRM_NATS_URL"].startswith("tls://"), name(deployment)
    tls = re.search(r"^tls \{(.*?)^\}", nats_config("production"), re.MULTILINE | re.DOTALL)
    assert tls is not None and re.search(r"^\s*verify:\s*true\s*$", tls.group(1), re.MULTILINE)
    (nats,) = [s for s in objects("production", "StatefulSet") if s["metadata"]["name"] == "nats"]
    volumes = pod_spec(nats)["volumes"]
    assert any(volume.get("secret", {}).get("secretName") == "nats-tls" for volume in volumes)


def test_dev_stays_plaintext() -> None:
    for deployment in objects("dev", "Deployment"):
        config = config_map_data("dev", pod_spec(deployment)["containers"][0])
        assert not {key for key in config if key.startswith(("CRM_TLS_", "CRM_NATS_TLS_"))}
