"""Version labels and annotations the operator stamps on the Deployment's own metadata."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping

from airlock.models.common import Versions
from airlock.models.service import VERSIONS_ANNOTATION

SERVICE_LABEL = "airlock.dev/service"
STAGE_LABEL = "airlock.dev/stage"
MODEL_LABEL = "airlock.dev/model-version"
PROMPT_LABEL = "airlock.dev/prompt-version"
RETRIEVAL_LABEL = "airlock.dev/retrieval-version"

MANAGED_LABELS = (SERVICE_LABEL, STAGE_LABEL, MODEL_LABEL, PROMPT_LABEL, RETRIEVAL_LABEL)

# The same keys, as annotations on the workload's pod template, declare what the pods run: the team sets
# them in Git beside the image, and the application can read them through the downward API. When they
# are there, the packet must attest them (gate `versions`) and the labels show them.
WORKLOAD_VERSION_KEYS = {"model": MODEL_LABEL, "prompt": PROMPT_LABEL, "retrieval": RETRIEVAL_LABEL}

_MAX = 63
_INVALID = re.compile(r"[^A-Za-z0-9._-]+")


def label_value(raw: str) -> str:
    """A valid label value standing for `raw`: at most 63 of [A-Za-z0-9._-], alphanumeric at both ends.

    Invalid runs become "_"; a value that had to be shortened or changed keeps a short hash of the
    original so two different versions never share a label. The exact value is in the annotation.
    """
    cleaned = _INVALID.sub("_", raw).strip("._-")
    if cleaned == raw and len(raw) <= _MAX:
        return raw
    digest = hashlib.sha256(raw.encode()).hexdigest()[:8]
    head = cleaned[: _MAX - len(digest) - 1].rstrip("._-")
    return f"{head}-{digest}" if head else digest


def desired_labels(service_name: str, stage: str, versions: Versions) -> dict[str, str | None]:
    """Labels to set; None removes a label (a retrieval version that is no longer there)."""
    return {
        SERVICE_LABEL: label_value(service_name),
        STAGE_LABEL: label_value(stage),
        MODEL_LABEL: label_value(versions.model),
        PROMPT_LABEL: label_value(versions.prompt),
        RETRIEVAL_LABEL: label_value(versions.retrieval) if versions.retrieval else None,
    }


def declared_versions(template_annotations: Mapping[str, str] | None) -> dict[str, str]:
    """The versions a pod template declares (field -> value), from the WORKLOAD_VERSION_KEYS annotations."""
    found = template_annotations or {}
    return {field: found[key] for field, key in WORKLOAD_VERSION_KEYS.items() if found.get(key)}


def running_versions(versions: Versions, declared: Mapping[str, str]) -> Versions:
    """The versions that run: what the pod template declares, else what the AIService says."""
    if not declared:
        return versions
    return versions.model_copy(update={k: v for k, v in declared.items() if k in WORKLOAD_VERSION_KEYS})


def desired_annotations(versions: Versions) -> dict[str, str | None]:
    return {VERSIONS_ANNOTATION: json.dumps(versions.to_api(), sort_keys=True, separators=(",", ":"))}


def metadata_patch(
    current_labels: dict[str, str],
    current_annotations: dict[str, str],
    labels: dict[str, str | None],
    annotations: dict[str, str | None],
) -> dict[str, dict[str, str | None]] | None:
    """A merge patch for metadata that changes only what differs; None when nothing does."""
    patch: dict[str, dict[str, str | None]] = {}
    for key, (current, wanted) in {
        "labels": (current_labels, labels),
        "annotations": (current_annotations, annotations),
    }.items():
        diff = {
            k: v for k, v in wanted.items() if current.get(k) != v and not (v is None and k not in current)
        }
        if diff:
            patch[key] = diff
    return patch or None
