"""The generated CRDs on the real API server: accepted, explained, and refusing bad input clearly."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from tests.conftest import Cluster

SERVICE: dict[str, Any] = {
    "apiVersion": "airlock.dev/v1alpha1",
    "kind": "AIService",
    "metadata": {"name": "support-assistant"},
    "spec": {
        "workload": {"name": "support-assistant"},
        "owner": "jane.doe@example.com",
        "versions": {"model": "gpt-4o-2024-08-06", "prompt": "v14", "retrieval": "kb-2026-11-01"},
        "pilotReplicas": 1,
        "maxReplicas": 20,
    },
}


def with_changes(namespace: str, **spec: Any) -> dict[str, Any]:
    obj = copy.deepcopy(SERVICE)
    obj["metadata"]["namespace"] = namespace
    for key, value in spec.items():
        if value is None:
            obj["spec"].pop(key, None)
        else:
            obj["spec"][key] = value
    return obj


def test_the_crds_are_established_with_short_names_and_category(cluster: Cluster) -> None:
    out = cluster.kubectl("api-resources", "--api-group=airlock.dev", "-o", "wide").stdout
    assert "aiservices" in out and "ais" in out and "rp" in out and "airlock" in out


def test_a_valid_service_is_accepted_and_defaults_are_applied(cluster: Cluster, namespace: str) -> None:
    obj = with_changes(namespace, pilotReplicas=None)
    cluster.apply(obj)
    stored = cluster.get("aiservice", "support-assistant", namespace)
    assert stored["spec"]["pilotReplicas"] == 1


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        pytest.param({"workload": None}, "spec.workload: Required value", id="a service without a workload"),
        pytest.param(
            {"pilotReplicas": -1}, "spec.pilotReplicas: Invalid value: -1", id="negative pilot replicas"
        ),
        pytest.param(
            {"requiredGates": ["evals", "vibes"]},
            'spec.requiredGates[1]: Unsupported value: "vibes"',
            id="an unknown gate name",
        ),
        pytest.param(
            {"pilotReplicas": "two"}, "spec.pilotReplicas: Invalid value", id="a string where a number goes"
        ),
        pytest.param({"owner": "x" * 300}, "spec.owner: Too long", id="an over-long owner"),
        pytest.param(
            {"maxReplicas": 0, "pilotReplicas": 2},
            "maxReplicas must be at least pilotReplicas",
            id="a ceiling below the pilot size",
        ),
        pytest.param(
            {"pilotReplicas": 10**9}, "spec.pilotReplicas: Invalid value", id="a huge replica count"
        ),
    ],
)
def test_invalid_services_are_refused_with_a_message_naming_the_field(
    cluster: Cluster, namespace: str, change: dict[str, Any], expected: str
) -> None:
    result = cluster.apply(with_changes(namespace, **change), check=False)
    assert result.returncode != 0
    assert expected in result.stderr, result.stderr
    assert cluster.kubectl("get", "ais", "-n", namespace, "-o", "name").stdout.strip() == ""


def test_an_unknown_field_is_refused_not_dropped(cluster: Cluster, namespace: str) -> None:
    obj = with_changes(namespace)
    obj["spec"]["pilotReplica"] = 3
    result = cluster.apply(obj, check=False)
    assert result.returncode != 0 and 'unknown field "spec.pilotReplica"' in result.stderr, result.stderr


def test_a_packet_with_an_unassessed_accepted_risk_is_refused(cluster: Cluster, namespace: str) -> None:
    packet = {
        "apiVersion": "airlock.dev/v1alpha1",
        "kind": "ReadinessPacket",
        "metadata": {"name": "p", "namespace": namespace},
        "spec": {
            "service": "support-assistant",
            "versions": {"model": "m", "prompt": "p"},
            "securityReview": {"risks": {"LLM05": {"status": "accepted"}}},
        },
    }
    result = cluster.apply(packet, check=False)
    assert result.returncode != 0 and "needs evidence giving the reason" in result.stderr, result.stderr


def test_duplicate_approval_roles_are_refused(cluster: Cluster, namespace: str) -> None:
    digest = "sha256:" + "0" * 64
    packet = {
        "apiVersion": "airlock.dev/v1alpha1",
        "kind": "ReadinessPacket",
        "metadata": {"name": "p", "namespace": namespace},
        "spec": {
            "service": "s",
            "versions": {"model": "m", "prompt": "p"},
            "approvals": [
                {"role": "owner", "by": "a", "digest": digest},
                {"role": "owner", "by": "b", "digest": digest},
            ],
        },
    }
    result = cluster.apply(packet, check=False)
    assert result.returncode != 0 and "Duplicate value" in result.stderr, result.stderr


def test_only_the_policy_named_default_is_accepted(cluster: Cluster) -> None:
    policy = {
        "apiVersion": "airlock.dev/v1alpha1",
        "kind": "ReadinessPolicy",
        "metadata": {"name": "strict"},
        "spec": {},
    }
    result = cluster.apply(policy, check=False)
    assert result.returncode != 0 and "reads only the ReadinessPolicy named 'default'" in result.stderr


def test_an_invalid_policy_is_refused(cluster: Cluster) -> None:
    policy = {
        "apiVersion": "airlock.dev/v1alpha1",
        "kind": "ReadinessPolicy",
        "metadata": {"name": "default"},
        "spec": {"minPassRate": 1.5, "onRegression": "Panic"},
    }
    result = cluster.apply(policy, check=False)
    assert result.returncode != 0
    assert "spec.minPassRate" in result.stderr and "spec.onRegression" in result.stderr


def test_kubectl_explain_shows_the_field_descriptions(cluster: Cluster) -> None:
    def explained() -> str:
        result = cluster.kubectl("explain", "aiservice.spec", check=False)
        return result.stdout if result.returncode == 0 else ""

    out = cluster.wait_for(explained, timeout=30, what="kubectl explain to know the AIService schema")
    assert "pilotReplicas" in out and "while required gates are unmet" in out
    packet = cluster.kubectl("explain", "readinesspacket.spec.evals.cases.category").stdout
    assert "The failure mode it probes" in packet and "prompt-injection" in packet


def test_kubectl_get_shows_the_columns(cluster: Cluster, namespace: str) -> None:
    cluster.apply(with_changes(namespace))
    header = cluster.kubectl("get", "ais", "-n", namespace).stdout.splitlines()[0].split()
    assert header[:8] == ["NAME", "STAGE", "NEXT", "GATES", "BLOCKING", "ALLOWED", "REPLICAS", "KILL-SWITCH"]
    assert yaml.safe_load(cluster.kubectl("get", "airlock", "-n", namespace, "-o", "yaml").stdout)["items"]
