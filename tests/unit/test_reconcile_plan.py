"""The reconcile plan: kill switch, backstop, promotion and hold, as scenarios over pure inputs."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from airlock.logic.reconcile import (
    Plan,
    ServiceView,
    Workload,
    plan_deletion,
    plan_invalid_service,
    plan_service,
)
from airlock.models.packet import ReadinessPacketSpec
from airlock.models.policy import ReadinessPolicySpec, RegressionAction
from airlock.models.service import AIServiceSpec, AIServiceStatus, Stage, WorkloadKind, WorkloadRef

NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
# Only the useCase gate is required, so a packet with a use case passes and one without fails.
POLICY = ReadinessPolicySpec(required_gates=["useCase"])
SPEC = AIServiceSpec.model_validate(
    {
        "workload": {"name": "bot"},
        "owner": "jane",
        "versions": {"model": "m1", "prompt": "p1"},
        "pilotReplicas": 1,
        "requiredGates": ["useCase"],
    }
)
READY_PACKET = ReadinessPacketSpec.model_validate(
    {
        "service": "bot",
        "versions": {"model": "m1", "prompt": "p1"},
        "useCase": {"summary": "Answers card questions.", "nonUseCases": ["Credit decisions"]},
    }
)
PACKETS = [("bot-v1", READY_PACKET)]


def view(
    status: AIServiceStatus | None = None,
    annotations: dict[str, str] | None = None,
    spec: AIServiceSpec = SPEC,
) -> ServiceView:
    return ServiceView("bot", "ns", 1, annotations or {}, spec, status)


KILL = {"airlock.dev/kill-switch": "true", "airlock.dev/kill-switch-reason": "INC-1"}
BEFORE, SINCE = "airlock.dev/kill-switch-replicas-before", "airlock.dev/kill-switch-since"


def plan(
    status: AIServiceStatus | None,
    replicas: int | None,
    *,
    annotations: dict[str, str] | None = None,
    packets: list[tuple[str, ReadinessPacketSpec]] | None = None,
    policy: ReadinessPolicySpec = POLICY,
    spec: AIServiceSpec = SPEC,
    record: int | None = None,
) -> Plan:
    """A pass over a Deployment with `replicas`, carrying the kill switch's record of `record` replicas."""
    on_workload = {} if record is None else {BEFORE: str(record), SINCE: "2026-11-20T12:00:00Z"}
    workload = Workload(replicas=replicas, annotations=on_workload) if replicas is not None else None
    return plan_service(
        view(status, annotations, spec), workload, packets if packets is not None else [], policy, NOW
    )


def reasons(p: Plan) -> list[str]:
    return [e.reason for e in p.events]


def test_a_pilot_above_its_cap_is_scaled_down_to_it() -> None:
    p = plan(None, 5)
    assert p.scale_to == 1 and p.status.stage == Stage.PILOT and p.status.allowed_replicas == 1
    assert "ScaledToCap" in reasons(p)


def test_a_second_pass_over_its_own_status_writes_nothing_and_says_nothing() -> None:
    first = plan(None, 1)
    second = plan(first.status, 1)
    assert second.scale_to is None and second.events == () and not second.status_changed(first.status)


def test_passing_gates_promote_and_lift_the_cap() -> None:
    pilot = plan(None, 1)
    p = plan(pilot.status, 1, packets=PACKETS)
    assert p.status.stage == Stage.PRODUCTION and p.status.allowed_replicas == -1 and p.status.promoted
    assert "Promoted" in reasons(p) and "GatesPassed" in reasons(p)


def test_engaging_the_kill_switch_is_one_write_that_scales_to_zero_and_records_the_replicas() -> None:
    prod = plan(plan(None, 1, packets=PACKETS).status, 4, packets=PACKETS)
    p = plan(prod.status, 4, annotations=KILL, packets=PACKETS)
    assert p.status_first is None
    assert p.workload_patch == {
        "metadata": {"annotations": {BEFORE: "4", SINCE: "2026-11-20T12:00:00Z"}},
        "spec": {"replicas": 0},
    }
    assert p.scale_to == 0 and p.status.stage == Stage.KILLED and p.status.allowed_replicas == 0
    assert p.status.kill_switch is not None and p.status.kill_switch.replicas_before == 4
    assert p.kill_since == NOW and "KillSwitchEngaged" in reasons(p)


def test_a_restart_while_engaged_keeps_the_record_and_never_restores() -> None:
    killed = plan(plan(None, 4, packets=PACKETS).status, 4, annotations=KILL, packets=PACKETS)
    again = plan(killed.status, 0, annotations=KILL, packets=PACKETS, record=4)
    assert again.scale_to is None and again.workload_patch is None and again.events == ()
    assert again.status.kill_switch is not None and again.status.kill_switch.replicas_before == 4


def test_a_crash_between_the_scale_and_the_status_loses_nothing() -> None:
    prod = plan(plan(None, 1, packets=PACKETS).status, 4, packets=PACKETS)
    # The workload write landed (0 replicas, 4 recorded); the status did not.
    after_crash = plan(prod.status, 0, annotations=KILL, packets=PACKETS, record=4)
    assert after_crash.workload_patch is None and after_crash.scale_to is None
    assert after_crash.status.kill_switch is not None and after_crash.status.kill_switch.replicas_before == 4
    assert after_crash.kill_since == NOW and reasons(after_crash).count("KillSwitchEngaged") == 1
    # Released before the operator came back: the record on the workload is enough to restore.
    released = plan(prod.status, 0, packets=PACKETS, record=4)
    assert released.scale_to == 4 and "KillSwitchReleased" in reasons(released)
    assert released.workload_patch == {
        "metadata": {"annotations": {BEFORE: None, SINCE: None}},
        "spec": {"replicas": 4},
    }


def test_a_kill_recorded_only_in_status_gets_its_record_on_the_workload() -> None:
    killed = plan(plan(None, 4, packets=PACKETS).status, 4, annotations=KILL, packets=PACKETS)
    # Engaged before the record lived on the workload, or the record was removed by hand.
    again = plan(killed.status, 0, annotations=KILL, packets=PACKETS)
    assert again.scale_to is None and again.events == ()
    assert again.workload_patch == {
        "metadata": {"annotations": {BEFORE: "4", SINCE: "2026-11-20T12:00:00Z"}},
        "spec": {"replicas": 0},
    }


def test_releasing_restores_the_recorded_replicas_capped_by_what_the_gates_allow() -> None:
    prod = plan(plan(None, 1, packets=PACKETS).status, 4, packets=PACKETS)
    killed = plan(prod.status, 4, annotations=KILL, packets=PACKETS)
    released = plan(killed.status, 0, packets=PACKETS, record=4)
    assert released.scale_to == 4 and "KillSwitchReleased" in reasons(released)
    assert released.workload_patch == {
        "metadata": {"annotations": {BEFORE: None, SINCE: None}},
        "spec": {"replicas": 4},
    }
    # The cap is lifted in status before the scale, so admission lets the restore through.
    assert released.status_first is not None and released.status_first.allowed_replicas == -1
    pilot_killed = plan(plan(None, 1).status, 1, annotations=KILL)
    assert plan(pilot_killed.status, 0, record=1).scale_to == 1
    assert plan(pilot_killed.status, 0, record=5).scale_to == 1


def test_a_record_edited_on_the_workload_restores_no_more_than_the_status_recorded() -> None:
    prod = plan(plan(None, 1, packets=PACKETS).status, 2, packets=PACKETS)
    killed = plan(prod.status, 2, annotations=KILL, packets=PACKETS)
    assert plan(killed.status, 0, packets=PACKETS, record=50).scale_to == 2
    # With the status lost, the workload's record alone says; the cap still applies.
    assert plan(prod.status, 0, packets=PACKETS, record=50).scale_to == 50
    assert plan(plan(None, 1).status, 0, record=50).scale_to == 1


def test_a_restart_after_release_restores_exactly_once() -> None:
    prod = plan(plan(None, 1, packets=PACKETS).status, 3, packets=PACKETS)
    killed = plan(prod.status, 3, annotations=KILL, packets=PACKETS)
    released = plan(killed.status, 0, packets=PACKETS, record=3)
    assert released.status_first is not None
    # The process died after writing status_first and before the restore: the next pass restores.
    after_crash = plan(released.status_first, 0, packets=PACKETS, record=3)
    assert after_crash.scale_to == 3 and after_crash.workload_patch is not None
    assert after_crash.kill_since == released.kill_since == NOW
    # Once restored (the record went with it), nothing is restored again.
    restored = plan(after_crash.status, 3, packets=PACKETS)
    assert restored.scale_to is None and restored.workload_patch is None


def test_a_promoted_service_whose_gates_regress_is_held_with_a_warning() -> None:
    prod = plan(plan(None, 1, packets=PACKETS).status, 6, packets=PACKETS)
    bumped = SPEC.model_copy(update={"versions": SPEC.versions.model_copy(update={"prompt": "p2"})})
    p = plan(prod.status, 6, packets=PACKETS, spec=bumped)
    assert p.scale_to is None and p.status.allowed_replicas == 6 and p.status.stage == Stage.PRODUCTION
    ready = next(c for c in p.status.conditions if c.type == "Ready")
    assert ready.status == "False" and ready.reason == "GatesRegressed"
    assert "GatesRegressed" in reasons(p)


def test_the_scale_down_policy_returns_a_regressed_service_to_its_pilot() -> None:
    policy = POLICY.model_copy(update={"on_regression": RegressionAction.SCALE_DOWN})
    prod = plan(plan(None, 1, packets=PACKETS, policy=policy).status, 6, packets=PACKETS, policy=policy)
    p = plan(prod.status, 6, packets=[], policy=policy)
    assert p.scale_to == 1 and p.status.stage == Stage.PILOT


def test_a_missing_workload_is_reported_and_nothing_is_scaled() -> None:
    p = plan(None, None)
    found = next(c for c in p.status.conditions if c.type == "WorkloadFound")
    assert found.status == "False" and "does not exist" in found.message and p.scale_to is None


def test_a_workload_claimed_by_another_service_is_left_alone() -> None:
    p = plan_service(view(), Workload(replicas=9), [], POLICY, NOW, claimed_by="another")
    assert p.scale_to is None and p.metadata is None
    found = next(c for c in p.status.conditions if c.type == "WorkloadFound")
    assert found.reason == "WorkloadClaimed"


@pytest.mark.parametrize("value", ["yes", "", "FALSE"])
def test_kill_switch_values_that_are_not_false_engage(value: str) -> None:
    p = plan(None, 2, annotations={"airlock.dev/kill-switch": value})
    assert p.scale_to == 0 and p.status.stage == Stage.KILLED


def test_labels_follow_the_stage_and_versions() -> None:
    p = plan(None, 1, packets=PACKETS)
    assert p.metadata is not None
    assert p.metadata["labels"]["airlock.dev/stage"] == "Production"
    assert p.metadata["labels"]["airlock.dev/model-version"] == "m1"


RECORDED_KILL = {
    **KILL,
    "airlock.dev/kill-switch-replicas-before": "4",
    "airlock.dev/kill-switch-since": "2026-11-20T11:30:00Z",
    "airlock.dev/kill-switch-by": "oncall@example.com",
}


def test_an_operator_that_comes_back_after_a_manual_scale_to_zero_takes_the_recorded_replicas() -> None:
    prod = plan(plan(None, 1, packets=PACKETS).status, 4, packets=PACKETS)
    # On-call engaged the switch with the plugin and scaled to 0 by hand while the operator was down.
    back = plan(prod.status, 0, annotations=RECORDED_KILL, packets=PACKETS)
    record = back.status.kill_switch
    assert record is not None and record.replicas_before == 4
    assert record.since == dt.datetime(2026, 11, 20, 11, 30, tzinfo=dt.UTC)
    assert any("by oncall@example.com" in e.message for e in back.events)
    assert back.workload_patch == {
        "metadata": {"annotations": {BEFORE: "4", SINCE: "2026-11-20T11:30:00Z"}},
        "spec": {"replicas": 0},
    }
    # The release brings back what the service had, not the 0 the operator found.
    assert plan(back.status, 0, packets=PACKETS, record=4).scale_to == 4


def test_without_a_sensible_record_the_live_count_and_now_are_taken() -> None:
    prod = plan(plan(None, 1, packets=PACKETS).status, 3, packets=PACKETS)
    odd = {**KILL, "airlock.dev/kill-switch-replicas-before": "lots", "airlock.dev/kill-switch-since": "?"}
    p = plan(prod.status, 3, annotations=odd, packets=PACKETS)
    assert p.status.kill_switch is not None
    assert p.status.kill_switch.replicas_before == 3 and p.status.kill_switch.since == NOW


def test_a_released_switch_has_its_leftover_annotations_removed() -> None:
    killed = plan(plan(None, 1).status, 1, annotations=RECORDED_KILL)
    assert killed.service_annotations is None
    left = {k: v for k, v in RECORDED_KILL.items() if k != "airlock.dev/kill-switch"}
    released = plan(killed.status, 0, annotations=left)
    assert released.service_annotations == dict.fromkeys(left)
    assert plan(released.status, 1).service_annotations is None


@pytest.mark.parametrize(
    ("annotations", "stage", "labels", "event", "unlabel"),
    [
        pytest.param(
            KILL,
            "Killed",
            {"airlock.dev/service": "bot", "airlock.dev/stage": "Killed"},
            True,
            True,
            id="deleting an engaged service is recorded and the Deployment loses its stage label",
        ),
        pytest.param(
            {},
            "Pilot",
            {"airlock.dev/service": "bot", "airlock.dev/stage": "Pilot"},
            False,
            True,
            id="any deletion leaves the Deployment without a stage; only a kill's end is an event",
        ),
        pytest.param(
            KILL,
            None,
            {"airlock.dev/service": "other"},
            True,
            False,
            id="a Deployment labelled for another service keeps its labels",
        ),
    ],
)
def test_plan_deletion(
    annotations: dict[str, str], stage: str | None, labels: dict[str, str], event: bool, unlabel: bool
) -> None:
    p = plan_deletion("bot", "bot", annotations, stage, Workload(replicas=0, labels=labels))
    assert (p.event is not None) is event
    if p.event is not None:
        assert p.event.reason == "KillSwitchEndedByDeletion" and "Deployment bot" in p.event.message
    assert (p.metadata == {"labels": {"airlock.dev/stage": None}}) is unlabel


def test_who_released_the_switch_is_kept_in_status_and_named_in_the_event() -> None:
    killed = plan(plan(None, 1).status, 1, annotations=RECORDED_KILL)
    released = plan(
        killed.status,
        0,
        annotations={"airlock.dev/kill-switch": "false", "airlock.dev/kill-switch-by": "lead@example.com"},
    )
    assert released.status.kill_switch is not None
    assert released.status.kill_switch.released_by == "lead@example.com"
    assert released.status_first is not None and released.status_first.kill_switch is not None
    assert released.status_first.kill_switch.released_by == "lead@example.com"
    assert any("released by lead@example.com" in e.message for e in released.events)
    # The operator removes airlock.dev/kill-switch-by afterwards; the record stays.
    later = plan(released.status, 1, annotations={"airlock.dev/kill-switch": "false"})
    assert later.status.kill_switch is not None and later.status.kill_switch.released_by == "lead@example.com"
    assert later.events == ()


def test_a_release_that_names_nobody_is_recorded_as_an_unnamed_identity() -> None:
    killed = plan(plan(None, 1).status, 1, annotations=RECORDED_KILL)
    left = {k: v for k, v in RECORDED_KILL.items() if k != "airlock.dev/kill-switch"}
    released = plan(killed.status, 0, annotations=left)
    assert released.status.kill_switch is not None and released.status.kill_switch.released_by is None
    assert any("released by an unnamed identity" in e.message for e in released.events)


@pytest.mark.parametrize(
    ("annotations", "replicas", "previous", "scale_to", "stage", "event_reasons"),
    [
        pytest.param(
            KILL,
            3,
            None,
            0,
            Stage.KILLED,
            ["KillSwitchEngaged", "InvalidSpec"],
            id="engaged: scaled to zero first",
        ),
        pytest.param(
            KILL, 0, None, None, Stage.KILLED, ["KillSwitchEngaged", "InvalidSpec"], id="already at zero"
        ),
        pytest.param(
            {}, 3, 2, None, None, ["InvalidSpec"], id="not engaged: the last cap stays, nothing scaled"
        ),
    ],
)
def test_an_unreadable_spec_still_honours_the_kill_switch(
    annotations: dict[str, str],
    replicas: int,
    previous: int | None,
    scale_to: int | None,
    stage: Stage | None,
    event_reasons: list[str],
) -> None:
    before = AIServiceStatus(allowed_replicas=previous) if previous is not None else None
    p = plan_invalid_service(
        view(before, annotations), Workload(replicas=replicas), "spec.pilotReplicas: >= 0", NOW
    )
    assert p.scale_to == scale_to
    assert p.status.stage == stage
    assert p.status.allowed_replicas == (0 if stage is Stage.KILLED else previous)
    assert reasons(p) == event_reasons
    ready = next(c for c in p.status.conditions if c.type == "Ready")
    assert ready.reason == "InvalidSpec" and "spec.pilotReplicas" in ready.message
    # A second pass over its own status announces nothing again.
    again = plan_invalid_service(
        view(p.status, annotations), Workload(replicas=0), "spec.pilotReplicas: >= 0", NOW
    )
    assert reasons(again) == [] and again.status_first is None


def test_a_kind_the_operator_does_not_govern_is_left_alone_and_the_condition_says_why() -> None:
    spec = SPEC.model_copy(
        update={
            "workload": WorkloadRef(api_version="argoproj.io/v1alpha1", kind=WorkloadKind.ROLLOUT, name="bot")
        }
    )
    service = dataclasses.replace(view(spec=spec), kind_enabled=False)
    p = plan_service(service, Workload(replicas=9), [], POLICY, NOW)
    assert p.scale_to is None and p.metadata is None
    found = next(c for c in p.status.conditions if c.type == "WorkloadFound")
    assert found.reason == "KindNotEnabled" and "Rollout bot" in found.message


def test_events_and_conditions_name_the_workload_s_kind() -> None:
    spec = SPEC.model_copy(update={"workload": WorkloadRef(kind=WorkloadKind.STATEFUL_SET, name="bot")})
    p = plan(None, 4, spec=spec)
    found = next(c for c in p.status.conditions if c.type == "WorkloadFound")
    assert found.message == "StatefulSet bot is governed by this AIService."
    scaled = next(e for e in p.events if e.reason == "ScaledToCap")
    assert scaled.message.startswith("StatefulSet bot had 4 replicas"), scaled.message
