"""Failures carry retry meaning on the real API server: a refusal is named, counted as such (not as a bug),
scheduled at its own slow pace, and the kill switch is carried out once whatever refused is fixed, without
anyone touching the AIService."""

from __future__ import annotations

from pathlib import Path

from tests.cluster.helpers import aiservice, deployment, replicas, status
from tests.conftest import Cluster, start_operator
from tests.support import scrape, value


def _freeze(namespace: str) -> list[dict[str, object]]:
    """A change freeze as another team's admission policy would write it: nothing in the namespace may
    be scaled to zero (on the Deployment or its /scale)."""
    name = f"freeze-{namespace}"
    return [
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingAdmissionPolicy",
            "metadata": {"name": name},
            "spec": {
                "failurePolicy": "Fail",
                "matchConstraints": {
                    "resourceRules": [
                        {
                            "apiGroups": ["apps"],
                            "apiVersions": ["v1"],
                            "operations": ["UPDATE"],
                            "resources": ["deployments", "deployments/scale"],
                        }
                    ]
                },
                "validations": [
                    {
                        # A Scale at 0 omits spec.replicas.
                        "expression": "has(object.spec.replicas) && object.spec.replicas > 0",
                        "message": "change freeze: nothing is scaled to zero this week",
                    }
                ],
            },
        },
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingAdmissionPolicyBinding",
            "metadata": {"name": name},
            "spec": {
                "policyName": name,
                "validationActions": ["Deny"],
                "matchResources": {
                    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}
                },
            },
        },
    ]


def test_a_refused_kill_switch_is_named_counted_and_retried_slowly_until_the_refusal_goes(
    cluster: Cluster, namespace: str, tmp_path: Path
) -> None:
    freeze = _freeze(namespace)
    cluster.apply(deployment("bot", namespace, 1))
    op = start_operator(cluster, tmp_path)
    try:
        cluster.apply(aiservice("bot", namespace))
        op.wait_for_pass("AIService", namespace, "bot")
        for obj in freeze:
            cluster.apply(obj)
        cluster.wait_for(
            lambda: (
                "change freeze"
                in cluster.kubectl(
                    "scale",
                    "deployment",
                    "bot",
                    "-n",
                    namespace,
                    "--replicas=0",
                    "--dry-run=server",
                    check=False,
                ).stderr
            ),
            what="the freeze to refuse a scale to zero",
        )
        cluster.kubectl("annotate", "ais", "bot", "-n", namespace, "airlock.dev/kill-switch=true")
        refused = cluster.wait_for(
            lambda: value(scrape(op.metrics_port), "airlock_reconcile_failures_total", failure="Refused"),
            what="the refusal to be counted",
        )
        assert refused >= 1
        log = op.log()
        assert "Refused" in log and "change freeze" in log and "retrying in 60.00s" in log, log[-3000:]
        assert value(scrape(op.metrics_port), "airlock_reconcile_failures_total", failure="Bug") == 0
        assert replicas(cluster, namespace, "bot") == 1
        for obj in reversed(freeze):
            cluster.kubectl("delete", str(obj["kind"]).lower(), str(obj["metadata"]["name"]))  # type: ignore[index]
        # Nobody touches the AIService: a later pass (the scheduled retry at the latest) carries it out.
        cluster.wait_for(
            lambda: replicas(cluster, namespace, "bot") == 0, timeout=90, what="the retried kill"
        )
        assert status(cluster, namespace, "bot")["stage"] == "Killed"
    finally:
        op.stop()
        for obj in freeze:
            cluster.kubectl(
                "delete", str(obj["kind"]).lower(), str(obj["metadata"]["name"]), "--ignore-not-found"
            )  # type: ignore[index]
