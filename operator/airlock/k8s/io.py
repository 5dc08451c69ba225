"""Thin I/O over the kubernetes client: read, patch, scale, emit. No decisions here.

Every call carries a request timeout: a connection that stops answering (a half-dead proxy or load
balancer) fails the call within seconds instead of hanging a worker forever. A call that fails on the
connection itself drops every pooled connection, since its siblings are likely just as dead, and is tried
once more on a fresh one; anything still failing is raised for the caller to retry later.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pydantic
import urllib3
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from airlock.k8s.denials import retry_denials
from airlock.logic.retry import Failure
from airlock.models.base import GROUP, VERSION
from airlock.models.service import WorkloadType

log = logging.getLogger("airlock.k8s")

MERGE_PATCH = "application/merge-patch+json"
COMPONENT = "airlock-operator"
# (connect, read) seconds. Every request the operator makes is small; a read that takes longer than this
# is a stuck connection, not a slow answer, and the reconcile that made it is retried.
REQUEST_TIMEOUT = (3.0, 3.0)


class ConflictError(Exception):
    """A write carried a resourceVersion precondition and the object had changed since (HTTP 409)."""


def failure_kind(exc: BaseException) -> Failure:
    """What a failed pass met, from the exception it raised (see logic/retry)."""
    if isinstance(exc, ConflictError | TimeoutError | ConnectionError | urllib3.exceptions.HTTPError):
        return Failure.TRANSIENT
    if isinstance(exc, ApiException):
        status = exc.status or 0
        # 404/410: the object went away during the pass; the retry soon finds it gone and forgets it.
        transient = status in (404, 409, 410, 429) or status >= 500 or status == 0
        return Failure.TRANSIENT if transient else Failure.REFUSED
    if isinstance(exc, pydantic.ValidationError):
        return Failure.INVALID
    return Failure.BUG


class Clients:
    """The API groups the operator uses, over one connection pool. `timeout` is every request's, unless
    the call sets its own; with `reconnect`, a call that fails on the connection is tried once more on a
    fresh pool (the operator's choice; `kubectl airlock` reports the failure at once instead)."""

    def __init__(
        self, api_client: Any, timeout: float | tuple[float, float] | None = None, reconnect: bool = True
    ) -> None:
        self.api_client = api_client
        self.timeout = REQUEST_TIMEOUT if timeout is None else timeout
        self.reconnect = reconnect
        self.apps = client.AppsV1Api(api_client)
        self.core = client.CoreV1Api(api_client)
        self.custom = client.CustomObjectsApi(api_client)


def load_api_client(kubeconfig: str | None = None) -> Any:
    """In-cluster configuration when running in a Pod, else the kubeconfig (KUBECONFIG or ~/.kube/config)."""
    configuration = client.Configuration()
    loaded = False
    if kubeconfig is None:
        try:
            config.load_incluster_config(client_configuration=configuration)
            loaded = True
        except config.ConfigException:
            pass
    if not loaded:
        config.load_kube_config(config_file=kubeconfig, client_configuration=configuration)
    # urllib3's own retries would try a timed-out request again on another pooled connection that is
    # probably stuck the same way; `_call` retries once on a fresh pool instead.
    configuration.retries = False
    return client.ApiClient(configuration=configuration)


def _call(clients: Clients, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Calls the API with a request timeout; a broken connection is retried once on a fresh pool."""
    kwargs.setdefault("_request_timeout", clients.timeout)
    try:
        return _complete(fn(*args, **kwargs), kwargs)
    except urllib3.exceptions.HTTPError as exc:
        if not clients.reconnect:
            raise
        log.warning("API request failed on the connection (%s); reconnecting and trying once more", exc)
        reset_connections(clients)
        return _complete(fn(*args, **kwargs), kwargs)


def _complete(resp: Any, kwargs: dict[str, Any]) -> Any:
    # An unparsed response is read later; read it now, under the same timeout and the same retry.
    if kwargs.get("_preload_content") is False:
        _ = resp.data
    return resp


def reset_connections(clients: Clients) -> None:
    """Closes every pooled connection, so the next request opens a new one."""
    pool = getattr(getattr(clients.api_client, "rest_client", None), "pool_manager", None)
    if pool is not None:
        pool.clear()


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


def _read_or_none(clients: Clients, fn: Callable[..., Any], *args: Any) -> dict[str, Any] | None:
    """A GET as a plain dict, or None when the object does not exist."""
    try:
        resp: Any = _call(clients, fn, *args, _preload_content=False)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise
    data: dict[str, Any] = json.loads(resp.data)
    return data


def read_workload(clients: Clients, kind: WorkloadType, namespace: str, name: str) -> dict[str, Any] | None:
    """The governed workload (a Deployment, StatefulSet or Rollout) as a plain dict, or None when it does
    not exist (or its kind is not served: a Rollout on a cluster without Argo Rollouts' CRD)."""
    return _read_or_none(
        clients,
        clients.custom.get_namespaced_custom_object,
        kind.group,
        kind.version,
        namespace,
        kind.plural,
        name,
    )


LIST_PAGE = 500
LIST_TIMEOUT = 60.0


def list_custom_objects(
    clients: Clients, plural: str, namespaces: Sequence[str], cluster_scoped: bool = False
) -> tuple[list[dict[str, Any]], str | None]:
    """Every object of one of Airlock's kinds, page by page: in `namespaces`, or cluster-wide when there
    are none (or the kind is cluster-scoped). Returns the items and the oldest list resourceVersion."""
    items: list[dict[str, Any]] = []
    versions: list[int] = []
    scopes: list[str | None] = [None] if cluster_scoped or not namespaces else list(namespaces)
    for namespace in scopes:
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {
                "limit": LIST_PAGE,
                "_request_timeout": LIST_TIMEOUT,
                "_preload_content": False,
            }
            if token:
                kwargs["_continue"] = token
            if namespace is None:
                resp = _call(
                    clients, clients.custom.list_cluster_custom_object, GROUP, VERSION, plural, **kwargs
                )
            else:
                resp = _call(
                    clients,
                    clients.custom.list_namespaced_custom_object,
                    GROUP,
                    VERSION,
                    namespace,
                    plural,
                    **kwargs,
                )
            data = json.loads(resp.data)
            items.extend(data.get("items") or [])
            meta = data.get("metadata") or {}
            token = meta.get("continue") or None
            if not token:
                version = meta.get("resourceVersion") or ""
                if version.isdigit():
                    versions.append(int(version))
                break
    return items, (str(min(versions)) if versions else None)


def list_namespaces(clients: Clients) -> tuple[list[dict[str, Any]], str | None]:
    """Every Namespace (their labels say which are governed), page by page; the items and the list's
    resourceVersion."""
    items: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        kwargs: dict[str, Any] = {
            "limit": LIST_PAGE,
            "_request_timeout": LIST_TIMEOUT,
            "_preload_content": False,
        }
        if token:
            kwargs["_continue"] = token
        data = json.loads(_call(clients, clients.core.list_namespace, **kwargs).data)
        items.extend(data.get("items") or [])
        meta = data.get("metadata") or {}
        token = meta.get("continue") or None
        if not token:
            return items, meta.get("resourceVersion") or None


def read_custom_object(
    clients: Clients, plural: str, namespace: str | None, name: str
) -> dict[str, Any] | None:
    """One of Airlock's custom resources, read fresh from the API server; None when it does not exist."""
    try:
        return get_custom_object(clients, plural, namespace, name)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise


def get_custom_object(clients: Clients, plural: str, namespace: str | None, name: str) -> dict[str, Any]:
    """One of Airlock's custom resources, read fresh from the API server; every failure, a 404 included,
    is raised (its body tells a missing object from a kind the server does not serve)."""
    args: tuple[str, ...]
    if namespace is None:
        fn, args = clients.custom.get_cluster_custom_object, (GROUP, VERSION, plural, name)
    else:
        fn, args = clients.custom.get_namespaced_custom_object, (GROUP, VERSION, namespace, plural, name)
    data: dict[str, Any] = json.loads(_call(clients, fn, *args, _preload_content=False).data)
    return data


def patch_scale(
    clients: Clients,
    kind: WorkloadType,
    namespace: str,
    name: str,
    replicas: int,
    field_manager: str,
    retry_for: float = 5.0,
) -> None:
    """Writes spec.replicas through the scale subresource, as `kubectl scale` and an HPA do.

    Admission reads the AIService from an informer, so right after the operator lifts a cap the policy
    may still see the old one for a moment: a denial is retried briefly before it is reported.
    """
    retry_denials(
        lambda: _call(
            clients,
            clients.custom.patch_namespaced_custom_object_scale,
            kind.group,
            kind.version,
            namespace,
            kind.plural,
            name,
            {"spec": {"replicas": replicas}},
            field_manager=field_manager,
            _content_type=MERGE_PATCH,
            _preload_content=False,
        ),
        _denied,
        retry_for,
    )


def _denied(exc: Exception) -> bool:
    return isinstance(exc, ApiException) and exc.status in (403, 422)


def patch_workload(
    clients: Clients,
    kind: WorkloadType,
    namespace: str,
    name: str,
    patch: Mapping[str, Any],
    field_manager: str,
    resource_version: str | None = None,
    retry_for: float = 5.0,
) -> None:
    """One merge patch of the workload itself: the kill switch's scale and its record in one request.

    With `resource_version`, the write applies only to that version and raises ConflictError otherwise.
    A denial is retried briefly, as in patch_scale (admission may not have seen a cap lifted yet).
    """
    body = dict(patch)
    if resource_version is not None:
        body["metadata"] = {**dict(body.get("metadata") or {}), "resourceVersion": resource_version}

    def write() -> None:
        try:
            _call(
                clients,
                clients.custom.patch_namespaced_custom_object,
                kind.group,
                kind.version,
                namespace,
                kind.plural,
                name,
                body,
                field_manager=field_manager,
                _content_type=MERGE_PATCH,
                _preload_content=False,
            )
        except ApiException as exc:
            if exc.status == 409:
                raise ConflictError(
                    f"{kind.kind} {namespace}/{name} changed since resourceVersion {resource_version}"
                ) from exc
            raise

    retry_denials(write, _denied, retry_for)


def patch_workload_metadata(
    clients: Clients,
    kind: WorkloadType,
    namespace: str,
    name: str,
    metadata: dict[str, Any],
    field_manager: str,
) -> None:
    """Merge-patches labels and annotations on the workload's own metadata (never its pod template)."""
    _call(
        clients,
        clients.custom.patch_namespaced_custom_object,
        kind.group,
        kind.version,
        namespace,
        kind.plural,
        name,
        {"metadata": metadata},
        field_manager=field_manager,
        _content_type=MERGE_PATCH,
        _preload_content=False,
    )


KEDA = ("keda.sh", "v1alpha1", "scaledobjects")
HPA = ("autoscaling", "v2", "horizontalpodautoscalers")


def list_hpas(clients: Clients, namespace: str) -> list[dict[str, Any]]:
    """Every HorizontalPodAutoscaler in `namespace` (autoscaling/v2)."""
    resp: Any = _call(
        clients,
        clients.custom.list_namespaced_custom_object,
        *HPA[:2],
        namespace,
        HPA[2],
        _preload_content=False,
    )
    items: list[dict[str, Any]] = json.loads(resp.data).get("items") or []
    return items


def list_scaled_objects(clients: Clients, namespace: str) -> list[dict[str, Any]]:
    """Every KEDA ScaledObject in `namespace` (a namespace holds few); empty when KEDA is not installed."""
    try:
        resp: Any = _call(
            clients,
            clients.custom.list_namespaced_custom_object,
            KEDA[0],
            KEDA[1],
            namespace,
            KEDA[2],
            _preload_content=False,
        )
    except ApiException as exc:
        if exc.status == 404:
            return []
        raise
    items: list[dict[str, Any]] = json.loads(resp.data).get("items") or []
    return items


def patch_scaled_object_annotations(
    clients: Clients, namespace: str, name: str, annotations: Mapping[str, str | None], field_manager: str
) -> None:
    """Merge-patches annotations of a ScaledObject (KEDA's pause); None removes one."""
    _call(
        clients,
        clients.custom.patch_namespaced_custom_object,
        *KEDA[:2],
        namespace,
        KEDA[2],
        name,
        {"metadata": {"annotations": dict(annotations)}},
        field_manager=field_manager,
        _content_type=MERGE_PATCH,
        _preload_content=False,
    )


def patch_annotations(
    clients: Clients,
    plural: str,
    namespace: str,
    name: str,
    annotations: Mapping[str, str | None],
    field_manager: str,
) -> None:
    """Merge-patches annotations of one of Airlock's namespaced custom resources; None removes one."""
    _call(
        clients,
        clients.custom.patch_namespaced_custom_object,
        GROUP,
        VERSION,
        namespace,
        plural,
        name,
        {"metadata": {"annotations": dict(annotations)}},
        field_manager=field_manager,
        _content_type=MERGE_PATCH,
        _preload_content=False,
    )


def patch_status(
    clients: Clients,
    plural: str,
    namespace: str | None,
    name: str,
    patch: dict[str, Any],
    field_manager: str,
    resource_version: str | None = None,
) -> str | None:
    """Merge-patches the status subresource of one of Airlock's custom resources.

    With `resource_version`, the write only applies to that version of the object and raises ConflictError
    otherwise: a decision taken on a stale view is never written over a newer one. Returns the
    object's new resourceVersion.
    """
    body: dict[str, Any] = {"status": patch}
    if resource_version is not None:
        body["metadata"] = {"resourceVersion": resource_version}
    scope: tuple[str, ...]
    if namespace is None:
        fn, scope = clients.custom.patch_cluster_custom_object_status, (GROUP, VERSION)
    else:
        fn, scope = clients.custom.patch_namespaced_custom_object_status, (GROUP, VERSION, namespace)
    try:
        resp: Any = _call(
            clients,
            fn,
            *scope,
            plural,
            name,
            body,
            field_manager=field_manager,
            _content_type=MERGE_PATCH,
            _preload_content=False,
        )
    except ApiException as exc:
        if exc.status == 409:
            raise ConflictError(
                f"{plural} {namespace}/{name} changed since resourceVersion {resource_version}"
            ) from exc
        raise
    version: str | None = (json.loads(resp.data).get("metadata") or {}).get("resourceVersion")
    return version


def emit_event(
    clients: Clients,
    involved: dict[str, Any],
    type_: str,
    reason: str,
    message: str,
    name: str | None = None,
) -> None:
    """A core/v1 Event on `involved` (apiVersion, kind, name, namespace, uid); failures are logged only.

    With `name`, the Event is created under that exact name and a second attempt (a pass repeated after
    a crash, or another operator replica) finds it already there and records nothing more.
    """
    now = dt.datetime.now(dt.UTC)
    namespace = involved.get("namespace") or "default"
    metadata = {"name": name} if name else {"generateName": f"{involved['name']}."}
    body = {
        "metadata": {**metadata, "namespace": namespace},
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
        _call(clients, clients.core.create_namespaced_event, namespace, body, _preload_content=False)
    except ApiException as exc:
        if exc.status == 409 and name:
            log.debug("event %s on %s/%s was already recorded", reason, namespace, involved.get("name"))
            return
        log.warning(
            "could not record event %s on %s/%s: %s", reason, namespace, involved.get("name"), exc.reason
        )
    except urllib3.exceptions.HTTPError as exc:
        log.warning("could not record event %s on %s/%s: %s", reason, namespace, involved.get("name"), exc)
