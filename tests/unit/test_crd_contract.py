"""crds/ is generated from the models and never edited by hand."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from airlock.models.crd import render_all

ROOT = Path(__file__).resolve().parents[2]


def test_crds_match_the_models() -> None:
    rendered = render_all()
    on_disk = {p.name: p.read_text() for p in (ROOT / "crds").glob("*.yaml")}
    stale = sorted(
        name for name in rendered.keys() | on_disk.keys() if rendered.get(name) != on_disk.get(name)
    )
    assert not stale, (
        f"crds/ does not match operator/airlock/models: {stale}; run `make crds` and commit the result"
    )


def _keywords(schema: Any, path: str = "") -> list[tuple[str, str, Any]]:
    """(path, keyword, value) for every schema keyword; property names are not keywords."""
    out: list[tuple[str, str, Any]] = []
    if not isinstance(schema, dict):
        return out
    for key, value in schema.items():
        out.append((path, key, value))
        if key == "properties":
            for prop, sub in value.items():
                out += _keywords(sub, f"{path}.{prop}")
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            out += _keywords(value, f"{path}[]")
    return out


def _schema(name: str) -> Any:
    return yaml.safe_load(render_all()[name])["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


@pytest.mark.parametrize("name", sorted(render_all()))
def test_schemas_are_structural_for_the_api_server(name: str) -> None:
    bad = [
        f"{path} {key}"
        for path, key, value in _keywords(_schema(name))
        if key in ("$ref", "$defs", "anyOf", "oneOf", "title", "const")
        or (key == "additionalProperties" and value is False)
        or (key == "default" and value is None)
    ]
    assert bad == []


@pytest.mark.parametrize("name", sorted(render_all()))
def test_every_field_has_a_description_for_kubectl_explain(name: str) -> None:
    missing = []
    for section in ("spec", "status"):
        root = _schema(name)["properties"].get(section)
        for path, key, value in _keywords(root or {}, section):
            if key == "properties":
                missing += [f"{path}.{prop}" for prop, sub in value.items() if "description" not in sub]
    assert missing == []


def test_printer_columns_show_what_people_ask_at_3am() -> None:
    crd = yaml.safe_load(render_all()["airlock.dev_aiservices.yaml"])
    columns = [c["name"].upper() for c in crd["spec"]["versions"][0]["additionalPrinterColumns"]]
    for wanted in ("STAGE", "GATES", "BLOCKING", "ALLOWED", "KILL-SWITCH", "AGE"):
        assert wanted in columns
    names = crd["spec"]["names"]
    assert names["shortNames"] == ["ais"] and names["categories"] == ["airlock"]
