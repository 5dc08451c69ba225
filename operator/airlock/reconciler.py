"""Gather -> plan -> apply for one AIService or ReadinessPacket.

The only I/O of a reconcile pass lives here (through airlock.k8s.io); the decisions are in airlock.logic.
Every trigger (an AIService, packet, policy or Deployment event, a timer, a resync) calls the same
idempotent functions, and a pass that changes nothing writes nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from pydantic import ValidationError

from airlock.config import Settings
from airlock.inventory import Inventory
from airlock.k8s import io
from airlock.logic.autoscalers import (
    CAPPED_BY_AIRLOCK,
    KEDA_DEFAULT_MAX,
    AutoscalerView,
    ScaledObjectView,
    plan_capped_warnings,
    plan_pauses,
)
from airlock.logic.cap import Claim, enforced_cap, strictest_claim
from airlock.logic.events import Event, EventReason, interrupted_kill_event, kill_event_name
from airlock.logic.killswitch import parse_kill_switch, transition_pending
from airlock.logic.packet_plan import PacketPlan, SeenApprovals, plan_packet
from airlock.logic.policy import effective_policy
from airlock.logic.reconcile import (
    Plan,
    ServiceView,
    Workload,
    plan_deletion,
    plan_invalid_service,
    plan_service,
)
from airlock.logic.retry import Failure, Retry, retry_after
from airlock.metrics import Metrics
from airlock.models import packet as packet_model
from airlock.models import policy as policy_model
from airlock.models import service as service_model
from airlock.models.base import API_VERSION, GOVERNED_LABEL, GOVERNED_VALUE
from airlock.models.common import Versions
from airlock.models.packet import ReadinessPacketSpec, ReadinessPacketStatus
from airlock.models.policy import ReadinessPolicySpec
from airlock.models.service import (
    WORKLOAD_TYPES,
    AIServiceSpec,
    AIServiceStatus,
    WorkloadKind,
    WorkloadRef,
    WorkloadType,
)
from airlock.workqueue import WorkQueue

log = logging.getLogger("airlock")

Key = tuple[str, str]  # (namespace, name)

# A failed pass is tried again on the schedule its kind of failure calls for (logic/retry): kopf does not
# retry event handlers, so without this an API hiccup would leave a kill switch unacted on until the resync.
KINDS = {"service": service_model.KIND, "packet": packet_model.KIND}
# A status write that loses a race re-reads the object and plans again; after this many losses in a row
# the pass gives up and is retried later like any other failure.
CONFLICT_ATTEMPTS = 5


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def service_view(
    body: Mapping[str, Any], namespace_governed: bool = True, kinds: Iterable[WorkloadKind] | None = None
) -> ServiceView:
    """An AIService body from the API as a view the planner takes; raises ValidationError on bad data."""
    meta = body.get("metadata", {})
    status = body.get("status")
    spec = AIServiceSpec.model_validate(body.get("spec") or {})
    return ServiceView(
        name=meta["name"],
        namespace=meta.get("namespace", ""),
        namespace_governed=namespace_governed,
        kind_enabled=kinds is None or spec.workload.kind in set(kinds),
        generation=meta.get("generation"),
        annotations=dict(meta.get("annotations") or {}),
        spec=spec,
        status=_lenient_status(AIServiceStatus, status),
    )


def _lenient_status(model: Any, raw: Any) -> Any:
    """A status the operator wrote earlier; an unreadable one (older version) is treated as absent."""
    if not raw:
        return None
    try:
        return model.model_validate(raw)
    except ValidationError:
        return None


class ParsedPackets:
    """Each packet's spec as parsed from one resourceVersion, or why it does not parse: the models validate
    a packet once per version, not once per service pass over its namespace."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._parsed: dict[str, dict[str, tuple[str, ReadinessPacketSpec | ValidationError]]] = {}

    def parse(self, body: Mapping[str, Any]) -> ReadinessPacketSpec | ValidationError:
        """The spec of a packet body, parsed now unless it was parsed from this resourceVersion before."""
        meta = body.get("metadata") or {}
        namespace, name, version = meta.get("namespace") or "", meta["name"], meta.get("resourceVersion")
        with self._lock:
            cached = self._parsed.get(namespace, {}).get(name)
        if version and cached is not None and cached[0] == version:
            return cached[1]
        parsed: ReadinessPacketSpec | ValidationError
        try:
            parsed = ReadinessPacketSpec.model_validate(body.get("spec") or {})
        except ValidationError as exc:
            parsed = exc
        if version:
            with self._lock:
                self._parsed.setdefault(namespace, {})[name] = (version, parsed)
        return parsed

    def keep_only(self, namespace: str, names: set[str]) -> None:
        """Drops the packets of `namespace` no longer listed (a deletion a resync found)."""
        with self._lock:
            cached = self._parsed.get(namespace)
            if cached is not None:
                for name in cached.keys() - names:
                    del cached[name]

    def forget(self, key: Key) -> None:
        with self._lock:
            self._parsed.get(key[0], {}).pop(key[1], None)


# A service whose generation no event has shown yet: its first event re-evaluates its packets.
UNSEEN: Final = object()


@dataclass
class ServiceMemory:
    """What this process remembers of one AIService between passes; forgetting the service drops it
    whole, so nothing of a deleted service is left behind in a field someone forgot to clear."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    #: When another pass is due (evidence lapsing, a failed pass retried); None: no timer.
    due: dt.datetime | None = None
    #: Passes failed in a row.
    failures: int = 0
    #: The resourceVersion of this process's last status write: a trigger carrying an older body (the
    #: echo of that write, an index not caught up yet) re-reads the object instead of planning from it,
    #: so a transition is never announced or acted on twice.
    written_version: str | None = None
    #: The generation whose packets were last re-evaluated (only a spec change can change their gates).
    generation: object = UNSEEN


@dataclass
class PacketMemory:
    """What this process remembers of one ReadinessPacket between passes; dropped whole with it."""

    #: When its failed pass is tried again; None: not due.
    due: dt.datetime | None = None
    failures: int = 0
    #: The approvals last seen, role -> (by, digest), and the resourceVersion they were seen in. Filled on
    #: first sight after a start without announcing anything, so a restart replays no approval as news.
    approvals: dict[str, tuple[str, str]] | None = None
    approvals_version: str | None = None


@dataclass
class Runtime:
    """What one operator process holds: clients, settings, metrics, what it remembers per object, and
    the inventory of services, packets and the policy that the watch events keep current."""

    clients: io.Clients
    settings: Settings
    metrics: Metrics
    inventory: Inventory = field(default_factory=Inventory)
    # Every service pass goes through this queue: kill switches first, namespaces in turn.
    queue: WorkQueue = field(default_factory=WorkQueue)
    # Each packet's spec parsed once per resourceVersion: every service pass reads its namespace's packets.
    packet_specs: ParsedPackets = field(default_factory=ParsedPackets)
    _services: dict[Key, ServiceMemory] = field(default_factory=dict)
    _packets: dict[Key, PacketMemory] = field(default_factory=dict)
    _guard: threading.Lock = field(default_factory=threading.Lock)

    def service(self, key: Key) -> ServiceMemory:
        with self._guard:
            return self._services.setdefault(key, ServiceMemory())

    def packet(self, key: Key) -> PacketMemory:
        with self._guard:
            return self._packets.setdefault(key, PacketMemory())

    def remembered(self, kind: str, key: Key) -> ServiceMemory | PacketMemory | None:
        """What is remembered of a service or packet, without starting a record: a pass that found its
        object gone and forgot it must not leave a new, empty one behind."""
        with self._guard:
            return (self._services if kind == "service" else self._packets).get(key)

    def lock(self, key: Key) -> threading.Lock:
        return self.service(key).lock

    def forget(self, key: Key) -> None:
        with self._guard:
            self._services.pop(key, None)

    def forget_packet(self, key: Key) -> None:
        self.packet_specs.forget(key)
        with self._guard:
            self._packets.pop(key, None)

    def take_due(self, current: dt.datetime) -> tuple[list[Key], list[Key]]:
        """The services and the packets whose pass is due at `current`, each taken off its timer."""
        with self._guard:
            memories: list[tuple[Key, ServiceMemory | PacketMemory]] = [
                *self._services.items(),
                *self._packets.items(),
            ]
        services: list[Key] = []
        packets: list[Key] = []
        for key, memory in memories:
            if memory.due is not None and memory.due <= current:
                memory.due = None
                (services if isinstance(memory, ServiceMemory) else packets).append(key)
        return services, packets

    def retry_later(self, kind: str, key: Key, exc: BaseException) -> tuple[Failure, Retry, int]:
        """Schedules another pass for a service or packet whose pass failed, as the failure's kind asks
        (logic/retry): soon for a lost race or a timeout, slowly for a refusal or a bug, not at all for an
        object the models refuse, which only a change to it can mend."""
        memory = self.service(key) if kind == "service" else self.packet(key)
        memory.failures += 1
        failure = io.failure_kind(exc)
        retry = retry_after(failure, memory.failures)
        self.metrics.failures.labels(KINDS[kind], failure).inc()
        if retry.delay is not None:
            when = now() + dt.timedelta(seconds=retry.delay)
            memory.due = when if memory.due is None else min(memory.due, when)
        return failure, retry, memory.failures

    def succeeded(self, kind: str, key: Key) -> None:
        memory = self.remembered(kind, key)
        if memory is not None:
            memory.failures = 0
            if isinstance(memory, PacketMemory):
                memory.due = None

    def enqueue(self, key: Key) -> None:
        """Queues a pass over a service: urgent when its kill switch has a transition to carry out."""
        body = self.inventory.get("services", key)
        urgent = body is not None and transition_pending(
            (body.get("metadata") or {}).get("annotations"), body.get("status")
        )
        self.queue.push(key, urgent)

    # ---- the inventory -------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Lists every kind from the API server into the inventory (at start-up and every resync)."""
        namespaces = self.settings.namespaces
        for kind, plural, cluster_scoped in (
            ("policies", policy_model.PLURAL, True),
            ("packets", packet_model.PLURAL, False),
            ("services", service_model.PLURAL, False),
        ):
            items, version = io.list_custom_objects(self.clients, plural, namespaces, cluster_scoped)
            self.inventory.replace(kind, items, version)
        items, version = io.list_namespaces(self.clients)
        self.inventory.replace("namespaces", items, version)

    def governed(self, namespace: str) -> bool:
        """Whether a platform admin marked the namespace as governed; an unknown one is not."""
        return self.inventory.labels("namespaces", ("", namespace)).get(GOVERNED_LABEL) == GOVERNED_VALUE

    def policy(self) -> ReadinessPolicySpec:
        body = self.inventory.get("policies", ("", policy_model.DEFAULT_POLICY_NAME))
        if body is not None:
            try:
                return effective_policy(ReadinessPolicySpec.model_validate(body.get("spec") or {}))
            except ValidationError as exc:
                log.error("ReadinessPolicy default is invalid, using the built-in policy: %s", exc)
        return effective_policy(None)

    def service_body(self, key: Key) -> Mapping[str, Any] | None:
        return self.inventory.get("services", key)

    def packets_in(self, namespace: str) -> list[tuple[str, ReadinessPacketSpec]]:
        out = []
        bodies = self.inventory.in_namespace("packets", namespace)
        self.packet_specs.keep_only(namespace, {body["metadata"]["name"] for body in bodies})
        for body in bodies:
            name, parsed = body["metadata"]["name"], self.packet_specs.parse(body)
            if isinstance(parsed, ReadinessPacketSpec):
                out.append((name, parsed))
            else:
                log.warning(
                    "ReadinessPacket %s/%s does not parse; skipped",
                    namespace,
                    name,
                    extra={"reason": "InvalidSpec"},
                )
        return sorted(out, key=lambda p: p[0])

    def claimant(self, namespace: str, workload: str, kind: str = "Deployment") -> str | None:
        """The AIService the operator acts on for the `kind` named `workload`: the strictest of those
        naming it."""
        claims = []
        for name in self.inventory.claimants(namespace, workload, kind):
            body = self.inventory.get("services", (namespace, name))
            if body is not None:
                claims.append(claim_of(name, body))
        chosen = strictest_claim(claims)
        return chosen.name if chosen is not None else None


def _workload_type(ref: Mapping[str, Any]) -> WorkloadType | None:
    """The kind an AIService's spec.workload names (Deployment when it names none); None if unsupported."""
    kind = ref.get("kind") or WorkloadKind.DEPLOYMENT.value
    try:
        return WORKLOAD_TYPES[WorkloadKind(kind)]
    except ValueError:
        return None


def claim_of(name: str, body: Mapping[str, Any]) -> Claim:
    """An AIService's claim on its workload, read as admission reads it: killed, or the cap it enforces."""
    killed = parse_kill_switch((body.get("metadata") or {}).get("annotations")).engaged
    allowed = (body.get("status") or {}).get("allowedReplicas")
    pilot = (body.get("spec") or {}).get("pilotReplicas", 1)
    cap = enforced_cap(
        killed=killed,
        status_allowed=allowed if isinstance(allowed, int) else None,
        pilot_replicas=pilot if isinstance(pilot, int) else 1,
    )
    return Claim(name=name, killed=killed, cap=cap)


# ------------------------------------------------------------------------------------------------------


def reconcile_service(rt: Runtime, key: Key, body: Mapping[str, Any] | None = None) -> Plan | None:
    """One pass over one AIService. Returns the plan it carried out (None when the service is gone).

    The pass's first status write is conditional on the resourceVersion it planned from; when another
    writer got there first (a second operator replica, a person editing status), the pass re-reads the
    AIService and plans again, so no decision taken on a stale view is ever written.
    """
    started = time.perf_counter()
    with rt.lock(key):
        body = body if body is not None else rt.service_body(key)
        fresh = False
        for _ in range(CONFLICT_ATTEMPTS):
            if body is None:
                rt.forget(key)
                return None
            try:
                plan = _reconcile_once(rt, key, body, fresh)
            except io.ConflictError:
                log.info(
                    "AIService %s/%s changed while it was reconciled; re-reading it and planning again",
                    *key,
                    extra={"k8s_ref": _ref(service_model.KIND, key), "reason": "Conflict"},
                )
                body = io.read_custom_object(rt.clients, service_model.PLURAL, key[0], key[1])
                fresh = True
                continue
            if plan is not None:
                rt.metrics.reconcile_seconds.observe(time.perf_counter() - started)
            return plan
        raise io.ConflictError(
            f"AIService {key[0]}/{key[1]} kept changing during {CONFLICT_ATTEMPTS} passes in a row; "
            "it is retried later"
        )


def service_deleted(rt: Runtime, key: Key, body: Mapping[str, Any]) -> None:
    """An AIService is gone: its Deployment loses the stage label, and a deletion that ended an engaged
    kill switch is recorded as an Event on the Deployment. Failures are logged: nothing retries a
    deletion, and the Deployment is no longer Airlock's to converge."""
    meta = body.get("metadata") or {}
    ref = (body.get("spec") or {}).get("workload") or {}
    workload_name = ref.get("name")
    kind = _workload_type(ref)
    if (
        not isinstance(workload_name, str)
        or kind is None
        or kind.kind not in rt.settings.workload_kinds
        or rt.claimant(key[0], workload_name, kind.kind) is not None
    ):
        return  # another AIService governs it now (or never a workload): leave it to that one
    try:
        deployment = io.read_workload(rt.clients, kind, key[0], workload_name)
        workload = None
        if deployment is not None:
            dmeta = deployment.get("metadata", {})
            workload = Workload(
                replicas=int(deployment.get("spec", {}).get("replicas", 1)),
                labels=dmeta.get("labels") or {},
            )
        plan = plan_deletion(
            key[1],
            workload_name,
            dict(meta.get("annotations") or {}),
            (body.get("status") or {}).get("stage"),
            workload,
            kind.kind,
        )
        if plan.metadata is not None:
            io.patch_workload_metadata(
                rt.clients, kind, key[0], workload_name, plan.metadata, rt.settings.field_manager
            )
        if plan.event is not None and deployment is not None:
            involved = {
                "apiVersion": kind.api_version,
                "kind": kind.kind.value,
                "name": workload_name,
                "namespace": key[0],
                "uid": deployment.get("metadata", {}).get("uid"),
            }
            _announce(
                rt, service_model.KIND, key, involved, plan.event.type, plan.event.reason, plan.event.message
            )
            rt.metrics.count_event(plan.event.reason)
    except Exception as exc:  # a deletion is seen once; say what was not done instead of retrying
        log.warning(
            "AIService %s/%s deleted; could not update %s %s (%s: %s)",
            *key,
            kind.kind,
            workload_name,
            type(exc).__name__,
            _short(exc),
            extra={"k8s_ref": _ref(service_model.KIND, key), "reason": "Deleted"},
        )


def work(rt: Runtime, urgent_only: bool = False) -> None:
    """One worker thread: runs the passes the queue hands out, kill switches first, until it is closed;
    with `urgent_only`, kill-switch transitions only."""
    while (item := rt.queue.pop(urgent_only=urgent_only)) is not None:
        key, queued = item
        try:
            plan = reconcile_service_or_retry(rt, key)
            if plan is not None and plan.workload_patch is not None and plan.scale_to == 0:
                rt.metrics.kill_reaction_seconds.observe(time.perf_counter() - queued)
        except Exception:  # reconcile_service_or_retry retries its own failures; a worker must not die
            log.exception("the pass over AIService %s/%s failed unexpectedly", *key)
        finally:
            rt.queue.done(key)


def start_workers(rt: Runtime) -> list[threading.Thread]:
    """The settings' workers, and one more that runs kill-switch transitions only: when every other
    worker is in a slow pass (a busy API server), a kill switch still does not wait for one to finish."""
    threads = [
        threading.Thread(target=work, args=(rt,), name=f"airlock-worker-{i}", daemon=True)
        for i in range(rt.settings.workers)
    ]
    threads.append(threading.Thread(target=work, args=(rt, True), name="airlock-kill-switch", daemon=True))
    for thread in threads:
        thread.start()
    return threads


def reconcile_service_or_retry(rt: Runtime, key: Key, body: Mapping[str, Any] | None = None) -> Plan | None:
    """reconcile_service, with any failure (an API error, a timeout, a lost race) retried with backoff."""
    try:
        plan = reconcile_service(rt, key, body)
    except Exception as exc:  # a pass must never be lost: whatever failed is tried again
        _log_failure(rt, "service", key, exc)
        return None
    rt.succeeded("service", key)
    if plan is not None:
        rt.metrics.count_pass(service_model.KIND, *key)
    return plan


def _log_failure(rt: Runtime, kind: str, key: Key, exc: Exception) -> None:
    """Schedules the retry the failure calls for and logs it once, with the traceback when it helps."""
    failure, retry, count = rt.retry_later(kind, key, exc)
    extra = {"k8s_ref": _ref(KINDS[kind], key), "reason": "ReconcileFailed"}
    when = "when it changes" if retry.delay is None else f"in {retry.delay:.2f}s"
    message = "reconcile of %s %s/%s failed (%s, %s: %s); retrying %s (attempt %d)"
    args = (KINDS[kind], *key, failure, type(exc).__name__, _short(exc), when, count)
    if retry.traceback:
        log.error(message, *args, exc_info=exc, extra=extra)
    elif failure is Failure.BUG:
        log.error(message, *args, extra=extra)
    else:
        log.warning(message, *args, extra=extra)


def _short(exc: Exception) -> str:
    """The first line of an error, or the API server's own message for an API error."""
    body = getattr(exc, "body", None)
    if isinstance(body, bytes | str):
        try:
            message = json.loads(body).get("message")
        except (ValueError, AttributeError):
            message = None
        if message:
            return f"{getattr(exc, 'status', '')} {str(message)[:300]}".strip()
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else ""


def _ref(kind: str, key: Key) -> dict[str, str]:
    return {"kind": kind, "namespace": key[0], "name": key[1]}


def _announce(
    rt: Runtime,
    kind: str,
    key: Key,
    involved: dict[str, Any],
    event_type: str,
    reason: str,
    message: str,
    *,
    detail: str = "",
    name: str | None = None,
) -> None:
    """Logs a transition and records its Event. The log line carries the reason and the object only:
    event messages can quote packet content."""
    log.info(
        "%s %s/%s: %s%s", kind, *key, reason, detail, extra={"k8s_ref": _ref(kind, key), "reason": reason}
    )
    io.emit_event(rt.clients, involved, event_type, reason, message, name=name)


def _not_older(version: str | None, than: str) -> bool:
    """Whether resourceVersion `version` is at least `than`. Kubernetes calls them opaque, but every API
    server backed by etcd issues increasing integers; anything else counts as older (and is re-read)."""
    return version is not None and version.isdigit() and than.isdigit() and int(version) >= int(than)


def _not_older_than_own_write(rt: Runtime, key: Key, body: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The body to plan from: the one given, or the object read fresh when this process has written it
    since that version (the echo of an earlier write, an index not yet caught up). Planning from a body
    older than one's own write would combine its stale annotations with a newer status: a kill switch
    released meanwhile would be engaged again."""
    memory = rt.remembered("service", key)
    mine = memory.written_version if isinstance(memory, ServiceMemory) else None
    if mine is None or _not_older((body.get("metadata") or {}).get("resourceVersion"), mine):
        return body
    return io.read_custom_object(rt.clients, service_model.PLURAL, key[0], key[1])


def _reconcile_once(rt: Runtime, key: Key, body: Mapping[str, Any], fresh: bool = False) -> Plan | None:
    current = _not_older_than_own_write(rt, key, body)
    if current is None:
        rt.forget(key)
        return None
    body = current
    version = (body.get("metadata") or {}).get("resourceVersion")
    try:
        view = service_view(body, rt.governed(key[0]), rt.settings.workload_kinds)
    except ValidationError as exc:
        # The CRD schema refuses what the models refuse, so this is an object stored before an upgrade.
        log.error(
            "AIService %s/%s has a spec the operator cannot read: %s",
            *key,
            _validation_summary(exc),
            extra={"k8s_ref": _ref(service_model.KIND, key), "reason": EventReason.INVALID_SPEC},
        )
        return _reconcile_invalid(rt, key, body, version, _validation_summary(exc))
    # In a namespace nobody marked as governed the Deployment is not read, let alone scaled or labelled.
    deployment = (
        io.read_workload(rt.clients, view.spec.workload.type, view.namespace, view.spec.workload.name)
        if view.namespace_governed and view.kind_enabled
        else None
    )
    workload = None
    if deployment is not None:
        meta = deployment.get("metadata", {})
        template_meta = ((deployment.get("spec") or {}).get("template") or {}).get("metadata") or {}
        workload = Workload(
            replicas=int(deployment.get("spec", {}).get("replicas", 1)),
            labels=meta.get("labels") or {},
            annotations=meta.get("annotations") or {},
            template_annotations=template_meta.get("annotations") or {},
        )
    plan = plan_service(
        view,
        workload,
        rt.packets_in(view.namespace),
        rt.policy(),
        now(),
        claimed_by=rt.claimant(view.namespace, view.spec.workload.name, view.spec.workload.kind),
    )
    _check_not_stale(key, body, plan, deployment, fresh)
    _apply(rt, view, body, plan, version, _version_of(deployment))
    if view.namespace_governed and workload is not None:
        _govern_autoscalers(rt, view, plan)
    rt.service(key).due = plan.requeue_at
    rt.metrics.observe_service(view, plan)
    return plan


def scaled_object_view(body: Mapping[str, Any]) -> ScaledObjectView:
    """A ScaledObject from the API; its target's kind defaults to Deployment, as KEDA reads it."""
    meta = body.get("metadata") or {}
    ref = (body.get("spec") or {}).get("scaleTargetRef") or {}
    return ScaledObjectView(
        name=meta.get("name", ""),
        target_kind=ref.get("kind") or WorkloadKind.DEPLOYMENT.value,
        target_name=ref.get("name") or "",
        annotations=dict(meta.get("annotations") or {}),
    )


def _govern_autoscalers(rt: Runtime, view: ServiceView, plan: Plan) -> None:
    """The autoscalers of the governed workload: KEDA ScaledObjects paused while it is killed (and unpaused
    after), and a Warning Event on each HPA or ScaledObject whose maximum is above the cap, once per cap
    and maximum, where `kubectl describe` shows it."""
    if not (rt.settings.hpas or rt.settings.scaled_objects):
        return
    key, ref = (view.namespace, view.name), view.spec.workload
    found: list[tuple[Mapping[str, Any], str, str, Any]] = []  # body, kind, apiVersion, maximum
    if rt.settings.scaled_objects:
        objects = io.list_scaled_objects(rt.clients, view.namespace)
        views = [scaled_object_view(b) for b in objects]
        for pause in plan_pauses(view.name, plan.status, ref.kind.value, ref.name, views):
            io.patch_scaled_object_annotations(
                rt.clients, view.namespace, pause.scaled_object, pause.patch, rt.settings.field_manager
            )
            log.info(
                "AIService %s/%s: %s ScaledObject %s",
                *key,
                "paused" if pause.paused else "unpaused",
                pause.scaled_object,
                extra={"k8s_ref": _ref(service_model.KIND, key), "reason": "Paused"},
            )
        found += [
            (
                b,
                "ScaledObject",
                "keda.sh/v1alpha1",
                (b.get("spec") or {}).get("maxReplicaCount", KEDA_DEFAULT_MAX),
            )
            for b in objects
        ]
    if rt.settings.hpas:
        hpas = io.list_hpas(rt.clients, view.namespace)
        found += [
            (b, "HorizontalPodAutoscaler", "autoscaling/v2", (b.get("spec") or {}).get("maxReplicas"))
            for b in hpas
        ]
    involved = {(kind, _name(b)): _involved(b, api_version, kind) for b, kind, api_version, _ in found}
    for warning in plan_capped_warnings(
        service=view.name,
        namespace=view.namespace,
        status=plan.status,
        workload_kind=ref.kind.value,
        workload_name=ref.name,
        autoscalers=[_autoscaler_view(b, kind, maximum) for b, kind, _, maximum in found],
    ):
        a = warning.autoscaler
        _announce(
            rt,
            service_model.KIND,
            key,
            involved[(a.kind, a.name)],
            "Warning",
            CAPPED_BY_AIRLOCK,
            warning.message,
            name=warning.event_name,
        )


def _name(body: Mapping[str, Any]) -> str:
    return str((body.get("metadata") or {}).get("name", ""))


def _involved(body: Mapping[str, Any], api_version: str, kind: str) -> dict[str, Any]:
    meta = body.get("metadata") or {}
    return {
        "apiVersion": api_version,
        "kind": kind,
        "name": meta.get("name"),
        "namespace": meta.get("namespace"),
        "uid": meta.get("uid"),
    }


def _autoscaler_view(body: Mapping[str, Any], kind: str, maximum: Any) -> AutoscalerView:
    meta = body.get("metadata") or {}
    ref = (body.get("spec") or {}).get("scaleTargetRef") or {}
    return AutoscalerView(
        kind=kind,
        name=str(meta.get("name", "")),
        uid=str(meta.get("uid", "")),
        target_kind=ref.get("kind") or WorkloadKind.DEPLOYMENT.value,
        target_name=ref.get("name") or "",
        maximum=maximum if isinstance(maximum, int) else 0,
    )


def _check_not_stale(
    key: Key, body: Mapping[str, Any], plan: Plan, workload: Mapping[str, Any] | None, fresh: bool
) -> None:
    """Raises ConflictError (so the AIService is read fresh and planned again) before a kill-switch write
    of the workload that no conditional status write precedes, when the workload changed after the
    AIService body the plan was made from: whoever changed it (another operator replica) may have acted
    on a newer AIService, and a kill planned from the older one would undo its restore. The usual kill
    (a Deployment untouched since before the annotation was set) needs no extra read."""
    if plan.workload_patch is None or plan.status_first is not None or fresh:
        return
    if _not_older(_version_of(body), _version_of(workload) or ""):
        return
    raise io.ConflictError(f"Workload of AIService {key[0]}/{key[1]} changed after the body planned from")


def _version_of(obj: Mapping[str, Any] | None) -> str | None:
    return (obj.get("metadata") or {}).get("resourceVersion") if obj is not None else None


def _reconcile_invalid(
    rt: Runtime, key: Key, body: Mapping[str, Any], version: str | None, problem: str
) -> Plan | None:
    """The kill switch first, even for a spec the models refuse: the plan needs only the workload's name."""
    meta = body.get("metadata") or {}
    ref = (body.get("spec") or {}).get("workload") or {}
    name, kind = ref.get("name"), _workload_type(ref)
    if (
        not isinstance(name, str)
        or not name
        or kind is None
        or kind.kind not in rt.settings.workload_kinds
        or not rt.governed(key[0])
    ):
        return None
    view = ServiceView(
        name=key[1],
        namespace=key[0],
        namespace_governed=True,
        generation=meta.get("generation"),
        annotations=dict(meta.get("annotations") or {}),
        # Only the workload's name is read from an unreadable spec, unvalidated; the other fields are
        # placeholders that nothing reads (the plan writes status, never spec).
        spec=AIServiceSpec.model_construct(
            workload=WorkloadRef.model_construct(name=name, kind=kind.kind, api_version=kind.api_version),
            owner="",
            versions=Versions.model_construct(model="", prompt=""),
        ),
        status=_lenient_status(AIServiceStatus, body.get("status")),
    )
    deployment = io.read_workload(rt.clients, kind, key[0], name)
    workload = (
        Workload(
            replicas=int((deployment.get("spec") or {}).get("replicas", 1)),
            annotations=(deployment.get("metadata") or {}).get("annotations") or {},
        )
        if deployment is not None
        else None
    )
    plan = plan_invalid_service(view, workload, problem, now())
    _apply(rt, view, body, plan, version, _version_of(deployment))
    return plan


def _apply(
    rt: Runtime,
    view: ServiceView,
    body: Mapping[str, Any],
    plan: Plan,
    version: str | None,
    workload_version: str | None = None,
) -> None:
    """Carries out a plan: the status that lifts a cap, the workload write, kill-switch events, the final
    status, labels, other events.

    A kill switch transition reaches the workload in one request that also carries its record, so the
    replicas to restore are never lost between two writes; that request is conditional on the workload's
    resourceVersion, so of two passes (two replicas) only one writes the record. Kill-switch events are
    recorded right after it, before the status, under a name derived from the transition itself (the
    plan marks them `once`): a pass repeated after a crash recreates the same Event, which the API server
    refuses as a duplicate. So each transition is announced once.
    """
    fm = rt.settings.field_manager
    key = (view.namespace, view.name)
    workload = view.spec.workload.name
    kind = view.spec.workload.type
    previous = dict(body.get("status") or {})
    written = previous
    precondition = version

    def write(new: dict[str, Any]) -> None:
        nonlocal written, precondition
        patch = io.merge_patch(dict(written), new)
        if patch:
            # Only the first write of a pass is conditional: once it lands, the pass owns the transition.
            produced = io.patch_status(
                rt.clients, service_model.PLURAL, view.namespace, view.name, patch, fm, precondition
            )
            precondition = None
            if produced is not None:
                rt.service(key).written_version = produced
        written = new

    if plan.status_first is not None:
        write(plan.status_first.to_api())
    events = _events_to_record(view, previous, plan)
    involved = _involved_service(view, body)
    final = plan.status.to_api()
    _write_workload(rt, view, plan, workload_version)
    for event in (e for e in events if e.once):
        name = kill_event_name(
            view.name, involved["uid"], event.reason, plan.kill_since, previous, written, final
        )
        _record(rt, key, involved, event, name)
    write(final)
    if plan.metadata is not None:
        io.patch_workload_metadata(rt.clients, kind, view.namespace, workload, plan.metadata, fm)
    if plan.service_annotations:
        io.patch_annotations(
            rt.clients, service_model.PLURAL, view.namespace, view.name, plan.service_annotations, fm
        )
    for event in (e for e in events if not e.once):
        _record(rt, key, involved, event)


def _events_to_record(view: ServiceView, previous: Mapping[str, Any], plan: Plan) -> list[Event]:
    """The plan's Events, and the kill-switch Event of a transition a previous pass may not have
    announced (the status it wrote before dying says the transition is under way)."""
    status = plan.status
    interrupted = interrupted_kill_event(
        f"{view.spec.workload.kind} {view.spec.workload.name}",
        previous,
        plan.events,
        engaged_now=bool(status.kill_switch and status.kill_switch.engaged),
        replicas=status.replicas,
        scale_to=plan.scale_to,
    )
    return [*plan.events, interrupted] if interrupted is not None else list(plan.events)


def _write_workload(rt: Runtime, view: ServiceView, plan: Plan, workload_version: str | None) -> None:
    """The kill switch's one workload write (conditional on the workload's version), or the backstop's
    scale."""
    fm = rt.settings.field_manager
    workload, kind = view.spec.workload.name, view.spec.workload.type
    if plan.workload_patch is not None:
        io.patch_workload(
            rt.clients, kind, view.namespace, workload, plan.workload_patch, fm, workload_version
        )
    elif plan.scale_to is not None:
        io.patch_scale(rt.clients, kind, view.namespace, workload, plan.scale_to, fm)
    if plan.scale_to is not None:
        key = (view.namespace, view.name)
        log.info(
            "AIService %s/%s: scaled %s %s to %d replicas (stage %s)",
            *key,
            kind.kind,
            workload,
            plan.scale_to,
            plan.status.stage,
            extra={"k8s_ref": _ref(service_model.KIND, key), "reason": "Scaled", "replicas": plan.scale_to},
        )
        rt.metrics.count_scale(plan)


def _involved_service(view: ServiceView, body: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": service_model.KIND,
        "name": view.name,
        "namespace": view.namespace,
        "uid": body.get("metadata", {}).get("uid"),
    }


def _record(rt: Runtime, key: Key, involved: dict[str, Any], event: Event, name: str | None = None) -> None:
    _announce(rt, service_model.KIND, key, involved, event.type, event.reason, event.message, name=name)
    rt.metrics.count_event(event.reason, event.count)


# ---- packets -------------------------------------------------------------------------------------------


def reconcile_packet(rt: Runtime, body: Mapping[str, Any]) -> None:
    """Evaluates a packet against its service and writes the packet's status when it changed."""
    meta = body.get("metadata", {})
    key = (meta.get("namespace", ""), meta["name"])
    spec = rt.packet_specs.parse(body)
    if isinstance(spec, ValidationError):
        log.error(
            "ReadinessPacket %s/%s has a spec the operator cannot read: %s",
            *key,
            _validation_summary(spec),
            extra={"k8s_ref": _ref(packet_model.KIND, key), "reason": "InvalidSpec"},
        )
        return
    service_body = rt.service_body((key[0], spec.service))
    service_spec = None
    if service_body is not None:
        try:
            service_spec = AIServiceSpec.model_validate(service_body.get("spec") or {})
        except ValidationError:
            service_spec = None
    memory = rt.packet(key)
    seen = memory.approvals
    plan = plan_packet(
        spec,
        service_spec,
        rt.policy(),
        now(),
        previous=_lenient_status(ReadinessPacketStatus, body.get("status")),
        generation=meta.get("generation"),
        version=meta.get("resourceVersion"),
        seen=None if seen is None else SeenApprovals(seen, memory.approvals_version),
    )
    _announce_approvals(rt, body, plan)
    if not plan.changed:
        return
    # Conditional, like a service's first write: of two replicas (or a pass planned from a stale body)
    # only one records the change, and only that one announces it.
    patch = io.merge_patch(body.get("status") or {}, plan.status.to_api())
    if patch:
        io.patch_status(
            rt.clients,
            packet_model.PLURAL,
            *key,
            patch,
            rt.settings.field_manager,
            meta.get("resourceVersion"),
        )
    for event in plan.events:
        _announce(rt, packet_model.KIND, key, _packet_ref(body), event.type, event.reason, event.message)


def reconcile_packet_or_retry(rt: Runtime, body: Mapping[str, Any]) -> None:
    """reconcile_packet, with any failure retried with backoff (the retry re-reads the packet)."""
    meta = body.get("metadata", {})
    key = (meta.get("namespace", ""), meta["name"])
    current: Mapping[str, Any] | None = body
    try:
        for _ in range(CONFLICT_ATTEMPTS):
            if current is None:
                rt.forget_packet(key)
                return
            try:
                reconcile_packet(rt, current)
                break
            except io.ConflictError:
                current = io.read_custom_object(rt.clients, packet_model.PLURAL, key[0], key[1])
        else:
            raise io.ConflictError(f"ReadinessPacket {key[0]}/{key[1]} kept changing; it is retried later")
    except Exception as exc:  # a pass must never be lost: whatever failed is tried again
        _log_failure(rt, "packet", key, exc)
        return
    rt.succeeded("packet", key)
    rt.metrics.count_pass(packet_model.KIND, *key)


def retry_packet(rt: Runtime, key: Key) -> None:
    """A due retry of a packet: read it fresh, then reconcile it (a deleted packet is forgotten)."""
    try:
        body = io.read_custom_object(rt.clients, packet_model.PLURAL, key[0], key[1])
    except Exception as exc:  # the read itself failing is one more failure of the same pass
        _log_failure(rt, "packet", key, exc)
        return
    if body is None:
        rt.forget_packet(key)
        return
    reconcile_packet_or_retry(rt, body)


def _announce_approvals(rt: Runtime, body: Mapping[str, Any], plan: PacketPlan) -> None:
    """Remembers the approvals the plan compared and announces those added, changed or removed since this
    process last saw the packet."""
    meta = body.get("metadata", {})
    key = (meta.get("namespace", ""), meta["name"])
    if plan.seen is not None:
        memory = rt.packet(key)
        memory.approvals = dict(plan.seen.approvals)
        if plan.seen.version is not None:
            memory.approvals_version = plan.seen.version
    for event in plan.approval_events:
        _announce(
            rt,
            packet_model.KIND,
            key,
            _packet_ref(body),
            event.type,
            event.reason,
            event.message,
            detail=event.detail,
        )


def _packet_ref(body: Mapping[str, Any]) -> dict[str, Any]:
    meta = body.get("metadata", {})
    return {
        "apiVersion": API_VERSION,
        "kind": packet_model.KIND,
        "name": meta["name"],
        "namespace": meta.get("namespace", ""),
        "uid": meta.get("uid"),
    }


def _validation_summary(exc: ValidationError) -> str:
    """Where and what is wrong, without echoing the offending values (they can be free text)."""
    parts = [
        f"{'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}"
        for err in exc.errors(include_url=False, include_input=False)
    ]
    return "; ".join(parts[:5]) + (f" (and {len(parts) - 5} more)" if len(parts) > 5 else "")


def services_for_packet(rt: Runtime, namespace: str, packet_name: str, service_name: str | None) -> list[Key]:
    """Services a packet can affect: the one it names, and any whose packetRef names it."""
    keys = set()
    if service_name:
        keys.add((namespace, service_name))
    for body in rt.inventory.in_namespace("services", namespace):
        ref = (body.get("spec") or {}).get("packetRef") or {}
        if ref.get("name") == packet_name:
            keys.add((namespace, body["metadata"]["name"]))
    return sorted(keys)


def all_service_keys(rt: Runtime) -> Iterable[Key]:
    return rt.inventory.keys("services")


def services_in(rt: Runtime, namespace: str) -> list[Key]:
    return [
        (namespace, body["metadata"]["name"]) for body in rt.inventory.in_namespace("services", namespace)
    ]
