"""What the cluster tests share: builders of objects, readers of what the operator wrote, `kubectl airlock`
run as a person runs it, ServiceAccounts with their RBAC, and the workload kinds Airlock governs."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from airlock.logic.digest import packet_digest
from airlock.models.packet import ReadinessPacketSpec
from airlock_dev import samples
from tests.evaltools import write_map

if TYPE_CHECKING:
    from tests.conftest import Cluster


def aiservice(
    name: str,
    namespace: str,
    *,
    workload: str | None = None,
    pilot: int = 1,
    annotations: dict[str, str] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    return {
        "apiVersion": "airlock.dev/v1alpha1",
        "kind": "AIService",
        "metadata": {"name": name, "namespace": namespace, "annotations": annotations or {}},
        "spec": {
            "workload": {"name": workload or name},
            "owner": "jane.doe@example.com",
            "versions": {"model": "gpt-4o-2024-08-06", "prompt": "v14"},
            "pilotReplicas": pilot,
            **spec,
        },
    }


def deployment(name: str, namespace: str, replicas: int = 1) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "app", "image": "registry.example/support-assistant:1.0"}]},
            },
        },
    }


def status(cluster: Cluster, ns: str, name: str = "support-assistant") -> dict[str, Any]:
    out: dict[str, Any] = cluster.get("aiservice", name, ns).get("status") or {}
    return out


def condition(st: dict[str, Any], type_: str) -> dict[str, Any]:
    return next((c for c in st.get("conditions", []) if c["type"] == type_), {})


def replicas(cluster: Cluster, ns: str, name: str = "support-assistant") -> int:
    out: int = cluster.get("deployment", name, ns)["spec"]["replicas"]
    return out


def setup_service(cluster: Cluster, ns: str, replicas: int = 1) -> None:
    service = samples.load("service.yaml")
    service["metadata"]["namespace"] = ns
    cluster.apply(deployment("support-assistant", ns, replicas))
    cluster.apply(service)


def complete_packet(cluster: Cluster, ns: str) -> None:
    cluster.apply(
        samples.current_packet(samples.load("packet-complete.yaml"), dt.datetime.now(dt.UTC), namespace=ns)
    )


def events(cluster: Cluster, ns: str) -> list[str]:
    out = cluster.kubectl("get", "events", "-n", ns, "-o", "json").stdout
    return [e["reason"] for e in json.loads(out)["items"]]


ROOT = Path(__file__).resolve().parents[2]
SERVICE = "support-assistant"


RFC3339_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def plugin(
    cluster: Cluster, *args: str, kubeconfig: Path | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Runs `kubectl airlock ARGS` with the given kubeconfig, output to a pipe as in a script."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "NO_COLOR")}
    env |= {"KUBECONFIG": str(kubeconfig or cluster.kubeconfig), "PYTHONPATH": str(ROOT / "operator")}
    result = subprocess.run(
        [sys.executable, "-m", "airlock.cli.kubectl_plugin", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=timeout,
        check=False,
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result


def create_service(cluster: Cluster, namespace: str, *, replicas: int = 1, pilot: int = 1) -> None:
    """A Deployment and the AIService that governs it."""
    cluster.kubectl(
        "create",
        "deployment",
        SERVICE,
        "--image=registry.example/x:1",
        f"--replicas={replicas}",
        "-n",
        namespace,
    )
    cluster.apply(f"""
apiVersion: airlock.dev/v1alpha1
kind: AIService
metadata: {{name: {SERVICE}, namespace: {namespace}}}
spec:
  workload: {{name: {SERVICE}}}
  owner: jane.doe@example.com
  versions: {{model: gpt-4o-2024-08-06, prompt: v14}}
  pilotReplicas: {pilot}
""")


def service_status(cluster: Cluster, namespace: str) -> dict[str, Any]:
    status: dict[str, Any] = cluster.get("aiservice", SERVICE, namespace).get("status") or {}
    return status


def wait_for_stage(cluster: Cluster, namespace: str, stage: str) -> dict[str, Any]:
    def reached() -> dict[str, Any] | None:
        status = service_status(cluster, namespace)
        return status if status.get("stage") == stage else None

    found: dict[str, Any] = cluster.wait_for(
        reached, timeout=30, what=f"AIService {SERVICE} to reach {stage}"
    )
    return found


def deployment_replicas(cluster: Cluster, namespace: str) -> int:
    replicas: int = cluster.get("deployment", SERVICE, namespace)["spec"]["replicas"]
    return replicas


def service_account(cluster: Cluster, namespace: str, name: str, rules: str, tmp_path: Path) -> Path:
    """A kubeconfig for a real ServiceAccount token, with a Role of `rules` bound to it."""
    kubeconfig = cluster.token_kubeconfig(namespace, name, tmp_path / f"{name}.kubeconfig")
    cluster.apply(f"""
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: {name}, namespace: {namespace}}}
rules: {rules}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: {name}, namespace: {namespace}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: {name}}}
subjects: [{{kind: ServiceAccount, name: {name}, namespace: {namespace}}}]
""")
    return kubeconfig


RELEASER = ROOT / "manifests" / "rbac" / "kill-switch-releaser.yaml"


# On-call as the runbook assumes: may read and patch the AIService and scale the Deployment, nothing more.
ONCALL_RULES = (
    '[{apiGroups: ["airlock.dev"], resources: ["aiservices"], verbs: ["get", "list", "patch"]},'
    ' {apiGroups: ["apps"], resources: ["deployments"], verbs: ["get", "list"]},'
    ' {apiGroups: ["apps"], resources: ["deployments/scale"], verbs: ["get", "patch"]}]'
)


@dataclass(frozen=True)
class Identity:
    user: str
    kubeconfig: Path

    def run(self, cluster: Cluster, namespace: str, *args: str) -> tuple[bool, str]:
        result = cluster.kubectl(*args, "-n", namespace, kubeconfig=self.kubeconfig, check=False)
        return result.returncode == 0, result.stderr

    def apply(self, cluster: Cluster, doc: dict[str, object]) -> tuple[bool, str]:
        result = cluster.kubectl(
            "apply", "-f", "-", kubeconfig=self.kubeconfig, stdin=json.dumps(doc), check=False
        )
        return result.returncode == 0, result.stderr


def identity(
    cluster: Cluster, namespace: str, tmp_path: Path, name: str, rules: list[dict[str, object]]
) -> Identity:
    """A ServiceAccount bound in `namespace` to a Role with `rules`; waits until RBAC grants the first."""
    kubeconfig = cluster.token_kubeconfig(namespace, name, tmp_path / f"{name}.kubeconfig")
    cluster.apply(
        [
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "Role",
                "metadata": {"name": name, "namespace": namespace},
                "rules": rules,
            },
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": {"name": name, "namespace": namespace},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
                "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}],
            },
        ]
    )
    user = f"system:serviceaccount:{namespace}:{name}"
    first = rules[0]
    cluster.wait_for(
        lambda: cluster.service_account_may(
            user,
            namespace,
            verb=str(first["verbs"][0]),  # type: ignore[index]
            group=str(first["apiGroups"][0]),  # type: ignore[index]
            resource=str(first["resources"][0]).replace("*", "aiservices"),  # type: ignore[index]
        ),
        timeout=10,
        what=f"RBAC to grant {user} its Role",
    )
    return Identity(user, kubeconfig)


TEAM_RULES: list[dict[str, object]] = [
    {"apiGroups": ["airlock.dev"], "resources": ["*"], "verbs": ["*"]},
    {"apiGroups": ["apps"], "resources": ["deployments", "deployments/scale"], "verbs": ["*"]},
]


def imported_packet(results_file: Path, namespace: str, workdir: Path) -> dict[str, Any]:
    """The complete example packet, current, with its evals imported by `airlock evals import` and its
    approvals signed again for the new content, as the owner and security would after reviewing it."""
    workdir.mkdir(parents=True, exist_ok=True)
    base = workdir / "packet.yaml"
    current = samples.current_packet(samples.load("packet-complete.yaml"), dt.datetime.now(dt.UTC))
    base.write_text(yaml.safe_dump(current, sort_keys=False))
    category_map = write_map(workdir / "map.yaml")
    argv = ["evals", "import", str(results_file), "--map", str(category_map), "--packet", str(base)]
    out = subprocess.run(
        [sys.executable, "-m", "airlock.cli.main", *argv],
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    packet: dict[str, Any] = yaml.safe_load(out.stdout)
    packet["metadata"]["namespace"] = namespace
    digest = packet_digest(ReadinessPacketSpec.model_validate(packet["spec"]))
    for approval in packet["spec"]["approvals"]:
        approval["digest"] = digest
    return packet


IMAGE = "registry.example/support-assistant:1.0"


@dataclass(frozen=True)
class Kind:
    kind: str
    api_version: str
    group: str
    version: str
    plural: str

    @property
    def ref(self) -> str:
        """How kubectl names the resource (plural.group, unambiguous)."""
        return self.plural if self.group == "apps" else f"{self.plural}.{self.group}"

    def manifest(self, name: str, namespace: str, replicas: int | None) -> dict[str, Any]:
        labels = {"app": name}
        spec: dict[str, Any] = {
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "app", "image": IMAGE}]},
            },
        }
        if replicas is not None:
            spec["replicas"] = replicas
        if self.kind == "StatefulSet":
            spec["serviceName"] = name
        if self.kind == "Rollout":
            spec["strategy"] = {"canary": {"steps": [{"setWeight": 20}, {"pause": {}}]}}
        return {
            "apiVersion": self.api_version,
            "kind": self.kind,
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": spec,
        }

    def service(self, name: str, namespace: str, **kw: Any) -> dict[str, Any]:
        doc = aiservice(name, namespace, **kw)
        doc["spec"]["workload"] = {"apiVersion": self.api_version, "kind": self.kind, "name": name}
        return doc


DEPLOYMENT = Kind("Deployment", "apps/v1", "apps", "v1", "deployments")
STATEFUL_SET = Kind("StatefulSet", "apps/v1", "apps", "v1", "statefulsets")
ROLLOUT = Kind("Rollout", "argoproj.io/v1alpha1", "argoproj.io", "v1alpha1", "rollouts")
KINDS = [DEPLOYMENT, STATEFUL_SET, ROLLOUT]
KIND_IDS = [k.kind for k in KINDS]
ALL_KINDS_ENV = {"AIRLOCK_WORKLOAD_KINDS": "Deployment,StatefulSet,Rollout"}


def call_as(
    cluster: Cluster, who: Identity, call: Callable[[client.CustomObjectsApi], Any]
) -> tuple[bool, str]:
    try:
        call(client.CustomObjectsApi(cluster.api_client(who.kubeconfig)))
    except ApiException as exc:
        return False, str(exc.body)
    return True, ""


def scale_subresource_put(
    cluster: Cluster, who: Identity, k: Kind, ns: str, name: str, n: int
) -> tuple[bool, str]:
    # As the HPA controller does: read the Scale, change spec.replicas, PUT it back.
    def call(api: client.CustomObjectsApi) -> None:
        scale = api.get_namespaced_custom_object_scale(k.group, k.version, ns, k.plural, name)
        scale["spec"]["replicas"] = n
        api.replace_namespaced_custom_object_scale(k.group, k.version, ns, k.plural, name, scale)

    return call_as(cluster, who, call)


def replicas_of(cluster: Cluster, k: Kind, ns: str, name: str) -> int:
    out: int = cluster.get(k.ref, name, ns)["spec"].get("replicas", 1)
    return out
