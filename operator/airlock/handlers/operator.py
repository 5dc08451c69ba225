"""kopf handlers: every one is level-based and calls the same idempotent reconcile.

Only `@kopf.on.event` is used: no finalizers, no progress or last-handled annotations, on our resources
or on Deployments we do not own. What the passes need to know of other objects (packets, the policy,
which AIService claims a Deployment) is the runtime's inventory: listed at start-up, before the first
event is handled, so the first pass after a start sees every packet and the policy; kept current by the
events below; listed again at every resync.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import Iterable
from typing import Any

import kopf

from airlock import reconciler
from airlock.models import packet as packet_model
from airlock.models import policy as policy_model
from airlock.models import service as service_model
from airlock.models.base import GROUP, VERSION
from airlock.models.service import WORKLOAD_TYPES, WorkloadKind
from airlock.reconciler import Runtime

log = logging.getLogger("airlock")

AIS = (GROUP, VERSION, service_model.PLURAL)
RP = (GROUP, VERSION, packet_model.PLURAL)
RPOL = (GROUP, VERSION, policy_model.PLURAL)

WATCH_SERVER_TIMEOUT = 8  # sent as timeoutSeconds, which must be an integer
WATCH_INACTIVITY_TIMEOUT = 10.0
# Granularity of retries and requeues: a failed pass is tried again within this long of its due time.
TIMER_TICK = 0.25


def _runtime(memo: kopf.Memo) -> Runtime:
    runtime: Runtime = memo["runtime"]
    return runtime


# ---- events ------------------------------------------------------------------------------------------


# The two handlers every flood of objects goes through are async: they only update the inventory and
# queue a pass (in memory, microseconds), so they run on the event loop instead of waiting their turn in
# kopf's thread pool behind every other event, and an engaged kill switch reaches the queue's urgent lane
# as soon as its watch event arrives. Anything that calls the API runs in a thread.
@kopf.on.event(*AIS, id="aiservice")
async def on_aiservice(
    type: str, body: kopf.Body, namespace: str | None, name: str, memo: kopf.Memo, **_: Any
) -> None:
    namespace = namespace or ""
    rt = _runtime(memo)
    if type == "DELETED":
        rt.inventory.drop("services", (namespace, name))
        rt.forget((namespace, name))
        await asyncio.to_thread(reconciler.service_deleted, rt, (namespace, name), _plain(body))
        rt.metrics.forget_service(namespace, name)  # last: its series gone says the deletion was handled
        log.info(
            "AIService %s/%s deleted; its Deployment keeps its current replicas",
            namespace,
            name,
            extra={
                "k8s_ref": {"kind": service_model.KIND, "namespace": namespace, "name": name},
                "reason": "Deleted",
            },
        )
        _reconcile_co_claimants(rt, namespace, name, body)
        return
    # A pass in the queue reads the newest body; what the inventory already held asks for nothing new.
    if rt.inventory.put("services", body):
        rt.enqueue((namespace, name))
    _reconcile_co_claimants(rt, namespace, name, body)
    # Packets are evaluated against the service's spec: only a spec change can change their gates.
    generation = body.metadata.get("generation")
    memory = rt.service((namespace, name))
    if memory.generation != generation:
        memory.generation = generation
        for packet_name in _packets_naming(rt, namespace, name):
            await asyncio.to_thread(reconciler.retry_packet, rt, (namespace, packet_name))


@kopf.on.event(*RP, id="readinesspacket")
def on_packet(
    type: str, body: kopf.Body, namespace: str | None, name: str, memo: kopf.Memo, **_: Any
) -> None:
    namespace = namespace or ""
    rt = _runtime(memo)
    if type == "DELETED":
        rt.inventory.drop("packets", (namespace, name))
        rt.forget_packet((namespace, name))
        rt.metrics.forget_packet(namespace, name)
    else:
        rt.inventory.put("packets", body)
        reconciler.reconcile_packet_or_retry(rt, _plain(body))
    for key in reconciler.services_for_packet(rt, namespace, name, (body.get("spec") or {}).get("service")):
        rt.enqueue(key)


@kopf.on.event(*RPOL, id="readinesspolicy")
def on_policy(type: str, body: kopf.Body, name: str, memo: kopf.Memo, **_: Any) -> None:
    rt = _runtime(memo)
    if type == "DELETED":
        rt.inventory.drop("policies", ("", name))
    else:
        rt.inventory.put("policies", body)
    for key in reconciler.all_service_keys(rt):
        rt.enqueue(key)


@kopf.on.event("apps", "v1", "deployments", id="deployment")
async def on_deployment(namespace: str | None, name: str, memo: kopf.Memo, **_: Any) -> None:
    _workload_changed(_runtime(memo), WorkloadKind.DEPLOYMENT, namespace or "", name)


def _workload_changed(rt: Runtime, kind: WorkloadKind, namespace: str, name: str) -> None:
    owner = rt.claimant(namespace, name, kind)
    if owner is not None:  # ungoverned workloads are none of Airlock's business
        rt.enqueue((namespace, owner))


def register_workload_handlers(kinds: Iterable[WorkloadKind]) -> None:
    """Watches the other kinds of workload the settings enable (the Deployment handler is always on):
    registered before the operator starts, so a cluster without Argo Rollouts is never asked for
    Rollouts."""
    for kind in kinds:
        if kind is WorkloadKind.DEPLOYMENT:
            continue
        wt = WORKLOAD_TYPES[kind]

        async def on_workload(
            namespace: str | None, name: str, memo: kopf.Memo, _kind: WorkloadKind = kind, **_: Any
        ) -> None:
            _workload_changed(_runtime(memo), _kind, namespace or "", name)

        kopf.on.event(wt.group, wt.version, wt.plural, id=kind.value.lower())(on_workload)


def register_autoscaler_handlers(hpas: bool, scaled_objects: bool) -> None:
    """Watches HPAs and KEDA ScaledObjects as the settings enable: one created above the cap is reported,
    and a ScaledObject created while its workload is killed is paused, at once rather than at the resync."""
    if hpas:
        kopf.on.event("autoscaling", "v2", "horizontalpodautoscalers", id="hpa")(_on_autoscaler)
    if scaled_objects:
        kopf.on.event("keda.sh", "v1alpha1", "scaledobjects", id="scaledobject")(_on_autoscaler)


def _on_autoscaler(type: str, body: kopf.Body, namespace: str | None, memo: kopf.Memo, **_: Any) -> None:
    if type == "DELETED":
        return
    target = reconciler.scaled_object_view(_plain(body))  # the same scaleTargetRef on both kinds
    rt = _runtime(memo)
    owner = rt.claimant(namespace or "", target.target_name, target.target_kind)
    if owner is not None:
        rt.enqueue((namespace or "", owner))


def _reconcile_co_claimants(rt: Runtime, namespace: str, name: str, body: kopf.Body) -> None:
    """Other AIServices naming the same workload (stored before admission refused a second claim): which
    of them is the strictest may have changed with this one, so each passes again."""
    workload = (body.get("spec") or {}).get("workload") or {}
    if isinstance(workload.get("name"), str):
        kind = workload.get("kind") or WorkloadKind.DEPLOYMENT.value
        for other in rt.inventory.claimants(namespace, workload["name"], kind):
            if other != name:
                rt.enqueue((namespace, other))


@kopf.on.event("", "v1", "namespaces", id="namespace")
def on_namespace(type: str, body: kopf.Body, name: str, memo: kopf.Memo, **_: Any) -> None:
    rt = _runtime(memo)
    was = rt.governed(name)
    if type == "DELETED":
        rt.inventory.drop("namespaces", ("", name))
    else:
        rt.inventory.put("namespaces", body)
    if rt.governed(name) != was:  # the mark was put on or taken off: its services are judged again
        for key in reconciler.services_in(rt, name):
            rt.enqueue(key)


def _plain(body: kopf.Body) -> dict[str, Any]:
    return {"metadata": dict(body.metadata), "spec": dict(body.spec), "status": dict(body.status)}


def _packets_naming(rt: Runtime, namespace: str, service: str) -> list[str]:
    return [
        body["metadata"]["name"]
        for body in rt.inventory.in_namespace("packets", namespace)
        if (body.get("spec") or {}).get("service") == service
    ]


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
    # A watch can die silently: the TCP connection stays open and nothing arrives (a half-dead proxy,
    # a load balancer that forgot the flow). The API server ends every healthy watch after
    # WATCH_SERVER_TIMEOUT seconds, with a bookmark shortly before; kopf resumes it from the last
    # resourceVersion (a new request, not a re-list). So a stream that shows nothing for
    # WATCH_INACTIVITY_TIMEOUT seconds is dead, and is abandoned for a new connection.
    settings.watching.server_timeout = WATCH_SERVER_TIMEOUT
    settings.watching.inactivity_timeout = WATCH_INACTIVITY_TIMEOUT
    settings.watching.client_timeout = WATCH_SERVER_TIMEOUT * 3  # a last resort, never hit when healthy
    settings.watching.connect_timeout = 5
    settings.networking.connect_timeout = 5
    settings.networking.request_timeout = 30
    # The inventory is complete before kopf starts its watches and hands out the first event.
    started = time.monotonic()
    await asyncio.to_thread(memo["runtime"].refresh)
    log.info("inventory listed in %.2fs", time.monotonic() - started)
    # Every service is queued before the first worker starts, so the first passes already go kill
    # switches first and namespaces in turn.
    for key in reconciler.all_service_keys(memo["runtime"]):
        memo["runtime"].enqueue(key)
    memo["workers"] = reconciler.start_workers(memo["runtime"])
    memo["timer"] = asyncio.get_running_loop().create_task(_timers(memo))
    log.info("airlock operator ready")


@kopf.on.cleanup(id="stop-timers")
async def stop_timers(memo: kopf.Memo, **_: Any) -> None:
    task = memo.get("timer")
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    _runtime(memo).queue.close()


async def _timers(memo: kopf.Memo) -> None:
    """Re-evaluates a service when its evidence lapses or a failed pass is due again, packets whose pass
    failed, and every service once per resync interval."""
    rt = _runtime(memo)
    next_resync = time.monotonic() + rt.settings.resync_seconds
    while True:
        await asyncio.sleep(TIMER_TICK)
        current = dt.datetime.now(dt.UTC)
        due, packets = rt.take_due(current)
        if time.monotonic() >= next_resync:
            next_resync = time.monotonic() + rt.settings.resync_seconds
            try:
                await asyncio.to_thread(rt.refresh)
            except Exception:  # the watches keep the inventory current meanwhile; the next resync retries
                log.exception("re-listing the inventory failed; keeping what the watches delivered")
            due = list(reconciler.all_service_keys(rt))
        try:
            for key in packets:
                await asyncio.to_thread(reconciler.retry_packet, rt, key)
            for key in due:
                rt.enqueue(key)
        except Exception:  # the passes retry their own failures; this loop must outlive any surprise
            log.exception("the timer loop failed an iteration; it carries on")
