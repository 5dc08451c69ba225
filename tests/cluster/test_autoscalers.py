"""Autoscalers whose target is a governed workload: an autoscaling/v2 HorizontalPodAutoscaler and a KEDA
ScaledObject (its CRD from KEDA's own module; KEDA's operator does not run here, nor the HPA controller).

The decision (docs/workloads.md): an autoscaler whose maximum exceeds the cap is admitted, with a warning
naming the cap, so a GitOps sync stays green; it is not changed; the scale-ups it asks for above the cap
are denied at the workload's /scale with the same message, which the HPA controller records on the HPA.
The kill switch scales the workload to 0 (an HPA does not scale a workload at 0) and pauses a
ScaledObject; the restore brings the replicas back and unpauses only what Airlock paused.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airlock_dev.admission_probe import wait_until_enforced
from tests.cluster.chart_helpers import Identity as ChartIdentity
from tests.cluster.chart_helpers import install_operator_identity
from tests.cluster.helpers import (
    ALL_KINDS_ENV,
    KIND_IDS,
    KINDS,
    Identity,
    Kind,
    identity,
    replicas_of,
    scale_subresource_put,
    status,
)
from tests.conftest import Cluster, OperatorProcess, start_operator

PAUSED = "autoscaling.keda.sh/paused-replicas"
PAUSED_BY = "airlock.dev/paused-by"


@pytest.fixture(autouse=True)
def _crds(workload_crds: list[str]) -> None:
    """The Rollout and ScaledObject CRDs: a missing one fails the test, never skips it."""


def hpa(name: str, namespace: str, target: Kind, target_name: str, max_replicas: int) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "scaleTargetRef": {"apiVersion": target.api_version, "kind": target.kind, "name": target_name},
            "minReplicas": 1,
            "maxReplicas": max_replicas,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}},
                }
            ],
        },
    }


def scaled_object(
    name: str, namespace: str, target: Kind, target_name: str, max_replicas: int | None
) -> dict[str, Any]:
    ref: dict[str, str] = {"name": target_name}
    if target.kind != "Deployment":  # KEDA's default, as a team would write it
        ref |= {"apiVersion": target.api_version, "kind": target.kind}
    spec: dict[str, Any] = {
        "scaleTargetRef": ref,
        "triggers": [{"type": "cpu", "metricType": "Utilization", "metadata": {"value": "70"}}],
    }
    if max_replicas is not None:
        spec["maxReplicaCount"] = max_replicas
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def _governed(cluster: Cluster, k: Kind, ns: str, *, replicas: int = 1, pilot: int = 1) -> None:
    cluster.apply(k.manifest("bot", ns, replicas))
    cluster.apply(k.service("bot", ns, pilot=pilot))
    wait_until_enforced(cluster.local)


def _apply(cluster: Cluster, doc: dict[str, Any]) -> tuple[bool, str]:
    r = cluster.apply(doc, check=False)
    return r.returncode == 0, r.stderr


@pytest.fixture
def hpa_controller(cluster: Cluster, namespace: str, tmp_path: Path) -> Identity:
    """What the HPA controller may do: update any workload's scale subresource (not cluster-admin)."""
    rules: list[dict[str, object]] = [
        {"apiGroups": [k.group], "resources": [f"{k.plural}/scale"], "verbs": ["get", "update", "patch"]}
        for k in KINDS
    ]
    return identity(cluster, namespace, tmp_path, "hpa-controller", rules)


# ---- what admission says about an autoscaler ------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
def test_an_hpa_above_the_cap_is_admitted_unchanged_with_a_warning_naming_the_cap(
    cluster: Cluster, namespace: str, kind: Kind
) -> None:
    _governed(cluster, kind, namespace)
    admitted, stderr = _apply(cluster, hpa("bot", namespace, kind, "bot", 10))
    assert admitted, f"a GitOps sync of the HPA must stay green: {stderr}"
    assert (
        "Warning:" in stderr
        and (
            f"Airlock: HorizontalPodAutoscaler bot scales {kind.kind} bot, which may run at most 1 "
            "replicas (its maximum is 10; scale-ups above the cap are denied) because AIService bot is"
        )
        in stderr
    ), stderr
    assert cluster.get("hpa", "bot", namespace)["spec"]["maxReplicas"] == 10, "never clamped: no drift"


@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
def test_a_scaled_object_above_the_cap_or_with_keda_s_default_maximum_is_admitted_with_a_warning(
    cluster: Cluster, namespace: str, kind: Kind
) -> None:
    _governed(cluster, kind, namespace)
    admitted, stderr = _apply(cluster, scaled_object("bot", namespace, kind, "bot", 10))
    assert admitted and f"ScaledObject bot scales {kind.kind} bot, which may run at most 1 replicas" in stderr
    assert "its maximum is 10" in stderr, stderr
    admitted, stderr = _apply(cluster, scaled_object("bot-default", namespace, kind, "bot", None))
    assert admitted and "its maximum is 100" in stderr, stderr


@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
def test_an_autoscaler_within_the_cap_or_of_another_workload_gets_no_warning(
    cluster: Cluster, namespace: str, kind: Kind
) -> None:
    _governed(cluster, kind, namespace, pilot=2)
    cluster.apply(kind.manifest("other", namespace, 1))
    for doc in (
        hpa("within", namespace, kind, "bot", 2),
        hpa("other", namespace, kind, "other", 10),
        scaled_object("within", namespace, kind, "bot", 2),
        scaled_object("other", namespace, kind, "other", 10),
    ):
        admitted, stderr = _apply(cluster, doc)
        assert admitted and "Airlock" not in stderr, stderr


def test_an_hpa_naming_a_namesake_of_another_kind_is_not_judged_by_its_cap(
    cluster: Cluster, namespace: str
) -> None:
    sts, deployment = KINDS[1], KINDS[0]
    _governed(cluster, sts, namespace)
    cluster.apply(deployment.manifest("bot", namespace, 1))
    admitted, stderr = _apply(cluster, hpa("bot", namespace, deployment, "bot", 10))
    assert admitted and "Airlock" not in stderr, stderr


@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
def test_with_the_operator_down_the_hpa_s_scale_up_is_denied_and_its_scale_down_admitted(
    cluster: Cluster, namespace: str, hpa_controller: Identity, kind: Kind
) -> None:
    # The HPA controller writes the target's /scale: read, set spec.replicas, PUT.
    _governed(cluster, kind, namespace, replicas=1)
    cluster.apply(hpa("bot", namespace, kind, "bot", 10))
    admitted, message = scale_subresource_put(cluster, hpa_controller, kind, namespace, "bot", 4)
    assert not admitted and f"{kind.kind} bot may run at most 1 replicas (asked for 4)" in message, message
    assert scale_subresource_put(cluster, hpa_controller, kind, namespace, "bot", 0)[0]
    assert replicas_of(cluster, kind, namespace, "bot") == 0


# ---- the kill switch and the restore ---------------------------------------------------------------------


@pytest.fixture
def operator_with_autoscalers(cluster: Cluster, tmp_path: Path) -> Iterator[OperatorProcess]:
    op = start_operator(cluster, tmp_path, extra_env={**ALL_KINDS_ENV, "AIRLOCK_SCALED_OBJECTS": "true"})
    try:
        yield op
    finally:
        op.stop()


def _kill(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("annotate", "ais", "bot", "-n", ns, "airlock.dev/kill-switch=true")


def _release(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("annotate", "ais", "bot", "-n", ns, "airlock.dev/kill-switch-")


@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
def test_the_kill_switch_stops_an_hpa_governed_workload_and_the_restore_lets_it_scale_again(
    cluster: Cluster,
    namespace: str,
    hpa_controller: Identity,
    operator_with_autoscalers: OperatorProcess,
    kind: Kind,
) -> None:
    _governed(cluster, kind, namespace, replicas=3, pilot=3)
    cluster.apply(hpa("bot", namespace, kind, "bot", 3))
    cluster.wait_for(lambda: status(cluster, namespace, "bot").get("stage") == "Pilot", what="a first status")
    _kill(cluster, namespace)
    cluster.wait_for(
        lambda: replicas_of(cluster, kind, namespace, "bot") == 0, timeout=5, what="the kill switch"
    )
    # At 0 replicas an HPA does not scale; and were it to try, admission denies it.
    admitted, message = scale_subresource_put(cluster, hpa_controller, kind, namespace, "bot", 2)
    assert not admitted and "kill switch of AIService bot is engaged" in message, message
    _release(cluster, namespace)
    cluster.wait_for(lambda: replicas_of(cluster, kind, namespace, "bot") == 3, what="the restore to 3")
    assert cluster.get("hpa", "bot", namespace)["spec"]["maxReplicas"] == 3, "the HPA itself is never written"


def _annotations(cluster: Cluster, ns: str, name: str) -> dict[str, str]:
    """The pause annotations of a ScaledObject (KEDA's and Airlock's), and no others."""
    out = cluster.get("scaledobjects.keda.sh", name, ns)["metadata"].get("annotations") or {}
    return {k: v for k, v in out.items() if k in (PAUSED, PAUSED_BY)}


@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
def test_the_kill_switch_pauses_a_scaled_object_and_the_restore_unpauses_only_what_airlock_paused(
    cluster: Cluster, namespace: str, operator_with_autoscalers: OperatorProcess, kind: Kind
) -> None:
    _governed(cluster, kind, namespace, replicas=2, pilot=3)
    cluster.apply(scaled_object("bot", namespace, kind, "bot", 3))
    # The team paused this one itself, at 1 replica: Airlock leaves its annotation alone.
    team_paused = scaled_object("bot-team-paused", namespace, kind, "bot", 3)
    team_paused["metadata"]["annotations"] = {PAUSED: "1"}
    cluster.apply(team_paused)
    cluster.apply(scaled_object("unrelated", namespace, kind, "someone-else", 3))
    cluster.wait_for(lambda: status(cluster, namespace, "bot").get("stage") == "Pilot", what="a first status")
    _kill(cluster, namespace)
    cluster.wait_for(
        lambda: replicas_of(cluster, kind, namespace, "bot") == 0, timeout=5, what="the kill switch"
    )
    paused = cluster.wait_for(
        lambda: (
            _annotations(cluster, namespace, "bot").get(PAUSED) == "0"
            and _annotations(cluster, namespace, "bot")
        ),
        timeout=5,
        what="the ScaledObject to be paused at 0",
    )
    assert paused[PAUSED_BY] == "bot"
    assert _annotations(cluster, namespace, "bot-team-paused") == {PAUSED: "1"}
    assert PAUSED not in _annotations(cluster, namespace, "unrelated")
    _release(cluster, namespace)
    cluster.wait_for(
        lambda: PAUSED not in _annotations(cluster, namespace, "bot"), what="the ScaledObject unpaused"
    )
    assert PAUSED_BY not in _annotations(cluster, namespace, "bot")
    assert _annotations(cluster, namespace, "bot-team-paused") == {PAUSED: "1"}
    cluster.wait_for(lambda: replicas_of(cluster, kind, namespace, "bot") == 2, what="the restore to 2")


def test_a_scaled_object_created_while_killed_is_paused_too(
    cluster: Cluster, namespace: str, operator_with_autoscalers: OperatorProcess
) -> None:
    kind = KINDS[0]
    _governed(cluster, kind, namespace, replicas=1, pilot=1)
    _kill(cluster, namespace)
    cluster.wait_for(lambda: status(cluster, namespace, "bot").get("stage") == "Killed", what="stage Killed")
    cluster.apply(scaled_object("late", namespace, kind, "bot", 1))
    cluster.wait_for(
        lambda: _annotations(cluster, namespace, "late").get(PAUSED) == "0",
        what="the late ScaledObject to be paused",
    )


# ---- as the chart's ServiceAccount, with every kind switched on -----------------------------------------


@pytest.fixture(scope="module")
def chart_identity(cluster: Cluster, helm: Path, tmp_path_factory: pytest.TempPathFactory) -> ChartIdentity:
    return install_operator_identity(
        cluster,
        helm,
        tmp_path_factory.mktemp("workloads"),
        "workloads.rollouts=true",
        "autoscalers.scaledObjects=true",
    )


@pytest.fixture
def least_privileged_operator(
    cluster: Cluster, chart_identity: ChartIdentity, tmp_path: Path
) -> Iterator[OperatorProcess]:
    env = {**ALL_KINDS_ENV, "AIRLOCK_SCALED_OBJECTS": "true"}
    op = start_operator(cluster, tmp_path, kubeconfig=chart_identity.kubeconfig, extra_env=env)
    try:
        yield op
    finally:
        op.stop()
    denied = re.findall(r'.*(?:system:serviceaccount:[^"]*" cannot|Not enough permissions).*', op.log())
    assert not denied, f"the operator hit permission errors as {chart_identity.service_account}: {denied[:5]}"


@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
def test_as_the_chart_s_service_account_the_kill_switch_stops_each_kind_and_pauses_its_scaled_object(
    cluster: Cluster, namespace: str, least_privileged_operator: OperatorProcess, kind: Kind
) -> None:
    _governed(cluster, kind, namespace, replicas=2, pilot=3)
    cluster.apply(scaled_object("bot", namespace, kind, "bot", 3))
    labels = cluster.wait_for(
        lambda: (
            cluster.get(kind.ref, "bot", namespace)["metadata"].get("labels", {}).get("airlock.dev/stage")
        ),
        what=f"the stage label on the {kind.kind}",
    )
    assert labels == "Pilot"
    _kill(cluster, namespace)
    cluster.wait_for(
        lambda: replicas_of(cluster, kind, namespace, "bot") == 0, timeout=5, what="the kill switch"
    )
    cluster.wait_for(
        lambda: _annotations(cluster, namespace, "bot") == {PAUSED: "0", PAUSED_BY: "bot"},
        what="the ScaledObject to be paused",
    )
    _release(cluster, namespace)
    cluster.wait_for(lambda: replicas_of(cluster, kind, namespace, "bot") == 2, what="the restore to 2")
    cluster.wait_for(lambda: _annotations(cluster, namespace, "bot") == {}, what="the ScaledObject unpaused")


def _capped_events(cluster: Cluster, ns: str, kind: str, name: str) -> list[dict[str, Any]]:
    out = cluster.kubectl(
        "get", "events", "-n", ns, "-o", "json",
        f"--field-selector=involvedObject.kind={kind},involvedObject.name={name},reason=CappedByAirlock",
    ).stdout  # fmt: skip
    items: list[dict[str, Any]] = json.loads(out)["items"]
    return items


@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
def test_with_the_operator_up_an_autoscaler_above_the_cap_gets_a_warning_event_on_itself_once(
    cluster: Cluster, namespace: str, operator_with_autoscalers: OperatorProcess, kind: Kind
) -> None:
    _governed(cluster, kind, namespace)
    cluster.wait_for(lambda: status(cluster, namespace, "bot").get("stage") == "Pilot", what="a first status")
    cluster.apply(hpa("bot", namespace, kind, "bot", 10))
    cluster.apply(scaled_object("bot", namespace, kind, "bot", None))
    cluster.apply(hpa("within", namespace, kind, "bot", 1))
    for autoscaler, maximum in (("HorizontalPodAutoscaler", 10), ("ScaledObject", 100)):
        (event,) = cluster.wait_for(
            lambda a=autoscaler: _capped_events(cluster, namespace, a, "bot"),
            what=f"an Event on the {autoscaler}",
        )
        assert event["type"] == "Warning", event
        assert event["message"].startswith(
            f"Airlock: {autoscaler} bot scales {kind.kind} bot, which may run at most 1 replicas "
            f"(its maximum is {maximum}; scale-ups above the cap are denied) because AIService bot is Pilot"
        ), event["message"]
    assert "CappedByAirlock" in cluster.kubectl("describe", "hpa", "bot", "-n", namespace).stdout
    # Another pass (a spec change, awaited through observedGeneration) records nothing new.
    cluster.kubectl("patch", "ais", "bot", "-n", namespace, "--type=merge", "-p", '{"spec":{"owner":"sam"}}')
    cluster.wait_for(
        lambda: status(cluster, namespace, "bot").get("observedGeneration") == 2, what="a second pass"
    )
    assert len(_capped_events(cluster, namespace, "HorizontalPodAutoscaler", "bot")) == 1
    assert _capped_events(cluster, namespace, "HorizontalPodAutoscaler", "within") == []
