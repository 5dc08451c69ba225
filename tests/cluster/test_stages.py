"""Progressive stages on the real API server: promoted one stage at a time as the packet gains evidence,
held for the soak, stepped down on a regression, killed in every stage, and never loosened by the team.

The ReadinessPolicy is cluster-wide, so each test applies its own and deletes it at the end.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airlock_dev import samples
from tests.cluster.helpers import TEAM_RULES, condition, identity, replicas, setup_service, status
from tests.conftest import Cluster, OperatorProcess

SERVICE = "support-assistant"
SOAK_SECONDS = 15
# Limited needs the evidence strangers should not meet a service without; Production every gate.
STAGES: list[dict[str, Any]] = [
    {"name": "Pilot"},
    {
        "name": "Limited",
        "replicas": 3,
        "requiredGates": ["useCase", "dataGovernance", "versions", "evals", "securityReview"],
        "trafficWeight": 20,
    },
    {"name": "Production", "minSoak": f"{SOAK_SECONDS}s", "trafficWeight": 100},
]


def apply_policy(cluster: Cluster, **spec: Any) -> None:
    cluster.apply(
        {
            "apiVersion": "airlock.dev/v1alpha1",
            "kind": "ReadinessPolicy",
            "metadata": {"name": "default"},
            "spec": {"stages": STAGES, **spec},
        }
    )


@pytest.fixture
def staged(cluster: Cluster) -> Iterator[None]:
    apply_policy(cluster)
    try:
        yield
    finally:
        cluster.kubectl("delete", "readinesspolicy", "default", "--ignore-not-found")


def packet(cluster: Cluster, namespace: str, example: str) -> None:
    """A revision of the service's one packet, support-assistant-v14, from an example."""
    cluster.apply(samples.current_packet(samples.load(example), dt.datetime.now(dt.UTC), namespace=namespace))


def wait_stage(cluster: Cluster, namespace: str, stage: str, timeout: float = 30) -> dict[str, Any]:
    found: dict[str, Any] = cluster.wait_for(
        lambda: (st := status(cluster, namespace)).get("stage") == stage and st,
        timeout=timeout,
        what=f"AIService {SERVICE} to reach stage {stage}",
    )
    return found


def scale(cluster: Cluster, namespace: str, to: int) -> tuple[bool, str]:
    result = cluster.kubectl("scale", "deployment", SERVICE, f"--replicas={to}", "-n", namespace, check=False)
    return result.returncode == 0, result.stderr


def stage_label(cluster: Cluster, namespace: str) -> str | None:
    labels = cluster.get("deployment", SERVICE, namespace)["metadata"].get("labels") or {}
    return labels.get("airlock.dev/stage")


def event_messages(cluster: Cluster, namespace: str, reason: str) -> list[str]:
    out = cluster.kubectl("get", "events", "-n", namespace, "-o", "json").stdout
    return [e["message"] for e in json.loads(out)["items"] if e["reason"] == reason]


def kill_and_restore(cluster: Cluster, namespace: str, running: int) -> None:
    """The kill switch in whatever stage the service is: to zero with traffic 0, then back to `running`."""
    stage = status(cluster, namespace)["stage"]
    cluster.kubectl(
        "annotate", "ais", SERVICE, "-n", namespace, "airlock.dev/kill-switch=true",
        f"airlock.dev/kill-switch-reason=drill in {stage}",
    )  # fmt: skip
    killed = wait_stage(cluster, namespace, "Killed")
    cluster.wait_for(lambda: replicas(cluster, namespace) == 0, what=f"the kill switch to reach 0 in {stage}")
    assert killed["trafficWeight"] == 0 and killed["allowedReplicas"] == 0, killed
    assert killed["reachedStage"] == stage, killed
    cluster.kubectl("annotate", "ais", SERVICE, "-n", namespace, "airlock.dev/kill-switch-")
    wait_stage(cluster, namespace, stage)
    cluster.wait_for(
        lambda: replicas(cluster, namespace) == running, what=f"the restore to {running} in {stage}"
    )


def test_a_service_is_promoted_stage_by_stage_soaks_and_is_killed_in_every_stage(
    cluster: Cluster, namespace: str, operator: OperatorProcess, staged: None
) -> None:
    setup_service(cluster, namespace)
    pilot = wait_stage(cluster, namespace, "Pilot")
    assert (pilot["nextStage"], pilot["allowedReplicas"]) == ("Limited", 1), pilot
    assert pilot["blocking"] == "useCase, dataGovernance, versions, evals, securityReview", pilot
    assert condition(pilot, "Ready")["reason"] == "Pilot"
    ok, err = scale(cluster, namespace, 2)
    assert not ok and "may run at most 1 replicas" in err, err
    kill_and_restore(cluster, namespace, 1)

    # Revision 1: everything but the cost estimate. Limited's gates pass; Production's do not.
    packet(cluster, namespace, "packet-over-budget.yaml")
    limited = wait_stage(cluster, namespace, "Limited")
    assert (limited["allowedReplicas"], limited["trafficWeight"], limited["nextStage"]) == (
        3,
        20,
        "Production",
    )
    assert limited["blocking"] == "cost", limited
    ready = condition(limited, "Ready")
    assert ready["status"] == "False" and ready["reason"] == "InStage", ready
    assert "Limited (stage 2 of 3)" in ready["message"] and "Production needs: cost" in ready["message"]
    cluster.wait_for(lambda: stage_label(cluster, namespace) == "Limited", what="the stage label")
    assert scale(cluster, namespace, 3)[0]
    ok, err = scale(cluster, namespace, 4)
    assert not ok and "may run at most 3 replicas" in err and "is Limited" in err, err
    assert any("from Pilot to Limited" in m for m in event_messages(cluster, namespace, "Promoted"))
    kill_and_restore(cluster, namespace, 3)

    # Revision 2: the complete packet. Production's gates pass, and it waits out the soak in Limited.
    limited_since = dt.datetime.fromisoformat(status(cluster, namespace)["stageSince"])
    packet(cluster, namespace, "packet-complete.yaml")
    # Production's gates pass at once; until the soak ends, it is all Production needs.
    soaking = cluster.wait_for(
        lambda: (
            (st := status(cluster, namespace)).get("blocking", "").startswith("soak in Limited until") and st
        ),
        what="the soak to be all Production still needs",
    )
    assert soaking["stage"] == "Limited" and soaking["allowedReplicas"] == 3, soaking
    assert "Production needs: soak in Limited until" in condition(soaking, "Ready")["message"]
    production = wait_stage(cluster, namespace, "Production", timeout=SOAK_SECONDS + 30)
    entered = dt.datetime.fromisoformat(production["stageSince"])
    assert entered - limited_since >= dt.timedelta(seconds=SOAK_SECONDS), (limited_since, entered)
    assert production["allowedReplicas"] == 20 and production["trafficWeight"] == 100, production
    assert "nextStage" not in production and "blocking" not in production, production
    assert condition(production, "Ready")["status"] == "True"
    assert scale(cluster, namespace, 5)[0]
    kill_and_restore(cluster, namespace, 5)


def test_a_regression_steps_down_to_the_highest_stage_still_satisfied(
    cluster: Cluster, namespace: str, operator: OperatorProcess
) -> None:
    apply_policy(cluster, onRegression="ScaleDown", stages=[*STAGES[:2], {"name": "Production"}])
    try:
        setup_service(cluster, namespace)
        packet(cluster, namespace, "packet-complete.yaml")
        wait_stage(cluster, namespace, "Production")
        assert scale(cluster, namespace, 5)[0]
        # The cost estimate lapses into over budget: Production's gates fail, Limited's still pass.
        packet(cluster, namespace, "packet-over-budget.yaml")
        stepped = wait_stage(cluster, namespace, "Limited")
        assert stepped["allowedReplicas"] == 3 and stepped["peakStage"] == "Production", stepped
        assert condition(stepped, "Ready")["reason"] == "GatesRegressed"
        cluster.wait_for(lambda: replicas(cluster, namespace) == 3, what="the step down to Limited's 3")
        assert any("steps down to Limited" in m for m in event_messages(cluster, namespace, "SteppedDown"))
        # An eval fails too: below Limited, back to the pilot.
        packet(cluster, namespace, "packet-prompt-injection-failed.yaml")
        wait_stage(cluster, namespace, "Pilot")
        cluster.wait_for(lambda: replicas(cluster, namespace) == 1, what="the return to the pilot size")
        assert event_messages(cluster, namespace, "ReturnedToPilot")
        # The evidence restored, it climbs again.
        packet(cluster, namespace, "packet-complete.yaml")
        wait_stage(cluster, namespace, "Production")
    finally:
        cluster.kubectl("delete", "readinesspolicy", "default", "--ignore-not-found")


def test_held_through_a_regression_the_stage_and_its_replicas_stay(
    cluster: Cluster, namespace: str, operator: OperatorProcess
) -> None:
    apply_policy(cluster, stages=[*STAGES[:2], {"name": "Production"}])
    try:
        setup_service(cluster, namespace)
        packet(cluster, namespace, "packet-complete.yaml")
        wait_stage(cluster, namespace, "Production")
        assert scale(cluster, namespace, 5)[0]
        packet(cluster, namespace, "packet-prompt-injection-failed.yaml")
        held = cluster.wait_for(
            lambda: (
                condition(st := status(cluster, namespace), "Ready").get("reason") == "GatesRegressed" and st
            ),
            what="the regression",
        )
        assert held["stage"] == "Production" and held["allowedReplicas"] == 5, held
        assert "Production (stage 3 of 3)" in condition(held, "Ready")["message"]
        ok, err = scale(cluster, namespace, 6)
        assert not ok and "may run at most 5 replicas" in err, err
        assert replicas(cluster, namespace) == 5
    finally:
        cluster.kubectl("delete", "readinesspolicy", "default", "--ignore-not-found")


def test_the_service_team_cannot_loosen_the_policys_stages(
    cluster: Cluster, namespace: str, operator: OperatorProcess, staged: None, tmp_path: Path
) -> None:
    team = identity(cluster, namespace, tmp_path, "team", TEAM_RULES)
    setup_service(cluster, namespace)
    wait_stage(cluster, namespace, "Pilot")
    # The team widens Limited, drops its gates, and adds a wide Canary stage that needs one gate.
    own = [
        {"name": "Pilot"},
        {"name": "Canary", "replicas": 10, "requiredGates": ["useCase"]},
        {"name": "Limited", "replicas": 15, "requiredGates": [], "trafficWeight": 90},
    ]
    ok, err = team.run(
        cluster,
        namespace,
        "patch",
        "ais",
        SERVICE,
        "--type=merge",
        "-p",
        json.dumps({"spec": {"stages": own}}),
    )
    assert ok, err
    st = cluster.wait_for(
        lambda: (st := status(cluster, namespace)).get("nextStage") == "Canary" and st,
        what="the team's stage to be merged in",
    )
    by_name = {s["name"]: s for s in st["stages"]}
    assert list(by_name) == ["Pilot", "Canary", "Limited", "Production"], st["stages"]
    assert {n: s["allowedReplicas"] for n, s in by_name.items()} == {
        "Pilot": 1, "Canary": 3, "Limited": 3, "Production": 20,
    }  # fmt: skip
    # Canary comes before Limited, so it needs at least Limited's gates; Limited keeps the policy's.
    limited_gates = {"useCase", "dataGovernance", "versions", "evals", "securityReview"}
    assert set(by_name["Canary"]["blockingGates"]) == limited_gates, by_name["Canary"]
    assert set(by_name["Limited"]["blockingGates"]) == limited_gates, by_name["Limited"]
    assert st["blocking"] == "useCase, dataGovernance, versions, evals, securityReview", st
    # With the evidence Limited needs, the service climbs through Canary to Limited, at the policy's cap.
    packet(cluster, namespace, "packet-over-budget.yaml")
    limited = wait_stage(cluster, namespace, "Limited")
    assert limited["allowedReplicas"] == 3 and limited["trafficWeight"] == 20, limited
    ok, err = scale(cluster, namespace, 4)
    assert not ok and "may run at most 3 replicas" in err, err


def test_a_stage_above_the_policys_replica_limit_is_refused_at_the_api(
    cluster: Cluster, namespace: str, staged: None, tmp_path: Path
) -> None:
    team = identity(cluster, namespace, tmp_path, "team", TEAM_RULES)
    setup_service(cluster, namespace)  # maxReplicas 20, stored before the limit
    apply_policy(cluster, limits={"maxReplicas": 10})
    patch = {"spec": {"stages": [{"name": "Limited", "replicas": 12}]}}
    ok, err = team.run(cluster, namespace, "patch", "ais", SERVICE, "--type=merge", "-p", json.dumps(patch))
    assert not ok, "a stage above spec.limits.maxReplicas was admitted"
    assert "stage Limited" in err and "limit of 10" in err and "spec.stages[].replicas" in err, err
    patch["spec"]["stages"][0]["replicas"] = 10  # type: ignore[index]
    ok, err = team.run(cluster, namespace, "patch", "ais", SERVICE, "--type=merge", "-p", json.dumps(patch))
    assert ok, err
