"""The packet digest: stable under formatting, blind to approvals, sensitive to every piece of content."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from airlock.logic.digest import canonical_packet_json, packet_digest
from airlock.models import ReadinessPacketSpec

MINIMAL = {"service": "support-assistant", "versions": {"model": "gpt-4o-2024-08-06", "prompt": "v14"}}


def digest_of(wire: dict[str, Any]) -> str:
    return packet_digest(ReadinessPacketSpec.model_validate(wire))


def digest_of_yaml(text: str) -> str:
    return digest_of(yaml.safe_load(text))


def test_a_digest_is_sha256_in_hex() -> None:
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest_of(MINIMAL))


def test_the_canonical_form_is_pinned() -> None:
    # Changing the canonical form makes every approval in every cluster stale; do it only on purpose.
    spec = ReadinessPacketSpec.model_validate(
        {**MINIMAL, "useCase": {"summary": "Answers card questions.", "nonUseCases": ["Advice"]}, "tools": []}
    )
    assert canonical_packet_json(spec) == (
        b'{"service":"support-assistant","tools":[],"useCase":{"nonUseCases":["Advice"],'
        b'"summary":"Answers card questions."},"versions":{"model":"gpt-4o-2024-08-06","prompt":"v14"}}'
    )
    assert packet_digest(spec) == "sha256:a1c611b2712744b1e727ed3ab02a4f8f6502ee386be61fd5b552d29c601b0db2"


def test_approvals_do_not_change_the_digest(packet_wire: dict[str, Any]) -> None:
    without = {**packet_wire, "approvals": []}
    other = {
        **packet_wire,
        "approvals": [{"role": "legal", "by": "li.wei@example.com", "digest": "sha256:" + "1" * 64}],
    }
    assert digest_of(packet_wire) == digest_of(without) == digest_of(other)


def test_the_example_approvals_carry_the_example_digest(packet_wire: dict[str, Any]) -> None:
    assert {a["digest"] for a in packet_wire["approvals"]} == {digest_of(packet_wire)}


@pytest.mark.parametrize(
    ("one", "other"),
    [
        pytest.param(
            "service: s\nversions: {model: m, prompt: p}\ncost: {currency: EUR, costPerDay: 3}\n",
            "cost:\n  costPerDay: 3.0\n  currency: EUR\nversions:\n  prompt: p\n  model: m\nservice: s\n",
            id="key order, flow style and an integer for a float do not matter",
        ),
        pytest.param(
            "service: s\nversions: {model: m, prompt: p}\nuseCase: {summary: x}\n",
            "service: s\nversions: {model: m, prompt: p}\nuseCase: {summary: x, nonUseCases: []}\n",
            id="an omitted list and an empty list are the same",
        ),
        pytest.param(
            "service: s\nversions: {model: m, prompt: p}\ntools: [{name: t, access: read}]\n",
            "service: s\nversions: {model: m, prompt: p}\n"
            "tools: [{name: t, access: read, approval: none, irreversible: false, sensitive: []}]\n",
            id="defaults written out are the same as defaults left out",
        ),
        pytest.param(
            "service: s\nversions: {model: m, prompt: p, retrieval: null}\n",
            "service: s\nversions: {model: m, prompt: p}\n",
            id="a null is the same as an omitted field",
        ),
        pytest.param(
            "service: s\nversions: {model: m, prompt: p}\n"
            'evals: {evaluatedAt: "2026-11-12T10:30:00+01:00"}\n',
            "service: s\nversions: {model: m, prompt: p}\nevals: {evaluatedAt: 2026-11-12T09:30:00Z}\n",
            id="the same instant in another offset is the same",
        ),
    ],
)
def test_formatting_does_not_change_the_digest(one: str, other: str) -> None:
    assert digest_of_yaml(one) == digest_of_yaml(other)


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"tools": None}, id="an unstated tool list differs from no tools"),
        pytest.param({"service": "other-service"}, id="the service is content"),
        pytest.param(
            {"versions": {"model": "gpt-4o-2024-08-06", "prompt": "v15"}}, id="the versions are content"
        ),
        pytest.param({"cost": {"costPerDay": 310.01}}, id="a cent more is content"),
        pytest.param({"useCase": {"summary": "Answers questions."}}, id="a reworded summary is content"),
    ],
)
def test_content_changes_change_the_digest(packet_wire: dict[str, Any], change: dict[str, Any]) -> None:
    changed = {**packet_wire, **change}
    if "cost" in change:
        changed["cost"] = {**packet_wire["cost"], **change["cost"]}
    assert digest_of(changed) != digest_of(packet_wire)


def test_reordering_eval_cases_changes_the_digest(packet_wire: dict[str, Any]) -> None:
    reordered = {
        **packet_wire,
        "evals": {**packet_wire["evals"], "cases": packet_wire["evals"]["cases"][::-1]},
    }
    assert digest_of(reordered) != digest_of(packet_wire)
