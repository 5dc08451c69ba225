"""The AIService: which Deployment is the AI service, what it runs, and how far it may scale."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, Field, StringConstraints, field_validator, model_validator

from airlock.models.base import ApiModel
from airlock.models.common import (
    MAX_REPLICAS,
    Condition,
    GateName,
    GateResult,
    Name,
    ShortText,
    Versions,
)
from airlock.models.stages import MAX_STAGES, StageName, StageSpec, stages_field, unique_names

KIND = "AIService"
PLURAL = "aiservices"

KILL_SWITCH_ANNOTATION = "airlock.dev/kill-switch"
KILL_SWITCH_REASON_ANNOTATION = "airlock.dev/kill-switch-reason"
# Recorded with the switch by whoever engages it (kubectl airlock kill), so the replicas to restore and
# the time it was engaged are known even when no operator is running to record them.
KILL_SWITCH_BY_ANNOTATION = "airlock.dev/kill-switch-by"
KILL_SWITCH_REPLICAS_BEFORE_ANNOTATION = "airlock.dev/kill-switch-replicas-before"
KILL_SWITCH_SINCE_ANNOTATION = "airlock.dev/kill-switch-since"
# Every annotation that goes with an engaged switch; a restore removes them all.
KILL_SWITCH_ANNOTATIONS = (
    KILL_SWITCH_ANNOTATION,
    KILL_SWITCH_REASON_ANNOTATION,
    KILL_SWITCH_BY_ANNOTATION,
    KILL_SWITCH_REPLICAS_BEFORE_ANNOTATION,
    KILL_SWITCH_SINCE_ANNOTATION,
)
VERSIONS_ANNOTATION = "airlock.dev/versions"
# Every airlock.dev/ annotation key Airlock knows on an AIService; any other under airlock.dev/ is a near
# miss (a typo such as airlock.dev/killswitch). manifests/admission/annotation-warnings.yaml lists the
# same keys; a test keeps the two equal.
KNOWN_ANNOTATIONS = (*KILL_SWITCH_ANNOTATIONS, VERSIONS_ANNOTATION)

# -1 in status.allowedReplicas means "no cap"; the admission policy reads it.
NO_CAP = -1


class Stage(StrEnum):
    """The built-in stages, and the kill switch's. A ReadinessPolicy may name others (models/stages.py)."""

    PILOT = "Pilot"
    PRODUCTION = "Production"
    KILLED = "Killed"


class WorkloadKind(StrEnum):
    DEPLOYMENT = "Deployment"
    STATEFUL_SET = "StatefulSet"
    ROLLOUT = "Rollout"


WorkloadApiVersion = Literal["apps/v1", "argoproj.io/v1alpha1"]


@dataclass(frozen=True)
class WorkloadType:
    """Where a kind of workload lives in the API: what admission, RBAC and the operator's reads name."""

    api_version: WorkloadApiVersion
    kind: WorkloadKind
    group: str
    version: str
    plural: str


# Every kind an AIService may govern. Each has spec.replicas and a /scale subresource, which is all the
# cap needs. The CRD's CEL rule, the admission policies and the chart's RBAC name the same kinds.
WORKLOAD_TYPES: dict[WorkloadKind, WorkloadType] = {
    WorkloadKind.DEPLOYMENT: WorkloadType("apps/v1", WorkloadKind.DEPLOYMENT, "apps", "v1", "deployments"),
    WorkloadKind.STATEFUL_SET: WorkloadType(
        "apps/v1", WorkloadKind.STATEFUL_SET, "apps", "v1", "statefulsets"
    ),
    WorkloadKind.ROLLOUT: WorkloadType(
        "argoproj.io/v1alpha1", WorkloadKind.ROLLOUT, "argoproj.io", "v1alpha1", "rollouts"
    ),
}
DEFAULT_WORKLOAD_KIND = WorkloadKind.DEPLOYMENT


def _workload_rule() -> str:
    pairs = " || ".join(
        f"(self.apiVersion == '{t.api_version}' && self.kind == '{t.kind}')" for t in WORKLOAD_TYPES.values()
    )
    return pairs


class WorkloadRef(ApiModel):
    """The workload, in the AIService's namespace, that serves this AI service.

    apiVersion and kind default to apps/v1 Deployment in the CRD schema, so an AIService written before
    they existed (only a name) is read by the API server, admission and the operator as a Deployment.
    """

    model_config = ApiModel.model_config | {
        "json_schema_extra": {
            "x-kubernetes-validations": [
                {
                    "rule": _workload_rule(),
                    "message": "workload must be apps/v1 Deployment or StatefulSet, or argoproj.io/v1alpha1 "
                    "Rollout",
                }
            ]
        }
    }

    api_version: WorkloadApiVersion = Field(
        default="apps/v1", description="API version of the workload: apps/v1 or argoproj.io/v1alpha1."
    )
    kind: WorkloadKind = Field(
        default=DEFAULT_WORKLOAD_KIND,
        description="Kind of the workload: Deployment (the default), StatefulSet, or Rollout.",
    )
    name: Name = Field(description="Name of the workload in the same namespace.")

    @model_validator(mode="after")
    def _supported_pair(self) -> WorkloadRef:
        if WORKLOAD_TYPES[self.kind].api_version != self.api_version:
            raise ValueError(
                f"workload kind {self.kind} has apiVersion {WORKLOAD_TYPES[self.kind].api_version}, "
                f"not {self.api_version}"
            )
        return self

    @property
    def type(self) -> WorkloadType:
        return WORKLOAD_TYPES[self.kind]


class PacketRef(ApiModel):
    """A ReadinessPacket, in the AIService's namespace, chosen explicitly."""

    name: Name = Field(description="Name of the ReadinessPacket in the same namespace.")


class AIServiceSpec(ApiModel):
    """Desired state of an AI service governed by Airlock."""

    model_config = ApiModel.model_config | {
        "json_schema_extra": {
            "x-kubernetes-validations": [
                {
                    "rule": "!has(self.maxReplicas) || self.maxReplicas >= self.pilotReplicas",
                    "message": "maxReplicas must be at least pilotReplicas",
                    "fieldPath": ".maxReplicas",
                },
                {
                    "rule": "!has(self.maxReplicas) || !has(self.stages) || "
                    "self.stages.all(s, !has(s.replicas) || s.replicas <= self.maxReplicas)",
                    "message": "a stage's replicas may not exceed maxReplicas",
                    "fieldPath": ".stages",
                },
            ]
        }
    }

    workload: WorkloadRef = Field(description="The workload (a Deployment by default) serving this service.")
    owner: ShortText = Field(description="A named person or team who owns wrong answers and can say no.")
    versions: Versions = Field(
        description="The versions this service runs now; a ReadinessPacket must attest exactly these."
    )
    pilot_replicas: int = Field(
        default=1,
        ge=0,
        le=MAX_REPLICAS,
        description="Replicas the Deployment may run while required gates are unmet (may be 0).",
    )
    max_replicas: int | None = Field(
        default=None,
        ge=0,
        le=MAX_REPLICAS,
        description="Ceiling on replicas even when every gate passes; omit for no ceiling.",
    )
    required_gates: list[GateName] | None = Field(
        default=None,
        max_length=len(GateName),
        description=(
            "Gates that must pass before the service may leave its pilot. Omit for the policy's list; "
            "the policy's mandatory gates are always required."
        ),
        json_schema_extra={"x-kubernetes-list-type": "set"},
    )
    packet_ref: PacketRef | None = Field(
        default=None,
        description="The ReadinessPacket to use; omit to use the packet whose spec.service names this "
        "service and whose versions match.",
    )
    stages: list[StageSpec] | None = stages_field(
        "This service's stages: tighten the ReadinessPolicy's (by name: a lower cap, more gates, a longer "
        "soak) or add steps between them, which need at least what the policy's next stage needs. Omit "
        "for the policy's stages (docs/stages.md)."
    )

    @field_validator("stages")
    @classmethod
    def _stage_names_unique(cls, stages: list[StageSpec] | None) -> list[StageSpec] | None:
        return unique_names(stages)

    @model_validator(mode="after")
    def _ceiling_above_pilot(self) -> AIServiceSpec:
        if self.max_replicas is not None and self.max_replicas < self.pilot_replicas:
            raise ValueError("maxReplicas must be at least pilotReplicas")
        if self.max_replicas is not None:
            for stage in self.stages or ():
                if stage.replicas is not None and stage.replicas > self.max_replicas:
                    raise ValueError(
                        f"stage {stage.name} asks for {stage.replicas} replicas, above maxReplicas "
                        f"{self.max_replicas}"
                    )
        return self


class KillSwitchStatus(ApiModel):
    """What the kill switch did, so a restore knows what to bring back."""

    engaged: bool = Field(description="Whether the kill switch is engaged now.")
    reason: Annotated[str, StringConstraints(max_length=1024)] | None = Field(
        default=None, description="The reason on-call gave in airlock.dev/kill-switch-reason."
    )
    engaged_by: Annotated[str, StringConstraints(max_length=256)] | None = Field(
        default=None,
        description="Who engaged it: airlock.dev/kill-switch-by, which admission checks against the "
        "requesting identity; absent when the switch was set without it.",
    )
    released_by: Annotated[str, StringConstraints(max_length=256)] | None = Field(
        default=None,
        description="Who released it last: the airlock.dev/kill-switch-by the release set (kubectl "
        "airlock restore sets it to the releaser's own name, and admission refuses any other). Absent "
        "when the release did not name anyone, such as a plain removal of the annotation.",
    )
    since: AwareDatetime | None = Field(default=None, description="When the switch was engaged.")
    replicas_before: int | None = Field(
        default=None, ge=0, description="Replicas the Deployment had when the switch was engaged."
    )


class StageStatus(ApiModel):
    """One stage as the operator resolved it for this service: its cap and what it still needs."""

    name: StageName = Field(description="The stage's name.")
    allowed_replicas: int = Field(ge=NO_CAP, description="The cap in this stage; -1 means no cap.")
    gates_pass: bool = Field(description="Whether every gate this stage needs passes.")
    blocking_gates: list[GateName] = Field(
        default_factory=list,
        max_length=len(GateName),
        description="Gates this stage needs that fail.",
        json_schema_extra={"x-kubernetes-list-type": "set"},
    )
    min_soak: Annotated[str, StringConstraints(max_length=32)] | None = Field(
        default=None, description="Time to serve in the stage below before entering this one."
    )
    traffic_weight: int | None = Field(default=None, ge=0, le=100, description="Traffic share, percent.")


class AIServiceStatus(ApiModel):
    """Observed state, written by the operator only."""

    stage: StageName | None = Field(
        default=None,
        description="The stage the service is in (Pilot or Production unless stages are defined), or "
        "Killed while the kill switch is engaged.",
    )
    reached_stage: StageName | None = Field(
        default=None,
        description="The stage the gates and soak have reached; stage says Killed over it while the kill "
        "switch is engaged.",
    )
    stage_since: AwareDatetime | None = Field(
        default=None, description="When the service entered reachedStage; a soak counts from here."
    )
    peak_stage: StageName | None = Field(
        default=None,
        description="The highest stage the service has reached; gates failing below it are a regression.",
    )
    next_stage: StageName | None = Field(
        default=None, description="The stage after reachedStage; absent in the last."
    )
    traffic_weight: int | None = Field(
        default=None,
        ge=0,
        le=100,
        description="The share of traffic, in percent, the stage allows (0 while killed); absent when the "
        "stage states none. For Argo Rollouts, Gateway API or a mesh to read: Airlock does not shift "
        "traffic.",
    )
    stages: list[StageStatus] = Field(
        default_factory=list,
        # The policy's stages and those the AIService adds between them.
        max_length=2 * MAX_STAGES,
        description="Every stage, lowest first, with its cap and what it still needs.",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    allowed_replicas: int | None = Field(
        default=None,
        ge=NO_CAP,
        description="The most replicas the Deployment may have now; -1 means no cap. Admission reads it.",
    )
    replicas: int | None = Field(default=None, ge=0, description="Replicas the Deployment asks for now.")
    gates_passed: Annotated[str, StringConstraints(max_length=16)] | None = Field(
        default=None, description="Required gates passed, as passed/required."
    )
    blocking_gates: list[GateName] = Field(
        default_factory=list,
        max_length=len(GateName),
        description="Required gates that fail.",
        json_schema_extra={"x-kubernetes-list-type": "set"},
    )
    blocking: Annotated[str, StringConstraints(max_length=256)] | None = Field(
        default=None, description="Short summary of what blocks promotion, for kubectl get and admission."
    )
    gates: list[GateResult] = Field(
        default_factory=list,
        max_length=len(GateName),
        description="Every gate's result.",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    packet: Name | None = Field(default=None, description="The ReadinessPacket the gates were evaluated on.")
    promoted: bool | None = Field(
        default=None, description="Whether the service has left its pilot; regressions hold it instead."
    )
    held_replicas: int | None = Field(
        default=None, ge=0, description="Replicas kept while a promoted service's gates have regressed."
    )
    expires_at: AwareDatetime | None = Field(
        default=None, description="When the earliest evidence lapses and gates are evaluated again."
    )
    kill_switch: KillSwitchStatus | None = Field(default=None, description="Kill-switch state.")
    conditions: list[Condition] = Field(
        default_factory=list,
        max_length=16,
        description="Ready, GatesPassed, KillSwitchEngaged, WorkloadFound and AnnotationsRecognized.",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )
    observed_generation: int | None = Field(
        default=None, ge=0, description="The .metadata.generation this status was computed for."
    )


class AIService(ApiModel):
    """An AI service kept in its pilot until its readiness evidence is complete."""

    spec: AIServiceSpec
    status: AIServiceStatus | None = None
