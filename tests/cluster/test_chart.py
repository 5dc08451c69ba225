"""The Helm chart and the kustomize base on the real API server: accepted as rendered, Pod Security
`restricted`, least-privilege RBAC proven with the operator's own ServiceAccount token, and what removing
each piece does to enforcement.
"""

from __future__ import annotations

import copy
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from airlock_dev.admission_probe import wait_until_enforced
from airlock_dev.localcluster import ControlPlaneError, LocalCluster, find_binaries, free_port
from tests.cluster.chart_helpers import (
    CHART,
    FIELD_MANAGER,
    ROOT,
    Identity,
    apply_server_side,
    documents,
    install_operator_identity,
    one,
    refuse_stale_shared_objects,
    release_name,
    render,
    run_helm,
)
from tests.cluster.helpers import aiservice, deployment
from tests.conftest import ADMISSION, CRDS, Cluster, start_operator
from tests.support import wait_for

BASE = ROOT / "manifests" / "base"
INSTALL_DOC = ROOT / "docs" / "install.md"


# ---- helm lint and the render --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "values",
    [
        pytest.param((), id="default-values"),
        pytest.param(
            (
                "serviceMonitor.enabled=true",
                "prometheusRule.enabled=true",
                "operator.watchNamespaces={team-a,team-b}",
                "namespace.create=true",
                "rbac.killSwitchReleaser.subjects[0].kind=Group",
                "rbac.killSwitchReleaser.subjects[0].name=oncall-leads",
                "rbac.killSwitchReleaser.subjects[0].apiGroup=rbac.authorization.k8s.io",
            ),
            id="every-option-on",
        ),
    ],
)
def test_helm_lint_passes(helm: Path, values: tuple[str, ...]) -> None:
    args = ["lint", str(CHART), "--strict"]
    for value in values:
        args += ["--set", value]
    out = run_helm(helm, *args)
    assert "0 chart(s) failed" in out, out


def test_rendered_chart_with_its_crds_is_accepted_by_the_api_server(cluster: Cluster, helm: Path) -> None:
    namespace = f"chart-{secrets.token_hex(3)}"
    release = release_name()
    text = render(helm, release, namespace, "namespace.create=true", crds=True)
    docs = documents(text)
    assert {"CustomResourceDefinition", "Deployment", "ValidatingAdmissionPolicy"} <= {
        d["kind"] for d in docs
    }

    out = apply_server_side(cluster, text).stdout
    for doc in docs:
        assert f"{doc['metadata']['name']} serverside-applied" in out, f"{doc['kind']} missing from:\n{out}"
    operator = cluster.get("deployment", f"{release}-operator", namespace)
    assert operator["spec"]["replicas"] == 2
    cluster.kubectl("wait", "--for=condition=Established", "--timeout=30s", "crd", "aiservices.airlock.dev")
    # Every admission policy and binding of manifests/admission is part of the release.
    for path in sorted(ADMISSION.glob("*.yaml")):
        for policy in documents(path.read_text()):
            cluster.get(policy["kind"].lower(), policy["metadata"]["name"])


def test_kustomize_base_is_accepted_by_the_api_server(cluster: Cluster) -> None:
    built = cluster.kubectl("kustomize", str(BASE)).stdout
    refuse_stale_shared_objects(documents(built))
    out = cluster.kubectl(
        "apply", "--server-side", f"--field-manager={FIELD_MANAGER}", "--force-conflicts", "-k", str(BASE)
    ).stdout
    assert "namespace/airlock-system serverside-applied" in out, out
    assert "deployment.apps/airlock-operator serverside-applied" in out, out
    namespace = cluster.get("namespace", "airlock-system")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert cluster.get("clusterrolebinding", "airlock-operator")["subjects"] == [
        {"kind": "ServiceAccount", "name": "airlock-operator", "namespace": "airlock-system"}
    ]


# ---- Pod Security --------------------------------------------------------------------------------------


def operator_pod(helm: Path, namespace: str) -> dict[str, Any]:
    """A Pod made from the chart's operator Deployment template, as the ReplicaSet would make it."""
    template = one(documents(render(helm, "airlock", namespace)), "Deployment")["spec"]["template"]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "airlock-operator-psa",
            "namespace": namespace,
            "labels": template["metadata"]["labels"],
        },
        "spec": copy.deepcopy(template["spec"]),
    }


@pytest.fixture(scope="module")
def restricted_namespace(cluster: Cluster) -> str:
    name = f"psa-{secrets.token_hex(3)}"
    labels = {
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/enforce-version": "latest",
        "pod-security.kubernetes.io/warn": "restricted",
    }
    cluster.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}})
    return name


def dry_run_create(cluster: Cluster, obj: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    # Pod Security is enforced on Pods, not on Deployments (for those it only warns), so this creates the
    # Pod; a server-side dry run goes through every admission plugin without storing anything.
    return cluster.kubectl("create", "--dry-run=server", "-f", "-", stdin=yaml.safe_dump(obj), check=False)


def test_operator_pod_is_admitted_under_pod_security_restricted(
    cluster: Cluster, helm: Path, restricted_namespace: str
) -> None:
    result = dry_run_create(cluster, operator_pod(helm, restricted_namespace))
    assert result.returncode == 0, result.stderr
    assert "violate" not in result.stderr, result.stderr


def _container(pod: dict[str, Any]) -> dict[str, Any]:
    container: dict[str, Any] = pod["spec"]["containers"][0]
    return container


def _escalate(pod: dict[str, Any]) -> None:
    _container(pod)["securityContext"]["allowPrivilegeEscalation"] = True


def _keep_capabilities(pod: dict[str, Any]) -> None:
    del _container(pod)["securityContext"]["capabilities"]


def _run_as_root(pod: dict[str, Any]) -> None:
    for context in (pod["spec"]["securityContext"], _container(pod)["securityContext"]):
        context["runAsNonRoot"] = False
        context["runAsUser"] = 0


def _no_seccomp(pod: dict[str, Any]) -> None:
    for context in (pod["spec"]["securityContext"], _container(pod)["securityContext"]):
        del context["seccompProfile"]


@pytest.mark.parametrize(
    ("weaken", "violation"),
    [
        pytest.param(_escalate, "allowPrivilegeEscalation != false", id="privilege-escalation-allowed"),
        pytest.param(_keep_capabilities, "unrestricted capabilities", id="capabilities-not-dropped"),
        pytest.param(_run_as_root, "runAsNonRoot != true", id="runs-as-root"),
        pytest.param(_no_seccomp, "seccompProfile", id="no-seccomp-profile"),
    ],
)
def test_operator_pod_weakened_in_one_field_is_refused_under_pod_security_restricted(
    cluster: Cluster,
    helm: Path,
    restricted_namespace: str,
    weaken: Callable[[dict[str, Any]], None],
    violation: str,
) -> None:
    pod = operator_pod(helm, restricted_namespace)
    weaken(pod)
    result = dry_run_create(cluster, pod)
    assert result.returncode != 0, (
        "a Pod that breaks `restricted` was admitted: the check above proves nothing"
    )
    assert 'violates PodSecurity "restricted:latest"' in result.stderr, result.stderr
    assert violation in result.stderr, result.stderr


# ---- RBAC: the operator's ServiceAccount, for real ------------------------------------------------------


@pytest.fixture(scope="module")
def identity(cluster: Cluster, helm: Path, tmp_path_factory: pytest.TempPathFactory) -> Identity:
    return install_operator_identity(cluster, helm, tmp_path_factory.mktemp("rbac"))


def can_i(cluster: Cluster, who: Identity, verb: str, resource: str, namespace: str = "default") -> bool:
    """`kubectl auth can-i` as the ServiceAccount itself (a SelfSubjectAccessReview with its token)."""
    resource, _, subresource = resource.partition("/")
    args = ["auth", "can-i", verb, resource, "-n", namespace]
    if subresource:
        args.append(f"--subresource={subresource}")
    result = cluster.kubectl(*args, kubeconfig=who.kubeconfig, check=False)
    answer = result.stdout.strip()
    assert answer in ("yes", "no"), (
        f"kubectl auth can-i {verb} {resource} answered {answer!r}: {result.stderr}"
    )
    return answer == "yes"


ALLOWED = [
    ("patch", "deployments.apps/scale"),
    ("get", "deployments.apps/scale"),
    ("patch", "deployments.apps"),
    ("watch", "deployments.apps"),
    ("patch", "aiservices.airlock.dev/status"),
    ("patch", "readinesspackets.airlock.dev/status"),
    ("watch", "readinesspackets.airlock.dev"),
    ("list", "aiservices.airlock.dev"),
    # Only to remove the annotations a released kill switch left behind.
    ("patch", "aiservices.airlock.dev"),
    ("watch", "readinesspolicies.airlock.dev"),
    ("create", "events"),
    ("create", "events.events.k8s.io"),
    ("watch", "customresourcedefinitions.apiextensions.k8s.io"),
    ("list", "namespaces"),
    ("watch", "namespaces"),
]
DENIED = [
    ("get", "secrets"),
    ("list", "secrets"),
    ("delete", "deployments.apps"),
    ("create", "deployments.apps"),
    ("update", "deployments.apps/scale"),
    ("update", "aiservices.airlock.dev"),
    ("delete", "aiservices.airlock.dev"),
    ("update", "readinesspackets.airlock.dev"),
    ("patch", "readinesspackets.airlock.dev"),
    ("patch", "readinesspolicies.airlock.dev/status"),
    ("create", "pods"),
    ("create", "pods/exec"),
    ("patch", "namespaces"),
    ("patch", "deployments.apps/status"),
    ("patch", "customresourcedefinitions.apiextensions.k8s.io"),
    ("release", "aiservices.governance.airlock.dev/killswitch"),
    ("approve", "approvalroles.governance.airlock.dev"),
    ("impersonate", "serviceaccounts"),
]


@pytest.mark.parametrize(("verb", "resource"), ALLOWED, ids=[f"{v}-{r}" for v, r in ALLOWED])
def test_operator_service_account_may_do_what_the_operator_does(
    cluster: Cluster, identity: Identity, verb: str, resource: str
) -> None:
    assert can_i(cluster, identity, verb, resource), (
        f"the operator's ServiceAccount may not {verb} {resource}"
    )


@pytest.mark.parametrize(("verb", "resource"), DENIED, ids=[f"{v}-{r}" for v, r in DENIED])
def test_operator_service_account_may_not_do_anything_else(
    cluster: Cluster, identity: Identity, verb: str, resource: str
) -> None:
    assert not can_i(cluster, identity, verb, resource), (
        f"the operator's ServiceAccount may {verb} {resource}"
    )


def test_operator_cluster_role_as_stored_has_no_wildcard_and_no_secrets(
    cluster: Cluster, identity: Identity
) -> None:
    stored = cluster.get("clusterrole", identity.cluster_role["metadata"]["name"])
    assert stored["rules"] == identity.cluster_role["rules"]
    flat = [value for rule in stored["rules"] for values in rule.values() for value in values]
    assert not [v for v in flat if "*" in v], f"wildcard in the operator's ClusterRole: {stored['rules']}"
    assert "secrets" not in flat


def test_watching_some_namespaces_grants_namespaced_rules_only_there(
    cluster: Cluster, helm: Path, identity: Identity, tmp_path: Path
) -> None:
    watched = f"team-{secrets.token_hex(3)}"
    scoped = install_operator_identity(cluster, helm, tmp_path, f"operator.watchNamespaces={{{watched}}}")
    resources = {r for rule in scoped.cluster_role["rules"] for r in rule["resources"]}
    assert resources == {"customresourcedefinitions", "readinesspolicies", "namespaces"}, scoped.cluster_role
    for verb, resource in ALLOWED:
        assert can_i(cluster, scoped, verb, resource, namespace=watched), f"{verb} {resource} in {watched}"
    elsewhere = identity.namespace  # any namespace it does not watch
    for verb, resource in [
        ("patch", "deployments.apps/scale"),
        ("patch", "deployments.apps"),
        ("patch", "aiservices.airlock.dev/status"),
        ("list", "aiservices.airlock.dev"),
    ]:
        assert not can_i(cluster, scoped, verb, resource, namespace=elsewhere), f"{verb} {resource} elsewhere"


def can_i_list(cluster: Cluster, who: Identity) -> str:
    return cluster.kubectl("auth", "can-i", "--list", "-n", "default", kubeconfig=who.kubeconfig).stdout


def _rows(text: str) -> list[tuple[str, ...]]:
    # Column widths follow the longest cell, so compare cells, not spacing; and rows as a set.
    return sorted(tuple(re.split(r"\s{2,}", line.strip())) for line in text.strip().splitlines())


def test_can_i_list_in_install_doc_is_what_the_service_account_gets(
    cluster: Cluster, identity: Identity
) -> None:
    live = can_i_list(cluster, identity)
    doc = INSTALL_DOC.read_text()
    match = re.search(r"<!-- can-i-list -->\n```text\n(.*?)```", doc, re.DOTALL)
    assert match, f"{INSTALL_DOC} lacks the can-i block (<!-- can-i-list --> then a ```text fence)"
    assert _rows(match.group(1)) == _rows(live), (
        f"{INSTALL_DOC}'s `kubectl auth can-i --list` output is out of date; paste this instead:\n{live}"
    )


def chart_env(helm: Path, *values: str) -> dict[str, str]:
    """The operator container's AIRLOCK_* variables as the chart renders them."""
    docs = documents(render(helm, "airlock", "airlock-system", *values))
    container = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e["value"] for e in container["env"] if e["name"].startswith("AIRLOCK_")}


@pytest.mark.parametrize("scope", ["cluster-wide", "one-namespace"])
def test_operator_runs_on_the_charts_rbac_and_settings_alone(
    cluster: Cluster, helm: Path, identity: Identity, namespace: str, tmp_path: Path, scope: str
) -> None:
    values = (f"operator.watchNamespaces={{{namespace}}}",) if scope == "one-namespace" else ()
    who = install_operator_identity(cluster, helm, tmp_path, *values) if values else identity
    # The chart's settings, on a free port rather than 8080 so parallel runs do not collide.
    metrics_port = free_port()
    env = {**chart_env(helm, *values), "AIRLOCK_METRICS_PORT": str(metrics_port)}
    cluster.apply(deployment("assistant", namespace, replicas=3))
    cluster.apply(aiservice("assistant", namespace, pilot=1))
    op = start_operator(cluster, tmp_path, kubeconfig=who.kubeconfig, extra_env=env)
    try:
        # The backstop scales through deployments/scale, labels the Deployment, writes status, records events.
        cluster.wait_for(
            lambda: cluster.get("deployment", "assistant", namespace)["spec"]["replicas"] == 1,
            what="the operator to scale the Deployment down to its pilot size",
        )
        cluster.wait_for(
            lambda: (
                (cluster.get("aiservice", "assistant", namespace).get("status") or {}).get("stage") == "Pilot"
            ),
            what="the AIService's status",
        )
        # A pass writes the status before the labels: wait for the label itself.
        cluster.wait_for(
            lambda: (
                (cluster.get("deployment", "assistant", namespace)["metadata"].get("labels") or {}).get(
                    "airlock.dev/stage"
                )
                == "Pilot"
            ),
            what="the stage label on the Deployment",
        )
        cluster.wait_for(
            lambda: bool(cluster.kubectl("get", "events", "-n", namespace, "-o", "name").stdout.strip()),
            what="an Event from the operator",
        )
        # What the liveness and readiness probes ask for.
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as response:
            assert response.status == 200
            assert b"airlock_service_allowed_replicas{" in response.read()
    finally:
        op.stop(signal.SIGTERM)
    log = op.log()
    # kopf reports a missing permission as a 403/Forbidden error or "Not enough permissions to ...".
    denied = re.search(r"\b(403|Forbidden)\b|Not enough permissions|could not record event", log)
    assert denied is None, f"the operator lacked a permission ({denied.group(0)!r}):\n{log[-6000:]}"


# ---- helm install and uninstall, on a private control plane (these delete what every other test uses) --


@dataclass
class Private:
    """A second control plane with the chart installed by `helm install`, for tests that remove
    cluster-wide objects the session cluster shares with every other test."""

    local: LocalCluster
    helm_path: Path
    install_output: str = ""

    def kubectl(
        self, *args: str, stdin: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        cmd = [self.local.kubectl, f"--kubeconfig={self.local.kubeconfig}", *args]
        result = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=60, check=False)
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {result.stderr.strip()}")
        return result

    def helm(self, *args: str) -> str:
        # Helm's cache, config and data directories live with this control plane, not in $HOME.
        home = self.local.workdir / "helm"
        env = {
            "PATH": "/usr/bin:/bin",
            "HELM_CACHE_HOME": str(home / "cache"),
            "HELM_CONFIG_HOME": str(home / "config"),
            "HELM_DATA_HOME": str(home / "data"),
        }
        result = subprocess.run(
            [str(self.helm_path), f"--kubeconfig={self.local.kubeconfig}", *args],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env=env,
        )
        assert result.returncode == 0, f"helm {' '.join(args)} failed: {result.stderr.strip()}"
        return result.stdout

    def install(self) -> None:
        """`helm install`, or `helm upgrade` to put back what a test deleted. Helm recreates missing
        objects but never touches CRDs after the first install, so those are applied as docs/install.md says.
        """
        if self.install_output:
            self.kubectl("apply", "--server-side", "-f", str(CHART / "crds"))
            self.helm("upgrade", "airlock", str(CHART), "--namespace", "airlock-system")
        else:
            self.install_output = self.helm(
                "install", "airlock", str(CHART), "--namespace", "airlock-system", "--create-namespace"
            )
        self.kubectl("wait", "--for=condition=Established", "--timeout=30s", "crd", "--all")
        # Applied is not enforcing: wait for the policies to refuse and admit as they should.
        wait_until_enforced(self.local)

    def scale_is_admitted(self, namespace: str, name: str, replicas: int) -> bool:
        result = self.kubectl(
            "scale",
            f"deployment/{name}",
            "-n",
            namespace,
            f"--replicas={replicas}",
            "--dry-run=server",
            check=False,
        )
        assert result.returncode == 0 or "denied request" in result.stderr, result.stderr
        return result.returncode == 0


@pytest.fixture(scope="module")
def private(helm: Path) -> Iterator[Private]:
    workdir = Path(tempfile.mkdtemp(prefix="airlock-chart-uninstall-"))
    local = LocalCluster(bin_dir=find_binaries(), workdir=workdir)
    local.start()
    try:
        p = Private(local, helm)
        p.install()
        yield p
    finally:
        local.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def governed_service(p: Private) -> str:
    """A namespace with a Deployment at 1 replica whose AIService caps it at 1, once the cap is enforced."""
    namespace = f"app-{secrets.token_hex(3)}"
    p.kubectl("create", "namespace", namespace)
    p.kubectl("label", "namespace", namespace, "airlock.dev/governed=true")
    p.kubectl(
        "apply",
        "-f",
        "-",
        stdin=yaml.safe_dump_all([deployment("web", namespace, 1), aiservice("web", namespace)]),
    )
    wait_for(lambda: not p.scale_is_admitted(namespace, "web", 3), what="the cap to be enforced")
    return namespace


def test_helm_install_creates_the_release_and_prints_how_to_check_it(private: Private) -> None:
    assert "STATUS: deployed" in private.install_output, private.install_output
    notes = private.install_output.split("NOTES:", 1)[-1]
    assert "kubectl -n airlock-system rollout status deployment/airlock-operator" in notes, notes
    assert "kubectl get validatingadmissionpolicy" in notes, notes
    assert "--replicas=<ALLOWED + 1> --dry-run=server" in notes, notes
    assert private.kubectl(
        "get", "deployment", "airlock-operator", "-n", "airlock-system", "-o", "name"
    ).stdout


def test_deleting_the_policy_binding_first_lifts_the_cap_and_reapplying_restores_it(private: Private) -> None:
    namespace = governed_service(private)
    private.kubectl("delete", "validatingadmissionpolicybinding", "airlock-replica-cap")
    wait_for(lambda: private.scale_is_admitted(namespace, "web", 3), what="the cap to be lifted")
    # The policy itself is still there: a policy without a binding enforces nothing, and the install probe
    # says so instead of taking a stored policy for an enforcing one.
    private.kubectl("get", "validatingadmissionpolicy", "airlock-replica-cap")
    with pytest.raises(ControlPlaneError, match="the replica cap did not refuse"):
        wait_until_enforced(private.local, timeout=2)
    private.install()
    wait_for(lambda: not private.scale_is_admitted(namespace, "web", 3), what="the cap to be enforced again")


def test_deleting_the_crds_removes_every_aiservice_and_with_them_the_cap(private: Private) -> None:
    namespace = governed_service(private)
    private.kubectl("delete", "-f", str(CRDS / "airlock.dev_aiservices.yaml"))
    wait_for(
        lambda: private.kubectl("get", "aiservices", "-A", check=False).returncode != 0,
        what="AIServices to go away",
    )
    # The policy reads AIServices as its parameters; with none left, nothing is governed.
    wait_for(lambda: private.scale_is_admitted(namespace, "web", 3), what="the cap to be lifted")
    assert private.kubectl("get", "deployment", "web", "-n", namespace, "-o", "name").stdout.strip()
    # Reinstalling brings the CRD back empty: the AIService is gone until it is applied again.
    private.install()
    assert not private.kubectl("get", "aiservices", "-n", namespace, "-o", "name").stdout.strip()
    private.kubectl("apply", "-f", "-", stdin=yaml.safe_dump(aiservice("web", namespace)))
    wait_for(lambda: not private.scale_is_admitted(namespace, "web", 3), what="the cap to be enforced again")


def test_helm_uninstall_lifts_the_cap_and_keeps_the_crds_and_aiservices(private: Private) -> None:
    namespace = governed_service(private)
    private.helm("uninstall", "airlock", "--namespace", "airlock-system")
    wait_for(lambda: private.scale_is_admitted(namespace, "web", 3), what="the cap to be lifted")
    assert not private.kubectl("get", "validatingadmissionpolicies", "-o", "name").stdout.strip()
    assert not private.kubectl("get", "deployments", "-n", "airlock-system", "-o", "name").stdout.strip()
    # Helm never deletes CRDs: the AIService and its evidence survive until the CRDs are deleted by hand.
    assert private.kubectl("get", "aiservice", "web", "-n", namespace, "-o", "name").stdout.strip()
