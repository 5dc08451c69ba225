"""The shipped examples/, made current: evidence dates moved close to `now`, approvals re-signed.

The demo and the end-to-end tests use these so that they pass on any date, while examples/ stays a fixed,
readable document that `airlock validate --now ...` checks as it is.
"""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import yaml

from airlock.logic.digest import packet_digest
from airlock.models.packet import ReadinessPacketSpec
from airlock_dev import REPO_ROOT

EXAMPLES = REPO_ROOT / "examples"
_TIME_FIELDS = ("evaluatedAt", "reviewedAt", "killSwitchDrillAt", "postLaunchReviewAt", "at")


def load(name: str) -> dict[str, Any]:
    """One shipped example document, by file name."""
    doc: dict[str, Any] = yaml.safe_load((EXAMPLES / name).read_text())
    return doc


def _times(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], dt.datetime]]:
    found: list[tuple[tuple[Any, ...], dt.datetime]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _TIME_FIELDS and isinstance(value, str):
                found.append(((*path, key), dt.datetime.fromisoformat(value.replace("Z", "+00:00"))))
            else:
                found += _times(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _times(value, (*path, i))
    return found


def current_packet(doc: dict[str, Any], now: dt.datetime, *, namespace: str | None = None) -> dict[str, Any]:
    """The packet with its dates shifted so the newest past evidence is a day old, approvals re-signed."""
    out = copy.deepcopy(doc)
    if namespace is not None:
        out["metadata"]["namespace"] = namespace
    spec = out["spec"]
    times = _times(spec)
    past = [t for p, t in times if p[-1] != "postLaunchReviewAt"]
    if past:
        shift = (now - dt.timedelta(days=1)) - max(past)
        for path, moment in times:
            target: Any = spec
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = (moment + shift).strftime("%Y-%m-%dT%H:%M:%SZ")
    digest = packet_digest(ReadinessPacketSpec.model_validate(spec))
    for approval in spec.get("approvals", []):
        approval["digest"] = digest
    return out
