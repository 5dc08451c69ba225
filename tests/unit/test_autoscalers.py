"""The kill switch's pause of KEDA ScaledObjects, as a table."""

from __future__ import annotations

import pytest

from airlock.logic.autoscalers import (
    PAUSED_BY_ANNOTATION as BY,
)
from airlock.logic.autoscalers import (
    PAUSED_REPLICAS_ANNOTATION as PAUSED,
)
from airlock.logic.autoscalers import (
    ScaledObjectView,
    pause_patches,
)


def so(
    name: str, annotations: dict[str, str] | None = None, kind: str = "Deployment", target: str = "bot"
) -> ScaledObjectView:
    return ScaledObjectView(name, kind, target, annotations or {})


CASES = [
    (
        "killed pauses an unpaused scaled object at 0 and marks it",
        True,
        [so("a")],
        [("a", {PAUSED: "0", BY: "bot"})],
    ),
    ("killed leaves a scaled object the team paused alone", True, [so("a", {PAUSED: "2"})], []),
    (
        "killed with the pause already set by airlock writes nothing",
        True,
        [so("a", {PAUSED: "0", BY: "bot"})],
        [],
    ),
    (
        "killed puts airlock's pause back to 0 when someone changed it",
        True,
        [so("a", {PAUSED: "3", BY: "bot"})],
        [("a", {PAUSED: "0"})],
    ),
    (
        "released unpauses what airlock paused",
        False,
        [so("a", {PAUSED: "0", BY: "bot"})],
        [("a", {PAUSED: None, BY: None})],
    ),
    ("released leaves the team's pause alone", False, [so("a", {PAUSED: "0"})], []),
    ("released leaves another service's pause alone", False, [so("a", {PAUSED: "0", BY: "other"})], []),
    ("a scaled object of another workload is never touched", True, [so("a", target="other")], []),
    (
        "a scaled object of a namesake of another kind is never touched",
        True,
        [so("a", kind="StatefulSet")],
        [],
    ),
]


@pytest.mark.parametrize(("killed", "objects", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_pause_patches(killed: bool, objects: list[ScaledObjectView], expected: list[object]) -> None:
    assert pause_patches("bot", killed, "Deployment", "bot", objects) == expected
