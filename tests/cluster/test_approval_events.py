"""Approval audit on the real API server: the operator announces approvals added, changed, removed and
made stale by a content change, as Events on the packet, and a restart replays none of them."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from airlock_dev import samples
from tests.conftest import Cluster, OperatorProcess, start_operator

PACKET = "support-assistant-v14"


def packet_events(cluster: Cluster, ns: str) -> list[dict[str, Any]]:
    out = json.loads(cluster.kubectl("get", "events", "-n", ns, "-o", "json").stdout)["items"]
    return [e for e in out if e["involvedObject"]["kind"] == "ReadinessPacket"]


def with_reason(cluster: Cluster, ns: str, reason: str) -> list[dict[str, Any]]:
    return [e for e in packet_events(cluster, ns) if e["reason"] == reason]


def set_approvals(cluster: Cluster, ns: str, approvals: list[dict[str, Any]]) -> None:
    patch = json.dumps({"spec": {"approvals": approvals}})
    cluster.kubectl("patch", "rp", PACKET, "-n", ns, "--type=merge", "-p", patch)


def test_approvals_added_removed_and_made_stale_are_announced_once_on_the_packet(
    cluster: Cluster, namespace: str, tmp_path: Path
) -> None:
    service = samples.load("service.yaml")
    service["metadata"]["namespace"] = namespace
    cluster.apply(service)
    cluster.apply(
        samples.current_packet(
            samples.load("packet-complete.yaml"), dt.datetime.now(dt.UTC), namespace=namespace
        )
    )
    op: OperatorProcess = start_operator(cluster, tmp_path)
    try:
        digest = cluster.wait_for(
            lambda: (cluster.get("rp", PACKET, namespace).get("status") or {}).get("digest"), what="a digest"
        )
        approvals = cluster.get("rp", PACKET, namespace)["spec"]["approvals"]
        assert {a["role"] for a in approvals} == {"owner", "security"}
        op.wait_for_pass("ReadinessPacket", namespace, PACKET)  # the first sight is recorded, not announced
        assert not with_reason(cluster, namespace, "Approved")

        legal = {"role": "legal", "by": "li.wei@example.com", "at": "2026-11-20T10:00:00Z", "digest": digest}
        set_approvals(cluster, namespace, [*approvals, legal])
        approved = cluster.wait_for(
            lambda: with_reason(cluster, namespace, "Approved"), what="an Approved event"
        )
        assert len(approved) == 1 and approved[0]["type"] == "Normal"
        assert (
            approved[0]["message"] == f"Role legal approved by li.wei@example.com for digest {digest[:19]}."
        )

        kept = [a for a in approvals if a["role"] != "security"] + [legal]
        set_approvals(cluster, namespace, kept)
        removed = cluster.wait_for(
            lambda: with_reason(cluster, namespace, "ApprovalRemoved"), what="an ApprovalRemoved event"
        )
        assert len(removed) == 1 and "security by amir.haddad@example.com" in removed[0]["message"]

        cluster.kubectl(
            "patch", "rp", PACKET, "-n", namespace, "--type=merge",
            "-p", json.dumps({"spec": {"useCase": {"summary": "Answers card questions; now also loans."}}}),
        )  # fmt: skip
        stale = cluster.wait_for(
            lambda: with_reason(cluster, namespace, "ApprovalsStale"), what="an ApprovalsStale event"
        )
        assert len(stale) == 1 and stale[0]["type"] == "Warning"
        message = stale[0]["message"]
        assert "owner by jane.doe@example.com" in message and "legal by li.wei@example.com" in message
        assert "security" not in message
    finally:
        op.stop()

    before = {
        r: len(with_reason(cluster, namespace, r)) for r in ("Approved", "ApprovalRemoved", "ApprovalsStale")
    }
    op = start_operator(cluster, tmp_path)
    try:
        op.wait_for_pass("ReadinessPacket", namespace, PACKET)
        after = {r: len(with_reason(cluster, namespace, r)) for r in before}
        assert after == before == {"Approved": 1, "ApprovalRemoved": 1, "ApprovalsStale": 1}
    finally:
        op.stop()
