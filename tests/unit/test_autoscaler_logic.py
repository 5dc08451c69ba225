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
    AutoscalerView,
    ScaledObjectView,
    capped_autoscalers,
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


def hpa(name: str, maximum: int, kind: str = "Deployment", target: str = "bot") -> AutoscalerView:
    return AutoscalerView("HorizontalPodAutoscaler", name, f"uid-{name}", kind, target, maximum)


def reports(cap: int, autoscalers: list[AutoscalerView], killed: bool = False) -> list[str]:
    return [
        r.autoscaler.name
        for r in capped_autoscalers(
            service="bot",
            namespace="ns",
            stage="Pilot",
            blocking="evals",
            killed=killed,
            cap=cap,
            workload_kind="Deployment",
            workload_name="bot",
            autoscalers=autoscalers,
        )
    ]


REPORT_CASES = [
    ("an autoscaler above the cap is reported", 1, [hpa("a", 10)], ["a"]),
    ("an autoscaler at the cap is not", 3, [hpa("a", 3)], []),
    ("no cap reports nothing", -1, [hpa("a", 100)], []),
    ("an autoscaler of another workload is not", 1, [hpa("a", 10, target="other")], []),
    ("an autoscaler of a namesake of another kind is not", 1, [hpa("a", 10, kind="StatefulSet")], []),
]


@pytest.mark.parametrize(
    ("cap", "autoscalers", "expected"), [c[1:] for c in REPORT_CASES], ids=[c[0] for c in REPORT_CASES]
)
def test_capped_autoscalers(cap: int, autoscalers: list[AutoscalerView], expected: list[str]) -> None:
    assert reports(cap, autoscalers) == expected


def test_the_report_says_what_admission_says() -> None:
    (report,) = capped_autoscalers(
        service="bot", namespace="ns", stage="Pilot", blocking="evals", killed=False, cap=1,
        workload_kind="Deployment", workload_name="bot", autoscalers=[hpa("web", 10)],
    )  # fmt: skip
    assert report.message == (
        "Airlock: HorizontalPodAutoscaler web scales Deployment bot, which may run at most 1 replicas (its "
        "maximum is 10; scale-ups above the cap are denied) because AIService bot is Pilot; blocking gates: "
        "evals; see: kubectl airlock explain bot -n ns"
    )
