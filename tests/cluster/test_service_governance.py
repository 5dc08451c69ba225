"""The cap binds the people it is meant to bind (docs/threat-model.md).

Each test is an attack a service team could make on its own cap, acted out with the team's real roles:
a namespace Role written the way many teams write them (every verb on every resource of airlock.dev) plus
every verb on Deployments and their scale. No operator runs unless a test starts one: this is what the
API server refuses on its own (manifests/admission/service-governance.yaml).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.cluster.helpers import (
    TEAM_RULES,
    Identity,
    aiservice,
    complete_packet,
    condition,
    deployment,
    identity,
    replicas,
    setup_service,
    status,
)
from tests.conftest import ROOT, Cluster, OperatorProcess, start_operator

PLATFORM = ROOT / "manifests" / "rbac" / "platform.yaml"
SERVICE = "support-assistant"


@pytest.fixture
def team(cluster: Cluster, namespace: str, tmp_path: Path) -> Identity:
    return identity(cluster, namespace, tmp_path, "team", TEAM_RULES)


@pytest.fixture
def platform(cluster: Cluster, namespace: str, tmp_path: Path) -> Identity:
    """The platform team: airlock-platform in the namespace, and the right to scale its Deployments."""
    cluster.kubectl("apply", "-f", str(PLATFORM))
    who = identity(
        cluster,
        namespace,
        tmp_path,
        "platform",
        [{"apiGroups": ["apps"], "resources": ["deployments", "deployments/scale"], "verbs": ["*"]}],
    )
    cluster.apply(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "platform-governs", "namespace": namespace},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "airlock-platform",
            },
            "subjects": [{"kind": "ServiceAccount", "name": "platform", "namespace": namespace}],
        }
    )
    cluster.wait_for(
        lambda: cluster.service_account_may(
            who.user, namespace, verb="govern", group="governance.airlock.dev", resource="aiservices"
        ),
        timeout=10,
        what="RBAC to grant the platform govern",
    )
    return who


@pytest.fixture
def limits_policy(cluster: Cluster) -> Iterator[None]:
    """A ReadinessPolicy `default` whose pilot limit is 2, removed afterwards."""
    policy = {
        "apiVersion": "airlock.dev/v1alpha1",
        "kind": "ReadinessPolicy",
        "metadata": {"name": "default"},
        "spec": {"limits": {"pilotReplicas": 2, "maxReplicas": 10}},
    }
    cluster.apply(policy)
    try:
        yield
    finally:
        cluster.kubectl("delete", "readinesspolicy", "default", "--ignore-not-found")


def pilot_service(cluster: Cluster, namespace: str, replicas_now: int = 1) -> None:
    """The service and its Deployment as an admin created them: a pilot of one, evaluated as Pilot."""
    cluster.apply(deployment(SERVICE, namespace, replicas_now))
    cluster.apply(aiservice(SERVICE, namespace, pilot=1))


def scale_refused(cluster: Cluster, who: Identity, namespace: str, to: int) -> str:
    """Waits until admission refuses `who` scaling to `to` (a dry run), then makes the real write and
    returns its denial. Admission reads AIServices through an informer; the dry run is the barrier."""

    def refused() -> str:
        ok, err = who.run(
            cluster, namespace, "scale", "deployment", SERVICE, f"--replicas={to}", "--dry-run=server"
        )
        return "" if ok else err

    cluster.wait_for(refused, timeout=15, what=f"admission to refuse a scale to {to}")
    ok, err = who.run(cluster, namespace, "scale", "deployment", SERVICE, f"--replicas={to}")
    assert not ok, f"scaling to {to} was admitted"
    return err


# ---- 1. raise the pilot --------------------------------------------------------------------------------


def test_raising_the_pilot_above_the_policy_limit_is_refused_naming_the_limit(
    cluster: Cluster, namespace: str, team: Identity, limits_policy: None
) -> None:
    pilot_service(cluster, namespace)

    def refused() -> str:
        ok, err = team.run(
            cluster, namespace, "patch", "ais", SERVICE, "--type=merge", "-p", '{"spec":{"pilotReplicas":50}}'
        )
        return "" if ok else err

    err = cluster.wait_for(refused, timeout=15, what="the pilot limit to be enforced")
    assert f"AIService {namespace}/{SERVICE} asks for spec.pilotReplicas 50, above the limit of 2" in err, err
    assert "ReadinessPolicy default (spec.limits.pilotReplicas)" in err, err
    ok, err = team.run(
        cluster, namespace, "patch", "ais", SERVICE, "--type=merge", "-p", '{"spec":{"pilotReplicas":2}}'
    )
    assert ok, err


def test_a_raised_pilot_without_a_policy_never_lifts_the_cap_operator_down_or_up(
    cluster: Cluster, namespace: str, team: Identity, tmp_path: Path
) -> None:
    pilot_service(cluster, namespace)
    op = start_operator(cluster, tmp_path)
    try:
        cluster.wait_for(
            lambda: status(cluster, namespace).get("allowedReplicas") == 1, what="a first status"
        )
    finally:
        op.stop()
    # Operator down: the spec says 50, the status the team cannot write still says 1.
    ok, err = team.run(
        cluster, namespace, "patch", "ais", SERVICE, "--type=merge", "-p", '{"spec":{"pilotReplicas":50}}'
    )
    assert ok, err
    assert "may run at most 1 replicas (asked for 50)" in scale_refused(cluster, team, namespace, 50)
    # Operator up: it caps the pilot at the built-in limit and says why.
    op = start_operator(cluster, tmp_path)
    try:
        cluster.wait_for(
            lambda: status(cluster, namespace).get("allowedReplicas") == 3, what="the built-in limit"
        )
        ready = condition(status(cluster, namespace), "Ready")["message"]
        assert "spec.pilotReplicas 50 is above the ReadinessPolicy limit, 3" in ready, ready
        assert "may run at most 3 replicas (asked for 50)" in scale_refused(cluster, team, namespace, 50)
    finally:
        op.stop()


def test_a_forged_status_is_refused_even_to_a_wildcard_role_on_airlock_dev(
    cluster: Cluster, namespace: str, team: Identity
) -> None:
    pilot_service(cluster, namespace)
    forged = json.dumps({"status": {"allowedReplicas": -1, "stage": "Production"}})
    ok, err = team.run(
        cluster, namespace, "patch", "ais", SERVICE, "--subresource=status", "--type=merge", "-p", forged
    )
    assert not ok
    assert (
        f"the status of aiservices/{SERVICE} in namespace {namespace} is written by the Airlock operator"
        in err
    )
    assert "verb update on aiservices/status in governance.airlock.dev" in err, err
    assert "may run at most 1 replicas" in scale_refused(cluster, team, namespace, 5)


# ---- 2. point away, 3. delete and re-create -----------------------------------------------------------


def test_pointing_the_service_at_another_workload_is_refused_to_the_team_and_allowed_to_the_platform(
    cluster: Cluster, namespace: str, team: Identity, platform: Identity
) -> None:
    pilot_service(cluster, namespace)
    away = json.dumps({"spec": {"workload": {"name": "something-else"}}})
    ok, err = team.run(cluster, namespace, "patch", "ais", SERVICE, "--type=merge", "-p", away)
    assert not ok
    assert (
        f"{team.user} may not point AIService {namespace}/{SERVICE} from workload {SERVICE} to something-else"
        in err
    ), err
    assert "verb govern on aiservices in governance.airlock.dev" in err and "airlock-platform" in err, err
    ok, err = platform.run(cluster, namespace, "patch", "ais", SERVICE, "--type=merge", "-p", away)
    assert ok, err


def test_deleting_the_service_is_refused_to_the_team_so_its_workload_stays_capped(
    cluster: Cluster, namespace: str, team: Identity, platform: Identity
) -> None:
    pilot_service(cluster, namespace)
    ok, err = team.run(cluster, namespace, "delete", "ais", SERVICE, "--wait=false")
    assert not ok
    assert f"{team.user} may not delete AIService {namespace}/{SERVICE}" in err, err
    assert "may run at most 1 replicas" in scale_refused(cluster, team, namespace, 40)
    ok, err = platform.run(cluster, namespace, "delete", "ais", SERVICE, "--wait=false")
    assert ok, err


def test_a_new_service_with_a_huge_pilot_and_no_status_is_capped_at_the_built_in_limit(
    cluster: Cluster, namespace: str, team: Identity
) -> None:
    cluster.apply(deployment(SERVICE, namespace, 1))
    ok, err = team.apply(cluster, aiservice(SERVICE, namespace, pilot=100))
    assert ok, err
    assert "may run at most 3 replicas (asked for 100)" in scale_refused(cluster, team, namespace, 100)
    ok, err = team.run(cluster, namespace, "scale", "deployment", SERVICE, "--replicas=3")
    assert ok, err


# ---- 4. decoys ------------------------------------------------------------------------------------------


def test_a_second_service_for_a_governed_workload_is_refused(
    cluster: Cluster, namespace: str, team: Identity
) -> None:
    pilot_service(cluster, namespace)
    decoy = aiservice("a-decoy", namespace, workload=SERVICE, pilot=3)

    def refused() -> str:
        ok, err = team.apply(cluster, decoy)
        return "" if ok else err

    err = cluster.wait_for(refused, timeout=15, what="admission to see the first AIService")
    assert (
        f"Deployment {SERVICE} in namespace {namespace} is already governed by AIService {SERVICE}, so "
        "AIService a-decoy may not claim it" in err
    ), err
    # Not by re-pointing an existing one either.
    cluster.apply(aiservice("other", namespace, pilot=1))
    result = cluster.kubectl(
        "patch",
        "ais",
        "other",
        "-n",
        namespace,
        "--type=merge",
        "-p",
        json.dumps({"spec": {"workload": {"name": SERVICE}}}),
        check=False,
    )
    assert result.returncode != 0 and "one workload has one AIService" in result.stderr, result.stderr


@contextmanager
def _without_one_claimant_policy(cluster: Cluster, namespace: str) -> Iterator[None]:
    """Takes the one-claimant binding away (as on a cluster where two claimants predate it), and puts it
    back, waiting until it refuses again."""
    binding = cluster.kubectl("get", "validatingadmissionpolicybinding", "airlock-one-claimant", "-o", "json")
    saved = json.loads(binding.stdout)
    for key in ("resourceVersion", "uid", "creationTimestamp", "managedFields", "generation"):
        saved["metadata"].pop(key, None)
    cluster.kubectl("delete", "validatingadmissionpolicybinding", "airlock-one-claimant")
    probe = aiservice("probe-claim", namespace, workload="probe-target")
    cluster.apply(aiservice("probe-owner", namespace, workload="probe-target"))

    def admitted() -> bool:
        result = cluster.kubectl(
            "create", "--dry-run=server", "-f", "-", stdin=json.dumps(probe), check=False
        )
        return result.returncode == 0

    cluster.wait_for(admitted, timeout=15, what="the one-claimant policy to be gone")
    try:
        yield
    finally:
        cluster.apply(saved)
        cluster.wait_for(lambda: not admitted(), timeout=30, what="the one-claimant policy to be back")
        cluster.kubectl("delete", "ais", "probe-owner", "-n", namespace)


def test_of_two_claimants_stored_before_the_policy_the_operator_acts_on_the_strictest(
    cluster: Cluster, namespace: str, operator: OperatorProcess
) -> None:
    cluster.apply(deployment(SERVICE, namespace, 1))
    cluster.apply(aiservice(SERVICE, namespace, pilot=1))
    cluster.wait_for(lambda: status(cluster, namespace).get("allowedReplicas") == 1, what="a first status")
    with _without_one_claimant_policy(cluster, namespace):
        # The decoy sorts first and asks for more; the operator must not act on it.
        cluster.apply(aiservice("a-decoy", namespace, workload=SERVICE, pilot=3))
    cluster.wait_for(
        lambda: (
            condition(status(cluster, namespace, "a-decoy"), "WorkloadFound").get("reason")
            == "WorkloadClaimed"
        ),
        what="the decoy to be told it is not the one acted on",
    )
    message = condition(status(cluster, namespace, "a-decoy"), "WorkloadFound")["message"]
    assert f"also claimed by AIService {SERVICE}, which is stricter" in message, message
    # On-call kills the real one: the Deployment reaches 0 whatever the decoy says.
    cluster.kubectl("scale", "deployment", SERVICE, "-n", namespace, "--replicas=1")
    cluster.kubectl("annotate", "ais", SERVICE, "-n", namespace, "airlock.dev/kill-switch=true")
    cluster.wait_for(lambda: replicas(cluster, namespace) == 0, what="the kill switch to win over the decoy")
    kill = status(cluster, namespace)["killSwitch"]
    assert kill["engaged"] is True and kill["replicasBefore"] == 1


# ---- 5. borrowed packets --------------------------------------------------------------------------------


def test_another_services_approved_packet_cannot_be_borrowed_through_packet_ref(
    cluster: Cluster, namespace: str, operator: OperatorProcess
) -> None:
    setup_service(cluster, namespace)
    complete_packet(cluster, namespace)
    cluster.kubectl("wait", "--for=condition=Ready", f"ais/{SERVICE}", "-n", namespace, "--timeout=30s")
    packet = status(cluster, namespace)["packet"]
    cluster.apply(deployment("copycat", namespace, 1))
    copy = aiservice("copycat", namespace, packetRef={"name": packet})
    copy["spec"]["versions"] = {"model": "gpt-4o-2024-08-06", "prompt": "v14", "retrieval": "kb-2026-11-01"}
    cluster.apply(copy)
    cluster.wait_for(lambda: status(cluster, namespace, "copycat").get("stage"), what="a status for copycat")
    st = status(cluster, namespace, "copycat")
    assert st["stage"] == "Pilot" and st["allowedReplicas"] == 1, st
    assert st.get("packet") is None
    gates = {g["name"]: g for g in st["gates"]}
    assert gates["signoffs"]["passed"] is False


# ---- 6. confused deputy ---------------------------------------------------------------------------------


def test_nobody_governs_a_workload_they_could_not_scale_themselves(
    cluster: Cluster, namespace: str, tmp_path: Path
) -> None:
    cluster.apply(deployment("platform-proxy", namespace, 3))
    deputy = identity(
        cluster,
        namespace,
        tmp_path,
        "deputy",
        [{"apiGroups": ["airlock.dev"], "resources": ["aiservices"], "verbs": ["*"]}],
    )
    ok, err = deputy.apply(cluster, aiservice("proxy-grab", namespace, workload="platform-proxy", pilot=0))
    assert not ok
    assert (
        f"{deputy.user} may not make AIService {namespace}/proxy-grab govern Deployment platform-proxy" in err
    ), err
    assert "verb update on deployments/scale in apps" in err, err
    assert cluster.get("deployment", "platform-proxy", namespace)["spec"]["replicas"] == 3


# ---- governance verbs out of wildcard reach ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("verb", "resource", "subresource"),
    [
        ("approve", "approvalroles", ""),
        ("impersonate", "approvers", ""),
        ("release", "aiservices", "killswitch"),
        ("govern", "aiservices", ""),
        ("update", "aiservices", "status"),
    ],
)
def test_a_wildcard_role_on_airlock_dev_grants_no_governance_verb(
    cluster: Cluster, namespace: str, team: Identity, verb: str, resource: str, subresource: str
) -> None:
    extra = {"subresource": subresource} if subresource else {}
    assert cluster.service_account_may(
        team.user, namespace, verb=verb, group="airlock.dev", resource=resource, **extra
    )
    assert not cluster.service_account_may(
        team.user, namespace, verb=verb, group="governance.airlock.dev", resource=resource, **extra
    )


# ---- who pulled the kill switch ---------------------------------------------------------------------------


def test_the_kill_switch_records_who_engaged_it_and_nobody_can_claim_another_name(
    cluster: Cluster, namespace: str, team: Identity, operator: OperatorProcess
) -> None:
    pilot_service(cluster, namespace)
    ok, err = team.run(
        cluster,
        namespace,
        "annotate",
        "ais",
        SERVICE,
        "airlock.dev/kill-switch=true",
        "airlock.dev/kill-switch-by=ciso@example.com",
    )
    assert not ok
    assert "airlock.dev/kill-switch-by on" in err and f"this request is from {team.user}" in err, err
    ok, err = team.run(
        cluster,
        namespace,
        "annotate",
        "ais",
        SERVICE,
        "airlock.dev/kill-switch=true",
        f"airlock.dev/kill-switch-by={team.user}",
        "airlock.dev/kill-switch-reason=INC-9 engaged by the CISO",
    )
    assert ok, err
    cluster.wait_for(
        lambda: (status(cluster, namespace).get("killSwitch") or {}).get("engagedBy"), what="engagedBy"
    )
    assert status(cluster, namespace)["killSwitch"]["engagedBy"] == team.user
    events = json.loads(cluster.kubectl("get", "events", "-n", namespace, "-o", "json").stdout)["items"]
    engaged = [e["message"] for e in events if e["reason"] == "KillSwitchEngaged"]
    assert engaged and f"Kill switch engaged by {team.user}" in engaged[0], engaged


# ---- what runs is what was signed off ---------------------------------------------------------------------


def test_a_pod_template_declaring_unsigned_versions_holds_a_promoted_service(
    cluster: Cluster, namespace: str, operator: OperatorProcess
) -> None:
    setup_service(cluster, namespace)
    complete_packet(cluster, namespace)
    cluster.kubectl("wait", "--for=condition=Ready", f"ais/{SERVICE}", "-n", namespace, "--timeout=30s")
    cluster.kubectl("scale", "deployment", SERVICE, "-n", namespace, "--replicas=3")
    # The team ships a new prompt in the image and says so on the pod template, but not in the AIService.
    template = {"spec": {"template": {"metadata": {"annotations": {"airlock.dev/prompt-version": "v15"}}}}}
    cluster.kubectl(
        "patch", "deployment", SERVICE, "-n", namespace, "--type=merge", "-p", json.dumps(template)
    )
    cluster.wait_for(
        lambda: condition(status(cluster, namespace), "Ready").get("reason") == "GatesRegressed",
        what="the unsigned versions to regress the service",
    )
    st = status(cluster, namespace)
    gate = next(g for g in st["gates"] if g["name"] == "versions")
    assert gate["reason"] == "WorkloadVersionMismatch", gate
    assert "the pod template declares 'v15' (airlock.dev/prompt-version)" in gate["message"], gate
    assert st["allowedReplicas"] == 3 and st["stage"] == "Production"
    labels = cluster.get("deployment", SERVICE, namespace)["metadata"]["labels"]
    assert labels["airlock.dev/prompt-version"] == "v15"


# ---- the roles a team really gets ---------------------------------------------------------------


def test_the_built_in_edit_role_gives_a_team_airlock_kinds_and_nothing_that_lifts_its_cap(
    cluster: Cluster, namespace: str, tmp_path: Path
) -> None:
    """A team bound to the built-in `edit` (filled by the aggregation controller from the shipped
    airlock-edit): it writes AIServices and packets, and still cannot delete, re-point or forge status."""
    cluster.kubectl("apply", "-f", str(ROOT / "manifests" / "rbac" / "service-team.yaml"))
    kubeconfig = cluster.token_kubeconfig(namespace, "dev", tmp_path / "dev.kubeconfig")
    user = f"system:serviceaccount:{namespace}:dev"
    cluster.kubectl(
        "create",
        "rolebinding",
        "dev-edit",
        "-n",
        namespace,
        "--clusterrole=edit",
        f"--serviceaccount={namespace}:dev",
    )
    cluster.wait_for(
        lambda: cluster.service_account_may(
            user, namespace, verb="create", group="airlock.dev", resource="aiservices"
        ),
        timeout=30,
        what="edit to carry the aggregated airlock-edit rules",
    )
    dev = Identity(user, kubeconfig)
    cluster.apply(deployment(SERVICE, namespace, 1))
    created = cluster.kubectl(
        "apply",
        "-f",
        "-",
        kubeconfig=kubeconfig,
        stdin=json.dumps(aiservice(SERVICE, namespace)),
        check=False,
    )
    assert created.returncode == 0, created.stderr
    ok, err = dev.run(
        cluster,
        namespace,
        "patch",
        "ais",
        SERVICE,
        "--subresource=status",
        "--type=merge",
        "-p",
        '{"status":{"allowedReplicas":-1}}',
    )
    assert not ok and "forbidden" in err, err
    ok, err = dev.run(cluster, namespace, "delete", "ais", SERVICE, "--wait=false")
    assert not ok and "may not delete" in err, err
    assert not cluster.service_account_may(
        user, namespace, verb="govern", group="governance.airlock.dev", resource="aiservices"
    )
    assert "may run at most 1 replicas" in scale_refused(cluster, dev, namespace, 5)
