"""The ReadinessPolicy: organisation-wide settings a platform team owns, with safe built-in defaults."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field, StringConstraints, field_validator

from airlock.models.base import ApiModel
from airlock.models.common import ALL_GATES, MAX_REPLICAS, GateName, ShortText
from airlock.models.packet import EvalCategory
from airlock.models.stages import StageSpec, stages_field, unique_names

KIND = "ReadinessPolicy"
PLURAL = "readinesspolicies"
# The one policy the operator reads; others are ignored and a CEL rule refuses them.
DEFAULT_POLICY_NAME = "default"

Role = Annotated[
    str, StringConstraints(min_length=1, max_length=63, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
]


class RegressionAction(StrEnum):
    """What happens to a promoted service whose gates stop passing."""

    HOLD = "Hold"
    SCALE_DOWN = "ScaleDown"


class MaxAgeDays(ApiModel):
    """How old evidence may be before its gate fails with reason Expired."""

    evals: int = Field(default=30, ge=1, le=3650, description="Days an eval run stays valid.")
    security_review: int = Field(
        default=90,
        ge=1,
        le=3650,
        description="Days a security review, and the agentic review of tools that act, stay valid.",
    )
    kill_switch_drill: int = Field(
        default=90, ge=1, le=3650, description="Days a kill-switch drill stays valid."
    )


DEFAULT_EVAL_CATEGORIES: tuple[EvalCategory, ...] = tuple(
    c for c in EvalCategory if c is not EvalCategory.CUSTOM
)


# The pilot size an AIService may ask for when no ReadinessPolicy says otherwise. The admission policies
# use the same number (replica-cap.yaml, service-governance.yaml); a test keeps them equal.
BUILTIN_PILOT_REPLICAS_LIMIT = 3


class Limits(ApiModel):
    """Bounds on what a service team may set in its own AIService: they cap the cap."""

    pilot_replicas: int = Field(
        default=BUILTIN_PILOT_REPLICAS_LIMIT,
        ge=0,
        le=MAX_REPLICAS,
        description="The most an AIService's spec.pilotReplicas may allow; a larger value is refused at "
        "admission and capped to this by the operator.",
    )
    max_replicas: int | None = Field(
        default=None,
        ge=0,
        le=MAX_REPLICAS,
        description="The most replicas any AIService may run even when every gate passes; omit for no "
        "organisation-wide ceiling (each AIService's spec.maxReplicas still applies).",
    )


_POLICY_STAGE_RULES = [
    {"rule": "size(self) >= 2", "message": "stages needs at least two: a first stage and a last"},
    {
        "rule": "!has(self[0].requiredGates) && !has(self[0].minSoak)",
        "message": "the first stage is where every service starts: it takes no requiredGates and no minSoak",
    },
]


class ReadinessPolicySpec(ApiModel):
    """Organisation-wide readiness settings. Every default here is the built-in policy."""

    required_gates: list[GateName] = Field(
        default_factory=lambda: list(ALL_GATES),
        max_length=len(GateName),
        description="Gates every AIService must pass; a service may add gates, never drop these.",
        json_schema_extra={"x-kubernetes-list-type": "set"},
    )
    required_roles: list[Role] = Field(
        default_factory=lambda: ["owner", "security"],
        max_length=32,
        description="Roles that must approve a packet's exact content for the signoffs gate.",
        json_schema_extra={"x-kubernetes-list-type": "set"},
    )
    required_eval_categories: list[EvalCategory] = Field(
        default_factory=lambda: list(DEFAULT_EVAL_CATEGORIES),
        max_length=len(EvalCategory),
        description="Failure-mode categories the evals must cover.",
        json_schema_extra={"x-kubernetes-list-type": "set"},
    )
    min_pass_rate: float = Field(
        default=1.0, ge=0, le=1, description="Lowest eval pass rate a packet may set for itself."
    )
    max_age_days: MaxAgeDays = Field(
        default_factory=MaxAgeDays, description="Maximum age of evidence, in days."
    )
    on_regression: RegressionAction = Field(
        default=RegressionAction.HOLD,
        description="Hold keeps a promoted service's replicas when its gates regress; ScaleDown returns it "
        "to its pilot size.",
    )
    limits: Limits = Field(
        default_factory=Limits,
        description="Bounds on the pilot size and ceiling a service team may give its own AIService.",
    )
    stages: list[StageSpec] | None = stages_field(
        "The stages every service widens through, lowest first: each with its cap, the gates it needs "
        "and a soak in the stage below. Omit for two: Pilot (the service's pilot size) and Production "
        "(every required gate). An AIService may tighten them, never loosen them (docs/stages.md).",
        _POLICY_STAGE_RULES,
    )
    trusted_git_ops_identities: list[ShortText] = Field(
        default_factory=list,
        max_length=32,
        description="Users (for example Argo CD's ServiceAccount) whose applies carry approvals made in Git.",
        json_schema_extra={"x-kubernetes-list-type": "set"},
    )

    @field_validator("stages")
    @classmethod
    def _stages_valid(cls, stages: list[StageSpec] | None) -> list[StageSpec] | None:
        unique_names(stages)
        if stages is not None:
            if len(stages) < 2:
                raise ValueError("stages needs at least two: a first stage and a last")
            if stages[0].required_gates is not None or stages[0].min_soak is not None:
                raise ValueError(
                    "the first stage is where every service starts: it takes no requiredGates and no minSoak"
                )
        return stages


class ReadinessPolicy(ApiModel):
    """Organisation-wide readiness policy; the operator reads the one named default."""

    spec: ReadinessPolicySpec = Field(default_factory=ReadinessPolicySpec)


BUILTIN_POLICY = ReadinessPolicySpec()
