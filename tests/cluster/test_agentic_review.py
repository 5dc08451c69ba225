"""The OWASP Top 10 for Agentic Applications review on the real API server: a service whose tools act
is held in its pilot until every ASI risk is assessed, and a review the schema cannot hold is refused."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest

from airlock_dev import samples
from tests.cluster.helpers import condition, setup_service, status
from tests.conftest import Cluster, OperatorProcess

PACKET = "support-assistant-v14"


def current_packet(namespace: str, *, review: bool = True) -> dict[str, Any]:
    """The complete example packet, current and signed for its content, with or without its agentic
    review."""
    doc = samples.load("packet-complete.yaml")
    if not review:
        del doc["spec"]["agenticReview"]
    return samples.current_packet(doc, dt.datetime.now(dt.UTC), namespace=namespace)


def tool_gate(cluster: Cluster, namespace: str) -> dict[str, Any]:
    st = cluster.get("rp", PACKET, namespace).get("status") or {}
    return next((g for g in st.get("gates", []) if g["name"] == "toolPermissions"), {})


def test_acting_tools_without_an_agentic_review_hold_the_service_until_the_review_is_added(
    cluster: Cluster, namespace: str, operator: OperatorProcess
) -> None:
    setup_service(cluster, namespace)
    cluster.apply(current_packet(namespace, review=False))

    gate = cluster.wait_for(
        lambda: (g := tool_gate(cluster, namespace)).get("reason") == "Missing" and g,
        what="the toolPermissions gate to ask for the agentic review",
    )
    assert gate["passed"] is False, gate
    assert "'freeze_card' and 'open_agent_case' act" in gate["message"], gate
    assert "ASI01, ASI02, ASI03, ASI04, ASI05, ASI06, ASI07, ASI08, ASI09 and ASI10" in gate["message"], gate
    packet_status = cluster.get("rp", PACKET, namespace)["status"]
    assert packet_status["complete"] is False
    assert condition(packet_status, "Complete")["status"] == "False"
    st = cluster.wait_for(
        lambda: (s := status(cluster, namespace)).get("blockingGates") == ["toolPermissions"] and s,
        what="the AIService to be blocked by toolPermissions",
    )
    assert st["allowedReplicas"] == 1
    denied = cluster.kubectl(
        "scale", "deployment", "support-assistant", "-n", namespace, "--replicas=3", check=False
    )
    assert denied.returncode != 0 and "toolPermissions" in denied.stderr, denied.stderr

    cluster.apply(current_packet(namespace))
    cluster.kubectl(
        "wait", "--for=condition=Ready", "ais/support-assistant", "-n", namespace, "--timeout=30s"
    )
    gate = tool_gate(cluster, namespace)
    assert gate["passed"] is True and "all ten OWASP Agentic risks" in gate["message"], gate
    assert cluster.get("rp", PACKET, namespace)["status"]["complete"] is True
    cluster.kubectl("scale", "deployment", "support-assistant", "-n", namespace, "--replicas=3")


@pytest.mark.parametrize(
    ("risks", "expected"),
    [
        pytest.param(
            {"ASI11": {"status": "mitigated"}},
            'unknown field "spec.agenticReview.risks.ASI11"',
            id="an ASI id the list does not have",
        ),
        pytest.param(
            {"ASI09": {"status": "accepted"}},
            "a risk that is accepted or notApplicable needs evidence giving the reason",
            id="a risk accepted without a reason",
        ),
        pytest.param(
            {"ASI05": {"status": "notApplicable", "evidence": ""}},
            "a risk that is accepted or notApplicable needs evidence giving the reason",
            id="a risk not applicable with an empty reason",
        ),
        pytest.param(
            {"ASI02": {"status": "ignored"}},
            'spec.agenticReview.risks.ASI02.status: Unsupported value: "ignored"',
            id="a status outside the vocabulary",
        ),
    ],
)
def test_an_agentic_review_the_schema_cannot_hold_is_refused_naming_the_field(
    cluster: Cluster, namespace: str, risks: dict[str, Any], expected: str
) -> None:
    packet = current_packet(namespace)
    bad = copy.deepcopy(packet)
    bad["spec"]["agenticReview"]["risks"].update(risks)
    result = cluster.apply(bad, check=False)
    assert result.returncode != 0 and expected in result.stderr, result.stderr
    assert cluster.kubectl("get", "rp", "-n", namespace, "-o", "name").stdout.strip() == ""
