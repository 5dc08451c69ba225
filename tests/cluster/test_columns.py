"""`kubectl get ais` tells the truth with the operator down, and the status says who released the kill
switch: on the real API server, as on-call and an on-call lead who are not cluster admins."""

from __future__ import annotations

from pathlib import Path

from tests.cluster.helpers import (
    ONCALL_RULES,
    RELEASER,
    SERVICE,
    create_service,
    deployment_replicas,
    plugin,
    service_account,
    wait_for_stage,
)
from tests.conftest import Cluster, OperatorProcess, start_operator


def table(cluster: Cluster, namespace: str, *args: str, kubeconfig: Path | None = None) -> dict[str, str]:
    """The row of `kubectl get ais` for the service, as column name -> cell. Cells are cut at the header
    offsets (kubectl aligns every column with its header), so a cell may contain spaces."""
    out = cluster.kubectl("get", "ais", SERVICE, "-n", namespace, *args, kubeconfig=kubeconfig).stdout
    header, row = out.splitlines()[:2]
    names = header.split()
    starts: list[int] = []
    for name in names:
        starts.append(header.index(name, starts[-1] + 1 if starts else 0))
    ends = [*starts[1:], None]
    return {n: row[s:e].strip() for n, s, e in zip(names, starts, ends, strict=True)}


def lead(cluster: Cluster, namespace: str, tmp_path: Path) -> Path:
    """An on-call lead: on-call's rights plus ClusterRole airlock-kill-switch-releaser in the namespace."""
    cluster.kubectl("apply", "--server-side", "-f", str(RELEASER))
    kubeconfig = service_account(cluster, namespace, "lead", ONCALL_RULES, tmp_path)
    cluster.kubectl(
        "create", "rolebinding", "lead-releases", "-n", namespace,
        "--clusterrole=airlock-kill-switch-releaser", f"--serviceaccount={namespace}:lead",
    )  # fmt: skip
    return kubeconfig


def test_with_the_operator_down_kubectl_get_shows_the_kill_switch_who_set_it_and_a_stale_status(
    cluster: Cluster, namespace: str, tmp_path: Path
) -> None:
    create_service(cluster, namespace, replicas=2, pilot=2)
    first = start_operator(cluster, tmp_path)
    try:
        wait_for_stage(cluster, namespace, "Pilot")
    finally:
        first.stop()
    oncall = service_account(cluster, namespace, "oncall", ONCALL_RULES, tmp_path)
    before = table(cluster, namespace, kubeconfig=oncall)
    # Not set: kubectl leaves the cell empty.
    assert before["KILL-SWITCH"] == "" and before["BY"] == "", before
    assert before["GENERATION"] == before["OBSERVED"] == "1", before

    engaged = plugin(
        cluster, "kill", SERVICE, "-n", namespace, "--reason", "INC-6001 refunds promised", "--no-wait",
        kubeconfig=oncall,
    )  # fmt: skip
    assert engaged.returncode == 0, engaged.stderr
    # A spec change nobody has evaluated: the generation moves past the one the status was computed for.
    cluster.kubectl(
        "patch", "aiservice", SERVICE, "-n", namespace, "--type=merge", "-p", '{"spec":{"owner":"sam"}}'
    )

    row = table(cluster, namespace, "-o", "wide", kubeconfig=oncall)
    # The status still says what the operator last saw; the annotation columns say what admission enforces.
    assert row["STAGE"] == "Pilot" and row["ALLOWED"] == "2", row
    assert row["KILL-SWITCH"] == "true", row
    assert row["BY"] == f"system:serviceaccount:{namespace}:oncall", row
    assert row["REASON"] == "INC-6001 refunds promised", row
    assert (row["GENERATION"], row["OBSERVED"]) == ("2", "1"), row
    status = plugin(cluster, "status", SERVICE, "-n", namespace, kubeconfig=oncall)
    assert f"on (pending)   system:serviceaccount:{namespace}:oncall" in status.stdout, status.stdout
    scale_up = cluster.kubectl(
        "scale", "deployment", SERVICE, "-n", namespace, "--replicas=3", kubeconfig=oncall, check=False
    )
    assert scale_up.returncode != 0 and "kill switch" in scale_up.stderr, scale_up.stderr

    # Back up, the operator catches the status up with what the columns already said.
    operator = start_operator(cluster, tmp_path)
    try:
        wait_for_stage(cluster, namespace, "Killed")
        cluster.wait_for(lambda: table(cluster, namespace)["OBSERVED"] == "2", what="the status to catch up")
        row = table(cluster, namespace)
        assert row["ALLOWED"] == "0" and row["KILL-SWITCH"] == "true", row
    finally:
        operator.stop()


def released_event(cluster: Cluster, namespace: str, count: int) -> list[str]:
    def messages() -> list[str] | None:
        out = cluster.kubectl(
            "get", "events", "-n", namespace, "--field-selector", "reason=KillSwitchReleased",
            "-o", "jsonpath={range .items[*]}{.message}{'\\n'}{end}",
        ).stdout  # fmt: skip
        found = [line for line in out.splitlines() if line]
        return found if len(found) >= count else None

    found: list[str] = cluster.wait_for(messages, what=f"{count} KillSwitchReleased Event(s)")
    return found


def test_the_status_and_the_event_say_who_released_the_kill_switch(
    cluster: Cluster, namespace: str, tmp_path: Path, operator: OperatorProcess
) -> None:
    create_service(cluster, namespace, replicas=2, pilot=2)
    wait_for_stage(cluster, namespace, "Pilot")
    oncall = service_account(cluster, namespace, "oncall", ONCALL_RULES, tmp_path)
    releaser = lead(cluster, namespace, tmp_path)
    killed = plugin(cluster, "kill", SERVICE, "-n", namespace, "--reason", "INC-6002", kubeconfig=oncall)
    assert killed.returncode == 0, killed.stderr

    restored = plugin(cluster, "restore", SERVICE, "-n", namespace, kubeconfig=releaser)

    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert deployment_replicas(cluster, namespace) == 2
    lead_name = f"system:serviceaccount:{namespace}:lead"
    status = wait_for_stage(cluster, namespace, "Pilot")
    assert status["killSwitch"] == {"engaged": False, "releasedBy": lead_name}, status["killSwitch"]
    assert f"Kill switch released by {lead_name};" in released_event(cluster, namespace, 1)[0]
    explained = plugin(cluster, "explain", SERVICE, "-n", namespace, kubeconfig=oncall)
    assert f"not engaged (last released by {lead_name})" in explained.stdout, explained.stdout


def test_a_release_by_removing_the_annotation_is_recorded_as_by_an_unnamed_identity(
    cluster: Cluster, namespace: str, tmp_path: Path, operator: OperatorProcess
) -> None:
    create_service(cluster, namespace, replicas=2, pilot=2)
    wait_for_stage(cluster, namespace, "Pilot")
    oncall = service_account(cluster, namespace, "oncall", ONCALL_RULES, tmp_path)
    releaser = lead(cluster, namespace, tmp_path)
    killed = plugin(cluster, "kill", SERVICE, "-n", namespace, "--reason", "INC-6003", kubeconfig=oncall)
    assert killed.returncode == 0, killed.stderr

    # The engager's name stays in airlock.dev/kill-switch-by: it must not be taken for the releaser's.
    cluster.kubectl(
        "annotate", "aiservice", SERVICE, "-n", namespace, "airlock.dev/kill-switch-", kubeconfig=releaser
    )

    cluster.wait_for(lambda: deployment_replicas(cluster, namespace) == 2, what="the restore to 2 replicas")
    status = wait_for_stage(cluster, namespace, "Pilot")
    assert status["killSwitch"] == {"engaged": False}, status["killSwitch"]
    assert "Kill switch released by an unnamed identity;" in released_event(cluster, namespace, 1)[0]
