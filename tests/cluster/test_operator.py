"""The operator on the real API server: status, promotion, the kill switch, restore, labels, regression."""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

from airlock_dev import samples
from tests.cluster.helpers import (
    aiservice,
    complete_packet,
    condition,
    deployment,
    events,
    replicas,
    setup_service,
    status,
)
from tests.conftest import Cluster, OperatorProcess, start_operator


def test_the_operator_writes_a_first_status_that_explains_the_pilot(
    cluster: Cluster, namespace: str, operator: OperatorProcess
) -> None:
    setup_service(cluster, namespace)
    st = cluster.wait_for(lambda: status(cluster, namespace).get("stage"), what="a first status")
    st = status(cluster, namespace)
    assert st["stage"] == "Pilot" and st["allowedReplicas"] == 1 and st["observedGeneration"] == 1
    assert condition(st, "WorkloadFound")["status"] == "True"
    assert condition(st, "Ready")["reason"] == "Pilot"
    assert st["gatesPassed"] == "0/11" and "useCase" in st["blocking"]


def test_a_pilot_above_its_cap_is_scaled_down_by_the_backstop(
    cluster: Cluster, namespace: str, operator: OperatorProcess
) -> None:
    # Created before its AIService, so admission had nothing to enforce yet.
    cluster.apply(deployment("support-assistant", namespace, 4))
    setup_service(cluster, namespace, replicas=4)
    cluster.wait_for(lambda: replicas(cluster, namespace) == 1, what="the backstop to scale 4 -> 1")
    cluster.wait_for(lambda: "ScaledToCap" in events(cluster, namespace), what="a ScaledToCap event")


def test_a_complete_packet_promotes_and_kubectl_wait_returns(
    cluster: Cluster, namespace: str, operator: OperatorProcess
) -> None:
    setup_service(cluster, namespace)
    incomplete = samples.current_packet(
        samples.load("packet-prompt-injection-failed.yaml"), dt.datetime.now(dt.UTC), namespace=namespace
    )
    cluster.apply(incomplete)
    cluster.wait_for(
        lambda: status(cluster, namespace).get("blockingGates") == ["evals"], what="evals to block"
    )
    table = cluster.kubectl("get", "ais", "-n", namespace).stdout
    assert "evals" in table and "Pilot" in table
    cluster.kubectl("delete", "rp", incomplete["metadata"]["name"], "-n", namespace)
    complete_packet(cluster, namespace)
    cluster.kubectl(
        "wait", "--for=condition=Ready", "ais/support-assistant", "-n", namespace, "--timeout=30s"
    )
    st = status(cluster, namespace)
    assert st["stage"] == "Production" and st["allowedReplicas"] == 20 and st["gatesPassed"] == "11/11"
    cluster.kubectl("scale", "deployment", "support-assistant", "-n", namespace, "--replicas=6")
    packet = cluster.get("rp", "support-assistant-v14", namespace)["status"]
    assert packet["complete"] is True and packet["digest"].startswith("sha256:")


def test_the_kill_switch_scales_to_zero_and_restore_brings_the_replicas_back(
    cluster: Cluster, namespace: str, operator: OperatorProcess
) -> None:
    setup_service(cluster, namespace)
    complete_packet(cluster, namespace)
    cluster.kubectl(
        "wait", "--for=condition=Ready", "ais/support-assistant", "-n", namespace, "--timeout=30s"
    )
    cluster.kubectl("scale", "deployment", "support-assistant", "-n", namespace, "--replicas=5")
    started = time.monotonic()
    cluster.kubectl(
        "annotate",
        "ais",
        "support-assistant",
        "-n",
        namespace,
        "airlock.dev/kill-switch=true",
        "airlock.dev/kill-switch-reason=INC-4711 refunds promised",
    )
    cluster.wait_for(
        lambda: replicas(cluster, namespace) == 0, timeout=5, what="the kill switch to scale to 0"
    )
    print(f"kill switch: annotation to 0 replicas seen in {time.monotonic() - started:.3f}s")
    st = cluster.wait_for(
        lambda: status(cluster, namespace).get("stage") == "Killed" and status(cluster, namespace)
    )
    assert (
        st["killSwitch"]["replicasBefore"] == 5 and st["killSwitch"]["reason"] == "INC-4711 refunds promised"
    )
    assert condition(st, "KillSwitchEngaged")["status"] == "True"
    denied = cluster.kubectl(
        "scale", "deployment", "support-assistant", "-n", namespace, "--replicas=1", check=False
    )
    assert denied.returncode != 0 and "kill switch" in denied.stderr
    cluster.kubectl("annotate", "ais", "support-assistant", "-n", namespace, "airlock.dev/kill-switch-")
    cluster.wait_for(lambda: replicas(cluster, namespace) == 5, what="the restore to 5 replicas")
    cluster.wait_for(lambda: status(cluster, namespace).get("stage") == "Production", what="stage Production")
    reasons = events(cluster, namespace)
    assert reasons.count("KillSwitchEngaged") == 1 and reasons.count("KillSwitchReleased") == 1


def test_version_labels_go_on_the_deployment_metadata_never_the_pod_template(
    cluster: Cluster, namespace: str, operator: OperatorProcess
) -> None:
    setup_service(cluster, namespace)
    cluster.wait_for(
        lambda: cluster.get("deployment", "support-assistant", namespace)["metadata"]["labels"].get(
            "airlock.dev/stage"
        ),
        what="labels on the Deployment",
    )
    dep = cluster.get("deployment", "support-assistant", namespace)
    labels = dep["metadata"]["labels"]
    assert labels["airlock.dev/model-version"] == "gpt-4o-2024-08-06"
    assert labels["airlock.dev/prompt-version"] == "v14"
    assert labels["airlock.dev/retrieval-version"] == "kb-2026-11-01"
    assert labels["airlock.dev/service"] == "support-assistant" and labels["airlock.dev/stage"] == "Pilot"
    assert json.loads(dep["metadata"]["annotations"]["airlock.dev/versions"])["prompt"] == "v14"
    assert not any(k.startswith("airlock.dev/") for k in dep["spec"]["template"]["metadata"]["labels"])
    template_annotations = dep["spec"]["template"]["metadata"].get("annotations", {})
    assert not any(k.startswith("airlock.dev/") for k in template_annotations)


def test_a_version_bump_without_a_packet_holds_a_promoted_service(
    cluster: Cluster, namespace: str, operator: OperatorProcess
) -> None:
    setup_service(cluster, namespace)
    complete_packet(cluster, namespace)
    cluster.kubectl(
        "wait", "--for=condition=Ready", "ais/support-assistant", "-n", namespace, "--timeout=30s"
    )
    cluster.kubectl("scale", "deployment", "support-assistant", "-n", namespace, "--replicas=4")
    cluster.kubectl(
        "patch",
        "ais",
        "support-assistant",
        "-n",
        namespace,
        "--type=merge",
        "-p",
        '{"spec":{"versions":{"prompt":"v15"}}}',
    )
    cluster.wait_for(
        lambda: condition(status(cluster, namespace), "Ready").get("reason") == "GatesRegressed",
        what="GatesRegressed",
    )
    st = status(cluster, namespace)
    assert st["allowedReplicas"] == 4 and replicas(cluster, namespace) == 4 and st["stage"] == "Production"
    assert "versions" in st["blockingGates"]
    # Admission reads the status through an informer: let it catch up before the real write.
    cluster.wait_for(
        lambda: (
            "at most 4 replicas"
            in cluster.kubectl(
                "scale",
                "deployment",
                "support-assistant",
                "-n",
                namespace,
                "--replicas=5",
                "--dry-run=server",
                check=False,
            ).stderr
        ),
        what="admission to see the held cap",
    )
    grow = cluster.kubectl(
        "scale", "deployment", "support-assistant", "-n", namespace, "--replicas=5", check=False
    )
    assert grow.returncode != 0 and "at most 4 replicas" in grow.stderr
    assert "GatesRegressed" in events(cluster, namespace)
    labels = cluster.get("deployment", "support-assistant", namespace)["metadata"]["labels"]
    assert labels["airlock.dev/prompt-version"] == "v15"


def test_a_restart_while_engaged_never_restores_and_nothing_is_written_twice(
    cluster: Cluster, namespace: str, tmp_path: Any
) -> None:
    op = start_operator(cluster, tmp_path)
    try:
        cluster.apply(deployment("bot", namespace, 1))
        cluster.apply(aiservice("bot", namespace, annotations={"airlock.dev/kill-switch": "true"}))
        cluster.wait_for(lambda: replicas(cluster, namespace, "bot") == 0, what="the kill")
        cluster.wait_for(lambda: status(cluster, namespace, "bot").get("stage") == "Killed", what="Killed")
    finally:
        op.stop()
    before = cluster.get("aiservice", "bot", namespace)["metadata"]["resourceVersion"]
    op = start_operator(cluster, tmp_path)
    try:
        op.wait_for_pass("AIService", namespace, "bot")
        assert replicas(cluster, namespace, "bot") == 0
        assert cluster.get("aiservice", "bot", namespace)["metadata"]["resourceVersion"] == before
    finally:
        op.stop()
    assert events(cluster, namespace).count("KillSwitchEngaged") == 1
