"""kopf handlers: every one is level-based and calls the same idempotent reconcile.

Only `@kopf.on.event` and `@kopf.index` are used: no finalizers, no progress or last-handled annotations,
on our resources or on Deployments we do not own. kopf waits for every index to be filled before it
runs a handler, so the first pass after a start sees every packet and the policy.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from typing import Any

import kopf

from airlock import reconciler
from airlock.models import packet as packet_model
from airlock.models import policy as policy_model
from airlock.models import service as service_model
from airlock.models.base import GROUP, VERSION
from airlock.reconciler import Runtime

log = logging.getLogger("airlock")

AIS = (GROUP, VERSION, service_model.PLURAL)
RP = (GROUP, VERSION, packet_model.PLURAL)
RPOL = (GROUP, VERSION, policy_model.PLURAL)


def _runtime(memo: kopf.Memo) -> Runtime:
    runtime: Runtime = memo["runtime"]
    return runtime


def _bind_indices(rt: Runtime, kw: dict[str, Any]) -> None:
    # kopf hands indices only to handlers; the resync loop reads them through the runtime.
    rt.services = lambda: kw["airlock_services"]
    rt.packets = lambda: kw["airlock_packets"]
    rt.policies = lambda: kw["airlock_policies"]
    rt.by_workload = lambda: kw["airlock_workloads"]


# ---- indices: in-memory views that kopf keeps current from the watch streams --------------------------


@kopf.index(*AIS, id="airlock_services")
def airlock_services(namespace: str | None, name: str, body: kopf.Body, **_: Any) -> dict[Any, Any]:
    return {
        (namespace, name): {
            "metadata": dict(body.metadata),
            "spec": dict(body.spec),
            "status": dict(body.status),
        }
    }


@kopf.index(*AIS, id="airlock_workloads")
def airlock_workloads(namespace: str | None, name: str, spec: kopf.Spec, **_: Any) -> dict[Any, Any]:
    workload = (spec.get("workload") or {}).get("name")
    return {(namespace, workload): name} if workload else {}


@kopf.index(*RP, id="airlock_packets")
def airlock_packets(namespace: str | None, name: str, spec: kopf.Spec, **_: Any) -> dict[Any, Any]:
    return {namespace: (name, dict(spec))}


@kopf.index(*RPOL, id="airlock_policies")
def airlock_policies(name: str, spec: kopf.Spec, **_: Any) -> dict[Any, Any]:
    return {name: dict(spec)}


# ---- events ------------------------------------------------------------------------------------------


@kopf.on.event(*AIS, id="aiservice")
def on_aiservice(
    type: str, body: kopf.Body, namespace: str | None, name: str, memo: kopf.Memo, **kw: Any
) -> None:
    namespace = namespace or ""
    rt = _runtime(memo)
    _bind_indices(rt, kw)
    if type == "DELETED":
        rt.forget((namespace, name))
        rt.metrics.forget_service(namespace, name)
        log.info("AIService %s/%s deleted; its Deployment keeps its current replicas", namespace, name)
        return
    seen = time.perf_counter()
    plan = reconciler.reconcile_service(rt, (namespace, name), _plain(body))
    if plan is not None and plan.status_first is not None and plan.scale_to == 0:
        rt.metrics.kill_reaction_seconds.observe(time.perf_counter() - seen)
    # Packets are evaluated against the service's spec: only a spec change can change their gates.
    generation = body.metadata.get("generation")
    if rt.generations.get((namespace, name)) != generation:
        rt.generations[(namespace, name)] = generation
        for packet_name in _packets_naming(rt, namespace, name):
            reconciler.reconcile_packet(rt, _packet_body(memo, namespace, packet_name))


@kopf.on.event(*RP, id="readinesspacket")
def on_packet(
    type: str, body: kopf.Body, namespace: str | None, name: str, memo: kopf.Memo, **kw: Any
) -> None:
    namespace = namespace or ""
    rt = _runtime(memo)
    _bind_indices(rt, kw)
    if type != "DELETED":
        reconciler.reconcile_packet(rt, _plain(body))
    for key in reconciler.services_for_packet(rt, namespace, name, (body.get("spec") or {}).get("service")):
        reconciler.reconcile_service(rt, key)


@kopf.on.event(*RPOL, id="readinesspolicy")
def on_policy(memo: kopf.Memo, **kw: Any) -> None:
    rt = _runtime(memo)
    _bind_indices(rt, kw)
    for key in reconciler.all_service_keys(rt):
        reconciler.reconcile_service(rt, key)


@kopf.on.event("apps", "v1", "deployments", id="deployment")
def on_deployment(namespace: str | None, name: str, memo: kopf.Memo, **kw: Any) -> None:
    namespace = namespace or ""
    rt = _runtime(memo)
    _bind_indices(rt, kw)
    owner = rt.claimant(namespace, name)
    if owner is not None:  # ungoverned Deployments are none of Airlock's business
        reconciler.reconcile_service(rt, (namespace, owner))


def _plain(body: kopf.Body) -> dict[str, Any]:
    return {"metadata": dict(body.metadata), "spec": dict(body.spec), "status": dict(body.status)}


def _packets_naming(rt: Runtime, namespace: str, service: str) -> list[str]:
    return sorted(name for name, spec in rt.packets().get(namespace, ()) if spec.get("service") == service)


def _packet_body(memo: kopf.Memo, namespace: str, name: str) -> dict[str, Any]:
    rt = _runtime(memo)
    obj: dict[str, Any] = rt.clients.custom.get_namespaced_custom_object(
        GROUP, VERSION, namespace, packet_model.PLURAL, name
    )
    return obj


# ---- start-up and the timer loop -----------------------------------------------------------------------


@kopf.on.startup(id="configure")
async def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    # Our own prefix for anything kopf might store; no handler here needs it.
    settings.persistence.finalizer = f"{GROUP}/finalizer"
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix=GROUP)
    # Events are recorded by the operator on transitions only, not for every handler run.
    settings.posting.enabled = False
    settings.peering.standalone = True
    settings.execution.max_workers = memo["runtime"].settings.workers
    # A watch that goes quiet is re-established rather than trusted forever.
    settings.watching.server_timeout = 120
    settings.watching.client_timeout = 150
    settings.watching.connect_timeout = 10
    memo["timer"] = asyncio.get_running_loop().create_task(_timers(memo))
    log.info("airlock operator ready")


@kopf.on.cleanup(id="stop-timers")
async def stop_timers(memo: kopf.Memo, **_: Any) -> None:
    task = memo.get("timer")
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _timers(memo: kopf.Memo) -> None:
    """Re-evaluates a service when its evidence lapses, and every service once per resync interval."""
    rt = _runtime(memo)
    next_resync = time.monotonic() + rt.settings.resync_seconds
    while True:
        await asyncio.sleep(1.0)
        current = dt.datetime.now(dt.UTC)
        due = [key for key, when in list(rt.due.items()) if when <= current]
        if time.monotonic() >= next_resync:
            due = list(reconciler.all_service_keys(rt))
            next_resync = time.monotonic() + rt.settings.resync_seconds
        for key in due:
            rt.due.pop(key, None)
            try:
                await asyncio.to_thread(reconciler.reconcile_service, rt, key)
            except Exception:  # one service failing must not stop the others' timers
                log.exception("timed reconcile of AIService %s/%s failed", *key)
