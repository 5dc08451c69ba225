"""Thin I/O over the kubernetes client: read, patch, scale, emit. No decisions here."""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from typing import Any

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from airlock.models.base import GROUP, VERSION

log = logging.getLogger("airlock.k8s")

MERGE_PATCH = "application/merge-patch+json"
COMPONENT = "airlock-operator"


class Clients:
    """The API groups the operator uses, over one connection pool."""

    def __init__(self, api_client: Any) -> None:
        self.api_client = api_client
        self.apps = client.AppsV1Api(api_client)
        self.core = client.CoreV1Api(api_client)
        self.custom = client.CustomObjectsApi(api_client)


def load_api_client(kubeconfig: str | None = None) -> Any:
    """In-cluster configuration when running in a Pod, else the kubeconfig (KUBECONFIG or ~/.kube/config)."""
    if kubeconfig is None:
        try:
            config.load_incluster_config()
            return client.ApiClient()
        except config.ConfigException:
            pass
    return config.new_client_from_config(config_file=kubeconfig)


def merge_patch(old: Any, new: Any) -> Any:
    """An RFC 7386 merge patch that turns `old` into `new` (nulls remove keys; lists are replaced whole)."""
    if not isinstance(old, dict) or not isinstance(new, dict):
        return new
    patch: dict[str, Any] = {}
    for key in old.keys() - new.keys():
        patch[key] = None
    for key, value in new.items():
        if key not in old:
            patch[key] = value
        elif old[key] != value:
            patch[key] = merge_patch(old[key], value)
    return patch


def read_deployment(clients: Clients, namespace: str, name: str) -> dict[str, Any] | None:
    """The Deployment as a plain dict, or None when it does not exist."""
    try:
        resp: Any = clients.apps.read_namespaced_deployment(name, namespace, _preload_content=False)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise
    data: dict[str, Any] = json.loads(resp.data)
    return data


def patch_scale(
    clients: Clients, namespace: str, name: str, replicas: int, field_manager: str, retry_for: float = 5.0
) -> None:
    """Writes spec.replicas through the scale subresource, as `kubectl scale` and an HPA do.

    Admission reads the AIService from an informer, so right after the operator lifts a cap the policy
    may still see the old one for a moment: a denial is retried briefly before it is reported.
    """
    deadline = time.monotonic() + retry_for
    delay = 0.05
    while True:
        try:
            clients.apps.patch_namespaced_deployment_scale(
                name,
                namespace,
                {"spec": {"replicas": replicas}},
                field_manager=field_manager,
                _content_type=MERGE_PATCH,
                _preload_content=False,
            )
            return
        except ApiException as exc:
            if exc.status in (403, 422) and time.monotonic() < deadline:
                time.sleep(delay)
                delay = min(delay * 2, 0.5)
                continue
            raise


def patch_deployment_metadata(
    clients: Clients, namespace: str, name: str, metadata: dict[str, Any], field_manager: str
) -> None:
    clients.apps.patch_namespaced_deployment(
        name,
        namespace,
        {"metadata": metadata},
        field_manager=field_manager,
        _content_type=MERGE_PATCH,
        _preload_content=False,
    )


def patch_status(
    clients: Clients, plural: str, namespace: str | None, name: str, patch: dict[str, Any], field_manager: str
) -> None:
    """Merge-patches the status subresource of one of Airlock's custom resources."""
    body = {"status": patch}
    if namespace is None:
        clients.custom.patch_cluster_custom_object_status(
            GROUP,
            VERSION,
            plural,
            name,
            body,
            field_manager=field_manager,
            _content_type=MERGE_PATCH,
            _preload_content=False,
        )
    else:
        clients.custom.patch_namespaced_custom_object_status(
            GROUP,
            VERSION,
            namespace,
            plural,
            name,
            body,
            field_manager=field_manager,
            _content_type=MERGE_PATCH,
            _preload_content=False,
        )


def emit_event(clients: Clients, involved: dict[str, Any], type_: str, reason: str, message: str) -> None:
    """A core/v1 Event on `involved` (apiVersion, kind, name, namespace, uid); failures are logged only."""
    now = dt.datetime.now(dt.UTC)
    namespace = involved.get("namespace") or "default"
    body = {
        "metadata": {"generateName": f"{involved['name']}.", "namespace": namespace},
        "involvedObject": involved,
        "type": type_,
        "reason": reason,
        "message": message[:1024],
        "source": {"component": COMPONENT},
        "reportingComponent": f"{GROUP}/operator",
        "reportingInstance": COMPONENT,
        "firstTimestamp": now.isoformat(),
        "lastTimestamp": now.isoformat(),
        "count": 1,
    }
    try:
        clients.core.create_namespaced_event(namespace, body, _preload_content=False)
    except ApiException as exc:
        log.warning(
            "could not record event %s on %s/%s: %s", reason, namespace, involved.get("name"), exc.reason
        )
