"""What the chart tests share with the tests that install parts of the chart: rendering it, applying
what it renders, and the operator's identity installed from it."""

from __future__ import annotations

import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.cluster.helpers import deployment
from tests.conftest import ADMISSION, CRDS, Cluster

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "airlock"


Docs = list[dict[str, Any]]


def run_helm(helm: Path, *args: str) -> str:
    result = subprocess.run([str(helm), *args], capture_output=True, text=True, check=False, timeout=120)
    assert result.returncode == 0, f"helm {' '.join(args)} failed: {result.stderr.strip()}"
    return result.stdout


def render(helm: Path, release: str, namespace: str, *values: str, crds: bool = False) -> str:
    """`helm template` of the chart; `values` are --set arguments."""
    args = ["template", release, str(CHART), "--namespace", namespace]
    if crds:
        args.append("--include-crds")
    for value in values:
        args += ["--set", value]
    return run_helm(helm, *args)


def documents(text: str) -> Docs:
    return [d for d in yaml.safe_load_all(text) if d]


def one(docs: Docs, kind: str, name: str | None = None) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(found) == 1, f"expected one {kind} {name or ''} in the render, found {len(found)}"
    return found[0]


def apply_server_side(cluster: Cluster, text: str, *extra: str) -> subprocess.CompletedProcess[str]:
    # The session cluster already holds the CRDs and admission policies under another field manager; the
    # same values are shared without conflict, and --force-conflicts settles any field that differs.
    refuse_stale_shared_objects(documents(text))
    return cluster.kubectl(
        "apply",
        "--server-side",
        f"--field-manager={FIELD_MANAGER}",
        "--force-conflicts",
        *extra,
        "-f",
        "-",
        stdin=text,
    )


def release_name() -> str:
    return f"airlock-{secrets.token_hex(3)}"


@dataclass(frozen=True)
class Identity:
    """The chart's ServiceAccount, ClusterRole and binding installed in a namespace, and a token for it."""

    namespace: str
    service_account: str
    cluster_role: dict[str, Any]
    kubeconfig: Path


def install_operator_identity(cluster: Cluster, helm: Path, directory: Path, *values: str) -> Identity:
    """Applies only the chart's operator ServiceAccount, ClusterRole and ClusterRoleBinding, in a fresh
    namespace, and returns a kubeconfig holding a TokenRequest token of that ServiceAccount."""
    namespace = f"rbac-{secrets.token_hex(3)}"
    release = release_name()
    # The operator's own namespace, like airlock-system, is not one it governs.
    cluster.create_namespace(namespace, governed=False)
    docs = documents(render(helm, release, namespace, *values))
    operator_name = f"{release}-operator"
    picked = [
        d
        for d in docs
        if d["kind"] in ("ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")
        and d["metadata"]["name"] == operator_name
    ]
    assert len([d for d in picked if d["kind"] in ("Role", "RoleBinding")]) % 2 == 0, picked
    assert len(picked) >= 3, f"expected the operator's ServiceAccount, ClusterRole and binding, got {picked}"
    # The admission policy that holds the operator's identity to what RBAC cannot say.
    scope = [
        d
        for d in docs
        if d["kind"].startswith("ValidatingAdmissionPolicy")
        and d["metadata"]["name"] in (f"{operator_name}-scope", f"{operator_name}-scope-aiservices")
    ]
    assert len(scope) == 4, f"expected the operator's two scope policies and their bindings, got {scope}"
    for role in (d for d in picked if d["kind"] == "Role"):
        cluster.create_namespace(role["metadata"]["namespace"], check=False)
    apply_server_side(cluster, yaml.safe_dump_all(picked + scope))
    kubeconfig = cluster.token_kubeconfig(namespace, operator_name, directory / f"{release}.kubeconfig")
    identity = Identity(namespace, operator_name, one(picked, "ClusterRole"), kubeconfig)
    # Where the identity may patch Deployments at all: a watched namespace, or any when it watches all.
    watched = [d["metadata"]["namespace"] for d in picked if d["kind"] == "Role"]
    wait_until_operator_scope_enforced(cluster, identity, watched[0] if watched else PROBE_NS)
    return identity


PROBE_NS = "airlock-operator-scope-probe"


def wait_until_operator_scope_enforced(
    cluster: Cluster, who: Identity, probe_ns: str = PROBE_NS, timeout: float = 60
) -> None:
    """Waits for positive evidence that the operator's scope policy acts on this identity: a server-side
    dry run of a non-airlock label on a Deployment in a governed namespace is refused with its message."""
    cluster.create_namespace(probe_ns, check=False)
    cluster.apply(deployment("probe", probe_ns, 1))

    def refused() -> bool:
        result = cluster.kubectl(
            "label",
            "deployment",
            "probe",
            "-n",
            probe_ns,
            "team=x",
            "--dry-run=server",
            kubeconfig=who.kubeconfig,
            check=False,
        )
        return result.returncode != 0 and "may change only labels and annotations" in result.stderr

    cluster.wait_for(
        refused, timeout=timeout, what=f"the operator scope policy to act on {who.service_account}"
    )


FIELD_MANAGER = "airlock-chart-tests"


def refuse_stale_shared_objects(docs: Docs) -> None:
    """Fails before an apply that would replace a CRD, admission policy or people role that the session
    cluster shares with every other test by an out-of-date copy of it."""
    sources = {
        (d["kind"], d["metadata"]["name"]): d
        for directory in SHARED_SOURCES
        for path in sorted(directory.glob("*.yaml"))
        for d in documents(path.read_text())
    }
    stale = []
    for doc in docs:
        source = sources.get((doc["kind"], doc["metadata"]["name"]))
        if source is None:
            continue
        ours = _squeeze({k: v for k, v in doc.items() if k != "metadata"})
        theirs = _squeeze({k: v for k, v in source.items() if k != "metadata"})
        if ours != theirs:
            stale.append(f"{doc['kind']} {doc['metadata']['name']}")
    if stale:
        pytest.fail(
            f"the chart's copies of {', '.join(stale)} differ from their sources; not applying them over the "
            "session's. Run `python hack/sync_chart_crds.py` and `python hack/gen_manifests.py`."
        )


SHARED_SOURCES = (CRDS, ADMISSION, ROOT / "manifests" / "rbac")


def _squeeze(value: Any) -> Any:
    # kustomize re-wraps folded (>-) scalars that hold more-indented lines, adding blank lines inside CEL
    # expressions; CEL ignores whitespace, so compare strings with whitespace runs collapsed.
    if isinstance(value, str):
        return " ".join(value.split())
    if isinstance(value, dict):
        return {k: _squeeze(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_squeeze(v) for v in value]
    return value
