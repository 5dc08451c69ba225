"""Version labels on the Deployment's metadata: always valid label values, exact values in an annotation."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airlock.logic.labels import desired_annotations, desired_labels, label_value, metadata_patch
from airlock.models.common import Versions

VALID = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("gpt-4o-2024-08-06", "gpt-4o-2024-08-06", id="a valid version is kept as it is"),
        pytest.param("v14", "v14", id="a short version is kept"),
    ],
)
def test_valid_values_are_kept(raw: str, expected: str) -> None:
    assert label_value(raw) == expected


@given(st.text(min_size=1, max_size=300))
def test_any_version_becomes_a_valid_label_value(raw: str) -> None:
    value = label_value(raw)
    assert len(value) <= 63 and VALID.match(value), value


def test_different_invalid_versions_never_share_a_label() -> None:
    assert label_value("model/v1:a") != label_value("model/v1:b")
    assert label_value("a" * 100) != label_value("a" * 101)


def test_labels_name_the_versions_and_annotations_keep_them_exactly() -> None:
    versions = Versions(model="anthropic/claude 3.5 sonnet", prompt="v14", retrieval=None)
    labels = desired_labels("support-assistant", "Pilot", versions)
    assert labels["airlock.dev/prompt-version"] == "v14"
    assert labels["airlock.dev/retrieval-version"] is None
    assert VALID.match(labels["airlock.dev/model-version"] or "")
    exact = json.loads(desired_annotations(versions)["airlock.dev/versions"] or "{}")
    assert exact == {"model": "anthropic/claude 3.5 sonnet", "prompt": "v14"}


def test_metadata_patch_is_none_when_nothing_changed_and_removes_stale_labels() -> None:
    versions = Versions(model="m", prompt="p")
    labels = desired_labels("s", "Pilot", versions)
    annotations = desired_annotations(versions)
    current = {k: v for k, v in labels.items() if v is not None}
    assert metadata_patch(current, dict(annotations), labels, annotations) is None  # type: ignore[arg-type]
    patch = metadata_patch({**current, "airlock.dev/retrieval-version": "old"}, {}, labels, annotations)
    assert patch is not None and patch["labels"] == {"airlock.dev/retrieval-version": None}
