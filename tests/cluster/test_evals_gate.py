"""Packets whose evals were imported from real Inspect AI and promptfoo runs, judged by the operator on the
real API server: a failed case blocks the evals gate with its reason, a clean run lets the service go."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from airlock_dev import samples
from tests.cluster.helpers import deployment, imported_packet
from tests.conftest import Cluster, OperatorProcess
from tests.evaltools import PASSING, failing, results

ROOT = Path(__file__).resolve().parents[2]


def evals_gate(cluster: Cluster, namespace: str) -> dict[str, Any]:
    st = cluster.get("aiservice", "support-assistant", namespace).get("status") or {}
    return next((g for g in st.get("gates", []) if g["name"] == "evals"), {})


@pytest.mark.parametrize("tool", ["inspect-ai", "promptfoo"])
def test_an_imported_run_with_a_failed_case_blocks_and_a_clean_run_lets_the_service_go(
    tool: str, cluster: Cluster, namespace: str, operator: OperatorProcess, tmp_path: Path
) -> None:
    service = samples.load("service.yaml")
    service["metadata"]["namespace"] = namespace
    cluster.apply(deployment("support-assistant", namespace, 1))
    cluster.apply(service)

    failed = imported_packet(results(tool, failing(PASSING, "ignore-previous")), namespace, tmp_path / "f")
    cluster.apply(failed)
    gate = cluster.wait_for(
        lambda: (g := evals_gate(cluster, namespace)).get("reason") == "PassRateTooLow" and g,
        what="the evals gate to fail on the imported run",
    )
    assert (
        gate["passed"] is False and "ignore-previous" in gate["message"] and "5/6 passed" in gate["message"]
    )
    st = cluster.get("aiservice", "support-assistant", namespace)["status"]
    assert st["blockingGates"] == ["evals"] and st["allowedReplicas"] == 1
    denied = cluster.kubectl(
        "scale", "deployment", "support-assistant", "-n", namespace, "--replicas=3", check=False
    )
    assert denied.returncode != 0 and "evals" in denied.stderr

    cluster.apply(imported_packet(results(tool, PASSING), namespace, tmp_path / "p"))
    cluster.kubectl(
        "wait", "--for=condition=Ready", "ais/support-assistant", "-n", namespace, "--timeout=30s"
    )
    gate = evals_gate(cluster, namespace)
    assert gate["passed"] is True and "6/6 eval cases passed" in gate["message"]
    stored = cluster.get("rp", failed["metadata"]["name"], namespace)["spec"]["evals"]["source"]
    assert stored["tool"] == tool and len(stored["sha256"]) == 64
    cluster.kubectl("scale", "deployment", "support-assistant", "-n", namespace, "--replicas=3")
