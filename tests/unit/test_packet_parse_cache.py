"""Each packet is parsed once per resourceVersion: a service pass reads every packet of its namespace, and
validating them all with the models on every pass would cost more than the pass itself at scale.

The Runtime here holds a client that is never called: listing a namespace's packets reads the inventory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from airlock.config import Settings
from airlock.k8s import io
from airlock.metrics import Metrics
from airlock.reconciler import ParsedPackets, Runtime

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "packet-complete.yaml"


def packet(name: str, version: str, namespace: str = "ns", **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    body["metadata"] = {"name": name, "namespace": namespace, "resourceVersion": version}
    body["spec"].update(spec)
    return body


@pytest.fixture
def rt() -> Runtime:
    return Runtime(clients=io.Clients(None), settings=Settings(), metrics=Metrics())


def specs(rt: Runtime, namespace: str = "ns") -> dict[str, Any]:
    return dict(rt.packets_in(namespace))


def test_a_second_pass_reuses_the_parsed_packet(rt: Runtime) -> None:
    rt.inventory.put("packets", packet("bot-v1", "10"))
    first = specs(rt)["bot-v1"]
    assert specs(rt)["bot-v1"] is first


def test_a_new_resource_version_is_parsed_again(rt: Runtime) -> None:
    rt.inventory.put("packets", packet("bot-v1", "10"))
    first = specs(rt)["bot-v1"]
    rt.inventory.put("packets", packet("bot-v1", "11", service="other"))
    second = specs(rt)["bot-v1"]
    assert second is not first and (first.service, second.service) == ("support-assistant", "other")
    assert specs(rt)["bot-v1"] is second


def test_a_packet_that_does_not_parse_is_skipped_and_not_parsed_again(rt: Runtime) -> None:
    body = packet("broken", "10", owner=None)
    rt.inventory.put("packets", body)
    rt.inventory.put("packets", packet("bot-v1", "11"))
    assert list(specs(rt)) == ["bot-v1"]
    failure = rt.packet_specs.parse(rt.inventory.get("packets", ("ns", "broken")) or {})
    assert isinstance(failure, ValidationError)
    assert list(specs(rt)) == ["bot-v1"]
    assert rt.packet_specs.parse(body) is failure


def test_a_forgotten_packet_is_parsed_anew(rt: Runtime) -> None:
    rt.inventory.put("packets", packet("bot-v1", "10"))
    first = specs(rt)["bot-v1"]
    rt.forget_packet(("ns", "bot-v1"))
    assert specs(rt)["bot-v1"] is not first


def test_a_packet_gone_from_the_inventory_leaves_the_cache_at_the_next_pass(rt: Runtime) -> None:
    rt.inventory.put("packets", packet("bot-v1", "10"))
    body = packet("bot-v2", "11")
    rt.inventory.put("packets", body)
    second = specs(rt)["bot-v2"]
    rt.inventory.drop("packets", ("ns", "bot-v2"))  # a deletion only a resync saw: nothing forgot it
    assert list(specs(rt)) == ["bot-v1"]
    assert rt.packet_specs.parse(body) is not second


def test_packets_of_namesakes_in_two_namespaces_are_two_packets() -> None:
    cache = ParsedPackets()
    a, b = packet("bot-v1", "10", "a"), packet("bot-v1", "10", "b", service="other")
    assert (cache.parse(a).service, cache.parse(b).service) == ("support-assistant", "other")  # type: ignore[union-attr]
    assert cache.parse(a) is cache.parse(a)


def test_a_body_without_a_resource_version_is_parsed_each_time() -> None:
    cache = ParsedPackets()
    body = packet("bot-v1", "")
    assert cache.parse(body) is not cache.parse(body)
