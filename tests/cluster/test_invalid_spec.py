"""Suspend first: an AIService stored with a spec the operator cannot read still has its kill switch
honoured, and says which field to fix.

Such an object can only have been stored before an upgrade tightened the schema. The test makes one the
same way: it loosens the CRD for a moment, stores the AIService, and puts the generated CRD back.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.cluster.helpers import aiservice, condition, deployment, events, replicas, status
from tests.conftest import ROOT, Cluster, start_operator

CRD = ROOT / "crds" / "airlock.dev_aiservices.yaml"
MINIMUM = "/spec/versions/0/schema/openAPIV3Schema/properties/spec/properties/pilotReplicas/minimum"


@contextmanager
def schema_without_a_pilot_minimum(cluster: Cluster, namespace: str) -> Iterator[None]:
    probe = json.dumps(aiservice("probe", namespace, pilot=-1))

    def stores_a_negative_pilot() -> bool:
        result = cluster.kubectl("create", "--dry-run=server", "-f", "-", stdin=probe, check=False)
        return result.returncode == 0

    cluster.kubectl(
        "patch",
        "crd",
        "aiservices.airlock.dev",
        "--type=json",
        "-p",
        json.dumps([{"op": "remove", "path": MINIMUM}]),
    )
    try:
        cluster.wait_for(stores_a_negative_pilot, timeout=30, what="the loosened schema to be served")
        yield
    finally:
        cluster.kubectl(
            "apply", "--server-side", "--force-conflicts", "--field-manager=airlock-tests", "-f", str(CRD)
        )
        cluster.wait_for(
            lambda: not stores_a_negative_pilot(), timeout=30, what="the generated schema to be back"
        )


def test_a_spec_the_operator_cannot_read_is_still_killed_and_the_field_is_named(
    cluster: Cluster, namespace: str, tmp_path: Path
) -> None:
    cluster.apply(deployment("bot", namespace, 3))
    with schema_without_a_pilot_minimum(cluster, namespace):
        cluster.apply(
            aiservice(
                "bot",
                namespace,
                pilot=-1,
                annotations={"airlock.dev/kill-switch": "true", "airlock.dev/kill-switch-reason": "INC-77"},
            )
        )
    op = start_operator(cluster, tmp_path)
    try:
        cluster.wait_for(
            lambda: replicas(cluster, namespace, "bot") == 0, what="the kill switch on an invalid spec"
        )
        ready = cluster.wait_for(
            lambda: (
                condition(status(cluster, namespace, "bot"), "Ready").get("reason") == "InvalidSpec"
                and condition(status(cluster, namespace, "bot"), "Ready")
            ),
            what="the InvalidSpec condition",
        )
        assert "pilotReplicas" in ready["message"] and "kill switch holds it at 0" in ready["message"], ready
        st = status(cluster, namespace, "bot")
        assert (
            st["stage"] == "Killed" and st["allowedReplicas"] == 0 and st["killSwitch"]["replicasBefore"] == 3
        )
        cluster.wait_for(lambda: "InvalidSpec" in events(cluster, namespace), what="an InvalidSpec Event")
        assert "KillSwitchEngaged" in events(cluster, namespace)
    finally:
        op.stop()
        cluster.kubectl("delete", "aiservice", "bot", "-n", namespace)
