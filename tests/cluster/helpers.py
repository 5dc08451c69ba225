"""What the cluster tests share: builders of objects, and readers of what the operator wrote."""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

from airlock_dev import samples

if TYPE_CHECKING:
    from tests.conftest import Cluster


def aiservice(
    name: str,
    namespace: str,
    *,
    workload: str | None = None,
    pilot: int = 1,
    annotations: dict[str, str] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    return {
        "apiVersion": "airlock.dev/v1alpha1",
        "kind": "AIService",
        "metadata": {"name": name, "namespace": namespace, "annotations": annotations or {}},
        "spec": {
            "workload": {"name": workload or name},
            "owner": "jane.doe@example.com",
            "versions": {"model": "gpt-4o-2024-08-06", "prompt": "v14"},
            "pilotReplicas": pilot,
            **spec,
        },
    }


def deployment(name: str, namespace: str, replicas: int = 1) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "app", "image": "registry.example/support-assistant:1.0"}]},
            },
        },
    }


def status(cluster: Cluster, ns: str, name: str = "support-assistant") -> dict[str, Any]:
    out: dict[str, Any] = cluster.get("aiservice", name, ns).get("status") or {}
    return out


def condition(st: dict[str, Any], type_: str) -> dict[str, Any]:
    return next((c for c in st.get("conditions", []) if c["type"] == type_), {})


def replicas(cluster: Cluster, ns: str, name: str = "support-assistant") -> int:
    out: int = cluster.get("deployment", name, ns)["spec"]["replicas"]
    return out


def setup_service(cluster: Cluster, ns: str, replicas: int = 1) -> None:
    service = samples.load("service.yaml")
    service["metadata"]["namespace"] = ns
    cluster.apply(deployment("support-assistant", ns, replicas))
    cluster.apply(service)


def complete_packet(cluster: Cluster, ns: str) -> None:
    cluster.apply(
        samples.current_packet(samples.load("packet-complete.yaml"), dt.datetime.now(dt.UTC), namespace=ns)
    )


def events(cluster: Cluster, ns: str) -> list[str]:
    out = cluster.kubectl("get", "events", "-n", ns, "-o", "json").stdout
    return [e["reason"] for e in json.loads(out)["items"]]
