"""The operator's settings: one validated object, read from flags and AIRLOCK_* environment variables."""

from __future__ import annotations

import json
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from airlock.models.service import WorkloadKind


class Settings(BaseSettings):
    """Settings of `airlock run`. Environment variables are AIRLOCK_<NAME>; flags override them."""

    model_config = SettingsConfigDict(env_prefix="AIRLOCK_", extra="forbid", frozen=True)

    # NoDecode: AIRLOCK_NAMESPACES=a,b is split below instead of being parsed as JSON.
    namespaces: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Namespaces to watch; empty watches the whole cluster."
    )
    metrics_port: int = Field(default=8080, ge=0, le=65535, description="Port of /metrics; 0 turns it off.")
    metrics_address: str = Field(
        default="0.0.0.0",
        description="Address /metrics binds to; 127.0.0.1 keeps it on the machine.",
    )
    resync_seconds: float = Field(
        default=300.0,
        gt=0,
        le=86400,
        description="How often every AIService is reconciled even if nothing changed.",
    )
    log_format: Literal["text", "json"] = Field(default="text", description="Log format.")
    verbose: bool = Field(default=False, description="Debug logging.")
    field_manager: str = Field(default="airlock-operator", min_length=1, max_length=128)
    workers: int = Field(default=8, ge=1, le=256, description="Threads that run reconciles.")
    # Only the kinds whose CRDs exist and whose RBAC the chart grants (its workloads.* values): watching a
    # kind the API server does not serve, or may not be listed, would fail the operator's start.
    workload_kinds: Annotated[list[WorkloadKind], NoDecode] = Field(
        default_factory=lambda: [WorkloadKind.DEPLOYMENT, WorkloadKind.STATEFUL_SET],
        description="Kinds of workload the operator watches, scales and labels; Deployment always.",
    )

    hpas: bool = Field(
        default=True,
        description="Report on an HPA whose maxReplicas exceeds its workload's cap, with a Warning Event on "
        "the HPA (the chart's autoscalers.horizontalPodAutoscalers: read-only RBAC on HPAs).",
    )
    scaled_objects: bool = Field(
        default=False,
        description="Pause KEDA ScaledObjects of a killed workload (needs KEDA's CRDs and the chart's "
        "autoscalers.scaledObjects RBAC).",
    )

    @field_validator("workload_kinds", mode="before")
    @classmethod
    def _split_kinds(cls, value: object) -> object:
        if isinstance(value, str):
            if value.strip().startswith("["):
                value = json.loads(value)
            else:
                value = [v.strip() for v in value.split(",") if v.strip()]
        if isinstance(value, list) and WorkloadKind.DEPLOYMENT.value not in value:
            value = [WorkloadKind.DEPLOYMENT.value, *value]
        return value

    @field_validator("namespaces", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        # AIRLOCK_NAMESPACES=a,b as well as a JSON list (what the Helm chart sets).
        if isinstance(value, str):
            if value.strip().startswith("["):
                return json.loads(value)
            return [v.strip() for v in value.split(",") if v.strip()]
        return value
