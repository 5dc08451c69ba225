"""Kill-switch governance: engaging is open to whoever may patch the AIService; releasing it, or getting
round it by deleting the AIService or pointing it elsewhere, needs the `release` permission
(manifests/admission/kill-switch-release.yaml, manifests/rbac/kill-switch-releaser.yaml).

On-call people are ServiceAccounts with TokenRequest tokens. No operator runs: this is what the API
server enforces on its own.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.cluster.helpers import aiservice, deployment
from tests.conftest import ROOT, Cluster

RELEASER = ROOT / "manifests" / "rbac" / "kill-switch-releaser.yaml"
PLATFORM = ROOT / "manifests" / "rbac" / "platform.yaml"
SERVICE = "support-assistant"
KILL = "airlock.dev/kill-switch"
REASON = "airlock.dev/kill-switch-reason"


@dataclass(frozen=True)
class OnCall:
    """An on-call identity that is not cluster admin."""

    user: str
    kubeconfig: Path


def _may_release(cluster: Cluster, user: str, namespace: str) -> bool:
    return cluster.service_account_may(
        user,
        namespace,
        verb="release",
        group="governance.airlock.dev",
        resource="aiservices",
        subresource="killswitch",
        name=SERVICE,
    )


def _may_govern(cluster: Cluster, user: str, namespace: str) -> bool:
    return cluster.service_account_may(
        user, namespace, verb="govern", group="governance.airlock.dev", resource="aiservices", name=SERVICE
    )


def on_call(
    cluster: Cluster, namespace: str, tmp_path: Path, name: str, *, releaser: bool, platform: bool = False
) -> OnCall:
    """A ServiceAccount that may get, patch and delete AIServices in `namespace`; with `releaser`, also
    bound to the shipped ClusterRole airlock-kill-switch-releaser there; with `platform`, to
    airlock-platform."""
    kubeconfig = cluster.token_kubeconfig(namespace, name, tmp_path / f"{name}.kubeconfig")
    user = f"system:serviceaccount:{namespace}:{name}"
    subject = [{"kind": "ServiceAccount", "name": name, "namespace": namespace}]
    objects = [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": f"{name}-edits-aiservices", "namespace": namespace},
            "rules": [
                {
                    "apiGroups": ["airlock.dev"],
                    "resources": ["aiservices"],
                    "verbs": ["get", "list", "patch", "update", "delete"],
                }
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": f"{name}-edits-aiservices", "namespace": namespace},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": f"{name}-edits-aiservices",
            },
            "subjects": subject,
        },
    ]
    if releaser:
        objects.append(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": {"name": f"{name}-releases", "namespace": namespace},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": "airlock-kill-switch-releaser",
                },
                "subjects": subject,
            }
        )
    if platform:
        # Nobody governs a workload they could not scale: the platform lead may scale Deployments here.
        objects[0]["rules"].append(
            {"apiGroups": ["apps"], "resources": ["deployments/scale"], "verbs": ["update"]}
        )
        objects.append(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": {"name": f"{name}-governs", "namespace": namespace},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": "airlock-platform",
                },
                "subjects": subject,
            }
        )
    cluster.apply(objects)

    def granted() -> bool:
        r = cluster.kubectl(
            "auth",
            "can-i",
            "delete",
            "aiservices.airlock.dev",
            "-n",
            namespace,
            kubeconfig=kubeconfig,
            check=False,
        )
        return (
            r.stdout.strip() == "yes"
            and (not releaser or _may_release(cluster, user, namespace))
            and (not platform or _may_govern(cluster, user, namespace))
        )

    cluster.wait_for(granted, timeout=10, what=f"RBAC to grant {user} its roles")
    return OnCall(user, kubeconfig)


def kubectl_as(cluster: Cluster, who: OnCall, namespace: str, *args: str) -> tuple[bool, str]:
    result = cluster.kubectl(*args, "-n", namespace, kubeconfig=who.kubeconfig, check=False)
    return result.returncode == 0, result.stderr


def annotations_of(cluster: Cluster, namespace: str) -> dict[str, str]:
    found: dict[str, str] = cluster.get("ais", SERVICE, namespace)["metadata"].get("annotations", {})
    return found


@pytest.fixture(scope="module", autouse=True)
def releaser_role(cluster: Cluster) -> None:
    cluster.kubectl("apply", "-f", str(RELEASER))
    cluster.kubectl("apply", "-f", str(PLATFORM))


@pytest.fixture
def engaged(cluster: Cluster, namespace: str) -> str:
    """An AIService whose kill switch a cluster admin engaged; returns the namespace."""
    cluster.apply(
        aiservice(SERVICE, namespace, annotations={KILL: "true", REASON: "INC-4711 refunds promised"})
    )
    return namespace


@pytest.fixture
def operator_on_call(cluster: Cluster, namespace: str, tmp_path: Path) -> OnCall:
    return on_call(cluster, namespace, tmp_path, "oncall", releaser=False)


@pytest.fixture
def lead(cluster: Cluster, namespace: str, tmp_path: Path) -> OnCall:
    return on_call(cluster, namespace, tmp_path, "oncall-lead", releaser=True)


@pytest.fixture
def platform_lead(cluster: Cluster, namespace: str, tmp_path: Path) -> OnCall:
    """A releaser who is also on the platform team (airlock-platform)."""
    return on_call(cluster, namespace, tmp_path, "platform-lead", releaser=True, platform=True)


def test_engaging_the_kill_switch_needs_only_permission_to_patch_the_aiservice(
    cluster: Cluster, namespace: str, operator_on_call: OnCall
) -> None:
    cluster.apply(deployment(SERVICE, namespace, replicas=1))
    cluster.apply(aiservice(SERVICE, namespace))
    admitted, stderr = kubectl_as(
        cluster,
        operator_on_call,
        namespace,
        "annotate",
        "ais",
        SERVICE,
        f"{KILL}=true",
        f"{REASON}=INC-1 bad answers",
    )
    assert admitted, stderr
    assert annotations_of(cluster, namespace)[KILL] == "true"

    # With no operator running, the API server itself now holds the Deployment at zero.
    def scale_up_refused() -> str:
        r = cluster.kubectl("scale", "deployment", SERVICE, "-n", namespace, "--replicas=2", check=False)
        return r.stderr if r.returncode != 0 else ""

    stderr = cluster.wait_for(scale_up_refused, timeout=10, what="the cap policy to see the kill switch")
    assert "kill switch of AIService" in stderr, stderr


@pytest.mark.parametrize(
    "release",
    [
        pytest.param(["annotate", "ais", SERVICE, f"{KILL}-"], id="removing-the-annotation"),
        pytest.param(["annotate", "ais", SERVICE, f"{KILL}=false", "--overwrite"], id="setting-it-to-false"),
        pytest.param(
            ["patch", "ais", SERVICE, "--type=merge", "-p", json.dumps({"metadata": {"annotations": None}})],
            id="dropping-every-annotation",
        ),
    ],
)
def test_releasing_the_kill_switch_without_the_release_permission_is_denied_naming_the_role(
    cluster: Cluster, engaged: str, operator_on_call: OnCall, release: list[str]
) -> None:
    admitted, stderr = kubectl_as(cluster, operator_on_call, engaged, *release)
    assert not admitted
    assert (
        f"denied request: Airlock: the kill switch of AIService {engaged}/{SERVICE} is engaged "
        f"(INC-4711 refunds promised); {operator_on_call.user} may not release it." in stderr
    ), stderr
    assert f"bind ClusterRole airlock-kill-switch-releaser to you in namespace {engaged}" in stderr, stderr
    assert annotations_of(cluster, engaged)[KILL] == "true"


def test_an_on_call_lead_with_the_releaser_role_can_release_it(
    cluster: Cluster, engaged: str, lead: OnCall
) -> None:
    admitted, stderr = kubectl_as(
        cluster, lead, engaged, "annotate", "ais", SERVICE, f"{KILL}-", f"{REASON}-"
    )
    assert admitted, stderr
    assert KILL not in annotations_of(cluster, engaged)


def test_a_cluster_admin_can_release_it(cluster: Cluster, engaged: str) -> None:
    cluster.kubectl("annotate", "ais", SERVICE, "-n", engaged, f"{KILL}=false", "--overwrite")
    assert annotations_of(cluster, engaged)[KILL] == "false"


def test_deleting_an_engaged_aiservice_without_the_release_permission_is_denied(
    cluster: Cluster, engaged: str, operator_on_call: OnCall
) -> None:
    admitted, stderr = kubectl_as(
        cluster, operator_on_call, engaged, "delete", "ais", SERVICE, "--wait=false"
    )
    assert not admitted
    # Two policies refuse it (the kill switch's and governance's); either denial names what is missing.
    assert f"{operator_on_call.user} may not delete" in stderr, stderr
    assert "airlock-kill-switch-releaser" in stderr or "airlock-platform" in stderr, stderr
    assert cluster.get("ais", SERVICE, engaged)["metadata"]["name"] == SERVICE


def test_the_releaser_role_alone_cannot_delete_an_engaged_aiservice_deletion_is_the_platforms(
    cluster: Cluster, engaged: str, lead: OnCall
) -> None:
    admitted, stderr = kubectl_as(cluster, lead, engaged, "delete", "ais", SERVICE, "--wait=false")
    assert not admitted
    assert f"{lead.user} may not delete AIService {engaged}/{SERVICE}" in stderr, stderr
    assert "verb govern on aiservices in governance.airlock.dev" in stderr, stderr


def test_a_releaser_on_the_platform_team_can_delete_an_engaged_aiservice(
    cluster: Cluster, engaged: str, platform_lead: OnCall
) -> None:
    admitted, stderr = kubectl_as(cluster, platform_lead, engaged, "delete", "ais", SERVICE, "--wait=false")
    assert admitted, stderr
    r = cluster.kubectl("get", "ais", SERVICE, "-n", engaged, check=False)
    assert "NotFound" in r.stderr, r.stderr


def test_an_unengaged_switch_annotation_is_removed_freely_but_deleting_the_service_is_the_platforms(
    cluster: Cluster, namespace: str, operator_on_call: OnCall
) -> None:
    cluster.apply(aiservice(SERVICE, namespace, annotations={KILL: "false"}))
    admitted, stderr = kubectl_as(
        cluster, operator_on_call, namespace, "annotate", "ais", SERVICE, f"{KILL}-"
    )
    assert admitted, stderr
    admitted, stderr = kubectl_as(
        cluster, operator_on_call, namespace, "delete", "ais", SERVICE, "--wait=false"
    )
    assert not admitted
    assert "that would free workload support-assistant from its cap" in stderr, stderr


def test_an_engaged_aiservice_goes_with_its_namespace(
    cluster: Cluster, engaged: str, operator_on_call: OnCall
) -> None:
    # The namespace's Deployments go too, so this frees nothing. No namespace controller runs here, so the
    # namespace stays Terminating and the deletion the controller would make is made by hand.
    cluster.kubectl("delete", "namespace", engaged, "--wait=false")
    cluster.wait_for(
        lambda: cluster.get("namespace", engaged)["status"].get("phase") == "Terminating",
        what=f"namespace {engaged} to be Terminating",
    )

    def deleted() -> bool:
        admitted, _ = kubectl_as(cluster, operator_on_call, engaged, "delete", "ais", SERVICE, "--wait=false")
        return admitted

    # Admission reads the namespace from an informer.
    cluster.wait_for(deleted, timeout=10, what="the engaged AIService to be deleted with its namespace")


def test_changing_other_annotations_and_the_spec_while_engaged_is_not_blocked(
    cluster: Cluster, engaged: str, operator_on_call: OnCall
) -> None:
    admitted, stderr = kubectl_as(
        cluster,
        operator_on_call,
        engaged,
        "annotate",
        "ais",
        SERVICE,
        f"{REASON}=INC-4712 still bad",
        "--overwrite",
    )
    assert admitted, stderr
    admitted, stderr = kubectl_as(
        cluster, operator_on_call, engaged, "annotate", "ais", SERVICE, f"{KILL}=yes", "--overwrite"
    )
    assert admitted, stderr
    spec = {
        "spec": {
            "versions": {"prompt": "v15"},
            "pilotReplicas": 2,
            "packetRef": {"name": "support-assistant-v15"},
        }
    }
    admitted, stderr = kubectl_as(
        cluster, operator_on_call, engaged, "patch", "ais", SERVICE, "--type=merge", "-p", json.dumps(spec)
    )
    assert admitted, stderr
    live = cluster.get("ais", SERVICE, engaged)
    assert live["metadata"]["annotations"][KILL] == "yes"
    assert live["spec"]["versions"]["prompt"] == "v15" and live["spec"]["pilotReplicas"] == 2


def test_pointing_an_engaged_aiservice_at_another_deployment_needs_release_and_govern(
    cluster: Cluster, engaged: str, operator_on_call: OnCall, lead: OnCall, platform_lead: OnCall
) -> None:
    moved = json.dumps({"spec": {"workload": {"name": "another-deployment"}}})
    admitted, stderr = kubectl_as(
        cluster, operator_on_call, engaged, "patch", "ais", SERVICE, "--type=merge", "-p", moved
    )
    assert not admitted
    # Either policy may answer first: the kill switch's or governance's.
    assert f"free Deployment {SERVICE}" in stderr or f"free {SERVICE} from its cap" in stderr, stderr
    # Releasing is not enough: re-pointing an AIService is the platform's (governance) as well.
    admitted, stderr = kubectl_as(
        cluster, lead, engaged, "patch", "ais", SERVICE, "--type=merge", "-p", moved
    )
    assert not admitted
    assert "verb govern on aiservices in governance.airlock.dev" in stderr, stderr
    admitted, stderr = kubectl_as(
        cluster, platform_lead, engaged, "patch", "ais", SERVICE, "--type=merge", "-p", moved
    )
    assert admitted, stderr
