"""The steps of the service plan, each a pure function, in the order a pass takes them: the workload, gates
and cap, the kill switch, the backstop, stage, status and events."""

from __future__ import annotations

import datetime as dt

import pytest

from airlock.logic.conditions import ConditionReason
from airlock.logic.events import Event, EventReason
from airlock.logic.gates import GateReport
from airlock.logic.killswitch import KillSwitch, WorkloadRecord
from airlock.logic.reconcile import (
    ServiceView,
    Workload,
    backstop,
    condition_events,
    engage_kill_switch,
    gate_events,
    governed_workload,
    held_replicas,
    invalid_kill_transition,
    kill_condition,
    kill_scale_down,
    ready_reason,
    release_kill_switch,
    service_stage,
    stage_events,
    transition_events,
    workload_found_reason,
)
from airlock.logic.stages import PreviousStage, resolve_stages, stage_progress
from airlock.models.common import Condition, GateName, GateResult
from airlock.models.policy import RegressionAction
from airlock.models.service import NO_CAP, AIServiceSpec, AIServiceStatus, KillSwitchStatus, Stage

NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
EARLIER = dt.datetime(2026, 11, 20, 11, 0, tzinfo=dt.UTC)
SPEC = AIServiceSpec.model_validate(
    {"workload": {"name": "bot"}, "owner": "jane", "versions": {"model": "m1", "prompt": "p1"}}
)
LABEL = "Deployment bot"
ENGAGED = KillSwitch(engaged=True, reason="INC-1", by="alice")
OFF = KillSwitchStatus(engaged=False)


def view(
    status: AIServiceStatus | None = None,
    *,
    governed: bool = True,
    kind_enabled: bool = True,
    annotations: dict[str, str] | None = None,
) -> ServiceView:
    return ServiceView("bot", "ns", 1, annotations or {}, SPEC, status, governed, kind_enabled)


# ---- the workload ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("claimed", "governed", "kind_enabled", "acted_on"),
    [
        pytest.param(False, True, True, True, id="its own workload in a governed namespace is acted on"),
        pytest.param(True, True, True, False, id="a workload another AIService claims is left alone"),
        pytest.param(False, False, True, False, id="a workload outside governed namespaces is left alone"),
        pytest.param(False, True, False, False, id="a kind the operator does not govern is left alone"),
    ],
)
def test_governed_workload(claimed: bool, governed: bool, kind_enabled: bool, acted_on: bool) -> None:
    workload = Workload(replicas=2)
    got = governed_workload(view(governed=governed, kind_enabled=kind_enabled), workload, claimed)
    assert (got is workload) is acted_on and (got is None) is not acted_on


# ---- gates and cap --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prev", "passed", "regressed", "killed", "current", "ceiling", "held"),
    [
        pytest.param(AIServiceStatus(), True, False, False, 5, None, None, id="passing gates hold nothing"),
        pytest.param(AIServiceStatus(), False, False, False, 5, None, None, id="a pilot is not held"),
        pytest.param(
            AIServiceStatus(held_replicas=3), False, True, False, 5, None, 3, id="a recorded hold is kept"
        ),
        pytest.param(AIServiceStatus(), False, True, False, 5, None, 5, id="a regression holds what runs"),
        pytest.param(
            AIServiceStatus(), False, True, False, 0, None, 2, id="a regression holds at least the pilot"
        ),
        pytest.param(AIServiceStatus(), False, True, False, 9, 6, 6, id="a hold is never above the ceiling"),
        pytest.param(
            AIServiceStatus(kill_switch=KillSwitchStatus(engaged=True, replicas_before=4)),
            False,
            True,
            True,
            0,
            None,
            4,
            id="a killed service is held at what it ran before the kill",
        ),
        pytest.param(AIServiceStatus(), False, True, False, None, None, 2, id="no workload holds the pilot"),
    ],
)
def test_held_replicas(
    prev: AIServiceStatus,
    passed: bool,
    regressed: bool,
    killed: bool,
    current: int | None,
    ceiling: int | None,
    held: int | None,
) -> None:
    got = held_replicas(
        prev=prev,
        passed=passed,
        regressed=regressed,
        killed=killed,
        current=current,
        pilot=2,
        ceiling=ceiling,
    )
    assert got == held


# ---- the kill switch ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prev_kill", "replicas", "record", "scale_to", "recorded", "announced"),
    [
        pytest.param(OFF, 4, None, 0, 4, True, id="engaging scales to zero, records 4 and announces it"),
        pytest.param(
            OFF,
            0,
            WorkloadRecord(4, EARLIER),
            None,
            None,
            True,
            id="after a crash the workload's record is kept",
        ),
        pytest.param(
            KillSwitchStatus(engaged=True, replicas_before=4, since=EARLIER),
            0,
            WorkloadRecord(4, EARLIER),
            None,
            None,
            False,
            id="a switch already engaged says nothing and writes nothing",
        ),
        pytest.param(
            KillSwitchStatus(engaged=True, replicas_before=4, since=EARLIER),
            0,
            None,
            None,
            4,
            False,
            id="a record removed by hand is written again from the status",
        ),
        pytest.param(
            KillSwitchStatus(engaged=True, replicas_before=4, since=EARLIER),
            3,
            WorkloadRecord(4, EARLIER),
            0,
            None,
            False,
            id="a scale-up that got past admission is brought back to zero",
        ),
    ],
)
def test_engage_kill_switch(
    prev_kill: KillSwitchStatus,
    replicas: int,
    record: WorkloadRecord | None,
    scale_to: int | None,
    recorded: int | None,
    announced: bool,
) -> None:
    t = engage_kill_switch(ENGAGED, prev_kill, Workload(replicas=replicas), record, NOW, LABEL)
    assert t.status.engaged and t.scale_to == scale_to and not t.restore_pending
    assert (t.patch is not None) is (recorded is not None)
    if recorded is not None:
        assert t.patch is not None and t.patch["metadata"] == {
            "annotations": {
                "airlock.dev/kill-switch-replicas-before": str(recorded),
                "airlock.dev/kill-switch-since": (t.status.since or NOW).isoformat().replace("+00:00", "Z"),
            }
        }
    assert [e.reason for e in t.events] == ([EventReason.KILL_SWITCH_ENGAGED] if announced else [])
    assert all(e.once for e in t.events)


def test_an_engagement_names_who_why_and_what_it_stopped() -> None:
    t = engage_kill_switch(ENGAGED, OFF, Workload(replicas=4), None, NOW, LABEL)
    assert t.events == (
        Event(
            "Warning",
            EventReason.KILL_SWITCH_ENGAGED,
            "Kill switch engaged by alice (INC-1); Deployment bot scaled from 4 to 0 replicas.",
            once=True,
        ),
    )
    assert t.status.since == NOW and t.status.engaged_by == "alice" and t.status.replicas_before == 4


@pytest.mark.parametrize(
    ("prev_kill", "current", "record", "cap", "scale_to", "pending", "announced"),
    [
        pytest.param(OFF, 2, None, 1, None, False, False, id="never engaged: nothing to restore"),
        pytest.param(
            KillSwitchStatus(engaged=True, replicas_before=4),
            0,
            WorkloadRecord(4, EARLIER),
            NO_CAP,
            4,
            True,
            True,
            id="a release restores what it stopped, status first",
        ),
        pytest.param(
            KillSwitchStatus(engaged=True, replicas_before=4),
            0,
            WorkloadRecord(4, EARLIER),
            1,
            1,
            True,
            True,
            id="a release restores no more than the cap",
        ),
        pytest.param(
            KillSwitchStatus(engaged=True, replicas_before=4),
            0,
            WorkloadRecord(9, EARLIER),
            NO_CAP,
            4,
            True,
            True,
            id="a record edited on the workload restores no more than the status says",
        ),
        pytest.param(
            KillSwitchStatus(engaged=False, replicas_before=4),
            4,
            WorkloadRecord(4, EARLIER),
            NO_CAP,
            None,
            False,
            False,
            id="a restore that landed only removes the record, silently",
        ),
        pytest.param(
            OFF,
            0,
            WorkloadRecord(3, EARLIER),
            NO_CAP,
            3,
            True,
            True,
            id="released while the operator was down: the workload's record restores it",
        ),
    ],
)
def test_release_kill_switch(
    prev_kill: KillSwitchStatus,
    current: int,
    record: WorkloadRecord | None,
    cap: int,
    scale_to: int | None,
    pending: bool,
    announced: bool,
) -> None:
    t = release_kill_switch({}, prev_kill, current, record, cap, LABEL)
    assert not t.status.engaged and t.scale_to == scale_to and t.restore_pending is pending
    assert (t.patch is not None) is (record is not None)
    assert [e.reason for e in t.events] == ([EventReason.KILL_SWITCH_RELEASED] if announced else [])
    assert all(e.once for e in t.events)


def test_a_release_names_who_what_was_restored_and_the_cap() -> None:
    prev_kill = KillSwitchStatus(engaged=True, replicas_before=4, engaged_by="alice")
    t = release_kill_switch({"airlock.dev/kill-switch-by": "bob"}, prev_kill, 0, None, NO_CAP, LABEL)
    assert t.status.released_by == "bob"
    assert [e.message for e in t.events] == [
        "Kill switch released by bob; Deployment bot restored to 4 replicas (had 4, cap none)."
    ]


@pytest.mark.parametrize(
    ("replicas", "record", "scale_to", "writes_record"),
    [
        pytest.param(4, None, 0, True, id="a running workload without a record: one write of both"),
        pytest.param(0, WorkloadRecord(4, EARLIER), None, False, id="at zero with its record: nothing"),
        pytest.param(
            2, WorkloadRecord(4, EARLIER), 0, False, id="scaled up with its record: the scale alone"
        ),
        pytest.param(None, None, None, False, id="no workload: nothing"),
    ],
)
def test_kill_scale_down(
    replicas: int | None, record: WorkloadRecord | None, scale_to: int | None, writes_record: bool
) -> None:
    workload = Workload(replicas=replicas) if replicas is not None else None
    status = KillSwitchStatus(engaged=True, replicas_before=4, since=EARLIER)
    got_scale, patch = kill_scale_down(workload, record, status)
    assert got_scale == scale_to and (patch is not None) is writes_record


@pytest.mark.parametrize(
    ("engaged", "prev_kill", "announced", "scale_to"),
    [
        pytest.param(
            False, OFF, False, None, id="released: nothing is restored while the spec is unreadable"
        ),
        pytest.param(True, OFF, True, 0, id="engaged: scaled to zero and announced, spec or not"),
        pytest.param(
            True,
            KillSwitchStatus(engaged=True, reason="old", replicas_before=4, since=EARLIER),
            False,
            0,
            id="already engaged: the recorded reason stays",
        ),
    ],
)
def test_invalid_kill_transition(
    engaged: bool, prev_kill: KillSwitchStatus, announced: bool, scale_to: int | None
) -> None:
    annotations = (
        {"airlock.dev/kill-switch": "true", "airlock.dev/kill-switch-reason": "new"} if engaged else {}
    )
    kill = KillSwitch(engaged=engaged, reason="new" if engaged else None)
    t = invalid_kill_transition(
        view(AIServiceStatus(kill_switch=prev_kill), annotations=annotations), kill, Workload(replicas=3), NOW
    )
    assert t.scale_to == scale_to and bool(t.events) is announced and not t.restore_pending
    if prev_kill.engaged:
        assert t.status == prev_kill


# ---- backstop and stage ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "allowed", "target"),
    [
        pytest.param(5, 1, 1, id="above the cap: down to it"),
        pytest.param(1, 1, None, id="at the cap: nothing"),
        pytest.param(9, NO_CAP, None, id="no cap: nothing"),
        pytest.param(None, 1, None, id="no workload: nothing"),
    ],
)
def test_backstop(current: int | None, allowed: int, target: int | None) -> None:
    cut = backstop(current, allowed, LABEL)
    assert (cut[0] if cut else None) == target
    if cut is not None:
        assert cut[1].reason is EventReason.SCALED_TO_CAP and not cut[1].once
        assert cut[1].message == f"Deployment bot had {current} replicas, above its cap of 1; scaled to 1."


@pytest.mark.parametrize(
    ("killed", "promoted", "passed", "on_regression", "stage"),
    [
        pytest.param(True, True, True, RegressionAction.HOLD, Stage.KILLED, id="the kill switch wins"),
        pytest.param(False, True, True, RegressionAction.HOLD, Stage.PRODUCTION, id="promoted and passing"),
        pytest.param(
            False, True, False, RegressionAction.HOLD, Stage.PRODUCTION, id="held through a regression"
        ),
        pytest.param(
            False,
            True,
            False,
            RegressionAction.SCALE_DOWN,
            Stage.PILOT,
            id="back to pilot on regression when the policy scales down",
        ),
        pytest.param(False, False, False, RegressionAction.HOLD, Stage.PILOT, id="never promoted"),
    ],
)
def test_service_stage(
    killed: bool, promoted: bool, passed: bool, on_regression: RegressionAction, stage: Stage
) -> None:
    stages = resolve_stages(None, None, pilot=1, ceiling=None, required=tuple(GateName))
    prev = PreviousStage(
        reached=1 if promoted else 0, peak=1 if promoted else 0, since=None, was_killed=False
    )
    passing = tuple(GateName) if passed else ()
    progress = stage_progress(stages, passing, prev, now=NOW, killed=killed, on_regression=on_regression)
    assert service_stage(killed, stages[progress.reached]) == stage


# ---- status ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("governed", "kind_enabled", "claimed_by", "found", "reason"),
    [
        pytest.param(
            False, True, None, True, ConditionReason.NAMESPACE_NOT_GOVERNED, id="namespace not governed"
        ),
        pytest.param(True, False, None, True, ConditionReason.KIND_NOT_ENABLED, id="kind not enabled"),
        pytest.param(True, True, "other", False, ConditionReason.WORKLOAD_CLAIMED, id="claimed by another"),
        pytest.param(True, True, None, True, ConditionReason.FOUND, id="found"),
        pytest.param(True, True, None, False, ConditionReason.WORKLOAD_NOT_FOUND, id="not found"),
    ],
)
def test_workload_found_reason(
    governed: bool, kind_enabled: bool, claimed_by: str | None, found: bool, reason: ConditionReason
) -> None:
    got, message = workload_found_reason(
        view(governed=governed, kind_enabled=kind_enabled), found, claimed_by
    )
    assert got is reason and "Deployment bot" in message


def test_an_ungoverned_namespace_says_the_command_that_governs_it() -> None:
    _, message = workload_found_reason(view(governed=False), False, None)
    assert message.endswith("kubectl label namespace ns airlock.dev/governed=true")


PASSING = GateReport(results=(), required=(), expires_at=None, digest=None)
FAILING = GateReport(
    results=(GateResult(name=GateName.USE_CASE, passed=False, reason="Missing", message="No use case."),),
    required=(GateName.USE_CASE,),
    expires_at=None,
    digest=None,
)


def report(results: list[GateResult]) -> GateReport:
    return GateReport(tuple(results), tuple(g.name for g in results), None, None)


@pytest.mark.parametrize(
    ("governed", "killed", "found", "report", "regressed", "ready", "reason"),
    [
        pytest.param(
            False,
            True,
            True,
            PASSING,
            False,
            False,
            ConditionReason.NAMESPACE_NOT_GOVERNED,
            id="ungoverned first",
        ),
        pytest.param(
            True, True, False, PASSING, False, False, ConditionReason.KILL_SWITCH_ENGAGED, id="then killed"
        ),
        pytest.param(
            True,
            False,
            False,
            PASSING,
            False,
            False,
            ConditionReason.WORKLOAD_NOT_FOUND,
            id="then no workload",
        ),
        pytest.param(True, False, True, PASSING, False, True, ConditionReason.PRODUCTION, id="then passing"),
        pytest.param(
            True, False, True, FAILING, True, False, ConditionReason.GATES_REGRESSED, id="then regressed"
        ),
        pytest.param(True, False, True, FAILING, False, False, ConditionReason.PILOT, id="else pilot"),
    ],
)
def test_ready_reason(
    governed: bool,
    killed: bool,
    found: bool,
    report: GateReport,
    regressed: bool,
    ready: bool,
    reason: ConditionReason,
) -> None:
    service = view(governed=governed)
    got = ready_reason(
        service,
        found=workload_found_reason(service, found, None),
        workload_found=found,
        report=report,
        killed=killed,
        regressed=regressed,
        cap="1 replicas",
    )
    assert got[:2] == (ready, reason)


@pytest.mark.parametrize(
    ("killed", "consequence", "status", "message"),
    [
        pytest.param(
            True,
            " Scale-ups are denied until it is released.",
            True,
            "Kill switch engaged: INC-1. Scale-ups are denied until it is released.",
            id="engaged, with what it means",
        ),
        pytest.param(True, "", True, "Kill switch engaged: INC-1.", id="engaged, reason only"),
        pytest.param(False, "", False, "Kill switch not engaged.", id="not engaged"),
    ],
)
def test_kill_condition(killed: bool, consequence: str, status: bool, message: str) -> None:
    got = kill_condition(killed, "INC-1" if killed else None, consequence=consequence)
    assert got[0] is status and got[2] == message


# ---- events ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "after", "reasons"),
    [
        pytest.param(None, Stage.PILOT, [], id="a first pilot says nothing"),
        pytest.param(Stage.PILOT, Stage.PRODUCTION, [EventReason.PROMOTED], id="promotion"),
        pytest.param(None, Stage.PRODUCTION, [EventReason.PROMOTED], id="promoted on its first pass"),
        pytest.param(Stage.PRODUCTION, Stage.PILOT, [EventReason.RETURNED_TO_PILOT], id="returned to pilot"),
        pytest.param(Stage.PRODUCTION, Stage.KILLED, [], id="a kill has its own Event"),
        pytest.param(Stage.KILLED, Stage.PRODUCTION, [], id="so has its release"),
        pytest.param(Stage.PILOT, Stage.PILOT, [], id="no change says nothing"),
    ],
)
def test_stage_events(before: Stage | None, after: Stage, reasons: list[EventReason]) -> None:
    got = stage_events(AIServiceStatus(stage=before), AIServiceStatus(stage=after), LABEL)
    assert [e.reason for e in got] == reasons


def condition(type_: str, status: str, reason: str) -> Condition:
    return Condition(type=type_, status=status, reason=reason, message=f"{reason}.", last_transition_time=NOW)


@pytest.mark.parametrize(
    ("before", "after", "reasons"),
    [
        pytest.param(
            [], [condition("Ready", "False", "GatesRegressed")], [EventReason.GATES_REGRESSED], id="regressed"
        ),
        pytest.param(
            [condition("Ready", "False", "GatesRegressed")],
            [condition("Ready", "False", "GatesRegressed")],
            [],
            id="still regressed says nothing",
        ),
        pytest.param(
            [condition("WorkloadFound", "True", "Found")],
            [condition("WorkloadFound", "False", "WorkloadNotFound")],
            [EventReason.WORKLOAD_NOT_FOUND],
            id="the workload went missing",
        ),
        pytest.param(
            [condition("WorkloadFound", "False", "WorkloadNotFound")],
            [condition("WorkloadFound", "False", "WorkloadClaimed")],
            [EventReason.WORKLOAD_CLAIMED],
            id="not acted on for another reason",
        ),
        pytest.param(
            [condition("WorkloadFound", "False", "NamespaceNotGoverned")],
            [condition("WorkloadFound", "False", "NamespaceNotGoverned")],
            [],
            id="the same reason again says nothing",
        ),
    ],
)
def test_condition_events(
    before: list[Condition], after: list[Condition], reasons: list[EventReason]
) -> None:
    got = condition_events(AIServiceStatus(conditions=before), AIServiceStatus(conditions=after))
    assert [e.reason for e in got] == reasons


A, B, C = GateName.USE_CASE, GateName.EVALS, GateName.COST


def gate(name: GateName, passed: bool, message: str = "why") -> GateResult:
    return GateResult(name=name, passed=passed, reason="Passed" if passed else "Missing", message=message)


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        pytest.param(None, [gate(A, False)], [], id="a first pass says nothing of gates"),
        pytest.param([gate(A, False)], [gate(A, True)], [(EventReason.GATE_PASSED, 1)], id="one passes"),
        pytest.param([gate(A, True)], [gate(A, False)], [(EventReason.GATE_FAILED, 1)], id="one fails"),
        pytest.param(
            [gate(A, True), gate(B, True), gate(C, True)],
            [gate(A, False), gate(B, False), gate(C, False)],
            [(EventReason.GATES_FAILED, 3)],
            id="a version bump failing three is one Event counting three",
        ),
        pytest.param(
            [gate(A, True), gate(B, False), gate(C, False)],
            [gate(A, False), gate(B, True), gate(C, True)],
            [(EventReason.GATES_PASSED, 2), (EventReason.GATE_FAILED, 1)],
            id="one Event per direction",
        ),
        pytest.param(
            [], [gate(GateName.SIGNOFFS, True)], [(EventReason.GATE_PASSED, 1)], id="a gate new to the status"
        ),
        pytest.param([gate(A, True)], [gate(A, True)], [], id="no change says nothing"),
    ],
)
def test_gate_events(
    before: list[GateResult] | None, after: list[GateResult], expected: list[tuple[EventReason, int]]
) -> None:
    prev = AIServiceStatus() if before is None else AIServiceStatus(stage=Stage.PILOT, gates=before)
    got = gate_events(prev, report(after))
    assert [(e.reason, e.count) for e in got] == expected


def test_several_gates_failing_for_one_reason_say_it_once() -> None:
    prev = AIServiceStatus(stage=Stage.PILOT, gates=[gate(A, True), gate(B, True)])
    got = gate_events(prev, report([gate(A, False, "m"), gate(B, False, "m")]))
    assert [e.message for e in got] == ["Gates useCase, evals fail: m"]


@pytest.mark.parametrize(
    ("before", "after", "reasons"),
    [
        pytest.param(
            AIServiceStatus(stage=Stage.PILOT, allowed_replicas=1, packet="p"),
            AIServiceStatus(stage=Stage.PILOT, allowed_replicas=NO_CAP, packet="p"),
            [EventReason.CAP_CHANGED],
            id="the cap changed",
        ),
        pytest.param(
            AIServiceStatus(stage=Stage.PILOT, allowed_replicas=1, packet="p"),
            AIServiceStatus(stage=Stage.PILOT, allowed_replicas=1, packet="q"),
            [EventReason.PACKET_SELECTED],
            id="another packet",
        ),
        pytest.param(
            AIServiceStatus(stage=Stage.PILOT, allowed_replicas=1, packet="p"),
            AIServiceStatus(stage=Stage.PILOT, allowed_replicas=1, packet="p"),
            [],
            id="nothing changed says nothing",
        ),
    ],
)
def test_transition_events(
    before: AIServiceStatus, after: AIServiceStatus, reasons: list[EventReason]
) -> None:
    got = transition_events(before, after, report([]), "bot", "")
    assert [e.reason for e in got] == reasons


@pytest.mark.parametrize(
    "reason",
    [
        ConditionReason.NAMESPACE_NOT_GOVERNED,
        ConditionReason.KIND_NOT_ENABLED,
        ConditionReason.WORKLOAD_CLAIMED,
        ConditionReason.WORKLOAD_NOT_FOUND,
    ],
    ids=str,
)
def test_every_reason_a_workload_is_left_alone_is_also_an_event_reason(reason: ConditionReason) -> None:
    prev = AIServiceStatus(conditions=[condition("WorkloadFound", "True", "Found")])
    got = condition_events(prev, AIServiceStatus(conditions=[condition("WorkloadFound", "False", reason)]))
    assert [e.reason for e in got] == [EventReason(reason.value)]
