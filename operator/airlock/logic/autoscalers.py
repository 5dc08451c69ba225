"""What the kill switch does to a KEDA ScaledObject that scales a governed workload: pause it at 0 replicas,
and on release unpause only what Airlock paused.

An HPA needs nothing: it does not scale a workload at 0 replicas, so scaling the workload to 0 stops it
and the restore lets it scale again. KEDA would scale a workload at 0 back up on its next trigger
(activation), so the ScaledObject is paused with KEDA's own annotation, and marked as paused by Airlock so
a restore never unpauses what a person paused.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from airlock.models.service import NO_CAP, AIServiceStatus, Stage

PAUSED_REPLICAS_ANNOTATION = "autoscaling.keda.sh/paused-replicas"
# Which AIService paused the ScaledObject: the restore removes the pause only where this names it.
PAUSED_BY_ANNOTATION = "airlock.dev/paused-by"


@dataclass(frozen=True)
class ScaledObjectView:
    """A ScaledObject as the pause decision sees it: its target and its annotations."""

    name: str
    target_kind: str
    target_name: str
    annotations: Mapping[str, str] = field(default_factory=dict)


def pause_patches(
    service: str,
    killed: bool,
    workload_kind: str,
    workload_name: str,
    scaled_objects: Sequence[ScaledObjectView],
) -> list[tuple[str, dict[str, str | None]]]:
    """The annotation patches, by ScaledObject name, that make the ScaledObjects scaling the workload
    agree with the kill switch; empty when they already do."""
    patches: list[tuple[str, dict[str, str | None]]] = []
    for so in sorted(scaled_objects, key=lambda s: s.name):
        if so.target_kind != workload_kind or so.target_name != workload_name:
            continue
        ours = so.annotations.get(PAUSED_BY_ANNOTATION) == service
        if killed and PAUSED_REPLICAS_ANNOTATION not in so.annotations:
            patches.append((so.name, {PAUSED_REPLICAS_ANNOTATION: "0", PAUSED_BY_ANNOTATION: service}))
        elif killed and ours and so.annotations.get(PAUSED_REPLICAS_ANNOTATION) != "0":
            patches.append((so.name, {PAUSED_REPLICAS_ANNOTATION: "0"}))
        elif not killed and ours:
            patches.append((so.name, {PAUSED_REPLICAS_ANNOTATION: None, PAUSED_BY_ANNOTATION: None}))
    return patches


@dataclass(frozen=True)
class AutoscalerView:
    """An HPA or a ScaledObject as the report sees it: what it scales and the most it would ask for."""

    kind: str  # HorizontalPodAutoscaler or ScaledObject
    name: str
    uid: str
    target_kind: str
    target_name: str
    maximum: int


@dataclass(frozen=True)
class AutoscalerReport:
    """A Warning Event for an autoscaler whose maximum is above its workload's cap."""

    autoscaler: AutoscalerView
    cap: int
    message: str


def capped_autoscalers(
    *,
    service: str,
    namespace: str,
    stage: str | None,
    blocking: str | None,
    killed: bool,
    cap: int,
    workload_kind: str,
    workload_name: str,
    autoscalers: Sequence[AutoscalerView],
) -> list[AutoscalerReport]:
    """The autoscalers of the workload that would ask for more than the cap, each with the sentence the
    admission policy warns with, so the team reads the same reason on the autoscaler itself."""
    if cap < 0:
        return []
    if killed:
        why = f"the kill switch of AIService {service} is engaged"
    else:
        why = f"AIService {service} is {stage or 'not yet evaluated'}"
        if blocking:
            why += f"; blocking gates: {blocking}"
    reports = []
    for a in sorted(autoscalers, key=lambda a: (a.kind, a.name)):
        if a.target_kind != workload_kind or a.target_name != workload_name or a.maximum <= cap:
            continue
        message = (
            f"Airlock: {a.kind} {a.name} scales {workload_kind} {workload_name}, which may run at most {cap} "
            f"replicas (its maximum is {a.maximum}; scale-ups above the cap are denied) because {why}; "
            f"see: kubectl airlock explain {service} -n {namespace}"
        )
        reports.append(AutoscalerReport(a, cap, message))
    return reports


# The Event reason on an autoscaler whose maximum is above its workload's cap.
CAPPED_BY_AIRLOCK = "CappedByAirlock"
KEDA_DEFAULT_MAX = 100  # a ScaledObject without maxReplicaCount, as KEDA reads it


@dataclass(frozen=True)
class CappedWarning:
    """A Warning Event on an autoscaler above the cap, under a name unique to its cap and maximum: the
    API server refuses it as a duplicate when announced again for the same ones."""

    autoscaler: AutoscalerView
    message: str
    event_name: str


@dataclass(frozen=True)
class Pause:
    """An annotation patch of a ScaledObject that makes it agree with the kill switch."""

    scaled_object: str
    patch: dict[str, str | None]
    paused: bool  # paused for the kill switch, or unpaused after its release


def capped_event_name(autoscaler: AutoscalerView, cap: int, killed: bool) -> str:
    digest = hashlib.sha256(f"{autoscaler.uid}/{cap}/{autoscaler.maximum}/{killed}".encode()).hexdigest()
    return f"{autoscaler.name[:200]}.capped-by-airlock.{digest[:16]}"


def plan_pauses(
    service: str,
    status: AIServiceStatus,
    workload_kind: str,
    workload_name: str,
    scaled_objects: Sequence[ScaledObjectView],
) -> list[Pause]:
    """The pauses and unpauses of the workload's ScaledObjects, from the status the pass writes."""
    killed = status.stage == Stage.KILLED
    return [
        Pause(name, patch, killed)
        for name, patch in pause_patches(service, killed, workload_kind, workload_name, scaled_objects)
    ]


def plan_capped_warnings(
    *,
    service: str,
    namespace: str,
    status: AIServiceStatus,
    workload_kind: str,
    workload_name: str,
    autoscalers: Sequence[AutoscalerView],
) -> list[CappedWarning]:
    """The Warnings on the workload's autoscalers above the cap, from the status the pass writes."""
    killed = status.stage == Stage.KILLED
    reports = capped_autoscalers(
        service=service,
        namespace=namespace,
        stage=status.stage,
        blocking=status.blocking,
        killed=killed,
        cap=status.allowed_replicas if status.allowed_replicas is not None else NO_CAP,
        workload_kind=workload_kind,
        workload_name=workload_name,
        autoscalers=autoscalers,
    )
    return [
        CappedWarning(r.autoscaler, r.message, capped_event_name(r.autoscaler, r.cap, killed))
        for r in reports
    ]
