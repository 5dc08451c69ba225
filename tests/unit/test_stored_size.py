"""The largest object the schema admits fits in what etcd stores, so an oversize one is a 422 naming
the field, never a 500 from etcd ("request is too large").

The worst case is computed from the generated CRDs: every string at its maxLength, every list at its
maxItems, and 6 bytes a character, since the API server stores custom resources as JSON and escapes
`<`, `>`, `&` and control characters as `\\u00XX`. A string or list without a bound fails the test.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
# etcd's default --max-request-bytes; kube-apiserver adds metadata (annotations up to 256 KiB) on top.
ETCD_REQUEST_LIMIT = int(1.5 * 2**20)
ANNOTATIONS_LIMIT = 256 * 2**10
MANAGED_FIELDS_ALLOWANCE = 64 * 2**10
ESCAPED = 6  # bytes one character may take in stored JSON
TIMESTAMP = 64  # an RFC 3339 date-time, generously


def worst_bytes(schema: dict[str, Any], path: str) -> float:
    """The most bytes a value of `schema` can take as stored JSON; infinite when nothing bounds it."""
    if "enum" in schema:
        return max(len(json.dumps(v)) for v in schema["enum"])
    kind = schema.get("type")
    if kind == "object":
        props = schema.get("properties") or {}
        if not props:
            return math.inf
        return 2 + sum(len(k) + 4 + worst_bytes(v, f"{path}.{k}") for k, v in props.items())
    if kind == "array":
        if "maxItems" not in schema:
            return math.inf
        return 2 + schema["maxItems"] * (1 + worst_bytes(schema["items"], f"{path}[]"))
    if kind == "string":
        if schema.get("format") == "date-time":
            return TIMESTAMP
        if "maxLength" not in schema:
            return math.inf
        return 2 + ESCAPED * schema["maxLength"]
    if kind in ("integer", "number"):
        return 24
    if kind == "boolean":
        return 5
    return math.inf


def unbounded(schema: dict[str, Any], path: str) -> list[str]:
    """Paths whose size nothing bounds, so a message can say which field to limit."""
    if worst_bytes(schema, path) < math.inf:
        return []
    children = schema.get("properties") or {}
    found = [p for k, v in children.items() for p in unbounded(v, f"{path}.{k}")]
    if schema.get("type") == "array" and "maxItems" in schema:
        found += unbounded(schema["items"], f"{path}[]")
    return found or [path]


@pytest.mark.parametrize("crd", ["airlock.dev_readinesspackets.yaml", "airlock.dev_aiservices.yaml"])
def test_the_largest_object_the_schema_admits_fits_in_etcd_with_room_for_metadata(crd: str) -> None:
    doc = yaml.safe_load((ROOT / "crds" / crd).read_text())
    schema = doc["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]
    missing = unbounded(schema["spec"], "spec") + unbounded(schema["status"], "status")
    assert not missing, f"give these a maxLength / maxItems in operator/airlock/models/: {missing}"
    body = worst_bytes(schema["spec"], "spec") + worst_bytes(schema["status"], "status")
    room = ETCD_REQUEST_LIMIT - ANNOTATIONS_LIMIT - MANAGED_FIELDS_ALLOWANCE
    assert body <= room, (
        f"{crd}: the largest spec + status is {body / 2**20:.2f} MiB, over the {room / 2**20:.2f} MiB etcd "
        "leaves once metadata is stored; tighten the limits in operator/airlock/models/"
    )
