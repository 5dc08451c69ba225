"""Airlock acts only in governed namespaces, and the operator's own identity only on what it governs.

The namespaces are real, the identities are real (a platform-less user, the chart's operator
ServiceAccount with its token), and every refusal comes from the API server's own admission.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest

from airlock_dev.admission_probe import wait_until_enforced
from tests.cluster.chart_helpers import Identity, install_operator_identity
from tests.cluster.helpers import aiservice, deployment
from tests.conftest import Cluster, OperatorProcess


@pytest.fixture(scope="module")
def operator_identity(cluster: Cluster, helm: Path, tmp_path_factory: pytest.TempPathFactory) -> Identity:
    return install_operator_identity(cluster, helm, tmp_path_factory.mktemp("scope"))


def person(cluster: Cluster, namespace: str, tmp_path: Path, name: str) -> Path:
    """A ServiceAccount that may edit namespaces (labels included) but holds no platform permission."""
    kubeconfig = cluster.token_kubeconfig(namespace, name, tmp_path / f"{name}.kubeconfig")
    role = f"ns-editor-{secrets.token_hex(3)}"
    cluster.kubectl("create", "clusterrole", role, "--verb=get,list,patch,update", "--resource=namespaces")
    cluster.kubectl(
        "create",
        "clusterrolebinding",
        role,
        f"--clusterrole={role}",
        f"--serviceaccount={namespace}:{name}",
    )
    return kubeconfig


def test_an_aiservice_in_an_unmarked_namespace_is_refused_naming_the_label_to_add(cluster: Cluster) -> None:
    ns = cluster.create_namespace(f"plain-{secrets.token_hex(3)}", governed=False)
    result = cluster.apply(aiservice("bot", ns), check=False)
    assert result.returncode != 0, "an AIService was admitted where nothing would enforce it"
    assert f"kubectl label namespace {ns} airlock.dev/governed=true" in result.stderr, result.stderr


def test_deployment_writes_in_an_unmarked_namespace_are_never_judged(cluster: Cluster) -> None:
    ns = cluster.create_namespace(f"plain-{secrets.token_hex(3)}", governed=False)
    cluster.apply(deployment("bot", ns, 1))
    result = cluster.kubectl("scale", "deployment", "bot", "-n", ns, "--replicas=50")
    assert result.returncode == 0


def test_taking_the_mark_off_a_namespace_needs_the_platform_permission(
    cluster: Cluster, namespace: str, tmp_path: Path
) -> None:
    bob = person(cluster, namespace, tmp_path, "bob")
    refused = cluster.kubectl(
        "label", "namespace", namespace, "airlock.dev/governed-", kubeconfig=bob, check=False
    )
    assert refused.returncode != 0, "someone without govern took the mark off a governed namespace"
    assert "verb govern on aiservices in governance.airlock.dev" in refused.stderr, refused.stderr
    changed = cluster.kubectl(
        "label",
        "--overwrite",
        "namespace",
        namespace,
        "airlock.dev/governed=false",
        kubeconfig=bob,
        check=False,
    )
    assert changed.returncode != 0, "changing the mark's value is taking it off too"
    # Other labels are none of Airlock's business.
    cluster.kubectl("label", "namespace", namespace, "team=support", kubeconfig=bob)
    # A cluster admin holds govern.
    cluster.kubectl("label", "namespace", namespace, "airlock.dev/governed-")
    assert "airlock.dev/governed" not in cluster.get("namespace", namespace)["metadata"]["labels"]


def test_the_operator_reports_a_service_whose_namespace_lost_its_mark_and_leaves_its_deployment_alone(
    cluster: Cluster, namespace: str, operator: OperatorProcess
) -> None:
    cluster.apply(deployment("bot", namespace, 5))
    cluster.apply(aiservice("bot", namespace, pilot=1))
    cluster.wait_for(
        lambda: cluster.get("deployment", "bot", namespace)["spec"]["replicas"] == 1,
        what="the backstop to scale the pilot to its cap while the namespace is governed",
    )
    cluster.kubectl("label", "namespace", namespace, "airlock.dev/governed-")
    cluster.kubectl("scale", "deployment", "bot", "-n", namespace, "--replicas=4")

    def reported() -> dict[str, str] | None:
        status = cluster.get("aiservice", "bot", namespace).get("status") or {}
        found = {c["type"]: c for c in status.get("conditions", [])}.get("WorkloadFound")
        return found if found and found["reason"] == "NamespaceNotGoverned" else None

    condition = cluster.wait_for(reported, what="the NamespaceNotGoverned condition")
    assert condition["status"] == "False"
    assert f"kubectl label namespace {namespace} airlock.dev/governed=true" in condition["message"]
    events = json.loads(cluster.kubectl("get", "events", "-n", namespace, "-o", "json").stdout)["items"]
    assert any(e["reason"] == "NamespaceNotGoverned" and e["type"] == "Warning" for e in events), events
    # Engaging the kill switch there changes nothing on the Deployment: Airlock does not act outside.
    cluster.kubectl("annotate", "aiservice", "bot", "-n", namespace, "airlock.dev/kill-switch=true")
    cluster.wait_for(
        lambda: (cluster.get("aiservice", "bot", namespace).get("status") or {}).get("stage") == "Killed",
        what="the operator to see the kill switch",
    )
    assert cluster.get("deployment", "bot", namespace)["spec"]["replicas"] == 4


# ---- the operator's own identity ------------------------------------------------------------------------


def _patch(cluster: Cluster, who: Identity, ns: str, patch: object, *extra: str) -> tuple[bool, str]:
    result = cluster.kubectl(
        "patch",
        "deployment",
        "bot",
        "-n",
        ns,
        "--type=strategic",
        "-p",
        json.dumps(patch),
        *extra,
        kubeconfig=who.kubeconfig,
        check=False,
    )
    return result.returncode == 0, result.stderr


def _container(change: dict[str, object]) -> dict[str, object]:
    return {"spec": {"template": {"spec": {"containers": [{"name": "app", **change}]}}}}


POD_TEMPLATE_PATCHES = {
    "image": _container({"image": "registry.example/other:latest"}),
    "privileged": _container({"securityContext": {"privileged": True}}),
    "host-path": {"spec": {"template": {"spec": {"volumes": [{"name": "host", "hostPath": {"path": "/"}}]}}}},
    "replicas-not-through-scale": {"spec": {"replicas": 0}},
}


@pytest.mark.parametrize("patch", POD_TEMPLATE_PATCHES.values(), ids=POD_TEMPLATE_PATCHES.keys())
def test_the_operator_identity_may_not_change_a_deployment_spec(
    cluster: Cluster, operator_identity: Identity, namespace: str, patch: object
) -> None:
    cluster.apply(deployment("bot", namespace, 1))
    admitted, stderr = _patch(cluster, operator_identity, namespace, patch)
    assert not admitted, f"the operator's identity changed the Deployment's spec with {patch}"
    assert "never its spec" in stderr, stderr


RECORD = "airlock.dev/kill-switch-replicas-before"


def test_the_operator_identity_changes_replicas_outside_scale_only_with_the_kill_switch_record(
    cluster: Cluster, operator_identity: Identity, namespace: str
) -> None:
    cluster.apply(deployment("bot", namespace, 2))
    # The kill switch's one write: zero replicas and the record of the 2 it had, in one request.
    engaged = {"metadata": {"annotations": {RECORD: "2"}}, "spec": {"replicas": 0}}
    ok, stderr = _patch(cluster, operator_identity, namespace, engaged)
    assert ok, stderr
    # Anything else in the spec alongside the record is still refused, as is the record kept unchanged.
    for patch in (
        {"metadata": {"annotations": {RECORD: "1"}}, "spec": {"replicas": 1, "minReadySeconds": 30}},
        {"metadata": {"annotations": {RECORD: "3"}}, **_container({"image": "registry.example/x:1"})},
        {"metadata": {"annotations": {RECORD: "2"}}, "spec": {"replicas": 1}},
    ):
        admitted, stderr = _patch(cluster, operator_identity, namespace, patch)
        assert not admitted, f"the operator's identity changed the Deployment's spec with {patch}"
        assert "never its spec" in stderr, stderr
    # The restore: the replicas back and the record removed, in one request.
    restored = {"metadata": {"annotations": {RECORD: None}}, "spec": {"replicas": 2}}
    ok, stderr = _patch(cluster, operator_identity, namespace, restored)
    assert ok, stderr
    found = cluster.get("deployment", "bot", namespace)
    assert found["spec"]["replicas"] == 2 and RECORD not in (found["metadata"].get("annotations") or {})


def test_the_operator_identity_may_write_only_airlock_labels_and_annotations(
    cluster: Cluster, operator_identity: Identity, namespace: str
) -> None:
    cluster.apply(deployment("bot", namespace, 1))
    ok, stderr = _patch(
        cluster,
        operator_identity,
        namespace,
        {
            "metadata": {
                "labels": {"airlock.dev/stage": "Pilot"},
                "annotations": {"airlock.dev/versions": "{}"},
            }
        },
    )
    assert ok, stderr
    for change in ({"labels": {"app": "other"}}, {"labels": {"team": "x"}}, {"annotations": {"owner": "x"}}):
        admitted, stderr = _patch(cluster, operator_identity, namespace, {"metadata": change})
        assert not admitted, f"the operator's identity wrote {change}"
        assert "this request changes others" in stderr, stderr


def test_the_operator_identity_scales_only_in_governed_namespaces(
    cluster: Cluster, operator_identity: Identity, namespace: str
) -> None:
    plain = cluster.create_namespace(f"plain-{secrets.token_hex(3)}", governed=False)
    for ns in (namespace, plain):
        cluster.apply(deployment("bot", ns, 2))
    scale = ("scale", "deployment", "bot", "--replicas=0")
    cluster.kubectl(*scale, "-n", namespace, kubeconfig=operator_identity.kubeconfig)
    refused = cluster.kubectl(*scale, "-n", plain, kubeconfig=operator_identity.kubeconfig, check=False)
    assert refused.returncode != 0, "the operator's identity scaled a Deployment in an unmarked namespace"
    assert f"namespace {plain} is not marked airlock.dev/governed=true" in refused.stderr, refused.stderr
    labelled, _ = _patch(
        cluster, operator_identity, plain, {"metadata": {"labels": {"airlock.dev/stage": "Pilot"}}}
    )
    assert not labelled, "the operator's identity labelled a Deployment in an unmarked namespace"
    assert cluster.get("deployment", "bot", plain)["spec"]["replicas"] == 2


def test_the_operator_identity_may_not_write_the_status_of_other_kinds(
    cluster: Cluster, operator_identity: Identity, namespace: str
) -> None:
    cluster.apply(deployment("bot", namespace, 1))
    admitted, stderr = _patch(
        cluster, operator_identity, namespace, {"status": {"replicas": 9}}, "--subresource=status"
    )
    assert not admitted and 'resource "deployments/status"' in stderr and "cannot" in stderr, stderr
    other = cluster.kubectl(
        "patch",
        "namespace",
        namespace,
        "--subresource=status",
        "--type=merge",
        "-p",
        '{"status": {"phase": "Terminating"}}',
        kubeconfig=operator_identity.kubeconfig,
        check=False,
    )
    assert other.returncode != 0 and 'resource "namespaces/status"' in other.stderr, other.stderr


# ---- messages that always render ----------------------------------------------------------------------

REASONS = {
    "250-kib": "INC-4711 " + "x" * (250 * 1024),
    "newlines-and-control-characters": "INC-4711\nrefunds promised\r\n\tby\x07the\x1bbot\u2028twice",
}


@pytest.mark.parametrize("reason", REASONS.values(), ids=REASONS.keys())
def test_a_denial_quoting_any_kill_switch_reason_renders_on_one_line_with_a_hint_to_copy(
    cluster: Cluster, namespace: str, reason: str
) -> None:
    cluster.apply(deployment("bot", namespace, 0))
    service = aiservice(
        "bot",
        namespace,
        annotations={"airlock.dev/kill-switch": "true", "airlock.dev/kill-switch-reason": reason},
    )
    cluster.kubectl("create", "-f", "-", stdin=json.dumps(service))
    wait_until_enforced(cluster.local)  # admission has seen every AIService write made before it
    result = cluster.kubectl("scale", "deployment", "bot", "-n", namespace, "--replicas=2", check=False)
    assert result.returncode != 0, "a scale-up was admitted while the kill switch was engaged"
    message = result.stderr.strip()
    assert "Airlock: Deployment bot may run at most 0 replicas" in message, message
    assert "\n" not in message and "\x1b" not in message and "\u2028" not in message, repr(message)
    assert "(INC-4711" in message and len(message) < 1000, message[:2000]
    assert f"kubectl annotate aiservice bot -n {namespace} airlock.dev/kill-switch-" in message, message


def test_the_operator_identity_may_only_remove_leftover_kill_switch_annotations_of_an_aiservice(
    cluster: Cluster, operator_identity: Identity, namespace: str
) -> None:
    cluster.apply(
        aiservice(
            "bot", namespace, annotations={"airlock.dev/kill-switch-reason": "INC-1", "team": "payments"}
        )
    )

    def as_operator(patch: object, *extra: str) -> tuple[bool, str]:
        result = cluster.kubectl(
            "patch",
            "aiservice",
            "bot",
            "-n",
            namespace,
            "--type=merge",
            "-p",
            json.dumps(patch),
            *extra,
            kubeconfig=operator_identity.kubeconfig,
            check=False,
        )
        return result.returncode == 0, result.stderr

    # Admission reads new policies through an informer: wait until the spec patch is refused (a dry run).
    cluster.wait_for(
        lambda: not as_operator({"spec": {"pilotReplicas": 3}}, "--dry-run=server")[0],
        timeout=30,
        what="the operator's AIService scope policy to be enforced",
    )
    refused = [
        {"spec": {"pilotReplicas": 3}},
        {"metadata": {"annotations": {"airlock.dev/kill-switch": "false"}}},
        {"metadata": {"annotations": {"team": None}}},
        {"metadata": {"labels": {"owner": "x"}}},
    ]
    for patch in refused:
        admitted, stderr = as_operator(patch)
        assert not admitted and "Airlock: the operator" in stderr, (patch, stderr)
    admitted, stderr = as_operator({"metadata": {"annotations": {"airlock.dev/kill-switch-reason": None}}})
    assert admitted, stderr
    kept = cluster.get("aiservice", "bot", namespace)
    annotations = kept["metadata"]["annotations"]
    assert kept["spec"]["pilotReplicas"] == 1 and annotations["team"] == "payments"
    assert "airlock.dev/kill-switch-reason" not in annotations
