"""Stage definitions: the steps a service widens through, each with a cap, the gates it needs and a soak.

The ReadinessPolicy defines the organisation's stages; an AIService may tighten them, never loosen them
(logic/stages.py merges the two). Without stages anywhere a service has today's two: Pilot, capped at its
pilot size, and Production, which needs every required gate.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import Field, StringConstraints, field_validator, model_validator

from airlock.models.base import ApiModel
from airlock.models.common import MAX_REPLICAS, GateName

# The stage name is a label value (airlock.dev/stage) and a kubectl column; Killed is the kill switch's.
KILLED_STAGE = "Killed"
PILOT_STAGE = "Pilot"
PRODUCTION_STAGE = "Production"
MAX_STAGES = 8

StageName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=32, pattern=r"^[A-Za-z][A-Za-z0-9-]*[A-Za-z0-9]$|^[A-Za-z]$"),
]
# A duration as Kubernetes users write them: 30s, 10m, 24h, 7d, or combined in that order (1h30m).
DURATION_PATTERN = r"^([0-9]+d)?([0-9]+h)?([0-9]+m)?([0-9]+s)?$"
Duration = Annotated[str, StringConstraints(min_length=2, max_length=32, pattern=DURATION_PATTERN)]
_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


def parse_duration(text: str) -> timedelta:
    """The timedelta of a duration such as 1h30m; raises ValueError for anything else."""
    if not text or not re.fullmatch(DURATION_PATTERN, text):
        raise ValueError(f"{text!r} is not a duration such as 30s, 10m, 24h, 7d or 1h30m")
    seconds = sum(int(n) * _UNITS[u] for n, u in re.findall(r"([0-9]+)([dhms])", text))
    return timedelta(seconds=seconds)


class StageSpec(ApiModel):
    """One step of the rollout: how far the service may scale in it, and what it takes to get there."""

    model_config = ApiModel.model_config | {
        "json_schema_extra": {
            "x-kubernetes-validations": [
                {
                    "rule": "!(has(self.replicas) && has(self.maxReplicasPercent))",
                    "message": "a stage's cap is replicas or maxReplicasPercent, not both",
                },
                {"rule": f"self.name != '{KILLED_STAGE}'", "message": "Killed is the kill switch's stage"},
            ]
        }
    }

    name: StageName = Field(
        description="The stage's name, shown in kubectl get, the airlock.dev/stage label and Events."
    )
    replicas: int | None = Field(
        default=None,
        ge=0,
        le=MAX_REPLICAS,
        description="The most replicas in this stage. Omit it (and maxReplicasPercent) for the service's "
        "ceiling; the first stage is never above the service's pilot size.",
    )
    max_replicas_percent: int | None = Field(
        default=None,
        ge=1,
        le=100,
        description="The cap as a share of the service's ceiling (spec.maxReplicas or the policy's limit), "
        "rounded down, never below the pilot size. A service without a ceiling stays at its pilot size in "
        "such a stage, unless the share is 100.",
    )
    required_gates: list[GateName] | None = Field(
        default=None,
        max_length=len(GateName),
        description="Gates this stage needs, besides those of every stage below it. The last stage "
        "always needs every required gate; the first needs none.",
        json_schema_extra={"x-kubernetes-list-type": "set"},
    )
    min_soak: Duration | None = Field(
        default=None,
        description="How long the service must have served in the stage below before it enters this one, "
        "for example 30m, 24h or 7d. A kill switch restarts it.",
    )
    traffic_weight: int | None = Field(
        default=None,
        ge=0,
        le=100,
        description="The share of traffic, in percent, this stage allows: published in status.trafficWeight "
        "for Argo Rollouts, Gateway API or a mesh to read. Airlock does not shift traffic.",
    )

    @field_validator("min_soak")
    @classmethod
    def _soak_parses(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value

    @model_validator(mode="after")
    def _one_cap(self) -> StageSpec:
        if self.replicas is not None and self.max_replicas_percent is not None:
            raise ValueError("a stage's cap is replicas or maxReplicasPercent, not both")
        if self.name == KILLED_STAGE:
            raise ValueError("Killed is the kill switch's stage")
        return self

    @property
    def soak(self) -> timedelta:
        return parse_duration(self.min_soak) if self.min_soak else timedelta(0)


def stages_field(description: str, rules: list[dict[str, str]] | None = None) -> Any:
    """The `stages` list of the ReadinessPolicy and the AIService: at most eight, names unique, and
    `rules` as CEL validations of the list."""
    extra: dict[str, Any] = {"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]}
    if rules:
        extra["x-kubernetes-validations"] = rules
    return Field(default=None, max_length=MAX_STAGES, description=description, json_schema_extra=extra)


def unique_names(stages: list[StageSpec] | None) -> list[StageSpec] | None:
    """Refuses two stages of one name (the CRD's list-type map does the same at the API)."""
    if stages is not None:
        names = [s.name for s in stages]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"stage names must be unique: {', '.join(dupes)} appears more than once")
    return stages
