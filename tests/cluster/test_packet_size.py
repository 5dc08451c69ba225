"""A packet at the schema's limits is stored; one past them is a 422 naming the field, never a 500.

Every string here is made of `<`, which the API server stores as the six bytes `\\u003c`: the worst case
tests/unit/test_stored_size.py computes. Before the limits were sized, packets between about 1.5 and
3 MiB got HTTP 500 (`etcdserver: request is too large`).
"""

from __future__ import annotations

import json
from typing import Any

from airlock.models.packet import MAX_EVAL_CASES, MAX_ITEMS
from airlock_dev import samples
from tests.conftest import Cluster


def filler(i: int, length: int) -> str:
    head = f"{i:03d}"
    return head + "<" * (length - len(head))


def largest_packet(namespace: str, cases: int = MAX_EVAL_CASES) -> dict[str, Any]:
    packet = samples.load("packet-complete.yaml")
    packet["metadata"]["namespace"] = namespace
    spec = packet["spec"]
    spec["approvals"] = []
    spec["evals"]["cases"] = [
        {
            "name": filler(i, 120),
            "category": "custom",
            "expected": "<" * 240,
            "result": "pass",
            "note": "<" * 240,
        }
        for i in range(cases)
    ]
    items = [filler(i, 256) for i in range(MAX_ITEMS)]
    spec["useCase"]["nonUseCases"] = items
    spec["data"]["forbidden"] = items
    spec["data"]["sources"] = [
        {"name": filler(i, 256), "classification": "<" * 256} for i in range(MAX_ITEMS)
    ]
    spec["observability"]["neverLogged"] = items
    spec["rollout"]["successCriteria"] = items
    spec["tools"] = [{"name": filler(i, 256), "access": "read", "scope": "<" * 256} for i in range(MAX_ITEMS)]
    return packet


def create(cluster: Cluster, packet: dict[str, Any]) -> tuple[int, str]:
    # `create`, not client-side `apply`: the last-applied annotation alone would pass 256 KiB.
    result = cluster.kubectl("create", "-f", "-", stdin=json.dumps(packet), check=False)
    return result.returncode, result.stderr


def test_a_packet_at_every_limit_is_stored(cluster: Cluster, namespace: str) -> None:
    packet = largest_packet(namespace)
    # Stored, each "<" takes six bytes: over 700 KiB, most of the worst case the schema admits.
    assert json.dumps(packet).count("<") * 6 > 700 * 2**10
    code, stderr = create(cluster, packet)
    assert code == 0, stderr
    stored = cluster.get("readinesspacket", packet["metadata"]["name"], namespace)
    assert len(stored["spec"]["evals"]["cases"]) == MAX_EVAL_CASES


def test_one_case_too_many_is_refused_naming_the_field(cluster: Cluster, namespace: str) -> None:
    code, stderr = create(cluster, largest_packet(namespace, cases=MAX_EVAL_CASES + 1))
    assert code != 0
    assert "spec.evals.cases: Too many: 101: must have at most 100 items" in stderr, stderr
    assert "InternalError" not in stderr and "too large" not in stderr, stderr


def test_one_character_too_many_is_refused_naming_the_field(cluster: Cluster, namespace: str) -> None:
    packet = largest_packet(namespace)
    packet["spec"]["evals"]["cases"][7]["note"] = "<" * 241
    code, stderr = create(cluster, packet)
    assert code != 0
    assert "spec.evals.cases[7].note: Too long: may not be more than 240" in stderr, stderr
