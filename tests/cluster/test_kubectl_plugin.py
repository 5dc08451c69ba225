"""`kubectl airlock` against the real API server, run as a person runs it: a subprocess with a kubeconfig."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from airlock.logic.digest import packet_digest
from airlock.models.packet import ReadinessPacketSpec
from tests.cluster.helpers import (
    RFC3339_UTC,
    SERVICE,
    create_service,
    deployment_replicas,
    plugin,
    service_account,
    service_status,
    wait_for_stage,
)
from tests.conftest import Cluster, OperatorProcess

PACKET = "support-assistant-v14"


def create_packet(cluster: Cluster, namespace: str) -> None:
    """A packet that is started but far from done: only the use case, versions and ownership are in."""
    cluster.apply(f"""
apiVersion: airlock.dev/v1alpha1
kind: ReadinessPacket
metadata: {{name: {PACKET}, namespace: {namespace}}}
spec:
  service: {SERVICE}
  versions: {{model: gpt-4o-2024-08-06, prompt: v14}}
  useCase:
    summary: Answers retail customers' questions about cards and fees in the app chat.
    nonUseCases: [Investment, tax or legal advice.]
  ownership:
    owner: jane.doe@example.com
    supportPath: "#support-assistant-feedback"
  approvals:
    - role: security
      by: amir.haddad@example.com
      at: "2026-11-14T17:05:00Z"
      digest: sha256:{"0" * 64}
""")


def row_of(table: str, name: str) -> list[str]:
    """The whitespace-separated cells of the table row whose NAME (or NAMESPACE) cell is `name`."""
    rows = [line.split() for line in table.splitlines()[1:]]
    return next(row for row in rows if name in row[:2])


# --- status and explain -----------------------------------------------------------------------------------


def test_status_lists_a_service_with_its_stage_once_the_operator_has_evaluated_it(
    cluster: Cluster, namespace: str, operator: OperatorProcess
) -> None:
    create_service(cluster, namespace)
    create_packet(cluster, namespace)
    status = wait_for_stage(cluster, namespace, "Pilot")

    result = plugin(cluster, "status", "-n", namespace)

    assert result.returncode == 0, result.stderr
    header, *_ = result.stdout.splitlines()
    assert header.split() == [
        "NAME", "STAGE", "NEXT", "GATES", "ALLOWED", "REPLICAS", "KILL-SWITCH", "BY", "BLOCKING",
    ]  # fmt: skip
    row = row_of(result.stdout, SERVICE)
    assert row[:8] == [SERVICE, "Pilot", "Production", status["gatesPassed"], "1", "1", "off", "-"]
    assert " ".join(row[8:]) == status["blocking"]

    everywhere = plugin(cluster, "status", "-A")
    assert everywhere.returncode == 0, everywhere.stderr
    assert everywhere.stdout.split()[0] == "NAMESPACE"
    assert row_of(everywhere.stdout, namespace)[:3] == [namespace, SERVICE, "Pilot"]


def test_status_of_a_service_the_operator_has_not_evaluated_says_so(cluster: Cluster, namespace: str) -> None:
    create_service(cluster, namespace)

    result = plugin(cluster, "status", SERVICE, "-n", namespace)

    assert result.returncode == 0, result.stderr
    row = row_of(result.stdout, SERVICE)
    assert row[:7] == [SERVICE, "-", "-", "-", "-", "1", "off"]
    assert result.stdout.rstrip().endswith("(not yet evaluated by the operator)")


def test_the_namespace_of_the_current_context_is_the_default(
    cluster: Cluster, namespace: str, tmp_path: Path
) -> None:
    create_service(cluster, namespace)
    config = yaml.safe_load(cluster.kubeconfig.read_text())
    for context in config["contexts"]:
        context["context"]["namespace"] = namespace
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(config))

    result = plugin(cluster, "status", kubeconfig=kubeconfig)

    assert result.returncode == 0, result.stderr
    assert row_of(result.stdout, SERVICE)[0] == SERVICE


def test_explain_shows_each_blocking_gate_and_the_next_step(
    cluster: Cluster, namespace: str, operator: OperatorProcess
) -> None:
    create_service(cluster, namespace)
    create_packet(cluster, namespace)
    wait_for_stage(cluster, namespace, "Pilot")
    # The stage is Pilot before and after the packet is evaluated: wait until the packet is the one used.
    status = cluster.wait_for(
        lambda: (
            (st := cluster.get("aiservice", SERVICE, namespace).get("status") or {}).get("packet") == PACKET
            and st
        ),
        what="the packet to be evaluated",
    )
    blocking = [g for g in status["gates"] if g["name"] in status["blockingGates"]]
    assert len(blocking) > 1, status

    result = plugin(cluster, "explain", SERVICE, "-n", namespace)

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for g in blocking:
        line = next((x for x in lines if x.startswith(f"  FAIL  {g['name']} ")), None)
        assert line is not None, f"no FAIL line for {g['name']}:\n{result.stdout}"
        assert g["reason"] in line and line.endswith(g["message"])
    assert any(x.startswith("  PASS  useCase ") for x in lines), result.stdout
    assert f"  Packet:      {PACKET}" in lines
    assert any(x.startswith("  Cap:         1 replica: spec.pilotReplicas") for x in lines), result.stdout
    assert lines[-1] == f"Next step: {blocking[0]['message']}"


def test_a_missing_service_exits_1_and_says_how_to_list_them(cluster: Cluster, namespace: str) -> None:
    result = plugin(cluster, "explain", "foo", "-n", namespace)

    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"error: AIService {namespace}/foo not found; `kubectl airlock status -n {namespace}` lists them."
    )


def test_without_a_kubeconfig_the_plugin_exits_2_with_a_clear_message(
    cluster: Cluster, tmp_path: Path
) -> None:
    result = plugin(cluster, "status", kubeconfig=tmp_path / "absent")

    assert result.returncode == 2
    assert "no kubeconfig found" in result.stderr and "KUBECONFIG" in result.stderr


# --- kill and restore -------------------------------------------------------------------------------------


def test_kill_scales_the_deployment_to_zero_and_the_status_shows_killed(
    cluster: Cluster, namespace: str, operator: OperatorProcess
) -> None:
    create_service(cluster, namespace)
    wait_for_stage(cluster, namespace, "Pilot")

    result = plugin(cluster, "kill", SERVICE, "-n", namespace, "--reason", "INC-4711 refunds promised")

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == (
        f"{namespace}/{SERVICE}: kill switch engaged; Deployment {SERVICE} scaled 1 -> 0"
    )
    assert deployment_replicas(cluster, namespace) == 0
    annotations = cluster.get("aiservice", SERVICE, namespace)["metadata"]["annotations"]
    assert annotations["airlock.dev/kill-switch"] == "true"
    assert annotations["airlock.dev/kill-switch-reason"] == "INC-4711 refunds promised"
    status = plugin(cluster, "status", SERVICE, "-n", namespace)
    row = row_of(status.stdout, SERVICE)
    assert row[1:7] == ["Killed", "Production", status_gates(cluster, namespace), "0", "0", "on"]


def status_gates(cluster: Cluster, namespace: str) -> str:
    gates: str = service_status(cluster, namespace)["gatesPassed"]
    return gates


def test_kill_without_the_operator_exits_1_honestly_and_scale_up_is_still_refused(
    cluster: Cluster, namespace: str
) -> None:
    create_service(cluster, namespace)

    result = plugin(cluster, "kill", SERVICE, "-n", namespace, "--reason", "INC-4712", "--timeout", "2")

    assert result.returncode == 1
    assert "within 2s the operator did not scale Deployment support-assistant to 0" in result.stderr
    assert "Admission still denies every scale-up" in result.stderr
    assert "the operator will scale it to zero when it is back" in result.stderr.lower()
    up = cluster.kubectl("scale", "deployment", SERVICE, "-n", namespace, "--replicas=2", check=False)
    assert up.returncode != 0 and "kill switch" in up.stderr, up.stderr
    # The way out the message offers works, and the switch then holds the Deployment at zero.
    cluster.kubectl("scale", "deployment", SERVICE, "-n", namespace, "--replicas=0")
    again = cluster.kubectl("scale", "deployment", SERVICE, "-n", namespace, "--replicas=1", check=False)
    assert again.returncode != 0 and "kill switch" in again.stderr, again.stderr


def test_kill_refuses_an_empty_reason_and_changes_nothing(cluster: Cluster, namespace: str) -> None:
    create_service(cluster, namespace)

    result = plugin(cluster, "kill", SERVICE, "-n", namespace, "--reason", "  ")

    assert result.returncode == 2
    assert "--reason is empty" in result.stderr
    annotations = cluster.get("aiservice", SERVICE, namespace)["metadata"].get("annotations") or {}
    assert "airlock.dev/kill-switch" not in annotations


def test_restore_brings_back_the_replicas_the_deployment_had(
    cluster: Cluster, namespace: str, operator: OperatorProcess
) -> None:
    create_service(cluster, namespace, replicas=2, pilot=2)
    wait_for_stage(cluster, namespace, "Pilot")
    killed = plugin(cluster, "kill", SERVICE, "-n", namespace, "--reason", "INC-4713")
    assert killed.returncode == 0, killed.stderr

    result = plugin(cluster, "restore", SERVICE, "-n", namespace)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        f"{namespace}/{SERVICE}: kill switch released; Deployment {SERVICE} restored to 2 replicas "
        "(had 2 before the kill switch)."
    )
    assert deployment_replicas(cluster, namespace) == 2
    annotations = cluster.get("aiservice", SERVICE, namespace)["metadata"].get("annotations") or {}
    assert annotations.get("airlock.dev/kill-switch") == "false"
    assert "airlock.dev/kill-switch-reason" not in annotations
    assert service_status(cluster, namespace)["stage"] == "Pilot"


def test_restore_refused_by_the_api_server_prints_its_message_and_exits_1(
    cluster: Cluster, namespace: str, tmp_path: Path
) -> None:
    create_service(cluster, namespace)
    # On-call may engage the switch (patch), but releasing it is kept for those who hold `release`.
    oncall = service_account(
        cluster,
        namespace,
        "oncall",
        '[{apiGroups: ["airlock.dev"], resources: ["aiservices"], verbs: ["get", "list", "patch"]}]',
        tmp_path,
    )
    engaged = plugin(
        cluster, "kill", SERVICE, "-n", namespace, "--reason", "INC-4714", "--no-wait", kubeconfig=oncall
    )
    assert engaged.returncode == 0, engaged.stderr

    result = plugin(cluster, "restore", SERVICE, "-n", namespace, kubeconfig=oncall)

    assert result.returncode == 1
    assert result.stderr.startswith(
        f"error: cannot release the kill switch of AIService {namespace}/{SERVICE}: "
    )
    assert (
        f"Airlock: the kill switch of AIService {namespace}/{SERVICE} is engaged (INC-4714); "
        f"system:serviceaccount:{namespace}:oncall may not release it." in result.stderr
    ), result.stderr
    annotations = cluster.get("aiservice", SERVICE, namespace)["metadata"]["annotations"]
    assert annotations["airlock.dev/kill-switch"] == "true"


# --- approve ----------------------------------------------------------------------------------------------

PACKET_RULE = '{apiGroups: ["airlock.dev"], resources: ["readinesspackets"], verbs: ["get", "update"]}'
OWNER_RULE = (
    '{apiGroups: ["governance.airlock.dev"], resources: ["approvalroles"], resourceNames: ["owner"], '
    'verbs: ["approve"]}'
)


def approvals(cluster: Cluster, namespace: str) -> dict[str, dict[str, Any]]:
    packet = cluster.get("readinesspacket", PACKET, namespace)
    return {a["role"]: a for a in packet["spec"].get("approvals", [])}


def test_approve_as_a_service_account_records_its_identity_and_the_current_digest(
    cluster: Cluster, namespace: str, operator: OperatorProcess, tmp_path: Path
) -> None:
    create_service(cluster, namespace)
    create_packet(cluster, namespace)
    digest = cluster.wait_for(
        lambda: (cluster.get("readinesspacket", PACKET, namespace).get("status") or {}).get("digest"),
        what="the operator to write the packet digest",
    )
    approver = service_account(cluster, namespace, "approver", f"[{PACKET_RULE}, {OWNER_RULE}]", tmp_path)
    user = f"system:serviceaccount:{namespace}:approver"

    result = plugin(cluster, "approve", PACKET, "--role", "owner", "-n", namespace, kubeconfig=approver)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"approved {namespace}/{PACKET} as owner ({user}) at digest {digest}"
    recorded = approvals(cluster, namespace)
    assert recorded["owner"]["by"] == user
    assert recorded["owner"]["digest"] == digest
    assert RFC3339_UTC.match(recorded["owner"]["at"]), recorded["owner"]["at"]
    assert recorded["security"]["by"] == "amir.haddad@example.com", "other roles' approvals are kept"

    again = plugin(cluster, "approve", PACKET, "--role", "owner", "-n", namespace, kubeconfig=approver)
    assert again.returncode == 0, again.stderr
    roles = [a["role"] for a in cluster.get("readinesspacket", PACKET, namespace)["spec"]["approvals"]]
    assert sorted(roles) == ["owner", "security"], "approving again replaces the role's entry"


def test_approve_refused_by_the_api_server_prints_its_message_and_exits_1(
    cluster: Cluster, namespace: str, tmp_path: Path
) -> None:
    create_packet(cluster, namespace)
    # May edit packets, but holds no approval role.
    editor = service_account(cluster, namespace, "editor", f"[{PACKET_RULE}]", tmp_path)

    result = plugin(cluster, "approve", PACKET, "--role", "owner", "-n", namespace, kubeconfig=editor)

    assert result.returncode == 1
    assert result.stderr.startswith(f"error: cannot update ReadinessPacket {namespace}/{PACKET}: ")
    assert (
        f"Airlock: system:serviceaccount:{namespace}:editor may not approve "
        f"ReadinessPacket {namespace}/{PACKET} for role owner" in result.stderr
    ), result.stderr
    assert "owner" not in approvals(cluster, namespace)


def test_approve_before_the_operator_has_seen_the_packet_uses_the_digest_of_its_content(
    cluster: Cluster, namespace: str
) -> None:
    create_packet(cluster, namespace)
    spec = cluster.get("readinesspacket", PACKET, namespace)["spec"]

    result = plugin(cluster, "approve", PACKET, "--role", "owner", "-n", namespace)

    assert result.returncode == 0, result.stderr
    assert approvals(cluster, namespace)["owner"]["digest"] == packet_digest(
        ReadinessPacketSpec.model_validate(spec)
    )


def test_approve_refuses_content_the_operator_has_not_evaluated(cluster: Cluster, namespace: str) -> None:
    create_packet(cluster, namespace)
    evaluated = "sha256:" + "1" * 64
    cluster.kubectl(
        "patch",
        "readinesspacket",
        PACKET,
        "-n",
        namespace,
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps({"status": {"digest": evaluated}}),
    )

    result = plugin(cluster, "approve", PACKET, "--role", "owner", "-n", namespace)

    assert result.returncode == 1
    assert "changed since the operator last evaluated it" in result.stderr and evaluated in result.stderr
    assert "owner" not in approvals(cluster, namespace)


def test_approve_of_a_missing_packet_exits_1_and_says_how_to_list_them(
    cluster: Cluster, namespace: str
) -> None:
    result = plugin(cluster, "approve", "nope", "--role", "owner", "-n", namespace)

    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"error: ReadinessPacket {namespace}/nope not found; `kubectl get readinesspackets -n {namespace}` "
        "lists them."
    )
