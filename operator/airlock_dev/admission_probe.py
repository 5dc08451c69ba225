"""Wait until a freshly applied set of Airlock admission policies is enforcing, not merely stored.

After `kubectl apply -f manifests/admission` the API server needs a moment before the policies act: it
loads policies and bindings on a refresh loop, then starts an informer for each parameter kind. Until that
informer has synced, a fail-closed policy refuses every matching write ("paramKind ... not yet synced"),
and before the binding is loaded at all, the policy admits everything. A write that merely succeeds proves
neither, so this probe looks for positive evidence:

1. an AIService `airlock-admission-probe` in the governed namespace of the same name (created, marked
   `airlock.dev/governed: "true"`, if missing) caps a Deployment of the same name at one
   replica, so a server-side dry run creating that Deployment at two replicas must be refused with the
   replica cap's own message;
2. a server-side dry run creating a ReadinessPacket must be admitted (the ReadinessPolicy parameter of
   `airlock-approvals-trusted-gitops` is synced).

The probe AIService is deleted afterwards; nothing else is written (the other requests are dry runs).

The policy reads AIServices through one informer, which receives them in the order they were written, so
a refusal naming the probe also proves that every AIService write made before the call (a new service,
a status patch, a kill-switch annotation) is visible to admission: the tests use it as that barrier.
Each call writes the probe with a fresh token, so it is a new write even if a deletion was missed.
"""

from __future__ import annotations

import secrets
import subprocess
import time
from collections.abc import Callable
from typing import Any

import yaml

from airlock_dev import samples
from airlock_dev.localcluster import ControlPlaneError, LocalCluster

NAME = "airlock-admission-probe"
NAMESPACE = NAME
# The label that marks a namespace as governed: the admission policies act only in such namespaces.
GOVERNED = {"airlock.dev/governed": "true"}
CAP_MESSAGE = f"Airlock: Deployment {NAME} may run at most 1 replicas"
TOKEN = "airlock.dev/admission-probe"


def _token() -> str:
    # A bare hex token such as "81e23350" is a float to the API server's YAML decoder, though PyYAML
    # leaves it unquoted: the letter prefix keeps it a string, as an annotation value must be.
    return f"write-{secrets.token_hex(8)}"


def _aiservice() -> dict[str, Any]:
    doc = samples.load("service.yaml")
    doc["metadata"] = {"name": NAME, "namespace": NAMESPACE, "annotations": {TOKEN: _token()}}
    doc["spec"]["workload"] = {"name": NAME}
    doc["spec"]["pilotReplicas"] = 1
    return doc


def _deployment(replicas: int) -> dict[str, Any]:
    doc = samples.load("deployment.yaml")
    doc["metadata"] = {"name": NAME, "namespace": NAMESPACE}
    doc["spec"]["replicas"] = replicas
    return doc


def _packet() -> dict[str, Any]:
    doc = samples.load("packet-complete.yaml")
    doc["metadata"] = {"name": NAME, "namespace": NAMESPACE}
    doc["spec"]["approvals"] = []
    return doc


def wait_until_enforced(cluster: LocalCluster, timeout: float = 60.0) -> float:
    """Blocks until the replica cap and the approval policies are enforcing; returns the seconds it took.

    Raises ControlPlaneError naming what was still missing, with the API server's last answer.
    """
    started = time.monotonic()
    deadline = started + timeout

    def kubectl(*args: str, doc: dict[str, Any]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [cluster.kubectl, f"--kubeconfig={cluster.kubeconfig}", *args, "-f", "-"],
            input=yaml.safe_dump(doc),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def until(
        what: str, ok: Callable[[subprocess.CompletedProcess[str]], bool], *args: str, doc: Any
    ) -> None:
        while True:
            result = kubectl(*args, doc=doc)
            if ok(result):
                return
            if time.monotonic() > deadline:
                raise ControlPlaneError(
                    f"the Airlock admission policies were not enforcing after {timeout:.0f}s: {what}; "
                    f"last answer: {(result.stderr or result.stdout).strip()!r}. "
                    "Check `kubectl get validatingadmissionpolicy,validatingadmissionpolicybinding`."
                )
            time.sleep(0.2)

    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE, "labels": GOVERNED}}
    marked = kubectl("apply", "--server-side", "--field-manager=airlock-admission-probe", doc=namespace)
    if marked.returncode != 0:
        raise ControlPlaneError(f"could not create the probe namespace {NAMESPACE}: {marked.stderr.strip()}")
    created = kubectl("apply", "--server-side", "--field-manager=airlock-admission-probe", doc=_aiservice())
    if created.returncode != 0:
        raise ControlPlaneError(f"could not create the probe AIService: {created.stderr.strip()}")
    try:
        until(
            "the replica cap did not refuse a Deployment above its AIService's pilot size",
            lambda r: r.returncode != 0 and CAP_MESSAGE in r.stderr,
            "create",
            "--dry-run=server",
            doc=_deployment(2),
        )
        until(
            "a ReadinessPacket could not be written",
            lambda r: r.returncode == 0,
            "create",
            "--dry-run=server",
            doc=_packet(),
        )
    finally:
        subprocess.run(
            [
                cluster.kubectl,
                f"--kubeconfig={cluster.kubeconfig}",
                "delete",
                "aiservice",
                NAME,
                "-n",
                NAMESPACE,
                "--ignore-not-found",
                "--wait=false",
            ],
            capture_output=True,
            timeout=60,
            check=False,
        )
    return time.monotonic() - started
