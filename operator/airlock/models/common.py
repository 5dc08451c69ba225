"""Vocabulary shared by the AIService, the ReadinessPacket and the ReadinessPolicy."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, Field, StringConstraints

from airlock.models.base import ApiModel

# Bounded strings keep CEL cost estimates finite and stop one field from filling etcd.
Name = Annotated[
    str,
    StringConstraints(min_length=1, max_length=253, pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"),
]
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=256)]
Text = Annotated[str, StringConstraints(max_length=2048)]
VersionString = Annotated[str, StringConstraints(min_length=1, max_length=256)]

MAX_REPLICAS = 100_000


class GateName(StrEnum):
    """The eleven readiness gates, in evaluation order."""

    USE_CASE = "useCase"
    DATA_GOVERNANCE = "dataGovernance"
    VERSIONS = "versions"
    EVALS = "evals"
    OBSERVABILITY = "observability"
    TOOL_PERMISSIONS = "toolPermissions"
    SECURITY_REVIEW = "securityReview"
    COST = "cost"
    OWNERSHIP = "ownership"
    ROLLOUT = "rollout"
    SIGNOFFS = "signoffs"


ALL_GATES: tuple[GateName, ...] = tuple(GateName)


class Versions(ApiModel):
    """The model, prompt and retrieval versions that one deployment of the service runs."""

    model: VersionString = Field(description="Model version, for example gpt-4o-2024-08-06.")
    prompt: VersionString = Field(description="Prompt (instructions) version, for example v14.")
    retrieval: VersionString | None = Field(
        default=None, description="Retrieval index or knowledge-base version; omit when the service has none."
    )


class GateResult(ApiModel):
    """The outcome of one readiness gate."""

    name: GateName = Field(description="Gate name.")
    passed: bool = Field(description="Whether the gate's evidence is complete and current.")
    reason: Annotated[str, StringConstraints(max_length=64)] = Field(
        description="PascalCase reason, from Airlock's documented vocabulary."
    )
    message: Annotated[str, StringConstraints(max_length=1024)] = Field(
        description="What is missing and what to do about it, as a sentence."
    )


class Condition(ApiModel):
    """A status condition in the metav1.Condition shape, so kubectl wait understands it."""

    type: Annotated[str, StringConstraints(min_length=1, max_length=64)] = Field(
        description="Condition type."
    )
    status: Literal["True", "False", "Unknown"] = Field(description="True, False or Unknown.")
    observed_generation: int | None = Field(
        default=None, ge=0, description="The .metadata.generation the condition was set for."
    )
    last_transition_time: AwareDatetime = Field(description="When the status last changed.")
    reason: Annotated[str, StringConstraints(min_length=1, max_length=128)] = Field(
        description="PascalCase reason for the last transition."
    )
    # Airlock writes its own conditions and keeps their messages to 1024 characters (logic/conditions).
    message: Annotated[str, StringConstraints(max_length=1024)] = Field(
        default="", description="A sentence a person can act on."
    )
