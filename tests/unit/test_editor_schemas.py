"""The editor schemas in schemas/: generated from the models, and they judge documents as the models do."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from airlock.models.editor import render_all
from tests.evaltools import CATEGORY_MAP

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "schemas"


def validator(name: str) -> jsonschema.Draft7Validator:
    schema = json.loads((SCHEMAS / name).read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)


def errors(name: str, document: Any) -> list[str]:
    return [e.message for e in validator(name).iter_errors(document)]


def test_the_schemas_in_the_repository_are_the_ones_the_models_generate() -> None:
    for name, text in render_all().items():
        assert (SCHEMAS / name).read_text() == text, f"schemas/{name} is stale; run `make crds`"


SCHEMA_OF = {"AIService": "aiservice.json", "ReadinessPacket": "readinesspacket.json"}
EXAMPLES = sorted(
    (p.name, SCHEMA_OF[kind])
    for p in (ROOT / "examples").glob("*.yaml")
    if (kind := yaml.safe_load(p.read_text()).get("kind")) in SCHEMA_OF
)


@pytest.mark.parametrize(("example", "schema"), EXAMPLES)
def test_every_example_is_valid_in_an_editor(example: str, schema: str) -> None:
    assert len(EXAMPLES) >= 2
    assert errors(schema, yaml.safe_load((ROOT / "examples" / example).read_text())) == []


def packet_with(path: str, value: Any) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((ROOT / "examples" / "packet-complete.yaml").read_text())
    *parents, last = path.split(".")
    target: Any = document
    for key in parents:
        target = target[int(key)] if isinstance(target, list) else target[key]
    target[last] = value
    return document


@pytest.mark.parametrize(
    ("path", "value", "fragment"),
    [
        pytest.param("spec.evals.evaluatedAT", "2026-11-12T09:30:00Z", "evaluatedAT", id="a misspelt field"),
        pytest.param("spec.evals.cases.0.category", "confusing", "'confusing'", id="an unknown category"),
        pytest.param("spec.evals.cases.0.result", "passed", "'passed'", id="an unknown result"),
        pytest.param("spec.evals.source", {"tool": "promptfoo", "sha256": "abc"}, "abc", id="a short sha256"),
        pytest.param("kind", "ReadinessPackets", "ReadinessPacket", id="the wrong kind"),
    ],
)
def test_an_editor_flags_what_the_api_would_refuse(path: str, value: Any, fragment: str) -> None:
    found = errors("readinesspacket.json", packet_with(path, value))
    assert any(fragment in message for message in found), found


def test_the_category_map_schema_accepts_a_map_and_flags_a_wrong_category() -> None:
    assert errors("evalcategorymap.json", CATEGORY_MAP) == []
    found = errors("evalcategorymap.json", {"tags": {"x": "confusing"}})
    assert any("'confusing'" in message for message in found), found
