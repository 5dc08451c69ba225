"""Gather -> plan -> apply for one AIService or ReadinessPacket.

The only I/O of a reconcile pass lives here (through airlock.k8s.io); the decisions are in airlock.logic.
Every trigger (an AIService, packet, policy or Deployment event, a timer, a resync) calls the same
idempotent functions, and a pass that changes nothing writes nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from airlock.config import Settings
from airlock.k8s import io
from airlock.logic.conditions import ConditionReason, ConditionType, set_condition
from airlock.logic.gates import evaluate_gates
from airlock.logic.policy import effective_policy
from airlock.logic.reconcile import Plan, ServiceView, Workload, plan_service
from airlock.metrics import Metrics
from airlock.models import packet as packet_model
from airlock.models import service as service_model
from airlock.models.base import API_VERSION
from airlock.models.packet import ReadinessPacketSpec, ReadinessPacketStatus
from airlock.models.policy import ReadinessPolicySpec
from airlock.models.service import AIServiceSpec, AIServiceStatus

log = logging.getLogger("airlock")

Key = tuple[str, str]  # (namespace, name)


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def service_view(body: Mapping[str, Any]) -> ServiceView:
    """An AIService body from the API as a view the planner takes; raises ValidationError on bad data."""
    meta = body.get("metadata", {})
    status = body.get("status")
    return ServiceView(
        name=meta["name"],
        namespace=meta.get("namespace", ""),
        generation=meta.get("generation"),
        annotations=dict(meta.get("annotations") or {}),
        spec=AIServiceSpec.model_validate(body.get("spec") or {}),
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


@dataclass
class Runtime:
    """What one operator process holds: clients, settings, metrics, per-object locks, and the caches the
    kopf indices fill (services, packets, the policy)."""

    clients: io.Clients
    settings: Settings
    metrics: Metrics
    services: Callable[[], Mapping[Key, Any]] = lambda: {}
    packets: Callable[[], Mapping[str, Any]] = lambda: {}
    policies: Callable[[], Mapping[str, Any]] = lambda: {}
    by_workload: Callable[[], Mapping[Key, Any]] = lambda: {}
    _locks: dict[Key, threading.Lock] = field(default_factory=dict)
    _locks_guard: threading.Lock = field(default_factory=threading.Lock)
    due: dict[Key, dt.datetime] = field(default_factory=dict)
    # The status this process last wrote: fresher than a watch event that raced with the write, so a
    # second trigger right after a transition does not announce the same transition again.
    written: dict[Key, dict[str, Any]] = field(default_factory=dict)
    generations: dict[Key, int | None] = field(default_factory=dict)

    def lock(self, key: Key) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(key, threading.Lock())

    def forget(self, key: Key) -> None:
        with self._locks_guard:
            self._locks.pop(key, None)
        self.due.pop(key, None)
        self.written.pop(key, None)
        self.generations.pop(key, None)

    # ---- caches --------------------------------------------------------------------------------------
    def policy(self) -> ReadinessPolicySpec:
        for spec in self.policies().get("default", ()):
            try:
                return effective_policy(ReadinessPolicySpec.model_validate(spec or {}))
            except ValidationError as exc:
                log.error("ReadinessPolicy default is invalid, using the built-in policy: %s", exc)
        return effective_policy(None)

    def service_body(self, key: Key) -> Mapping[str, Any] | None:
        return next(iter(self.services().get(key, ())), None)

    def packets_in(self, namespace: str) -> list[tuple[str, ReadinessPacketSpec]]:
        out = []
        for name, spec in self.packets().get(namespace, ()):
            try:
                out.append((name, ReadinessPacketSpec.model_validate(spec)))
            except ValidationError:
                log.warning("ReadinessPacket %s/%s does not parse; skipped", namespace, name)
        return sorted(out, key=lambda p: p[0])

    def claimant(self, namespace: str, workload: str) -> str | None:
        names = sorted(self.by_workload().get((namespace, workload), ()))
        return names[0] if names else None


# ------------------------------------------------------------------------------------------------------


def reconcile_service(rt: Runtime, key: Key, body: Mapping[str, Any] | None = None) -> Plan | None:
    """One pass over one AIService. Returns the plan it carried out (None when the service is gone)."""
    started = time.perf_counter()
    with rt.lock(key):
        body = body if body is not None else rt.service_body(key)
        if body is None:
            rt.forget(key)
            return None
        if key in rt.written:
            body = {**body, "status": rt.written[key]}
        try:
            view = service_view(body)
        except ValidationError as exc:
            # The CRD schema refuses what the models refuse, so this is an object stored before an upgrade.
            log.error("AIService %s/%s has a spec the operator cannot read: %s", *key, exc)
            return None
        deployment = io.read_deployment(rt.clients, view.namespace, view.spec.workload.name)
        workload = None
        if deployment is not None:
            meta = deployment.get("metadata", {})
            workload = Workload(
                replicas=int(deployment.get("spec", {}).get("replicas", 1)),
                labels=meta.get("labels") or {},
                annotations=meta.get("annotations") or {},
            )
        plan = plan_service(
            view,
            workload,
            rt.packets_in(view.namespace),
            rt.policy(),
            now(),
            claimed_by=rt.claimant(view.namespace, view.spec.workload.name),
        )
        _apply(rt, view, body, plan)
        if plan.requeue_at is not None:
            rt.due[key] = plan.requeue_at
        else:
            rt.due.pop(key, None)
        rt.metrics.observe_service(view, plan)
        rt.metrics.reconcile_seconds.observe(time.perf_counter() - started)
        return plan


def _apply(rt: Runtime, view: ServiceView, body: Mapping[str, Any], plan: Plan) -> None:
    fm = rt.settings.field_manager
    workload = view.spec.workload.name
    written = dict(body.get("status") or {})
    if plan.status_first is not None:
        first = plan.status_first.to_api()
        _write_status(rt, service_model.PLURAL, view.namespace, view.name, written, first)
        written = first
    if plan.scale_to is not None:
        io.patch_scale(rt.clients, view.namespace, workload, plan.scale_to, fm)
        log.info(
            "scaled Deployment %s/%s to %d replicas (AIService %s, stage %s)",
            view.namespace,
            workload,
            plan.scale_to,
            view.name,
            plan.status.stage,
        )
        rt.metrics.count_scale(plan)
    final = plan.status.to_api()
    _write_status(rt, service_model.PLURAL, view.namespace, view.name, written, final)
    rt.written[(view.namespace, view.name)] = final
    if plan.metadata is not None:
        io.patch_deployment_metadata(rt.clients, view.namespace, workload, plan.metadata, fm)
    involved = {
        "apiVersion": API_VERSION,
        "kind": service_model.KIND,
        "name": view.name,
        "namespace": view.namespace,
        "uid": body.get("metadata", {}).get("uid"),
    }
    for event in plan.events:
        log.info("AIService %s/%s: %s: %s", view.namespace, view.name, event.reason, event.message)
        io.emit_event(rt.clients, involved, event.type, event.reason, event.message)
        rt.metrics.count_event(event.reason)


def _write_status(
    rt: Runtime, plural: str, namespace: str, name: str, old: Mapping[str, Any], new: Mapping[str, Any]
) -> None:
    patch = io.merge_patch(dict(old), dict(new))
    if patch:
        io.patch_status(rt.clients, plural, namespace, name, patch, rt.settings.field_manager)


# ---- packets -------------------------------------------------------------------------------------------


def reconcile_packet(rt: Runtime, body: Mapping[str, Any]) -> None:
    """Evaluates a packet against its service and writes the packet's status when it changed."""
    meta = body.get("metadata", {})
    namespace, name = meta.get("namespace", ""), meta["name"]
    try:
        spec = ReadinessPacketSpec.model_validate(body.get("spec") or {})
    except ValidationError as exc:
        log.error("ReadinessPacket %s/%s has a spec the operator cannot read: %s", namespace, name, exc)
        return
    service_body = rt.service_body((namespace, spec.service))
    service_spec = None
    if service_body is not None:
        try:
            service_spec = AIServiceSpec.model_validate(service_body.get("spec") or {})
        except ValidationError:
            service_spec = None
    when = now()
    report = evaluate_gates(service_spec, spec, rt.policy(), when)
    prev: ReadinessPacketStatus = (
        _lenient_status(ReadinessPacketStatus, body.get("status")) or ReadinessPacketStatus()
    )
    blocking = ", ".join(report.blocking)
    conditions = set_condition(
        prev.conditions,
        type_=ConditionType.COMPLETE,
        status=report.passed,
        reason=ConditionReason.ALL_GATES_PASSED if report.passed else ConditionReason.GATES_BLOCKING,
        message=f"All {len(report.required)} required gates pass."
        if report.passed
        else f"{report.summary} required gates pass; blocking: {blocking}.",
        generation=meta.get("generation"),
        now=when,
    )
    status = ReadinessPacketStatus(
        gates=list(report.results),
        gates_passed=report.summary,
        digest=report.digest,
        complete=report.passed,
        expires_at=report.expires_at,
        conditions=conditions,
        observed_generation=meta.get("generation"),
    )
    if status == prev:
        return
    _write_status(rt, packet_model.PLURAL, namespace, name, body.get("status") or {}, status.to_api())
    if prev.complete is not None and prev.complete != status.complete:
        involved = {
            "apiVersion": API_VERSION,
            "kind": packet_model.KIND,
            "name": name,
            "namespace": namespace,
            "uid": meta.get("uid"),
        }
        reason, kind = ("PacketComplete", "Normal") if report.passed else ("PacketIncomplete", "Warning")
        io.emit_event(rt.clients, involved, kind, reason, conditions[-1].message if conditions else "")


def services_for_packet(rt: Runtime, namespace: str, packet_name: str, service_name: str | None) -> list[Key]:
    """Services a packet can affect: the one it names, and any whose packetRef names it."""
    keys = set()
    if service_name:
        keys.add((namespace, service_name))
    for (ns, name), store in rt.services().items():
        if ns != namespace:
            continue
        for body in store:
            ref = (body.get("spec") or {}).get("packetRef") or {}
            if ref.get("name") == packet_name:
                keys.add((ns, name))
    return sorted(keys)


def all_service_keys(rt: Runtime) -> Iterable[Key]:
    return sorted(rt.services().keys())
