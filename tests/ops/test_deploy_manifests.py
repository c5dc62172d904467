"""Offline checks of deploy/: the Kubernetes manifests hang together and the config loads.

No cluster and no schema download: the checks are the mistakes that bite in practice
(selectors that match nothing, probes on a port the container does not open, a
Service that is not headless so client-side balancing silently stops, a grace period
shorter than the drain, a config the server would refuse at start).
"""

from __future__ import annotations

import itertools
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from verifier_server.auth import load_tokens
from verifier_server.config import load_config

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
K8S = DEPLOY / "k8s"
API_VERSIONS = {
    "Namespace": "v1",
    "ConfigMap": "v1",
    "Secret": "v1",
    "Service": "v1",
    "Deployment": "apps/v1",
    "HorizontalPodAutoscaler": "autoscaling/v2",
    "PodDisruptionBudget": "policy/v1",
}


def load_manifests() -> dict[str, dict[str, Any]]:
    """Every object in deploy/k8s, keyed by kind (each kind appears once)."""
    objects: dict[str, dict[str, Any]] = {}
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for document in yaml.safe_load_all(path.read_text()):
            assert document["kind"] not in objects, f"{path.name}: a second {document['kind']}"
            objects[document["kind"]] = document
    return objects


@pytest.fixture(scope="module")
def manifests() -> dict[str, dict[str, Any]]:
    return load_manifests()


@pytest.fixture(scope="module")
def config_file(manifests: dict[str, dict[str, Any]], tmp_path_factory: pytest.TempPathFactory) -> str:
    """The ConfigMap's server.toml as a file, for the server's own loader."""
    path = tmp_path_factory.mktemp("deploy") / "server.toml"
    path.write_text(manifests["ConfigMap"]["data"]["server.toml"])
    return str(path)


def container(manifests: dict[str, dict[str, Any]]) -> dict[str, Any]:
    (server,) = manifests["Deployment"]["spec"]["template"]["spec"]["containers"]
    return server


def test_kinds_api_versions_and_metadata(manifests: dict[str, dict[str, Any]]):
    assert set(manifests) == set(API_VERSIONS)
    for kind, obj in manifests.items():
        assert obj["apiVersion"] == API_VERSIONS[kind], kind
        assert obj["metadata"]["name"], kind
        if kind != "Namespace":
            assert obj["metadata"]["namespace"] == manifests["Namespace"]["metadata"]["name"], kind


def test_kustomization_lists_every_manifest():
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == files


def test_selectors_match_the_pod_labels(manifests: dict[str, dict[str, Any]]):
    deployment = manifests["Deployment"]
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    selectors = [
        deployment["spec"]["selector"]["matchLabels"],
        manifests["Service"]["spec"]["selector"],
        manifests["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"],
    ]
    for selector in selectors:
        assert selector and selector.items() <= pod_labels.items(), selector
    target = manifests["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]
    assert (target["apiVersion"], target["kind"], target["name"]) == (
        deployment["apiVersion"],
        "Deployment",
        deployment["metadata"]["name"],
    )


def container_ports(manifests: dict[str, dict[str, Any]]) -> dict[str, int]:
    return {port["name"]: port["containerPort"] for port in container(manifests)["ports"]}


def test_probes_use_grpc_health_on_the_grpc_port(manifests: dict[str, dict[str, Any]]):
    """gRPC health turns NOT_SERVING when the HTTP face's /healthz turns 503, so one probe covers both faces."""
    server = container(manifests)
    ports = container_ports(manifests)
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        assert set(server[probe]) >= {"grpc"}, f"{probe} must be a grpc: probe"
        assert server[probe]["grpc"]["port"] == ports["grpc"], probe
    assert server["readinessProbe"]["grpc"]["service"] == "verifier.v1.VerifierService"


def test_service_is_headless_and_carries_every_container_port(manifests: dict[str, dict[str, Any]]):
    service = manifests["Service"]["spec"]
    assert service["clusterIP"] == "None", "client-side round robin needs every pod's address from DNS"
    by_target = {port["targetPort"]: port for port in service["ports"]}
    assert set(by_target) == set(container_ports(manifests)) == {"grpc", "metrics", "http"}
    assert by_target["grpc"]["appProtocol"] == "grpc" and by_target["http"]["appProtocol"] == "http"


def test_grace_period_covers_the_drain(manifests: dict[str, dict[str, Any]], config_file: str):
    pod = manifests["Deployment"]["spec"]["template"]["spec"]
    config = load_config(config_file, environ={})
    pre_stop_s = float(container(manifests)["lifecycle"]["preStop"]["exec"]["command"][-1])
    assert pod["terminationGracePeriodSeconds"] >= config.drain_timeout_s + pre_stop_s


def test_config_map_toml_loads_with_the_server_loader(manifests: dict[str, dict[str, Any]], config_file: str):
    config = load_config(config_file, environ={})
    server = container(manifests)
    ports = container_ports(manifests)
    assert (config.host, config.port, config.metrics_port) == ("0.0.0.0", ports["grpc"], ports["metrics"])
    assert config.http_port == ports["http"], "the HTTP/JSON face listens where the pod exposes it"
    mounts = {mount["mountPath"] for mount in server["volumeMounts"]}
    assert config.data_dir in mounts
    assert str(Path(config.auth_tokens_file).parent) in mounts
    assert config.registry_url == "", "the registry URL holds a password: it comes from the Secret"


def test_secret_provides_registry_url_and_parseable_tokens(manifests: dict[str, dict[str, Any]], tmp_path: Path):
    secret = manifests["Secret"]["stringData"]
    env = {item["name"]: item for item in container(manifests)["env"]}
    ref = env["VERIFIER_REGISTRY_URL"]["valueFrom"]["secretKeyRef"]
    assert ref["name"] == manifests["Secret"]["metadata"]["name"]
    assert secret[ref["key"]].startswith("postgresql://")
    tokens = tmp_path / "tokens"
    tokens.write_text(secret["tokens"])
    assert set(load_tokens(str(tokens)).values()) == {"score", "admin"}


def test_autoscaler_and_disruption_budget_keep_capacity(manifests: dict[str, dict[str, Any]]):
    hpa = manifests["HorizontalPodAutoscaler"]["spec"]
    assert 2 <= hpa["minReplicas"] <= hpa["maxReplicas"]
    assert container(manifests)["resources"]["requests"]["cpu"], "CPU utilization targets need CPU requests"
    pdb = manifests["PodDisruptionBudget"]["spec"]
    assert pdb.get("maxUnavailable", 0) < hpa["minReplicas"] or pdb.get("minAvailable", 0) < hpa["minReplicas"]


def test_dockerfile_runs_the_server_with_a_local_base():
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert "ARG BASE_IMAGE=verifier-base:bookworm" in dockerfile
    assert '"serve"' in dockerfile and "ENTRYPOINT [" in dockerfile, "exec form, so SIGTERM reaches the server"
    users = re.findall(r"^USER\s+(\S+)", dockerfile, re.M)
    assert users and users[-1] in ("0", "root"), "the sandbox's full design needs the server to be root"
    assert "/usr/lib/verifier-sandboxes" in dockerfile, "no compiler in the image: the sandbox's C helpers ship built"
    install = re.search(r"install_sandbox_python\.py -- (.*?) \\?$", dockerfile, re.M)
    assert install and "--no-index" in install.group(1), "sandboxed programs' packages come from the wheelhouse"
    assert subprocess.run(["bash", "-n", str(DEPLOY / "build_image.sh")]).returncode == 0


def image_ports() -> tuple[dict[str, int], set[int]]:
    """The ports the Dockerfile's CMD serves (by flag) and the ports it EXPOSEs."""
    dockerfile = (DEPLOY / "Dockerfile").read_text().replace("\\\n", " ")
    cmd = json.loads(re.findall(r"^CMD\s+(\[.*\])\s*$", dockerfile, re.M)[-1])
    served = {flag: int(value) for flag, value in itertools.pairwise(cmd) if flag.endswith("-port") or flag == "--port"}
    exposed = {int(port) for line in re.findall(r"^EXPOSE\s+(.*)$", dockerfile, re.M) for port in line.split()}
    return served, exposed


def test_the_image_serves_and_exposes_the_ports_the_pod_names(manifests: dict[str, dict[str, Any]]):
    served, exposed = image_ports()
    assert set(served) == {"--port", "--metrics-port", "--http-port"}, served
    assert set(served.values()) == exposed, "EXPOSE exactly what the CMD serves"
    ports = container_ports(manifests)
    assert (served["--port"], served["--metrics-port"], served["--http-port"]) == (
        ports["grpc"],
        ports["metrics"],
        ports["http"],
    ), "the image run by Docker and the pod listen on the same ports"


def documented_docker_flags() -> list[str]:
    """The `docker run` flags sandboxes/SETUP.md documents for the image (the image tests use exactly these)."""
    text = (DEPLOY.parent / "sandboxes" / "SETUP.md").read_text()
    block = re.search(r"```sh\ndocker run -d --name verifier \\\n(.*?)```", text, re.S)
    assert block, "SETUP.md lost its `docker run` block for the image"
    flags: list[str] = []
    for line in block.group(1).splitlines():
        words = line.strip().rstrip("\\").split()
        if words and words[0].startswith("--"):
            flags += words
    return flags


def test_the_pod_gets_what_the_documented_docker_flags_grant(manifests: dict[str, dict[str, Any]], config_file: str):
    """The sandbox's full design, Kubernetes' way: each documented Docker flag has its counterpart."""
    flags = documented_docker_flags()
    pod = manifests["Deployment"]["spec"]["template"]
    spec, server = pod["spec"], container(manifests)
    context = server["securityContext"]
    assert spec["securityContext"]["runAsUser"] == 0 and not spec["securityContext"].get("runAsNonRoot")
    privileged = context.get("privileged") is True
    if "SYS_ADMIN" in flags:
        assert privileged or "SYS_ADMIN" in context.get("capabilities", {}).get("add", [])
        assert context.get("allowPrivilegeEscalation") is not False, "the API rejects it with SYS_ADMIN"
    if "SYS_PTRACE" in flags:
        assert privileged or "SYS_PTRACE" in context.get("capabilities", {}).get("add", [])
    if "seccomp=unconfined" in flags:
        assert privileged or spec["securityContext"]["seccompProfile"]["type"] == "Unconfined"
    if "apparmor=unconfined" in flags:
        assert privileged or spec["securityContext"]["appArmorProfile"]["type"] == "Unconfined"
    if "systempaths=unconfined" in flags:
        assert privileged or context.get("procMount") == "Unmasked"
    volumes = {volume["name"]: volume for volume in spec["volumes"]}
    mounts = {mount["mountPath"]: volumes[mount["name"]] for mount in server["volumeMounts"]}
    claims = next(flag for flag in flags if flag.startswith("/run/sandboxes/uids:"))
    host_dir, container_dir = claims.split(":")
    assert mounts[container_dir]["hostPath"]["path"] == host_dir, "pods on a node must share the uid claims"
    if context.get("readOnlyRootFilesystem"):
        assert "emptyDir" in mounts["/run/sandboxes"], "pool dirs and their mount points need a writable /run"
    config = load_config(config_file, environ={})
    assert not config.allow_unsafe_weak_sandbox and config.sandbox_backend == "bwrap"
    labels = manifests["Namespace"]["metadata"].get("labels", {})
    assert labels.get("pod-security.kubernetes.io/enforce") == "privileged" or not privileged
