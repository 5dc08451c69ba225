"""The operator's inventory of services, packets and the policy."""

from __future__ import annotations

from typing import Any

from airlock.inventory import Inventory


def obj(name: str, version: int, namespace: str = "ns", **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "namespace": namespace,
            "resourceVersion": str(version),
            "managedFields": [{}],
        },
        "spec": spec,
    }


def test_an_older_event_never_overwrites_a_newer_object() -> None:
    inv = Inventory()
    inv.put("services", obj("a", 5, workload={"name": "d"}))
    inv.put("services", obj("a", 3, workload={"name": "old"}))
    body = inv.get("services", ("ns", "a"))
    assert body is not None and body["spec"]["workload"]["name"] == "d"
    assert "managedFields" not in body["metadata"]


def test_claimants_follow_a_workload_change_and_a_delete() -> None:
    inv = Inventory()
    inv.put("services", obj("b", 1, workload={"name": "d"}))
    inv.put("services", obj("a", 2, workload={"name": "d"}))
    assert inv.claimants("ns", "d") == ["a", "b"]
    inv.put("services", obj("a", 3, workload={"name": "e"}))
    assert inv.claimants("ns", "d") == ["b"] and inv.claimants("ns", "e") == ["a"]
    inv.drop("services", ("ns", "b"))
    assert inv.claimants("ns", "d") == []


def test_a_statefulset_and_a_deployment_of_one_name_have_their_own_claimants() -> None:
    inv = Inventory()
    inv.put("services", obj("dep", 1, workload={"name": "d"}))
    inv.put("services", obj("sts", 2, workload={"name": "d", "apiVersion": "apps/v1", "kind": "StatefulSet"}))
    assert inv.claimants("ns", "d") == ["dep"] and inv.claimants("ns", "d", "Deployment") == ["dep"]
    assert inv.claimants("ns", "d", "StatefulSet") == ["sts"] and inv.claimants("ns", "d", "Rollout") == []


def test_a_fresh_list_removes_what_is_gone_but_keeps_what_is_newer_than_the_list() -> None:
    inv = Inventory()
    inv.put("packets", obj("deleted-before-the-list", 4))
    inv.put("packets", obj("created-after-the-list", 12))
    inv.replace("packets", [obj("listed", 9)], list_version="10")
    assert [k[1] for k in inv.keys("packets")] == ["created-after-the-list", "listed"]
    assert [b["metadata"]["name"] for b in inv.in_namespace("packets", "ns")] == [
        "created-after-the-list",
        "listed",
    ]
    assert inv.in_namespace("packets", "other") == []
