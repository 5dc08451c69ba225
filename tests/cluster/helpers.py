"""Small builders shared by the cluster tests."""

from __future__ import annotations

from typing import Any


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
