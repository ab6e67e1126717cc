"""deploy/kubernetes: every manifest valid against Kubernetes's own schemas (strictly: a misspelt field fails), and
the rules the product needs of them: two replicas, the probes on `replywatch health --alive` and /healthz, a locked-down
non-root pod, secrets only from the Secret, and only names replywatch knows as settings."""

from __future__ import annotations

import re
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from bot.config.settings import SECRET_FIELDS, Settings

ROOT = Path(__file__).resolve().parents[2]
HERE = ROOT / "deploy" / "kubernetes"
# The release the manifests are written for, and the newest one the installed kubernetes-validate knows.
VERSIONS = ("1.33", ".".join(kubernetes_validate.latest_version().split(".")[:2]))
SETTINGS = {name.upper() for name in Settings.model_fields}
SECRETS = {name.upper() for name in SECRET_FIELDS} | {"DATABASE_URL"}  # its URL carries the password
TEMPLATE = "secret.yaml"  # the Secret's shape: documented, never applied


def _documents() -> list[tuple[str, dict]]:
    files = sorted([*HERE.glob("*.yaml"), *HERE.glob("*.yml")])
    return [(p.name, doc) for p in files for doc in yaml.safe_load_all(p.read_text(encoding="utf-8")) if doc is not None]


DOCUMENTS = _documents()
RESOURCES = [(name, doc) for name, doc in DOCUMENTS if doc["kind"] != "Kustomization"]


def _one(kind: str, file: str | None = None) -> dict:
    found = [doc for name, doc in DOCUMENTS if doc["kind"] == kind and file in (None, name)]
    assert len(found) == 1, f"expected one {kind} in deploy/kubernetes, found {len(found)}"
    return found[0]


DEPLOYMENT = _one("Deployment")
POD = DEPLOYMENT["spec"]["template"]["spec"]
(CONTAINER,) = POD["containers"]
CONFIG = _one("ConfigMap")
SECRET = _one("Secret", TEMPLATE)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(("file", "doc"), RESOURCES, ids=[f"{n}:{d['kind']}" for n, d in RESOURCES])
def test_every_manifest_is_valid_against_the_kubernetes_schema_strictly(file: str, doc: dict, version: str) -> None:
    try:
        validated = kubernetes_validate.validate(doc, version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        where = ".".join(str(p) for p in exc.path)
        problem = f"{file} {doc['kind']}/{doc['metadata']['name']} is not valid for Kubernetes {version}: {where}: {exc.message}"
    else:
        problem = None
    if problem:
        pytest.fail(problem, pytrace=False)
    assert validated == version, f"kubernetes-validate has no {version} schemas (it checked {validated}): raise VERSIONS' first one"


def test_the_kustomization_applies_every_manifest_but_the_secret_template() -> None:
    kustomization = _one("Kustomization", "kustomization.yaml")
    files = {name for name, _ in RESOURCES}
    assert TEMPLATE not in kustomization["resources"], "applying the template would blank the real Secret's values"
    assert set(kustomization["resources"]) == files - {TEMPLATE}
    assert [i["name"] for i in kustomization.get("images", [])] == [CONTAINER["image"]], "the image is set in one place"


def test_two_replicas_run_replywatch() -> None:
    assert DEPLOYMENT["spec"]["replicas"] == 2
    assert CONTAINER.get("command") is None, "the image's ENTRYPOINT is replywatch"
    assert CONTAINER["args"] == ["run"]
    labels = DEPLOYMENT["spec"]["template"]["metadata"]["labels"]
    assert DEPLOYMENT["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_liveness_runs_replywatch_health() -> None:
    assert CONTAINER["livenessProbe"]["exec"]["command"] == ["replywatch", "health", "--alive"], "only what a restart cures"
    assert CONTAINER["livenessProbe"]["timeoutSeconds"] >= 10, "health starts a Python process and reads the database"


def test_readiness_asks_healthz_on_the_metrics_port_the_settings_set() -> None:
    probe = CONTAINER["readinessProbe"]["httpGet"]
    assert probe["path"] == "/healthz"
    assert _port(probe["port"]) == int(CONFIG["data"]["METRICS_PORT"])
    assert CONFIG["data"]["METRICS_ADDR"] in {"0.0.0.0", "::"}, "the kubelet probes the pod's address, not its loopback"


def test_the_metrics_service_selects_the_pods_on_the_metrics_port() -> None:
    service = _one("Service")
    labels = DEPLOYMENT["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    (port,) = service["spec"]["ports"]
    assert _port(port["targetPort"]) == int(CONFIG["data"]["METRICS_PORT"])
    assert service["metadata"]["annotations"]["prometheus.io/port"] == str(port["port"])
    assert service["spec"]["publishNotReadyAddresses"] is True, "scraped while /healthz says 503"


def test_the_pod_runs_as_the_images_user_with_nothing_to_escalate() -> None:
    uid = re.search(r"useradd\b[^\n]*--uid (\d+)[^\n]* replywatch\b", (ROOT / "Dockerfile").read_text())
    assert uid, "the Dockerfile no longer creates the replywatch user with --uid"
    pod, container = POD["securityContext"], CONTAINER["securityContext"]
    assert pod["runAsNonRoot"] is True
    assert pod["runAsUser"] == int(uid[1])
    assert pod["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["allowPrivilegeEscalation"] is False
    assert container["capabilities"]["drop"] == ["ALL"]
    assert "add" not in container["capabilities"]
    assert POD["automountServiceAccountToken"] is False
    assert POD["enableServiceLinks"] is False, "a Service named `metrics` would set METRICS_PORT=tcp://…"


def test_the_root_filesystem_is_read_only_and_tmp_is_writable() -> None:
    assert CONTAINER["securityContext"]["readOnlyRootFilesystem"] is True
    mounts = {m["mountPath"]: m["name"] for m in CONTAINER["volumeMounts"]}
    volumes = {v["name"]: v for v in POD["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]], "tempfile (a report's chart) writes under /tmp"


def test_resources_are_requested_and_limited() -> None:
    resources = CONTAINER["resources"]
    assert {"cpu", "memory"} <= resources["requests"].keys()
    assert "memory" in resources["limits"]


def test_every_variable_the_pod_gets_is_a_replywatch_setting() -> None:
    named = [e["name"] for e in CONTAINER.get("env", [])] + list(CONFIG["data"]) + list(SECRET["stringData"])
    unknown = sorted(set(named) - SETTINGS)
    assert not unknown, f"not replywatch settings (bot/config/settings.py Settings): {unknown}"


def test_secrets_come_only_from_the_secret() -> None:
    secret = SECRET["metadata"]["name"]
    for entry in CONTAINER.get("env", []):
        assert "value" not in entry or entry["name"] not in SECRETS, f"{entry['name']} is inline in the Deployment"
    sources = [next(iter(s.values()))["name"] for s in CONTAINER["envFrom"] if "secretRef" in s]
    assert sources == [secret]
    database = next(e for e in CONTAINER["env"] if e["name"] == "DATABASE_URL")
    required = {"name": secret, "key": "DATABASE_URL"}  # not optional: a Secret without it stops the pod
    assert database["valueFrom"]["secretKeyRef"] == required
    assert not SECRETS & set(CONFIG["data"]), "a token or DATABASE_URL in the ConfigMap"
    assert [s["configMapRef"]["name"] for s in CONTAINER["envFrom"] if "configMapRef" in s] == [CONFIG["metadata"]["name"]]


def test_the_secret_template_holds_no_values() -> None:
    assert "data" not in SECRET
    assert {k: v for k, v in SECRET["stringData"].items() if v} == {}
    assert {"DATABASE_URL", "SLACK_BOT_TOKEN"} <= SECRET["stringData"].keys()
    text = "\n".join(p.read_text(encoding="utf-8") for p in HERE.glob("*.y*ml"))
    assert not re.search(r"\b(xox[abpr]|xapp)-\w", text), "something like a real Slack token in deploy/kubernetes"


def _port(port: int | str) -> int:
    """A container port by number, or by its name in the container's ports."""
    if isinstance(port, int):
        return port
    (number,) = [p["containerPort"] for p in CONTAINER["ports"] if p["name"] == port]
    return number
