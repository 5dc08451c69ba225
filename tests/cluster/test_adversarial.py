"""Hostile and odd input on the real API server: refused clearly, or handled safely, and nothing lost."""

from __future__ import annotations

import json
import re
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.cluster.helpers import aiservice, condition, deployment, events, replicas, status
from tests.conftest import Cluster, OperatorProcess
from tests.strategies import junk

LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def test_odd_version_strings_become_valid_labels_and_are_kept_exactly(
    cluster: Cluster, namespace: str, operator: OperatorProcess
) -> None:
    model = "anthropic/claude 3.5 sonnet:2024-10-22 ✨ " + "x" * 200
    svc = aiservice("bot", namespace)
    svc["spec"]["versions"] = {"model": model, "prompt": "v14 (hotfix)", "retrieval": "kb/2026-11-01"}
    cluster.apply(deployment("bot", namespace, 1))
    cluster.apply(svc)
    cluster.wait_for(
        lambda: (
            cluster.get("deployment", "bot", namespace)["metadata"]
            .get("annotations", {})
            .get("airlock.dev/versions")
        ),
        what="the versions annotation",
    )
    meta = cluster.get("deployment", "bot", namespace)["metadata"]
    for key in ("airlock.dev/model-version", "airlock.dev/prompt-version", "airlock.dev/retrieval-version"):
        assert LABEL_VALUE.match(meta["labels"][key]) and len(meta["labels"][key]) <= 63, meta["labels"][key]
    assert json.loads(meta["annotations"]["airlock.dev/versions"])["model"] == model


def test_a_missing_deployment_is_reported_and_governed_once_it_appears(
    cluster: Cluster, namespace: str, operator: OperatorProcess
) -> None:
    cluster.apply(aiservice("bot", namespace, pilot=2))
    cluster.wait_for(
        lambda: condition(status(cluster, namespace, "bot"), "WorkloadFound").get("status") == "False",
        what="WorkloadFound=False",
    )
    msg = condition(status(cluster, namespace, "bot"), "WorkloadFound")["message"]
    assert "Deployment bot does not exist" in msg
    denied = cluster.apply(deployment("bot", namespace, 5), check=False)
    assert denied.returncode != 0 and "at most 2 replicas" in denied.stderr
    cluster.apply(deployment("bot", namespace, 2))
    cluster.wait_for(
        lambda: condition(status(cluster, namespace, "bot"), "WorkloadFound").get("status") == "True",
        what="WorkloadFound=True",
    )


def test_a_deployment_deleted_and_recreated_under_its_service_is_capped_again(
    cluster: Cluster, namespace: str, operator: OperatorProcess
) -> None:
    cluster.apply(deployment("bot", namespace, 1))
    cluster.apply(aiservice("bot", namespace, pilot=1))
    cluster.wait_for(lambda: status(cluster, namespace, "bot").get("stage"), what="a status")
    cluster.kubectl("delete", "deployment", "bot", "-n", namespace)
    cluster.wait_for(
        lambda: condition(status(cluster, namespace, "bot"), "WorkloadFound").get("status") == "False",
        what="the loss to be noticed",
    )
    assert cluster.apply(deployment("bot", namespace, 4), check=False).returncode != 0
    cluster.apply(deployment("bot", namespace, 1))
    cluster.wait_for(
        lambda: (
            cluster.get("deployment", "bot", namespace)["metadata"]["labels"].get("airlock.dev/stage")
            == "Pilot"
        ),
        what="labels on the new Deployment",
    )


def test_deleting_a_killed_service_leaves_its_deployment_at_zero(
    cluster: Cluster, namespace: str, operator: OperatorProcess
) -> None:
    cluster.apply(deployment("bot", namespace, 1))
    cluster.apply(aiservice("bot", namespace, annotations={"airlock.dev/kill-switch": "FALSE"}))
    cluster.wait_for(lambda: replicas(cluster, namespace, "bot") == 0, what="FALSE to engage, failing safe")
    operator.wait_for_pass("AIService", namespace, "bot")
    cluster.kubectl("delete", "aiservice", "bot", "-n", namespace)
    # The operator forgets a deleted service's series only once it has handled the deletion.
    cluster.wait_for(
        lambda: operator.passes("AIService", namespace, "bot") is None, what="the deletion to be handled"
    )
    assert replicas(cluster, namespace, "bot") == 0
    assert "KillSwitchReleased" not in events(cluster, namespace)


def _packet(namespace: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "airlock.dev/v1alpha1",
        "kind": "ReadinessPacket",
        "metadata": {"name": "fuzz", "namespace": namespace},
        "spec": {"service": "bot", "versions": {"model": "m", "prompt": "p"}, **spec},
    }


sections = st.fixed_dictionaries(
    {},
    optional={
        "useCase": st.fixed_dictionaries({}, optional={"summary": junk, "nonUseCases": junk}),
        "evals": st.fixed_dictionaries(
            {}, optional={"minPassRate": junk, "evaluatedAt": junk, "cases": junk}
        ),
        "tools": junk,
        "cost": st.fixed_dictionaries(
            {}, optional={"costPerDay": junk, "budgetPerDay": junk, "currency": junk}
        ),
        "approvals": junk,
        "securityReview": st.fixed_dictionaries({}, optional={"risks": junk, "reviewedAt": junk}),
    },
)


def test_random_packets_get_clear_answers_and_never_break_the_operator(
    cluster: Cluster, namespace: str, operator: OperatorProcess
) -> None:
    cluster.apply(deployment("bot", namespace, 1))
    cluster.apply(aiservice("bot", namespace))
    answers = {"accepted": 0, "refused": 0}

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(sections)
    def apply_one(spec: dict[str, Any]) -> None:
        result = cluster.kubectl(
            "apply", "-f", "-", stdin=yaml.safe_dump(_packet(namespace, spec)), check=False
        )
        assert "InternalError" not in result.stderr and "500" not in result.stderr.split(":")[0], (
            result.stderr
        )
        if result.returncode == 0:
            answers["accepted"] += 1
        else:
            answers["refused"] += 1
            assert (
                'ReadinessPacket.airlock.dev "fuzz" is invalid' in result.stderr or "error" in result.stderr
            )

    apply_one()
    print(f"random packets: {answers}")
    assert answers["refused"] > 0

    def evaluated() -> bool:  # the last packet accepted is evaluated: the storm is over for the operator
        packet = cluster.get("rp", "fuzz", namespace)
        return (packet.get("status") or {}).get("observedGeneration") == packet["metadata"]["generation"]

    cluster.wait_for(evaluated, what="the last packet accepted to be evaluated")
    assert operator.proc.poll() is None, "the operator must survive any packet the API server accepts"
    assert "Traceback" not in operator.log(), operator.log()[-4000:]
    # Still reconciling: the kill switch works after the storm.
    cluster.kubectl("annotate", "ais", "bot", "-n", namespace, "airlock.dev/kill-switch=true")
    cluster.wait_for(lambda: replicas(cluster, namespace, "bot") == 0, what="the kill switch after the storm")
