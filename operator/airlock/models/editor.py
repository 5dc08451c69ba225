"""Generates the editor schemas in schemas/ from the pydantic models (`make crds`).

JSON Schema (draft 7) for whole AIService and ReadinessPacket documents, and for the eval category
map, for yaml-language-server and other editors: completion, hover text from the field descriptions, and
errors while typing. Unlike the CRDs, these keep `additionalProperties: false`, so an editor flags a
misspelt field that the API server would refuse.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from airlock.models import packet, service
from airlock.models.base import API_VERSION
from airlock.models.evalmap import EvalCategoryMap

Schema = dict[str, Any]

# Draft 7 is the dialect editors support most widely; the models need nothing newer.
DIALECT = "http://json-schema.org/draft-07/schema#"
GENERATED = "Generated from operator/airlock/models by `make crds`; do not edit by hand."

METADATA: Schema = {
    "type": "object",
    "description": "Standard Kubernetes object metadata.",
    "properties": {
        "name": {"type": "string", "description": "The object's name.", "maxLength": 253},
        "namespace": {"type": "string", "description": "The namespace; the current one when omitted."},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
    },
    "required": ["name"],
}


def _model_schema(model: type[BaseModel]) -> Schema:
    raw: Schema = model.model_json_schema(by_alias=True, mode="validation")
    return raw


def resource_schema(kind: str, spec: type[BaseModel], description: str) -> Schema:
    """A whole document of one kind: apiVersion, kind, metadata, spec; status is the operator's."""
    spec_schema = _model_schema(spec)
    defs = spec_schema.pop("$defs", {})
    return {
        "$schema": DIALECT,
        "$comment": GENERATED,
        "title": kind,
        "description": " ".join(description.split()),
        "type": "object",
        "properties": {
            "apiVersion": {"const": API_VERSION, "description": f"Always {API_VERSION}."},
            "kind": {"const": kind},
            "metadata": METADATA,
            "spec": spec_schema,
            "status": {"type": "object", "description": "Written by the operator; never set it."},
        },
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "additionalProperties": False,
        "$defs": defs,
    }


def file_schema(model: type[BaseModel]) -> Schema:
    """A file that is one model, such as the eval category map."""
    schema = _model_schema(model)
    return {"$schema": DIALECT, "$comment": GENERATED, **schema}


def render_all() -> dict[str, str]:
    """File name -> JSON text for every editor schema."""
    schemas = {
        "aiservice.json": resource_schema(
            service.KIND, service.AIServiceSpec, service.AIService.__doc__ or ""
        ),
        "readinesspacket.json": resource_schema(
            packet.KIND, packet.ReadinessPacketSpec, packet.ReadinessPacket.__doc__ or ""
        ),
        "evalcategorymap.json": file_schema(EvalCategoryMap),
    }
    return {name: json.dumps(schema, indent=2, ensure_ascii=False) + "\n" for name, schema in schemas.items()}
