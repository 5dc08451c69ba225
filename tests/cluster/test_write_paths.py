"""Every way a Deployment's replicas can be raised is denied above the cap, with no operator running.

No operator runs in these tests: the AIService has no status, so admission caps at pilotReplicas (fail
safe), and a kill switch caps at zero. That is the promise that holds while the operator is down.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from airlock_dev.admission_probe import wait_until_enforced
from tests.cluster.helpers import aiservice, deployment
from tests.conftest import Cluster

Write = Callable[[Cluster, str, str, int], tuple[bool, str]]


def _kubectl(cluster: Cluster, *args: str, stdin: str | None = None) -> tuple[bool, str]:
    r = cluster.kubectl(*args, stdin=stdin, check=False)
    return r.returncode == 0, r.stderr


def client_side_apply(cluster: Cluster, ns: str, name: str, replicas: int) -> tuple[bool, str]:
    return _kubectl(cluster, "apply", "-f", "-", stdin=yaml.safe_dump(deployment(name, ns, replicas)))


def server_side_apply_forced(cluster: Cluster, ns: str, name: str, replicas: int) -> tuple[bool, str]:
    # As Argo CD syncs with ServerSideApply=true: another field manager, taking every field by force.
    return _kubectl(
        cluster,
        "apply",
        "--server-side",
        "--force-conflicts",
        "--field-manager=argocd-controller",
        "-f",
        "-",
        stdin=yaml.safe_dump(deployment(name, ns, replicas)),
    )


def full_put(cluster: Cluster, ns: str, name: str, replicas: int) -> tuple[bool, str]:
    # kubectl edit sends the whole object back: the same as kubectl replace.
    live = cluster.get("deployment", name, ns)
    live["spec"]["replicas"] = replicas
    return _kubectl(cluster, "replace", "-f", "-", stdin=yaml.safe_dump(live))


def kubectl_scale(cluster: Cluster, ns: str, name: str, replicas: int) -> tuple[bool, str]:
    return _kubectl(cluster, "scale", "deployment", name, "-n", ns, f"--replicas={replicas}")


def _api(cluster: Cluster, call: Callable[[client.AppsV1Api], Any]) -> tuple[bool, str]:
    api = client.AppsV1Api(cluster.api_client())
    try:
        call(api)
    except ApiException as exc:
        return False, str(exc.body)
    return True, ""


def scale_subresource_put(cluster: Cluster, ns: str, name: str, replicas: int) -> tuple[bool, str]:
    # As the HPA controller does: read the Scale, change spec.replicas, PUT it back.
    def call(api: client.AppsV1Api) -> None:
        scale = api.read_namespaced_deployment_scale(name, ns)
        scale.spec.replicas = replicas
        api.replace_namespaced_deployment_scale(name, ns, scale)

    return _api(cluster, call)


def scale_subresource_patch(cluster: Cluster, ns: str, name: str, replicas: int) -> tuple[bool, str]:
    return _api(
        cluster,
        lambda api: api.patch_namespaced_deployment_scale(
            name, ns, {"spec": {"replicas": replicas}}, _content_type="application/merge-patch+json"
        ),
    )


def deployment_patch(cluster: Cluster, ns: str, name: str, replicas: int) -> tuple[bool, str]:
    return _kubectl(
        cluster,
        "patch",
        "deployment",
        name,
        "-n",
        ns,
        "--type=merge",
        "-p",
        f'{{"spec":{{"replicas":{replicas}}}}}',
    )


WRITES: list[Write] = [
    client_side_apply,
    server_side_apply_forced,
    full_put,
    kubectl_scale,
    scale_subresource_put,
    scale_subresource_patch,
    deployment_patch,
]


def _governed(cluster: Cluster, ns: str, name: str, *, killed: bool, replicas: int) -> None:
    cluster.apply(deployment(name, ns, replicas))
    annotations = (
        {"airlock.dev/kill-switch": "true", "airlock.dev/kill-switch-reason": "INC-4711"} if killed else {}
    )
    cluster.apply(aiservice(name, ns, pilot=1, annotations=annotations))
    wait_until_enforced(cluster.local)  # a barrier: admission has seen the AIService


@pytest.mark.parametrize("write", WRITES, ids=[w.__name__.replace("_", " ") for w in WRITES])
def test_a_write_above_the_pilot_cap_is_denied_naming_the_service(
    cluster: Cluster, namespace: str, write: Write
) -> None:
    _governed(cluster, namespace, "bot", killed=False, replicas=1)
    admitted, message = write(cluster, namespace, "bot", 5)
    assert not admitted
    assert "Deployment bot may run at most 1 replicas (asked for 5)" in message, message
    assert "AIService bot" in message
    assert cluster.get("deployment", "bot", namespace)["spec"]["replicas"] == 1
    # Decreases and staying at the cap are always allowed.
    assert write(cluster, namespace, "bot", 0)[0]
    assert write(cluster, namespace, "bot", 1)[0]


@pytest.mark.parametrize("write", WRITES, ids=[w.__name__.replace("_", " ") for w in WRITES])
def test_a_scale_up_while_killed_is_denied_with_the_reason(
    cluster: Cluster, namespace: str, write: Write
) -> None:
    _governed(cluster, namespace, "bot", killed=True, replicas=0)
    admitted, message = write(cluster, namespace, "bot", 1)
    assert not admitted and "kill switch of AIService bot is engaged (INC-4711)" in message, message
    assert write(cluster, namespace, "bot", 0)[0], "scaling to zero is always allowed (the runbook says so)"


def test_a_create_above_the_cap_is_denied(cluster: Cluster, namespace: str) -> None:
    cluster.apply(aiservice("bot", namespace, pilot=2))
    wait_until_enforced(cluster.local)
    r = cluster.apply(deployment("bot", namespace, 3), check=False)
    assert r.returncode != 0 and "may run at most 2 replicas (asked for 3)" in r.stderr
    cluster.apply(deployment("bot", namespace, 2))


def test_an_ungoverned_deployment_is_left_alone(cluster: Cluster, namespace: str) -> None:
    cluster.apply(aiservice("bot", namespace, pilot=1))
    cluster.apply(deployment("other", namespace, 1))
    wait_until_enforced(cluster.local)
    assert kubectl_scale(cluster, namespace, "other", 30)[0]


def test_a_gitops_loop_reapplying_ten_replicas_for_30s_gets_only_denials(
    cluster: Cluster, namespace: str
) -> None:
    _governed(cluster, namespace, "bot", killed=False, replicas=1)
    accepted = denied = 0
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        ok, _ = client_side_apply(cluster, namespace, "bot", 10)
        accepted += ok
        denied += not ok
        time.sleep(1)
    final = cluster.get("deployment", "bot", namespace)["spec"]["replicas"]
    print(f"GitOps loop: {accepted} accepted above the cap, {denied} denied, {final} replicas at the end")
    assert accepted == 0 and denied >= 20 and final == 1
