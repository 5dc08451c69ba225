"""The API calls `kubectl airlock` makes, over the current kubeconfig and context (cli/kubectl_plugin.py
turns them into commands; this module is where they meet the kubernetes client).

Every expected failure (no kubeconfig, an unreachable server, a refusal) becomes a PluginError carrying the
message to print and the exit code, so the commands never show a Python traceback for them. The kubernetes
package is imported here only, and only when a command runs, so `--help` starts at once.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from airlock.models.base import GROUP, VERSION
from airlock.models.packet import PLURAL as PACKET_PLURAL
from airlock.models.policy import DEFAULT_POLICY_NAME
from airlock.models.policy import PLURAL as POLICY_PLURAL
from airlock.models.service import PLURAL as SERVICE_PLURAL
from airlock.models.service import WORKLOAD_TYPES, WorkloadKind, WorkloadType

JsonObject = dict[str, object]

EXIT_FAILED = 1
EXIT_USAGE = 2
# One slow request must not hang a person at 3 a.m.; kubectl's own default is no limit.
REQUEST_TIMEOUT = 15.0
FIELD_MANAGER = "kubectl-airlock"
DEFAULT_KUBECONFIG = Path("~/.kube/config")


@dataclass(frozen=True)
class Workload:
    """A Deployment's spec.replicas, or why it is not known ("unreadable": RBAC does not allow reading it)."""

    name: str
    state: Literal["found", "missing", "unreadable"]
    replicas: int | None = None


def _workload_type(kind: str) -> WorkloadType:
    """Where a kind of workload lives in the API; an unknown kind is read as a Deployment (the CRD refuses
    anything else, so only an object from a newer Airlock could name one)."""
    try:
        return WORKLOAD_TYPES[WorkloadKind(kind)]
    except ValueError:
        return WORKLOAD_TYPES[WorkloadKind.DEPLOYMENT]


class PluginError(Exception):
    """An expected failure: `str(error)` is the whole message for the person, `exit_code` what to return."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class ConflictError(PluginError):
    """The object changed between read and write (HTTP 409)."""


def kubeconfig_paths(explicit: str | None, environ: Mapping[str, str] | None = None) -> list[Path]:
    """The kubeconfig files kubectl would read: --kubeconfig, else every file in KUBECONFIG, else
    ~/.kube/config; only the ones that exist."""
    env = os.environ if environ is None else environ
    if explicit:
        candidates = [Path(explicit).expanduser()]
    elif env.get("KUBECONFIG"):
        candidates = [Path(p).expanduser() for p in env["KUBECONFIG"].split(os.pathsep) if p]
    else:
        candidates = [DEFAULT_KUBECONFIG.expanduser()]
    return [p for p in candidates if p.is_file()]


def _no_kubeconfig_message(explicit: str | None) -> str:
    if explicit:
        return f"kubeconfig {explicit} does not exist; pass the path of a kubeconfig file to --kubeconfig."
    if os.environ.get("KUBECONFIG"):
        return (
            f"no kubeconfig found: none of the files in KUBECONFIG ({os.environ['KUBECONFIG']}) exists; "
            "fix KUBECONFIG or pass --kubeconfig."
        )
    return (
        f"no kubeconfig found: {DEFAULT_KUBECONFIG} does not exist and KUBECONFIG is not set; set KUBECONFIG "
        "or pass --kubeconfig, as for kubectl."
    )


class Api:
    """One connection to the API server of the chosen context, with the calls the commands need."""

    def __init__(self, kubeconfig: str | None, context: str | None) -> None:
        from kubernetes import client, config

        from airlock.k8s import io

        paths = kubeconfig_paths(kubeconfig)
        if not paths:
            raise PluginError(_no_kubeconfig_message(kubeconfig), EXIT_USAGE)
        # The client merges a KUBECONFIG list itself, as kubectl does.
        config_file = kubeconfig or os.environ.get("KUBECONFIG") or str(paths[0])
        try:
            contexts, current = config.list_kube_config_contexts(config_file=config_file)
            chosen = current
            if context is not None:
                chosen = next((c for c in contexts or [] if c.get("name") == context), None)
                if chosen is None:
                    raise PluginError(
                        f"context {context} is not in the kubeconfig; "
                        "`kubectl config get-contexts` lists them.",
                        EXIT_USAGE,
                    )
            configuration = client.Configuration()
            # Fail fast when the server is down instead of urllib3's three silent retries.
            configuration.retries = 1
            config.load_kube_config(
                config_file=config_file,
                context=context,
                client_configuration=configuration,
                persist_config=False,
            )
        except config.ConfigException as exc:
            raise PluginError(f"cannot use the kubeconfig ({config_file}): {exc}", EXIT_USAGE) from exc
        self.context = str((chosen or {}).get("name") or "")
        self.default_namespace = str(((chosen or {}).get("context") or {}).get("namespace") or "default")
        self.server = str(configuration.host)
        self._client = client.ApiClient(configuration)
        # The operator's calls, with this command's timeout; a broken connection is reported at once.
        self._clients = io.Clients(self._client, timeout=REQUEST_TIMEOUT, reconnect=False)
        self._custom = self._clients.custom
        self._apps = self._clients.apps
        self._authn = client.AuthenticationV1Api(self._client)
        self._core = self._clients.core

    def close(self) -> None:
        self._client.close()

    @contextmanager
    def _calls(self, doing: str) -> Iterator[None]:
        """Turns client and network failures into PluginErrors; `doing` completes "cannot …"."""
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        try:
            yield
        except ApiException as exc:
            if exc.status == 409:
                raise ConflictError(f"cannot {doing}: {server_message(exc)}") from exc
            raise PluginError(f"cannot {doing}: {server_message(exc)}") from exc
        except HTTPError as exc:
            raise PluginError(
                f"cannot {doing}: cannot reach the API server at {self.server} "
                f"(context {self.context or '?'}): {_root_cause(exc)}; check that the cluster is up and the "
                "kubeconfig points at it."
            ) from exc

    # --- AIServices and packets -------------------------------------------------------------------------

    def list_services(self, namespace: str | None) -> list[JsonObject]:
        """AIServices in `namespace`, or in every namespace when it is None, sorted by namespace and name."""
        where = f"in namespace {namespace}" if namespace else "in any namespace"
        with self._calls(f"list AIServices {where}"):
            try:
                if namespace is None:
                    resp = self._custom.list_cluster_custom_object(
                        GROUP,
                        VERSION,
                        SERVICE_PLURAL,
                        _preload_content=False,
                        _request_timeout=REQUEST_TIMEOUT,
                    )
                else:
                    resp = self._custom.list_namespaced_custom_object(
                        GROUP,
                        VERSION,
                        namespace,
                        SERVICE_PLURAL,
                        _preload_content=False,
                        _request_timeout=REQUEST_TIMEOUT,
                    )
            except Exception as exc:
                _raise_if_api_missing(exc, "AIService")
                raise
        items = _items(_json(resp))
        return sorted(items, key=lambda o: (_meta(o, "namespace"), _meta(o, "name")))

    def get_service(self, namespace: str, name: str) -> JsonObject:
        """The AIService; a missing one is a PluginError that says how to list the existing ones."""
        return self._get_custom(
            SERVICE_PLURAL,
            "AIService",
            namespace,
            name,
            hint=f"`kubectl airlock status -n {namespace}` lists them",
        )

    def get_packet(self, namespace: str, name: str) -> JsonObject:
        """The ReadinessPacket; a missing one is a PluginError that says how to list the existing ones."""
        return self._get_custom(
            PACKET_PLURAL,
            "ReadinessPacket",
            namespace,
            name,
            hint=f"`kubectl get readinesspackets -n {namespace}` lists them",
        )

    def _get_custom(self, plural: str, kind: str, namespace: str, name: str, *, hint: str) -> JsonObject:
        from kubernetes.client.exceptions import ApiException

        from airlock.k8s import io

        with self._calls(f"read {kind} {namespace}/{name}"):
            try:
                return io.get_custom_object(self._clients, plural, namespace, name)
            except ApiException as exc:
                _raise_if_api_missing(exc, kind)
                if exc.status == 404:
                    raise PluginError(f"{kind} {namespace}/{name} not found; {hint}.") from exc
                raise

    def patch_service_annotations(
        self, namespace: str, name: str, annotations: Mapping[str, str | None], *, doing: str
    ) -> None:
        """Merge-patches annotations on an AIService; None removes one. `doing` completes "cannot …"."""
        from airlock.k8s import io

        with self._calls(doing):
            io.patch_annotations(self._clients, SERVICE_PLURAL, namespace, name, annotations, FIELD_MANAGER)

    def replace_packet(self, namespace: str, name: str, body: Mapping[str, object]) -> JsonObject:
        """Replaces the packet; the body's resourceVersion makes a concurrent change a ConflictError."""
        with self._calls(f"update ReadinessPacket {namespace}/{name}"):
            resp = self._custom.replace_namespaced_custom_object(
                GROUP,
                VERSION,
                namespace,
                PACKET_PLURAL,
                name,
                dict(body),
                field_manager=FIELD_MANAGER,
                _preload_content=False,
                _request_timeout=REQUEST_TIMEOUT,
            )
        return _json(resp)

    # --- Deployments --------------------------------------------------------------------------------------

    def read_workload(self, namespace: str, name: str, kind: str = "Deployment") -> Workload:
        """The workload's spec.replicas; "unreadable" when RBAC does not allow reading it."""
        from kubernetes.client.exceptions import ApiException

        from airlock.k8s import io

        with self._calls(f"read {kind} {namespace}/{name}"):
            try:
                found = io.read_workload(self._clients, _workload_type(kind), namespace, name)
            except ApiException as exc:
                if exc.status == 403:
                    return Workload(name, "unreadable")
                raise
        return Workload(name, "missing") if found is None else Workload(name, "found", _replicas(found))

    def read_scale(self, namespace: str, name: str, kind: str = "Deployment") -> Workload:
        """The workload's replicas through its scale subresource (what `kubectl scale` needs), falling
        back to the workload itself; "unreadable" when RBAC allows neither."""
        from kubernetes.client.exceptions import ApiException

        wt = _workload_type(kind)
        with self._calls(f"read the scale of {kind} {namespace}/{name}"):
            try:
                resp = self._custom.get_namespaced_custom_object_scale(
                    wt.group,
                    wt.version,
                    namespace,
                    wt.plural,
                    name,
                    _preload_content=False,
                    _request_timeout=REQUEST_TIMEOUT,
                )
            except ApiException as exc:
                if exc.status == 404:
                    return Workload(name, "missing")
                if exc.status == 403:
                    return self.read_workload(namespace, name, kind)
                raise
        spec = _json(resp).get("spec")
        replicas = spec.get("replicas") if isinstance(spec, dict) else None
        # A Scale omits spec.replicas when it is 0.
        return Workload(name, "found", replicas if isinstance(replicas, int) else 0)

    def deployment_replicas(self, namespace: str) -> dict[str, int] | None:
        """spec.replicas of every Deployment in `namespace`, or None when RBAC does not allow listing them."""
        from kubernetes.client.exceptions import ApiException

        with self._calls(f"list Deployments in namespace {namespace}"):
            try:
                resp = self._apps.list_namespaced_deployment(
                    namespace, _preload_content=False, _request_timeout=REQUEST_TIMEOUT
                )
            except ApiException as exc:
                if exc.status == 403:
                    return None
                raise
        items = _items(_json(resp))
        return {_meta(i, "name"): _replicas(i) for i in items}

    # --- the record: events and the policy ---------------------------------------------------------------

    def list_events(self, namespace: str, kind: str, name: str) -> list[JsonObject] | None:
        """The core/v1 Events about one object, or None when RBAC does not allow listing Events."""
        from kubernetes.client.exceptions import ApiException

        selector = f"involvedObject.kind={kind},involvedObject.name={name}"
        with self._calls(f"list the Events of {kind} {namespace}/{name}"):
            try:
                resp = self._core.list_namespaced_event(
                    namespace,
                    field_selector=selector,
                    _preload_content=False,
                    _request_timeout=REQUEST_TIMEOUT,
                )
            except ApiException as exc:
                if exc.status == 403:
                    return None
                raise
        return _items(_json(resp))

    def get_policy(self) -> JsonObject | None:
        """The ReadinessPolicy `default`, or None when there is none or it may not be read."""
        from kubernetes.client.exceptions import ApiException

        from airlock.k8s import io

        with self._calls("read ReadinessPolicy default"):
            try:
                return io.read_custom_object(self._clients, POLICY_PLURAL, None, DEFAULT_POLICY_NAME)
            except ApiException as exc:
                if exc.status == 403:
                    return None
                raise

    # --- identity -----------------------------------------------------------------------------------------

    def whoami(self) -> str:
        """The username the API server authenticates this kubeconfig as (a SelfSubjectReview)."""
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
        with self._calls("ask the API server who you are (SelfSubjectReview)"):
            resp = self._authn.create_self_subject_review(
                body, _preload_content=False, _request_timeout=REQUEST_TIMEOUT
            )
        user_info = _json(resp).get("status")
        username = (
            (user_info or {}).get("userInfo", {}).get("username") if isinstance(user_info, dict) else None
        )
        if not isinstance(username, str) or not username:
            raise PluginError("the API server did not say who you are (SelfSubjectReview has no username).")
        return username


def server_message(exc: Any) -> str:
    """The `message` of the Status the API server returned, verbatim; the HTTP reason when there is none."""
    body = getattr(exc, "body", None)
    if body:
        try:
            status = json.loads(body)
        except (TypeError, ValueError):
            return str(body).strip()
        if isinstance(status, dict) and isinstance(status.get("message"), str):
            return str(status["message"])
    return f"HTTP {getattr(exc, 'status', '?')} {getattr(exc, 'reason', '')}".strip()


def _raise_if_api_missing(exc: Exception, kind: str) -> None:
    # A 404 without details.name comes from a missing resource type, not a missing object.
    from kubernetes.client.exceptions import ApiException

    if not isinstance(exc, ApiException) or exc.status != 404:
        return
    try:
        details = json.loads(exc.body or "{}").get("details") or {}
    except (TypeError, ValueError, AttributeError):
        details = {}
    if not details.get("name"):
        raise PluginError(
            f"this cluster does not serve {kind} ({GROUP}/{VERSION}); install Airlock's CRDs (crds/) first."
        ) from exc


def _root_cause(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    return str(reason or exc)


def _json(resp: Any) -> JsonObject:
    data = json.loads(resp.data)
    return data if isinstance(data, dict) else {}


def _items(listing: JsonObject) -> list[JsonObject]:
    items = listing.get("items")
    return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []


def _meta(obj: Mapping[str, Any], key: str) -> str:
    meta = obj.get("metadata")
    return str(meta.get(key) or "") if isinstance(meta, dict) else ""


def _replicas(deployment: Mapping[str, Any]) -> int:
    spec = deployment.get("spec")
    replicas = spec.get("replicas") if isinstance(spec, dict) else None
    # The API server defaults spec.replicas to 1; an absent field in a stored object means the same.
    return replicas if isinstance(replicas, int) else 1
