"""Generates the CustomResourceDefinitions in crds/ from the pydantic models.

pydantic's JSON schema is not a Kubernetes structural schema as it stands; this module rewrites it:
`$ref` inlined, `anyOf [X, null]` reduced to X (the API server prunes nulls of non-nullable fields, so
CEL rules never see a null), no `title`, no `additionalProperties: false` beside `properties` (the
server prunes unknown fields and `kubectl` refuses them with strict field validation), `const` as a
one-value `enum`, and no `default: null`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import yaml
from pydantic import BaseModel

from airlock.models import packet, policy, service
from airlock.models.base import GROUP, VERSION

Schema = dict[str, Any]

HEADER = "# Generated from operator/airlock/models by `make crds`. Do not edit by hand.\n"


def kubernetes_schema(model: type[BaseModel]) -> Schema:
    """The structural OpenAPI v3 schema of a model, as the API server accepts it."""
    raw = model.model_json_schema(by_alias=True, mode="validation")
    defs = raw.pop("$defs", {})
    out: Schema = _rewrite(raw, defs)
    return out


def _rewrite(node: Any, defs: dict[str, Schema]) -> Any:
    if isinstance(node, list):
        return [_rewrite(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    node = dict(node)
    if "$ref" in node:
        target = copy.deepcopy(defs[node.pop("$ref").rsplit("/", 1)[-1]])
        # Keywords beside the reference (description, default) win over the referenced schema's own.
        node = {**target, **node}
    if "anyOf" in node:
        branches = [b for b in node["anyOf"] if b != {"type": "null"}]
        if len(branches) == 1:
            del node["anyOf"]
            node = {**_rewrite(branches[0], defs), **node}
    if "const" in node:
        node["enum"] = [node.pop("const")]
    node.pop("title", None)
    if node.get("default", 0) is None:
        del node["default"]
    if node.get("additionalProperties") is False and "properties" in node:
        del node["additionalProperties"]
    out: Schema = {}
    for key, value in node.items():
        if key == "properties":
            out[key] = {name: _rewrite(prop, defs) for name, prop in value.items()}
        elif key in ("items", "additionalProperties", "anyOf", "allOf", "oneOf", "not"):
            out[key] = _rewrite(value, defs)
        else:
            out[key] = value
    return out


@dataclass(frozen=True)
class Resource:
    kind: str
    plural: str
    singular: str
    short_names: list[str]
    scope: str
    spec: type[BaseModel]
    status: type[BaseModel] | None
    description: str
    columns: list[dict[str, Any]]
    root_rules: list[dict[str, str]] = field(default_factory=list)
    spec_required: bool = True


AGE = {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}

RESOURCES = [
    Resource(
        kind=service.KIND,
        plural=service.PLURAL,
        singular="aiservice",
        short_names=["ais"],
        scope="Namespaced",
        spec=service.AIServiceSpec,
        status=service.AIServiceStatus,
        description=service.AIService.__doc__ or "",
        columns=[
            {"name": "Stage", "type": "string", "jsonPath": ".status.stage"},
            {
                "name": "Next",
                "type": "string",
                "jsonPath": ".status.nextStage",
                "description": "The stage after this one; BLOCKING says what it still needs.",
            },
            {"name": "Gates", "type": "string", "jsonPath": ".status.gatesPassed"},
            {
                "name": "Blocking",
                "type": "string",
                "jsonPath": ".status.blocking",
                "description": "What the next stage still needs: its failing gates, or the soak to run.",
            },
            {
                "name": "Allowed",
                "type": "integer",
                "jsonPath": ".status.allowedReplicas",
                "description": "Most replicas allowed now; -1 means no cap.",
            },
            {"name": "Replicas", "type": "integer", "jsonPath": ".status.replicas"},
            # From the annotations on-call writes, not the status, so these are true the moment the
            # switch is set, operator up or down. A printer column cannot say "engaged unless exactly
            # false", so it shows the raw value: anything but false (or <none>) is engaged.
            {
                "name": "Kill-Switch",
                "type": "string",
                "jsonPath": ".metadata.annotations.airlock\\.dev/kill-switch",
                "description": "The airlock.dev/kill-switch annotation: engaged unless it is false or "
                "absent, whatever STAGE says.",
            },
            {
                "name": "By",
                "type": "string",
                "jsonPath": ".metadata.annotations.airlock\\.dev/kill-switch-by",
                "description": "Who set the kill switch (airlock.dev/kill-switch-by, which admission "
                "checks against the requesting user).",
            },
            # Behind metadata.generation, the status was computed for an older spec.
            {"name": "Generation", "type": "integer", "jsonPath": ".metadata.generation"},
            {
                "name": "Observed",
                "type": "integer",
                "jsonPath": ".status.observedGeneration",
                "description": "The generation the status was computed for; below Generation, it is stale.",
            },
            {
                "name": "Reason",
                "type": "string",
                "jsonPath": ".metadata.annotations.airlock\\.dev/kill-switch-reason",
                "priority": 1,
            },
            {"name": "Kind", "type": "string", "jsonPath": ".spec.workload.kind", "priority": 1},
            {"name": "Workload", "type": "string", "jsonPath": ".spec.workload.name", "priority": 1},
            {"name": "Packet", "type": "string", "jsonPath": ".status.packet", "priority": 1},
            {"name": "Model", "type": "string", "jsonPath": ".spec.versions.model", "priority": 1},
            {"name": "Prompt", "type": "string", "jsonPath": ".spec.versions.prompt", "priority": 1},
            AGE,
        ],
    ),
    Resource(
        kind=packet.KIND,
        plural=packet.PLURAL,
        singular="readinesspacket",
        short_names=["rp"],
        scope="Namespaced",
        spec=packet.ReadinessPacketSpec,
        status=packet.ReadinessPacketStatus,
        description=packet.ReadinessPacket.__doc__ or "",
        columns=[
            {"name": "Service", "type": "string", "jsonPath": ".spec.service"},
            {"name": "Model", "type": "string", "jsonPath": ".spec.versions.model"},
            {"name": "Prompt", "type": "string", "jsonPath": ".spec.versions.prompt"},
            {"name": "Gates", "type": "string", "jsonPath": ".status.gatesPassed"},
            {"name": "Complete", "type": "boolean", "jsonPath": ".status.complete"},
            {"name": "Expires", "type": "string", "jsonPath": ".status.expiresAt"},
            {"name": "Digest", "type": "string", "jsonPath": ".status.digest", "priority": 1},
            AGE,
        ],
    ),
    Resource(
        kind=policy.KIND,
        plural=policy.PLURAL,
        singular="readinesspolicy",
        short_names=["rpol"],
        scope="Cluster",
        spec=policy.ReadinessPolicySpec,
        status=None,
        description=policy.ReadinessPolicy.__doc__ or "",
        columns=[
            {"name": "On-Regression", "type": "string", "jsonPath": ".spec.onRegression"},
            AGE,
        ],
        root_rules=[
            {
                "rule": f"self.metadata.name == '{policy.DEFAULT_POLICY_NAME}'",
                "message": f"Airlock reads only the ReadinessPolicy named '{policy.DEFAULT_POLICY_NAME}'; "
                "rename this one",
            }
        ],
        spec_required=False,
    ),
]


def crd(resource: Resource) -> Schema:
    """One CustomResourceDefinition."""
    properties: Schema = {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": {"type": "object"},
        "spec": kubernetes_schema(resource.spec),
    }
    if resource.status is not None:
        properties["status"] = kubernetes_schema(resource.status)
    root: Schema = {"type": "object", "description": resource.description.strip(), "properties": properties}
    if resource.spec_required:
        root["required"] = ["spec"]
    if resource.root_rules:
        root["x-kubernetes-validations"] = resource.root_rules
    version: Schema = {
        "name": VERSION,
        "served": True,
        "storage": True,
        "schema": {"openAPIV3Schema": root},
        "additionalPrinterColumns": resource.columns,
    }
    if resource.status is not None:
        version["subresources"] = {"status": {}}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{resource.plural}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "names": {
                "kind": resource.kind,
                "listKind": f"{resource.kind}List",
                "plural": resource.plural,
                "singular": resource.singular,
                "shortNames": resource.short_names,
                "categories": ["airlock"],
            },
            "scope": resource.scope,
            "versions": [version],
        },
    }


def render_all() -> dict[str, str]:
    """File name -> YAML text for every CRD."""
    return {
        f"{GROUP}_{r.plural}.yaml": HEADER + yaml.safe_dump(crd(r), sort_keys=False, width=100)
        for r in RESOURCES
    }
