"""deploy/: the Kubernetes manifests validate offline, compose and the Dockerfile keep their rules.

The manifests are checked with `kubernetes-validate` against the schemas it ships (strict:
an unknown field fails), with the network closed, for the oldest and newest Kubernetes the
manifests target. No cluster, daemon or registry is needed.
"""

from __future__ import annotations

import copy
import re
import socket
from typing import Any

import kubernetes_validate
import pytest
import yaml

from dibx.config import PROJECT_ROOT

DEPLOY = PROJECT_ROOT / "deploy"
K8S = DEPLOY / "k8s"
KUBERNETES_VERSIONS = ("1.29", "1.37")
EXACT_TAG = re.compile(r"^[a-z0-9./-]+:\d+\.\d+\.\d+(-[a-z0-9.-]+)?$")

Doc = dict[str, Any]


def _manifests() -> dict[str, Doc]:
    docs = {}
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        (doc,) = [d for d in yaml.safe_load_all(path.read_text()) if d]
        docs[path.name] = doc
    return docs


def _by_kind(kind: str) -> Doc:
    (doc,) = [d for d in _manifests().values() if d["kind"] == kind]
    return doc


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("validation tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.mark.usefixtures("offline")
@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("name", sorted(_manifests()))
def test_manifest_validates_against_the_kubernetes_schema(name: str, version: str) -> None:
    kubernetes_validate.validate(_manifests()[name], version, strict=True)


@pytest.mark.usefixtures("offline")
def test_the_validator_rejects_a_broken_deployment() -> None:
    # The check above is worth something only if a mistake fails it.
    broken = copy.deepcopy(_by_kind("Deployment"))
    container = broken["spec"]["template"]["spec"]["containers"][0]
    container["readinessProbe"]["httpGet"]["port"] = {"name": "http"}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSIONS[-1], strict=True)
    unknown = copy.deepcopy(_by_kind("Deployment"))
    unknown["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(unknown, KUBERNETES_VERSIONS[-1], strict=True)


def test_kustomization_ties_every_manifest() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert sorted(kustomization["resources"]) == sorted(_manifests())
    assert kustomization["namespace"] == "dibx"


def test_deployment_probes_resources_and_non_root_read_only() -> None:
    pod = _by_kind("Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod["automountServiceAccountToken"] is False
    (container,) = pod["containers"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert {"cpu", "memory"} <= set(container["resources"]["requests"])
    assert "memory" in container["resources"]["limits"]
    context = container["securityContext"]
    assert context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"]["drop"] == ["ALL"]
    assert not container["image"].endswith(":latest")


def test_deployment_reads_only_settings_and_secrets_that_exist() -> None:
    pod = _by_kind("Deployment")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    config = _by_kind("ConfigMap")
    secret = _by_kind("Secret")
    assert [s["configMapRef"]["name"] for s in container["envFrom"]] == [config["metadata"]["name"]]
    for env in container["env"]:
        ref = env["valueFrom"]["secretKeyRef"]
        assert ref["name"] == secret["metadata"]["name"]
        assert ref["key"] in secret["stringData"], env["name"]
    (mounted,) = [v for v in pod["volumes"] if "secret" in v]
    assert mounted["secret"]["secretName"] == secret["metadata"]["name"]
    key_file = config["data"]["DIBX_CHALLENGE_KEY_FILE"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    (item,) = mounted["secret"]["items"]
    assert item["key"] in secret["stringData"]
    assert key_file == f"{mounts[mounted['name']]}/{item['path']}"
    # Production settings: the development issuer off, tokens checked against a real JWKS.
    assert config["data"]["DIBX_ENV"] == "production"
    assert config["data"]["DIBX_DEV_ISSUER"] == "false"
    assert config["data"]["DIBX_JWKS_URL"].startswith("https://")
    assert config["data"]["DIBX_NEO4J_URI"].startswith("neo4j://")
    # Secret values are placeholders, plainly marked, never something that could be real.
    assert all(v.startswith("REPLACE_ME") for v in secret["stringData"].values())


def test_network_policy_allows_only_the_ingress_controller_neo4j_and_dns() -> None:
    policy = _by_kind("NetworkPolicy")
    spec = policy["spec"]
    assert sorted(spec["policyTypes"]) == ["Egress", "Ingress"]
    assert (
        spec["podSelector"]["matchLabels"]
        == (_by_kind("Deployment")["spec"]["selector"]["matchLabels"])
    )
    (ingress,) = spec["ingress"]
    (source,) = ingress["from"]
    assert source["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "ingress-nginx"
    }
    egress_ports = sorted(
        (port["protocol"], port["port"]) for rule in spec["egress"] for port in rule["ports"]
    )
    assert egress_ports == [("TCP", 53), ("TCP", 7687), ("UDP", 53)]
    assert "JWKS" in (K8S / "networkpolicy.yaml").read_text()


def test_hpa_and_pdb_keep_two_replicas_and_one_available() -> None:
    deployment = _by_kind("Deployment")
    hpa = _by_kind("HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    assert hpa["spec"]["minReplicas"] >= 2
    pdb = _by_kind("PodDisruptionBudget")
    assert pdb["spec"]["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
    assert pdb["spec"]["minAvailable"] < hpa["spec"]["minReplicas"]


def _compose() -> Doc:
    compose: Doc = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return compose


def test_compose_runs_neo4j_with_auth_two_replicas_a_proxy_and_a_seeding() -> None:
    services = _compose()["services"]
    assert set(services) == {"neo4j", "seed", "api-1", "api-2", "proxy"}
    neo4j = services["neo4j"]
    assert re.fullmatch(r"neo4j:5\.26\.\d+", neo4j["image"])
    auth = neo4j["environment"]["NEO4J_AUTH"]
    assert auth.startswith("neo4j/${")
    assert "none" not in auth.lower()
    assert {v.split(":")[1] for v in neo4j["volumes"]} == {"/data", "/logs"}
    assert "ports" not in neo4j  # Bolt stays on the compose network
    assert services["seed"]["command"] == ["seed", "--demo"]
    assert services["seed"]["depends_on"]["neo4j"]["condition"] == "service_healthy"
    for name in ("api-1", "api-2"):
        api = services[name]
        assert api["environment"]["DIBX_NEO4J_URI"] == "bolt://neo4j:7687"
        assert api["environment"]["DIBX_DEV_ISSUER"] == "false"
        assert api["depends_on"]["seed"]["condition"] == "service_completed_successfully"
        assert api["read_only"] is True
        assert "ports" not in api  # reached only through the proxy
    # Each replica its own audit file; the challenge key one shared secret.
    assert services["api-1"]["volumes"] != services["api-2"]["volumes"]
    assert services["api-1"]["secrets"] == services["api-2"]["secrets"] == ["challenge_key"]
    for name in ("neo4j", "api-1", "api-2", "proxy"):
        assert services[name]["healthcheck"]["test"], name
    nginx = (DEPLOY / "nginx.conf").read_text()
    assert "server api-1:8000" in nginx
    assert "server api-2:8000" in nginx
    for service in services.values():
        assert EXACT_TAG.match(service["image"]), service["image"]


def _stages() -> list[list[str]]:
    # Instructions (continuation lines joined), split into build stages at each FROM.
    text = re.sub(r"\\\n", " ", (DEPLOY / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines()]
    stages: list[list[str]] = []
    for line in lines:
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            stages.append([])
        stages[-1].append(line)
    return stages


def test_dockerfile_pins_bases_runs_as_non_root_and_checks_health() -> None:
    stages = _stages()
    for stage in stages:
        base = stage[0].split()[1]
        assert EXACT_TAG.match(base), base
        assert not base.endswith(":latest")
    final = stages[-1]
    users = [line.split()[1] for line in final if line.upper().startswith("USER ")]
    assert users
    assert users[-1].split(":")[0] not in {"root", "0"}
    (healthcheck,) = [line for line in final if line.upper().startswith("HEALTHCHECK ")]
    assert "/healthz" in healthcheck
    assert any("DIBX_ENV=production" in line for line in final)
    # Nothing of the checkout reaches the final image: only the built virtualenv is copied.
    copies = [line for line in final if line.upper().startswith(("COPY ", "ADD "))]
    assert copies
    assert all(line.startswith("COPY --from=") for line in copies)
    installs = " ".join(line for stage in stages for line in stage)
    assert "pip install --require-hashes -r /tmp/requirements.lock" in installs
    assert re.search(r"pip install --no-deps \S*dibx-\*\.whl", installs)
    assert ":latest" not in (DEPLOY / "Dockerfile").read_text()


def test_container_image_never_starts_the_embedded_neo4j_by_default() -> None:
    # The documented settings name DIBX_NEO4J_URI as required, and no Java is installed.
    text = (DEPLOY / "Dockerfile").read_text()
    assert "DIBX_NEO4J_URI" in text
    assert not re.search(r"\b(openjdk|default-jre|temurin|maven)\b", text)


def test_deploy_readme_covers_what_operators_must_share() -> None:
    readme = (DEPLOY / "README.md").read_text()
    for needed in (
        "DIBX_CHALLENGE_KEY_FILE",
        "neo4j://",
        "read session",  # reads are routed as reads
        "Enterprise",
        "Aura",
        "helm",
        "DIBX_AUDIT_SINK",
        "DIBX_DEV_ISSUER",
    ):
        assert needed in readme, needed


def test_every_deploy_path_exists() -> None:
    for path in ("Dockerfile", "Dockerfile.dockerignore", "nginx.conf", "env.example"):
        assert (DEPLOY / path).is_file(), path
    assert (K8S / "kustomization.yaml").is_file()
