"""Every kind of workload an AIService may govern, through one table: the cap on every write path with the
operator down and up, the backstop, the kill switch and the restore, the version labels.

Kinds: apps/v1 Deployment and StatefulSet, and Argo Rollouts' Rollout (its CRD from Argo Rollouts' own
module, hack/fetch-crds.sh; its controller does not run). The writes are made by a team's ServiceAccount
that may write the workload and its scale subresource, not by cluster-admin.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from airlock_dev.admission_probe import wait_until_enforced
from tests.cluster.helpers import (
    ALL_KINDS_ENV,
    DEPLOYMENT,
    KIND_IDS,
    KINDS,
    ROLLOUT,
    STATEFUL_SET,
    TEAM_RULES,
    Identity,
    Kind,
    aiservice,
    call_as,
    condition,
    events,
    identity,
    plugin,
    replicas_of,
    scale_subresource_put,
    status,
)
from tests.conftest import Cluster, OperatorProcess, start_operator


@pytest.fixture(autouse=True)
def _crds(workload_crds: list[str]) -> None:
    """The Rollout CRD is installed for every test here: a missing one fails the test, never skips it."""


def team_rules(kind: Kind) -> list[dict[str, object]]:
    return [
        {"apiGroups": [kind.group], "resources": [kind.plural, f"{kind.plural}/scale"], "verbs": ["*"]},
        {"apiGroups": ["airlock.dev"], "resources": ["aiservices"], "verbs": ["*"]},
    ]


@pytest.fixture
def team_for(cluster: Cluster, namespace: str, tmp_path: Path) -> Callable[[Kind], Identity]:
    return lambda kind: identity(cluster, namespace, tmp_path, f"team-{kind.plural}", team_rules(kind))


# ---- the write paths ------------------------------------------------------------------------------------

Write = Callable[[Cluster, Identity, Kind, str, str, int], tuple[bool, str]]


def _kubectl(cluster: Cluster, who: Identity, *args: str, stdin: str | None = None) -> tuple[bool, str]:
    r = cluster.kubectl(*args, kubeconfig=who.kubeconfig, stdin=stdin, check=False)
    return r.returncode == 0, r.stderr


def client_side_apply(
    cluster: Cluster, who: Identity, k: Kind, ns: str, name: str, n: int
) -> tuple[bool, str]:
    return _kubectl(cluster, who, "apply", "-f", "-", stdin=yaml.safe_dump(k.manifest(name, ns, n)))


def server_side_apply_forced(
    cluster: Cluster, who: Identity, k: Kind, ns: str, name: str, n: int
) -> tuple[bool, str]:
    # As Argo CD syncs with ServerSideApply=true: another field manager, taking every field by force.
    return _kubectl(
        cluster,
        who,
        "apply",
        "--server-side",
        "--force-conflicts",
        "--field-manager=argocd-controller",
        "-f",
        "-",
        stdin=yaml.safe_dump(k.manifest(name, ns, n)),
    )


def full_put(cluster: Cluster, who: Identity, k: Kind, ns: str, name: str, n: int) -> tuple[bool, str]:
    live = cluster.get(k.ref, name, ns)
    live["spec"]["replicas"] = n
    return _kubectl(cluster, who, "replace", "-f", "-", stdin=yaml.safe_dump(live))


def merge_patch(cluster: Cluster, who: Identity, k: Kind, ns: str, name: str, n: int) -> tuple[bool, str]:
    body = json.dumps({"spec": {"replicas": n}})
    return _kubectl(cluster, who, "patch", k.ref, name, "-n", ns, "--type=merge", "-p", body)


def kubectl_scale(cluster: Cluster, who: Identity, k: Kind, ns: str, name: str, n: int) -> tuple[bool, str]:
    return _kubectl(cluster, who, "scale", k.ref, name, "-n", ns, f"--replicas={n}")


def scale_subresource_patch(
    cluster: Cluster, who: Identity, k: Kind, ns: str, name: str, n: int
) -> tuple[bool, str]:
    return call_as(
        cluster,
        who,
        lambda api: api.patch_namespaced_custom_object_scale(
            k.group,
            k.version,
            ns,
            k.plural,
            name,
            {"spec": {"replicas": n}},
            _content_type="application/merge-patch+json",
        ),
    )


WRITES: list[Write] = [
    client_side_apply,
    server_side_apply_forced,
    full_put,
    merge_patch,
    kubectl_scale,
    scale_subresource_put,
    scale_subresource_patch,
]
WRITE_IDS = [w.__name__.replace("_", " ") for w in WRITES]


def _governed(cluster: Cluster, k: Kind, ns: str, name: str, *, replicas: int, **service: Any) -> None:
    cluster.apply(k.manifest(name, ns, replicas))
    cluster.apply(k.service(name, ns, **service))
    wait_until_enforced(cluster.local)  # a barrier: admission has seen the AIService


def _assert_capped(cluster: Cluster, who: Identity, k: Kind, ns: str, write: Write, cap: int) -> None:
    admitted, message = write(cluster, who, k, ns, "bot", cap + 4)
    assert not admitted, f"{write.__name__} raised {k.kind} bot above its cap of {cap}"
    assert f"Airlock: {k.kind} bot may run at most {cap} replicas (asked for {cap + 4})" in message, message
    assert "AIService bot" in message, message
    assert replicas_of(cluster, k, ns, "bot") == cap
    # Decreases and staying at the cap are always allowed.
    assert write(cluster, who, k, ns, "bot", 0)[0], f"{write.__name__} could not scale {k.kind} bot to 0"
    assert write(cluster, who, k, ns, "bot", cap)[0], (
        f"{write.__name__} could not scale {k.kind} bot to {cap}"
    )


@pytest.mark.parametrize("write", WRITES, ids=WRITE_IDS)
@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
def test_with_the_operator_down_every_write_above_the_pilot_cap_is_denied(
    cluster: Cluster, namespace: str, team_for: Callable[[Kind], Identity], kind: Kind, write: Write
) -> None:
    _governed(cluster, kind, namespace, "bot", replicas=1, pilot=1)
    _assert_capped(cluster, team_for(kind), kind, namespace, write, 1)


@pytest.mark.parametrize("write", WRITES, ids=WRITE_IDS)
@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
def test_with_the_operator_down_a_scale_up_while_killed_is_denied_with_the_reason(
    cluster: Cluster, namespace: str, team_for: Callable[[Kind], Identity], kind: Kind, write: Write
) -> None:
    killed = {"airlock.dev/kill-switch": "true", "airlock.dev/kill-switch-reason": "INC-4711"}
    _governed(cluster, kind, namespace, "bot", replicas=0, pilot=1, annotations=killed)
    admitted, message = write(cluster, team_for(kind), kind, namespace, "bot", 1)
    assert not admitted and "kill switch of AIService bot is engaged (INC-4711)" in message, message
    assert f"{kind.kind} bot may run at most 0 replicas (asked for 1)" in message, message
    assert write(cluster, team_for(kind), kind, namespace, "bot", 0)[0]


@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
def test_with_the_operator_down_a_create_above_the_cap_is_denied(
    cluster: Cluster, namespace: str, team_for: Callable[[Kind], Identity], kind: Kind
) -> None:
    who = team_for(kind)
    cluster.apply(kind.service("bot", namespace, pilot=2))
    wait_until_enforced(cluster.local)
    admitted, message = client_side_apply(cluster, who, kind, namespace, "bot", 3)
    assert not admitted and f"{kind.kind} bot may run at most 2 replicas (asked for 3)" in message, message
    assert client_side_apply(cluster, who, kind, namespace, "bot", 2)[0]


@pytest.mark.parametrize("kind", [k for k in KINDS if k is not DEPLOYMENT], ids=lambda k: k.kind)
def test_a_service_governs_only_the_kind_it_names_not_a_namesake_of_another_kind(
    cluster: Cluster, namespace: str, kind: Kind
) -> None:
    # The AIService names a StatefulSet (or Rollout) bot; a Deployment bot beside it is not capped, and
    # an AIService naming the Deployment does not cap the other kind either.
    cluster.apply(kind.service("bot", namespace, pilot=1))
    cluster.apply(DEPLOYMENT.manifest("bot", namespace, 1))
    cluster.apply(kind.manifest("bot", namespace, 1))
    wait_until_enforced(cluster.local)
    assert (
        cluster.kubectl("scale", "deployment", "bot", "-n", namespace, "--replicas=5", check=False).returncode
        == 0
    )
    denied = cluster.kubectl("scale", kind.ref, "bot", "-n", namespace, "--replicas=5", check=False)
    assert denied.returncode != 0 and f"{kind.kind} bot may run at most 1" in denied.stderr, denied.stderr
    # One workload has one AIService, per kind: the Deployment bot may have its own.
    other = DEPLOYMENT.service("bot-deployment", namespace, pilot=1)
    other["spec"]["workload"]["name"] = "bot"
    cluster.apply(other)


def test_a_stored_service_without_kind_reads_as_a_deployment_and_a_kind_change_is_a_re_pointing(
    cluster: Cluster, namespace: str, tmp_path: Path
) -> None:
    # Written as every AIService before workload kinds: only a name. The API server fills in the rest.
    cluster.apply(aiservice("bot", namespace, pilot=1))
    workload = cluster.get("aiservice", "bot", namespace)["spec"]["workload"]
    assert workload == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "bot"}
    # Re-applied as written by a team without the platform's govern verb: not a re-pointing.
    team = identity(cluster, namespace, tmp_path, "team", TEAM_RULES)
    admitted, stderr = team.apply(cluster, aiservice("bot", namespace, pilot=1, owner="sam@example.com"))
    assert admitted, stderr
    # Changing the kind is re-pointing it, which the team may not do.
    moved = aiservice("bot", namespace, pilot=1)
    moved["spec"]["workload"] = {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "bot"}
    admitted, stderr = team.apply(cluster, moved)
    assert not admitted and "from workload Deployment bot to StatefulSet bot" in stderr, stderr


@pytest.mark.parametrize(
    ("api_version", "kind"),
    [("apps/v1", "Rollout"), ("argoproj.io/v1alpha1", "Deployment"), ("apps/v1", "DaemonSet")],
)
def test_a_workload_kind_that_is_not_supported_is_refused_by_the_schema(
    cluster: Cluster, namespace: str, api_version: str, kind: str
) -> None:
    doc = aiservice("bot", namespace)
    doc["spec"]["workload"] = {"apiVersion": api_version, "kind": kind, "name": "bot"}
    r = cluster.apply(doc, check=False)
    assert r.returncode != 0 and "spec.workload" in r.stderr, r.stderr


# ---- with the operator ---------------------------------------------------------------------------------


@pytest.fixture
def operator_all_kinds(cluster: Cluster, tmp_path: Path) -> Iterator[OperatorProcess]:
    op = start_operator(cluster, tmp_path, extra_env=ALL_KINDS_ENV)
    try:
        yield op
    finally:
        op.stop()


@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
def test_with_the_operator_up_every_write_above_the_pilot_cap_is_denied(
    cluster: Cluster,
    namespace: str,
    team_for: Callable[[Kind], Identity],
    operator_all_kinds: OperatorProcess,
    kind: Kind,
) -> None:
    _governed(cluster, kind, namespace, "bot", replicas=1, pilot=1)
    st = cluster.wait_for(
        lambda: status(cluster, namespace, "bot").get("stage") and status(cluster, namespace, "bot")
    )
    assert st["allowedReplicas"] == 1 and condition(st, "WorkloadFound")["status"] == "True"
    assert f"{kind.kind} bot is governed" in condition(st, "WorkloadFound")["message"]
    wide = cluster.kubectl("get", "ais", "bot", "-n", namespace, "-o", "wide").stdout.splitlines()
    starts = [m.start() for m in re.finditer(r"\S+", wide[0])] + [None]
    row = {wide[0][a:b].strip(): wide[1][a:b].strip() for a, b in itertools.pairwise(starts)}
    assert row["KIND"] == kind.kind and row["WORKLOAD"] == "bot" and row["STAGE"] == "Pilot", wide
    wait_until_enforced(cluster.local)
    who = team_for(kind)
    for write in WRITES:
        _assert_capped(cluster, who, kind, namespace, write, 1)


@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
def test_the_backstop_scales_a_workload_created_above_its_cap_down(
    cluster: Cluster, namespace: str, operator_all_kinds: OperatorProcess, kind: Kind
) -> None:
    # Created before its AIService, so admission had nothing to enforce yet.
    cluster.apply(kind.manifest("bot", namespace, 4))
    cluster.apply(kind.service("bot", namespace, pilot=1))
    cluster.wait_for(
        lambda: replicas_of(cluster, kind, namespace, "bot") == 1, what="the backstop to scale 4 -> 1"
    )
    cluster.wait_for(lambda: "ScaledToCap" in events(cluster, namespace), what="a ScaledToCap event")


@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
def test_the_kill_switch_scales_to_zero_holds_and_the_restore_brings_the_replicas_back(
    cluster: Cluster,
    namespace: str,
    team_for: Callable[[Kind], Identity],
    operator_all_kinds: OperatorProcess,
    kind: Kind,
) -> None:
    _governed(cluster, kind, namespace, "bot", replicas=3, pilot=3)
    cluster.wait_for(lambda: status(cluster, namespace, "bot").get("stage") == "Pilot", what="a first status")
    cluster.kubectl(
        "annotate",
        "ais",
        "bot",
        "-n",
        namespace,
        "airlock.dev/kill-switch=true",
        "airlock.dev/kill-switch-reason=INC-1",
    )
    cluster.wait_for(
        lambda: replicas_of(cluster, kind, namespace, "bot") == 0, timeout=5, what="the kill switch"
    )
    st = cluster.wait_for(
        lambda: (
            status(cluster, namespace, "bot").get("stage") == "Killed" and status(cluster, namespace, "bot")
        )
    )
    assert st["killSwitch"]["replicasBefore"] == 3
    admitted, message = kubectl_scale(cluster, team_for(kind), kind, namespace, "bot", 1)
    assert not admitted and "kill switch of AIService bot is engaged (INC-1)" in message, message
    cluster.kubectl("annotate", "ais", "bot", "-n", namespace, "airlock.dev/kill-switch-")
    cluster.wait_for(lambda: replicas_of(cluster, kind, namespace, "bot") == 3, what="the restore to 3")
    reasons = events(cluster, namespace)
    assert reasons.count("KillSwitchEngaged") == 1 and reasons.count("KillSwitchReleased") == 1


@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
def test_version_labels_go_on_the_workload_metadata_never_its_pod_template(
    cluster: Cluster, namespace: str, operator_all_kinds: OperatorProcess, kind: Kind
) -> None:
    _governed(cluster, kind, namespace, "bot", replicas=1, pilot=1)
    labels = cluster.wait_for(
        lambda: (
            cluster.get(kind.ref, "bot", namespace)["metadata"].get("labels", {}).get("airlock.dev/stage")
            and cluster.get(kind.ref, "bot", namespace)["metadata"]["labels"]
        ),
        what=f"labels on the {kind.kind}",
    )
    assert (
        labels["airlock.dev/service"] == "bot" and labels["airlock.dev/model-version"] == "gpt-4o-2024-08-06"
    )
    live = cluster.get(kind.ref, "bot", namespace)
    assert live["spec"]["template"]["metadata"]["labels"] == {"app": "bot"}
    assert "airlock.dev/versions" in live["metadata"]["annotations"]


def test_the_kill_switch_holds_a_rollout_in_the_middle_of_a_canary(
    cluster: Cluster,
    namespace: str,
    team_for: Callable[[Kind], Identity],
    operator_all_kinds: OperatorProcess,
) -> None:
    # A canary at its pause step, as Argo Rollouts' controller records it (it does not run here).
    _governed(cluster, ROLLOUT, namespace, "bot", replicas=3, pilot=3)
    cluster.kubectl(
        "patch",
        "rollouts.argoproj.io",
        "bot",
        "-n",
        namespace,
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps(
            {
                "status": {
                    "currentStepIndex": 1,
                    "currentPodHash": "canary",
                    "stableRS": "stable",
                    "pauseConditions": [{"reason": "CanaryPauseStep", "startTime": "2026-01-01T00:00:00Z"}],
                    "canary": {},
                }
            }
        ),
    )
    cluster.wait_for(lambda: status(cluster, namespace, "bot").get("stage") == "Pilot", what="a first status")
    cluster.kubectl("annotate", "ais", "bot", "-n", namespace, "airlock.dev/kill-switch=true")
    cluster.wait_for(
        lambda: replicas_of(cluster, ROLLOUT, namespace, "bot") == 0, timeout=5, what="the kill switch"
    )
    # Resuming or promoting the canary cannot bring pods back while the switch is engaged.
    who = team_for(ROLLOUT)
    assert _kubectl(
        cluster,
        who,
        "patch",
        ROLLOUT.ref,
        "bot",
        "-n",
        namespace,
        "--type=merge",
        "-p",
        '{"spec":{"paused":false}}',
    )[0]
    admitted, message = merge_patch(cluster, who, ROLLOUT, namespace, "bot", 3)
    assert not admitted and "kill switch of AIService bot is engaged" in message, message
    assert replicas_of(cluster, ROLLOUT, namespace, "bot") == 0


@pytest.mark.parametrize("kind", [STATEFUL_SET, ROLLOUT], ids=lambda k: k.kind)
def test_kubectl_airlock_explains_kills_and_restores_each_kind_by_its_own_name(
    cluster: Cluster, namespace: str, operator_all_kinds: OperatorProcess, kind: Kind
) -> None:
    _governed(cluster, kind, namespace, "bot", replicas=2, pilot=3)
    cluster.wait_for(lambda: status(cluster, namespace, "bot").get("stage") == "Pilot", what="a first status")
    explained = plugin(cluster, "explain", "bot", "-n", namespace)
    assert explained.returncode == 0 and f"{kind.kind}:" in explained.stdout, explained.stdout
    assert "bot (2 replicas)" in explained.stdout, explained.stdout
    killed = plugin(cluster, "kill", "bot", "-n", namespace, "--reason", "INC-7")
    assert killed.returncode == 0 and f"{kind.kind} bot" in killed.stdout, killed.stdout + killed.stderr
    assert replicas_of(cluster, kind, namespace, "bot") == 0
    table = plugin(cluster, "status", "-n", namespace)
    assert table.returncode == 0 and "Killed" in table.stdout, table.stdout
    restored = plugin(cluster, "restore", "bot", "-n", namespace)
    assert restored.returncode == 0 and f"{kind.kind} bot restored to 2 replicas" in restored.stdout, (
        restored.stdout + restored.stderr
    )


def test_an_operator_without_rollouts_enabled_leaves_a_rollout_to_admission_and_says_so(
    cluster: Cluster, namespace: str, operator: OperatorProcess
) -> None:
    # The operator's default settings, as the chart's default values: Deployments and StatefulSets only.
    _governed(cluster, ROLLOUT, namespace, "bot", replicas=1, pilot=1)
    found = cluster.wait_for(
        lambda: condition(status(cluster, namespace, "bot"), "WorkloadFound"),
        what="a WorkloadFound condition",
    )
    assert found["status"] == "False" and found["reason"] == "KindNotEnabled", found
    assert "does not govern Rollouts" in found["message"], found
    assert "airlock.dev/stage" not in (
        cluster.get(ROLLOUT.ref, "bot", namespace)["metadata"].get("labels") or {}
    )
    denied = cluster.kubectl("scale", ROLLOUT.ref, "bot", "-n", namespace, "--replicas=5", check=False)
    assert denied.returncode != 0 and "Rollout bot may run at most 1 replicas" in denied.stderr, denied.stderr
    assert 'rollouts.argoproj.io "bot"' not in operator.log(), "the operator read a kind it does not govern"
