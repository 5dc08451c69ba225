"""Fixtures for the pure tests: the example service and packet, and a way to edit a packet by path."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from airlock.logic.digest import packet_digest
from airlock.models import AIServiceSpec, ReadinessPacketSpec

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
# The moment the examples are written for.
NOW = datetime(2026, 11, 20, tzinfo=UTC)


def example(name: str) -> dict[str, Any]:
    """The single YAML document in examples/<name>."""
    document: dict[str, Any] = yaml.safe_load((EXAMPLES / name).read_text())
    return document


def edit(wire: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of `wire` with each dotted path ("evals.cases.5.result") set; None stands for unset,
    as the API server prunes nulls."""
    out = copy.deepcopy(dict(wire))
    for path, value in changes.items():
        *parents, last = path.split(".")
        node: Any = out
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        node[int(last) if isinstance(node, list) else last] = copy.deepcopy(value)
    return out


def resign(spec: ReadinessPacketSpec) -> ReadinessPacketSpec:
    """The packet with every approval moved to its current digest, as if everyone approved again."""
    digest = packet_digest(spec)
    approvals = [a.model_copy(update={"digest": digest}) for a in spec.approvals]
    return spec.model_copy(update={"approvals": approvals})


PacketFactory = Callable[..., ReadinessPacketSpec]


@pytest.fixture
def now() -> datetime:
    """The moment the examples are written for."""
    return NOW


@pytest.fixture
def packet_wire() -> dict[str, Any]:
    """The complete example packet's spec, in wire form."""
    spec: dict[str, Any] = example("packet-complete.yaml")["spec"]
    return spec


@pytest.fixture
def make_packet(packet_wire: dict[str, Any]) -> PacketFactory:
    """Builds the complete packet with `changes` applied; approvals follow the new content unless
    `approve_again=False`, so a test sees only the gate it changes."""

    def build(changes: Mapping[str, Any] | None = None, *, approve_again: bool = True) -> ReadinessPacketSpec:
        spec = ReadinessPacketSpec.model_validate(edit(packet_wire, changes or {}))
        return resign(spec) if approve_again else spec

    return build


@pytest.fixture
def service() -> AIServiceSpec:
    """The example AIService's spec."""
    return AIServiceSpec.model_validate(example("service.yaml")["spec"])
