"""The policy in force and the passage of time, on the real API server."""

from __future__ import annotations

import datetime as dt
from typing import Any

import yaml

from airlock_dev import samples
from tests.cluster.helpers import condition, setup_service, status
from tests.conftest import Cluster, OperatorProcess


def packet_expiring_in(seconds: int, namespace: str) -> dict[str, Any]:
    """The complete packet with its evals exactly `seconds` short of the built-in 30-day limit."""
    now = dt.datetime.now(dt.UTC)
    doc = samples.current_packet(samples.load("packet-complete.yaml"), now, namespace=namespace)
    evaluated = now - dt.timedelta(days=30) + dt.timedelta(seconds=seconds)
    doc["spec"]["evals"]["evaluatedAt"] = evaluated.strftime("%Y-%m-%dT%H:%M:%SZ")
    return _resign(doc)


def _resign(doc: dict[str, Any]) -> dict[str, Any]:
    from airlock.logic.digest import packet_digest
    from airlock.models.packet import ReadinessPacketSpec

    digest = packet_digest(ReadinessPacketSpec.model_validate(doc["spec"]))
    for approval in doc["spec"]["approvals"]:
        approval["digest"] = digest
    return doc


def test_evidence_that_lapses_is_re_evaluated_when_it_lapses_without_any_change(
    cluster: Cluster, namespace: str, operator: OperatorProcess
) -> None:
    setup_service(cluster, namespace)
    cluster.apply(packet_expiring_in(8, namespace))
    cluster.kubectl(
        "wait", "--for=condition=Ready", "ais/support-assistant", "-n", namespace, "--timeout=30s"
    )
    st = status(cluster, namespace)
    assert st["expiresAt"], st
    # Nothing is written to the cluster from here on; only time passes.
    cluster.wait_for(
        lambda: condition(status(cluster, namespace), "Ready").get("reason") == "GatesRegressed",
        timeout=30,
        what="the evals gate to expire",
    )
    evals = next(g for g in status(cluster, namespace)["gates"] if g["name"] == "evals")
    assert not evals["passed"] and evals["reason"] == "Expired", evals
    packet = cluster.get("rp", "support-assistant-v14", namespace)["status"]
    assert packet["expiresAt"]


def test_a_policy_that_drops_a_gate_from_its_mandatory_list_does_not_unblock_a_service_requiring_all(
    cluster: Cluster, namespace: str, operator: OperatorProcess
) -> None:
    setup_service(cluster, namespace)
    cluster.wait_for(lambda: status(cluster, namespace).get("gatesPassed") == "0/11", what="a first status")
    policy = {
        "apiVersion": "airlock.dev/v1alpha1",
        "kind": "ReadinessPolicy",
        "metadata": {"name": "default"},
        "spec": {"requiredGates": ["useCase"], "requiredRoles": ["owner"]},
    }
    try:
        cluster.apply(policy)
        # The service has no requiredGates of its own, so it still requires every gate.
        cluster.kubectl(
            "patch",
            "ais",
            "support-assistant",
            "-n",
            namespace,
            "--type=merge",
            "-p",
            '{"spec":{"requiredGates":["useCase","versions"]}}',
        )
        cluster.wait_for(
            lambda: status(cluster, namespace).get("gatesPassed") == "0/2", what="two required gates"
        )
        cluster.apply(
            yaml.safe_load(yaml.safe_dump(policy)) | {"spec": {"requiredGates": ["useCase", "cost"]}}
        )
        cluster.wait_for(
            lambda: status(cluster, namespace).get("gatesPassed") == "0/3",
            what="the policy's mandatory gate added to the service's own",
        )
    finally:
        cluster.kubectl("delete", "readinesspolicy", "default", "--ignore-not-found")
