"""Prometheus metrics on an injected registry (never the global one), served by `airlock run`.

Label sets are bounded: per-service series carry only namespace and service (the stage gauge also a stage,
of at most eight a ReadinessPolicy defines, plus Killed); counters carry a reason or a gate name from fixed
vocabularies.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from airlock.logic.conditions import ConditionReason, ConditionType, find
from airlock.logic.events import GATE_TRANSITION_RESULTS, EventReason
from airlock.models.service import NO_CAP, Stage

if TYPE_CHECKING:
    from airlock.logic.reconcile import Plan, ServiceView

# The built-in stages and the kill switch's; a ReadinessPolicy's own are added per service.
STAGES: tuple[str, ...] = tuple(Stage)


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        # The stage label values each service has a series for, so a renamed stage's series is removed.
        self._stage_series: dict[tuple[str, str], set[str]] = {}
        r = self.registry
        per_service = ["namespace", "service"]
        self.stage = Gauge(
            "airlock_service_stage",
            "1 for the stage the AIService is in.",
            [*per_service, "stage"],
            registry=r,
        )
        self.allowed = Gauge(
            "airlock_service_allowed_replicas",
            f"Most replicas allowed now; {NO_CAP} means no cap.",
            per_service,
            registry=r,
        )
        self.replicas = Gauge(
            "airlock_service_replicas", "Replicas the Deployment asks for.", per_service, registry=r
        )
        self.gates_passed = Gauge(
            "airlock_service_gates_passed", "Required gates passing.", per_service, registry=r
        )
        self.gates_required = Gauge(
            "airlock_service_gates_required", "Required gates.", per_service, registry=r
        )
        self.regressed = Gauge(
            "airlock_service_regressed",
            "1 when a promoted service's gates no longer pass.",
            per_service,
            registry=r,
        )
        self.over_cap = Gauge(
            "airlock_service_over_cap",
            "1 when the Deployment was seen above its cap.",
            per_service,
            registry=r,
        )
        self.kill_engaged = Gauge(
            "airlock_kill_switch_engaged", "1 while the kill switch is engaged.", per_service, registry=r
        )
        self.kill_since = Gauge(
            "airlock_kill_switch_engaged_since_timestamp_seconds",
            "When the kill switch was engaged (Unix time); 0 when not engaged.",
            per_service,
            registry=r,
        )
        self.expires = Gauge(
            "airlock_evidence_expires_timestamp_seconds",
            "When the earliest evidence of the service's packet lapses (Unix time); 0 when none.",
            per_service,
            registry=r,
        )
        self.scale_downs = Counter(
            "airlock_backstop_scale_downs_total",
            "Deployments scaled down to their cap by the operator.",
            registry=r,
        )
        self.kill_activations = Counter(
            "airlock_kill_switch_activations_total", "Kill switches engaged.", registry=r
        )
        self.kill_releases = Counter(
            "airlock_kill_switch_releases_total", "Kill switches released.", registry=r
        )
        self.gate_transitions = Counter(
            "airlock_gate_transitions_total", "Gate results that changed.", ["result"], registry=r
        )
        self.events = Counter(
            "airlock_events_total", "Kubernetes Events recorded, by reason.", ["reason"], registry=r
        )
        self.passes = Counter(
            "airlock_reconcile_passes",
            "Reconcile passes completed, per object. It rises after every change the operator has looked "
            "at, so it answers 'has the operator seen this object since I changed it?'",
            ["kind", "namespace", "name"],
            registry=r,
        )
        self.failures = Counter(
            "airlock_reconcile_failures",
            "Reconcile passes that failed, by kind of object and of failure (Transient, Refused, Invalid, "
            "Bug); any Bug is a defect to report.",
            ["kind", "failure"],
            registry=r,
        )
        self.reconcile_seconds = Histogram(
            "airlock_reconcile_duration_seconds",
            "Time of one reconcile pass.",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=r,
        )
        self.kill_reaction_seconds = Histogram(
            "airlock_kill_switch_reaction_seconds",
            "From the kill-switch event seen to the scale to zero written.",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=r,
        )

    def observe_service(self, view: ServiceView, plan: Plan) -> None:
        labels = (view.namespace, view.name)
        status = plan.status
        names = {*STAGES, *(s.name for s in status.stages)}
        for gone in self._stage_series.get(labels, set()) - names:
            with contextlib.suppress(KeyError):
                self.stage.remove(*labels, gone)
        self._stage_series[labels] = names
        for stage in names:
            self.stage.labels(*labels, stage).set(1 if status.stage == stage else 0)
        self.allowed.labels(*labels).set(
            status.allowed_replicas if status.allowed_replicas is not None else NO_CAP
        )
        self.replicas.labels(*labels).set(status.replicas or 0)
        if plan.report is not None:
            self.gates_passed.labels(*labels).set(len(plan.report.required) - len(plan.report.blocking))
            self.gates_required.labels(*labels).set(len(plan.report.required))
            self.expires.labels(*labels).set(
                plan.report.expires_at.timestamp() if plan.report.expires_at else 0
            )
        ready = find(status.conditions, ConditionType.READY)
        regressed = ready is not None and ready.reason == ConditionReason.GATES_REGRESSED
        self.regressed.labels(*labels).set(1 if regressed else 0)
        self.over_cap.labels(*labels).set(
            1 if any(e.reason is EventReason.SCALED_TO_CAP for e in plan.events) else 0
        )
        kill = status.kill_switch
        engaged = bool(kill and kill.engaged)
        self.kill_engaged.labels(*labels).set(1 if engaged else 0)
        self.kill_since.labels(*labels).set(kill.since.timestamp() if engaged and kill and kill.since else 0)

    def forget_service(self, namespace: str, name: str) -> None:
        for gauge in (
            self.allowed,
            self.replicas,
            self.gates_passed,
            self.gates_required,
            self.regressed,
            self.over_cap,
            self.kill_engaged,
            self.kill_since,
            self.expires,
        ):
            with contextlib.suppress(KeyError):
                gauge.remove(namespace, name)
        for stage in self._stage_series.pop((namespace, name), set(STAGES)):
            with contextlib.suppress(KeyError):
                self.stage.remove(namespace, name, stage)
        with contextlib.suppress(KeyError):
            self.passes.remove("AIService", namespace, name)

    def count_pass(self, kind: str, namespace: str, name: str) -> None:
        self.passes.labels(kind, namespace, name).inc()

    def forget_packet(self, namespace: str, name: str) -> None:
        with contextlib.suppress(KeyError):
            self.passes.remove("ReadinessPacket", namespace, name)

    def count_scale(self, plan: Plan) -> None:
        if any(e.reason is EventReason.SCALED_TO_CAP for e in plan.events):
            self.scale_downs.inc()

    def count_event(self, reason: str, count: int = 1) -> None:
        """Counts an Event; `count` is how many gate transitions a gate Event stands for."""
        self.events.labels(reason).inc()
        if reason == EventReason.KILL_SWITCH_ENGAGED:
            self.kill_activations.inc()
        elif reason == EventReason.KILL_SWITCH_RELEASED:
            self.kill_releases.inc()
        elif reason in GATE_TRANSITION_RESULTS:
            self.gate_transitions.labels(GATE_TRANSITION_RESULTS[EventReason(reason)]).inc(count)
