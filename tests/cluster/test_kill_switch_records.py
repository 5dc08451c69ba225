"""The kill switch remembers what it stopped, with or without an operator, and a restore leaves nothing
behind: on the real API server, with `kubectl airlock` run as on-call runs it."""

from __future__ import annotations

import re
from pathlib import Path

from tests.cluster.helpers import (
    ONCALL_RULES,
    RELEASER,
    RFC3339_UTC,
    SERVICE,
    create_service,
    deployment_replicas,
    plugin,
    service_account,
    wait_for_stage,
)
from tests.conftest import Cluster, OperatorProcess, start_operator

KILL_SWITCH_KEYS = {
    "airlock.dev/kill-switch",
    "airlock.dev/kill-switch-reason",
    "airlock.dev/kill-switch-by",
    "airlock.dev/kill-switch-replicas-before",
    "airlock.dev/kill-switch-since",
}


def released_in_the_open(annotations: dict[str, str]) -> bool:
    """A restore leaves only the released switch and who released it; nothing of the kill."""
    left = KILL_SWITCH_KEYS & annotations.keys()
    return annotations.get("airlock.dev/kill-switch") == "false" and left <= {
        "airlock.dev/kill-switch",
        "airlock.dev/kill-switch-by",
    }


def annotations_of(cluster: Cluster, namespace: str) -> dict[str, str]:
    found: dict[str, str] = cluster.get("aiservice", SERVICE, namespace)["metadata"].get("annotations") or {}
    return found


def test_with_the_operator_down_the_restore_brings_back_the_replicas_the_service_had(
    cluster: Cluster, namespace: str, tmp_path: Path
) -> None:
    create_service(cluster, namespace, replicas=3, pilot=3)
    first = start_operator(cluster, tmp_path)
    try:
        wait_for_stage(cluster, namespace, "Pilot")
    finally:
        first.stop()
    oncall = service_account(cluster, namespace, "oncall", ONCALL_RULES, tmp_path)

    # The operator is down: the kill records what it stops, then on-call scales to 0 by hand.
    killed = plugin(
        cluster, "kill", SERVICE, "-n", namespace, "--reason", "INC-5001", "--timeout", "1", kubeconfig=oncall
    )
    assert killed.returncode == 1, killed.stdout + killed.stderr
    assert "The replicas it had (3) are recorded on the AIService" in killed.stderr, killed.stderr
    recorded = annotations_of(cluster, namespace)
    assert recorded["airlock.dev/kill-switch-replicas-before"] == "3"
    assert recorded["airlock.dev/kill-switch-by"] == f"system:serviceaccount:{namespace}:oncall"
    assert RFC3339_UTC.match(recorded["airlock.dev/kill-switch-since"])
    scale = re.search(r"kubectl scale deployment \S+ -n \S+ --replicas=0", killed.stderr)
    assert scale is not None, killed.stderr
    cluster.kubectl(*scale.group(0).split()[1:], kubeconfig=oncall)

    operator = start_operator(cluster, tmp_path)
    try:
        status = wait_for_stage(cluster, namespace, "Killed")
        assert status["killSwitch"]["replicasBefore"] == 3
        assert status["killSwitch"]["since"] == recorded["airlock.dev/kill-switch-since"]

        restored = plugin(cluster, "restore", SERVICE, "-n", namespace)

        assert restored.returncode == 0, restored.stderr
        assert "restored to 3 replicas (had 3 before the kill switch)" in restored.stdout, restored.stdout
        assert deployment_replicas(cluster, namespace) == 3
        assert released_in_the_open(annotations_of(cluster, namespace))
    finally:
        operator.stop()


def test_a_restore_before_the_operator_acted_exits_1_with_the_command_that_brings_the_replicas_back(
    cluster: Cluster, namespace: str
) -> None:
    create_service(cluster, namespace, replicas=2, pilot=2)
    engaged = plugin(cluster, "kill", SERVICE, "-n", namespace, "--reason", "INC-5002", "--no-wait")
    assert engaged.returncode == 0, engaged.stderr
    cluster.kubectl("scale", "deployment", SERVICE, "-n", namespace, "--replicas=0")

    result = plugin(cluster, "restore", SERVICE, "-n", namespace)

    assert result.returncode == 1, result.stdout
    command = f"kubectl scale deployment {SERVICE} -n {namespace} --replicas=2"
    assert result.stderr.rstrip().endswith(command), result.stderr
    assert "had 2 replicas when the switch was engaged" in result.stderr
    assert released_in_the_open(annotations_of(cluster, namespace))
    # The command it gives works as printed.
    cluster.kubectl(*command.split()[1:])
    assert deployment_replicas(cluster, namespace) == 2


def test_the_operator_clears_a_released_switch_so_a_later_kill_has_no_old_reason(
    cluster: Cluster, namespace: str, operator: OperatorProcess
) -> None:
    create_service(cluster, namespace)
    wait_for_stage(cluster, namespace, "Pilot")
    cluster.kubectl(
        "annotate", "aiservice", SERVICE, "-n", namespace,
        "airlock.dev/kill-switch=true", "airlock.dev/kill-switch-reason=INC-5003",
    )  # fmt: skip
    assert wait_for_stage(cluster, namespace, "Killed")["killSwitch"]["reason"] == "INC-5003"

    # Released the plain way, leaving the reason behind: the operator removes it.
    cluster.kubectl("annotate", "aiservice", SERVICE, "-n", namespace, "airlock.dev/kill-switch-")
    wait_for_stage(cluster, namespace, "Pilot")
    cluster.wait_for(
        lambda: "airlock.dev/kill-switch-reason" not in annotations_of(cluster, namespace),
        what="the operator to remove the released switch's reason",
    )

    cluster.kubectl("annotate", "aiservice", SERVICE, "-n", namespace, "airlock.dev/kill-switch=true")
    status = wait_for_stage(cluster, namespace, "Killed")
    assert status["killSwitch"].get("reason") is None, status["killSwitch"]


def test_deleting_an_engaged_service_is_recorded_and_the_deployment_loses_its_stage_label(
    cluster: Cluster, namespace: str, operator: OperatorProcess
) -> None:
    create_service(cluster, namespace)
    wait_for_stage(cluster, namespace, "Pilot")
    killed = plugin(cluster, "kill", SERVICE, "-n", namespace, "--reason", "INC-5004")
    assert killed.returncode == 0, killed.stderr
    cluster.wait_for(
        lambda: (
            cluster.get("deployment", SERVICE, namespace)["metadata"]["labels"].get("airlock.dev/stage")
            == "Killed"
        ),
        what="the Deployment to be labelled Killed",
    )

    cluster.kubectl("delete", "aiservice", SERVICE, "-n", namespace)

    def event() -> str:
        return cluster.kubectl(
            "get", "events", "-n", namespace, "--field-selector", "reason=KillSwitchEndedByDeletion",
            "-o", "jsonpath={.items[*].message}",
        ).stdout  # fmt: skip

    message = cluster.wait_for(event, what="the KillSwitchEndedByDeletion Event")
    assert f"AIService {SERVICE} was deleted while its kill switch was engaged (INC-5004)" in message
    labels = cluster.get("deployment", SERVICE, namespace)["metadata"]["labels"]
    assert "airlock.dev/stage" not in labels, labels


def test_the_releaser_role_grants_delete_on_aiservices(cluster: Cluster, namespace: str) -> None:
    # RBAC's part of deleting an engaged AIService; admission adds its own checks on top.
    cluster.kubectl("apply", "--server-side", "-f", str(RELEASER))
    cluster.kubectl("create", "serviceaccount", "lead", "-n", namespace)
    user = f"system:serviceaccount:{namespace}:lead"
    attributes = {"verb": "delete", "group": "airlock.dev", "resource": "aiservices", "name": SERVICE}
    assert not cluster.service_account_may(user, namespace, **attributes)
    cluster.kubectl(
        "create", "rolebinding", "lead-releases", "-n", namespace,
        "--clusterrole=airlock-kill-switch-releaser", f"--serviceaccount={namespace}:lead",
    )  # fmt: skip
    cluster.wait_for(
        lambda: cluster.service_account_may(user, namespace, **attributes),
        timeout=10,
        what="the releaser role to grant delete on aiservices",
    )


def test_the_hints_in_a_denial_name_the_namespace_and_work_when_pasted(
    cluster: Cluster, namespace: str
) -> None:
    create_service(cluster, namespace)
    pilot = cluster.kubectl("scale", "deployment", SERVICE, "-n", namespace, "--replicas=2", check=False)
    assert f"see: kubectl airlock explain {SERVICE} -n {namespace}\n" in pilot.stderr, pilot.stderr
    cluster.kubectl("annotate", "aiservice", SERVICE, "-n", namespace, "airlock.dev/kill-switch=true")

    def denied() -> str:
        up = cluster.kubectl("scale", "deployment", SERVICE, "-n", namespace, "--replicas=2", check=False)
        return up.stderr if "kill switch" in up.stderr else ""

    stderr = cluster.wait_for(denied, what="admission to deny the scale-up for the kill switch")
    hint = re.search(
        r"release it with: (kubectl annotate aiservice \S+ -n \S+ airlock\.dev/kill-switch-)", stderr
    )
    assert hint is not None, stderr
    # Pasted as it is (the current context is another namespace), it releases this service.
    cluster.kubectl(*hint.group(1).split()[1:])
    assert "airlock.dev/kill-switch" not in annotations_of(cluster, namespace)
