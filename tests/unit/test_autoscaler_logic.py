"""The kill switch's pause of KEDA ScaledObjects and the Warnings on autoscalers above the cap, as tables."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import pytest

from airlock.logic.autoscalers import (
    PAUSED_BY_ANNOTATION as BY,
)
from airlock.logic.autoscalers import (
    PAUSED_REPLICAS_ANNOTATION as PAUSED,
)
from airlock.logic.autoscalers import (
    AutoscalerView,
    CappedWarning,
    Pause,
    ScaledObjectView,
    capped_autoscalers,
    capped_event_name,
    pause_patches,
    plan_capped_warnings,
    plan_pauses,
)
from airlock.models.service import AIServiceStatus, Stage


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


def status(stage: Stage, allowed: int | None, blocking: str | None = None) -> AIServiceStatus:
    return AIServiceStatus(stage=stage, allowed_replicas=allowed, blocking=blocking)


def keda(name: str, maximum: int, target: str = "bot") -> AutoscalerView:
    return AutoscalerView("ScaledObject", name, f"uid-{name}", "Deployment", target, maximum)


@dataclass(frozen=True)
class Planned:
    pauses: list[Pause]
    warnings: list[CappedWarning]


def planned(
    s: AIServiceStatus, objects: list[ScaledObjectView], autoscalers: list[AutoscalerView]
) -> Planned:
    return Planned(
        plan_pauses("bot", s, "Deployment", "bot", objects),
        plan_capped_warnings(
            service="bot", namespace="ns", status=s, workload_kind="Deployment", workload_name="bot",
            autoscalers=autoscalers,
        ),
    )  # fmt: skip


# (case, status, scaled objects, autoscalers, paused (True) or unpaused (False) by name, warned autoscalers)
PLAN_CASES = [
    (
        "a pilot warns on an autoscaler above its cap",
        status(Stage.PILOT, 1),
        [],
        [hpa("web", 5)],
        [],
        ["web"],
    ),
    (
        "production without a cap warns on nothing",
        status(Stage.PRODUCTION, None),
        [],
        [hpa("web", 50)],
        [],
        [],
    ),
    (
        "a killed service pauses its scaled object and warns on it at cap 0",
        status(Stage.KILLED, 0),
        [so("queue")],
        [keda("queue", 10)],
        [("queue", True)],
        ["queue"],
    ),
    (
        "a released service unpauses what it paused",
        status(Stage.PILOT, 3),
        [so("queue", {PAUSED: "0", BY: "bot"})],
        [keda("queue", 3)],
        [("queue", False)],
        [],
    ),
    (
        "autoscalers of other workloads are left alone",
        status(Stage.KILLED, 0),
        [so("queue", target="other")],
        [keda("queue", 10, target="other"), hpa("web", 5, target="other")],
        [],
        [],
    ),
]


@pytest.mark.parametrize(
    ("s", "objects", "autoscalers", "paused", "warned"),
    [c[1:] for c in PLAN_CASES],
    ids=[c[0] for c in PLAN_CASES],
)
def test_plan_autoscalers(
    s: AIServiceStatus,
    objects: list[ScaledObjectView],
    autoscalers: list[AutoscalerView],
    paused: list[tuple[str, bool]],
    warned: list[str],
) -> None:
    p = planned(s, objects, autoscalers)
    assert [(pause.scaled_object, pause.paused) for pause in p.pauses] == paused
    assert [pause.patch for pause in p.pauses] == [
        patch for _, patch in pause_patches("bot", s.stage == Stage.KILLED, "Deployment", "bot", objects)
    ]
    assert [w.autoscaler.name for w in p.warnings] == warned


def test_the_killed_warning_says_the_kill_switch_is_engaged() -> None:
    (warning,) = planned(status(Stage.KILLED, 0), [], [hpa("web", 4)]).warnings
    assert "which may run at most 0 replicas" in warning.message
    assert warning.message.endswith(
        "because the kill switch of AIService bot is engaged; see: kubectl airlock explain bot -n ns"
    )


def test_a_warning_is_named_for_its_autoscaler_cap_maximum_and_kill_switch() -> None:
    web = hpa("web", 5)
    (warning,) = planned(status(Stage.PILOT, 1, "evals"), [], [web]).warnings
    assert (
        warning.event_name == "web.capped-by-airlock." + hashlib.sha256(b"uid-web/1/5/False").hexdigest()[:16]
    )
    assert warning.event_name == capped_event_name(web, 1, False)
    others = {
        capped_event_name(web, 2, False),
        capped_event_name(hpa("web", 6), 1, False),
        capped_event_name(web, 1, True),
        capped_event_name(
            AutoscalerView("HorizontalPodAutoscaler", "web", "uid-new", "Deployment", "bot", 5), 1, False
        ),
    }
    assert warning.event_name not in others and len(others) == 4


def test_a_long_autoscaler_name_keeps_the_event_name_within_limits() -> None:
    name = capped_event_name(hpa("w" * 253, 5), 1, False)
    assert name.startswith("w" * 200 + ".capped-by-airlock.") and len(name) == 200 + 19 + 16
