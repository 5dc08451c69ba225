"""What the operator knows of the cluster's AIServices, ReadinessPackets and ReadinessPolicy.

Filled by a LIST of each kind before the operator starts handling events, so the first pass after a start
already sees every packet and the policy, then kept current by the watch events, and re-listed at every
resync so that nothing missed (a deletion between the start-up list and the watch) lingers.

This replaces kopf's indices, whose start-up barrier wakes every waiting object per indexed object:
quadratic in the number of objects, minutes at 5,000 services (see BENCHMARKS.md).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import Any

Key = tuple[str, str]  # (namespace, name)
Body = dict[str, Any]

KINDS = ("services", "packets", "policies", "namespaces")
DEFAULT_KIND = "Deployment"


def _key(body: Mapping[str, Any]) -> Key:
    meta = body.get("metadata") or {}
    return (meta.get("namespace") or "", meta.get("name") or "")


def _version(body: Mapping[str, Any]) -> int:
    value = (body.get("metadata") or {}).get("resourceVersion") or ""
    return int(value) if str(value).isdigit() else -1


def slim(body: Mapping[str, Any]) -> Body:
    """The parts of an object the operator reads: metadata without managedFields, spec, status."""
    meta = {k: v for k, v in (body.get("metadata") or {}).items() if k != "managedFields"}
    return {"metadata": meta, "spec": dict(body.get("spec") or {}), "status": dict(body.get("status") or {})}


def _workload(body: Mapping[str, Any]) -> tuple[str, str] | None:
    """(kind, name) of the workload an AIService names; the kind defaults to Deployment, as in the CRD."""
    ref = (body.get("spec") or {}).get("workload") or {}
    name, kind = ref.get("name"), ref.get("kind") or DEFAULT_KIND
    return (kind, name) if isinstance(name, str) and isinstance(kind, str) else None


class Inventory:
    """Thread-safe maps of the three kinds by (namespace, name), with the namespace and workload lookups
    the handlers make on every event kept as indexes; handlers run in a thread pool."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._objects: dict[str, dict[Key, Body]] = {kind: {} for kind in KINDS}
        self._by_namespace: dict[str, dict[str, set[str]]] = {kind: {} for kind in KINDS}
        self._by_workload: dict[tuple[str, str, str], set[str]] = {}

    # ---- bookkeeping, under the lock -----------------------------------------------------------------
    def _add(self, kind: str, key: Key, item: Body) -> None:
        self._remove(kind, key)
        self._objects[kind][key] = item
        self._by_namespace[kind].setdefault(key[0], set()).add(key[1])
        workload = _workload(item) if kind == "services" else None
        if workload is not None:
            self._by_workload.setdefault((key[0], *workload), set()).add(key[1])

    def _remove(self, kind: str, key: Key) -> None:
        old = self._objects[kind].pop(key, None)
        if old is None:
            return
        names = self._by_namespace[kind].get(key[0])
        if names is not None:
            names.discard(key[1])
        workload = _workload(old) if kind == "services" else None
        if workload is not None:
            claim = self._by_workload.get((key[0], *workload))
            if claim is not None:
                claim.discard(key[1])

    # ---- writes --------------------------------------------------------------------------------------
    def put(self, kind: str, body: Mapping[str, Any]) -> bool:
        """Records an object seen in a watch event (never older than what is recorded: versions only grow).
        Returns whether it is news: a version newer than the one recorded (a start-up list already
        recorded the first event of every object)."""
        item = slim(body)
        key = _key(item)
        with self._lock:
            current = self._objects[kind].get(key)
            if current is None or _version(item) >= _version(current):
                self._add(kind, key, item)
            return current is None or _version(item) > _version(current) or _version(item) < 0

    def drop(self, kind: str, key: Key) -> None:
        with self._lock:
            self._remove(kind, key)

    def replace(self, kind: str, listed: Iterable[Mapping[str, Any]], list_version: str | None) -> None:
        """Takes a fresh LIST: adds and updates what it holds, and removes what it lacks unless the
        recorded object is newer than the list (created after it was taken)."""
        items = {_key(b): slim(b) for b in listed}
        cutoff = int(list_version) if list_version and list_version.isdigit() else None
        with self._lock:
            objects = self._objects[kind]
            for key in list(objects):
                if key not in items and (cutoff is None or _version(objects[key]) <= cutoff):
                    self._remove(kind, key)
            for key, item in items.items():
                current = objects.get(key)
                if current is None or _version(item) >= _version(current):
                    self._add(kind, key, item)

    # ---- reads ---------------------------------------------------------------------------------------
    def get(self, kind: str, key: Key) -> Body | None:
        with self._lock:
            return self._objects[kind].get(key)

    def keys(self, kind: str) -> list[Key]:
        with self._lock:
            return sorted(self._objects[kind])

    def in_namespace(self, kind: str, namespace: str) -> list[Body]:
        with self._lock:
            names = sorted(self._by_namespace[kind].get(namespace, ()))
            return [self._objects[kind][(namespace, name)] for name in names]

    def labels(self, kind: str, key: Key) -> dict[str, str]:
        """The labels of one recorded object; empty when it is not recorded."""
        with self._lock:
            body = self._objects[kind].get(key)
            return dict(((body or {}).get("metadata") or {}).get("labels") or {})

    def claimants(self, namespace: str, workload: str, kind: str = DEFAULT_KIND) -> list[str]:
        """Names of the AIServices in `namespace` whose spec.workload is the `kind` named `workload`, sorted:
        a StatefulSet and a Deployment of the same name are two workloads."""
        with self._lock:
            return sorted(self._by_workload.get((namespace, kind, workload), ()))
