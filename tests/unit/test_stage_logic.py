"""Stages: merging the policy's with the service's, each stage's cap, and where a service stands."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from airlock.logic.stages import (
    PreviousStage,
    ResolvedStage,
    StageProgress,
    blocking_stage,
    merge_stages,
    previous_stage,
    resolve_stages,
    satisfied_stage,
    stage_cap,
    stage_progress,
    summarize,
)
from airlock.models.common import GateName
from airlock.models.policy import ReadinessPolicySpec, RegressionAction
from airlock.models.service import NO_CAP, AIServiceSpec, AIServiceStatus
from airlock.models.stages import StageSpec, parse_duration

NOW = dt.datetime(2026, 12, 2, 12, 0, tzinfo=dt.UTC)
E, S, OWN = GateName.EVALS, GateName.SECURITY_REVIEW, GateName.OWNERSHIP
ALL = tuple(GateName)


def spec(name: str, **fields: object) -> StageSpec:
    return StageSpec.model_validate({"name": name, **fields})


THREE = (
    spec("Pilot"),
    spec("Limited", replicas=5, requiredGates=["evals", "securityReview"], minSoak="10m", trafficWeight=10),
    spec("Production", minSoak="1h"),
)


def resolved(policy: tuple[StageSpec, ...] | None = THREE, service: tuple[StageSpec, ...] | None = None,
             *, pilot: int = 1, ceiling: int | None = 20) -> tuple[ResolvedStage, ...]:  # fmt: skip
    return resolve_stages(policy, service, pilot=pilot, ceiling=ceiling, required=ALL)


# ---- durations and definitions ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("10m", 600), ("24h", 86400), ("7d", 604800), ("1h30m", 5400), ("1d2h3m4s", 93784)],
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == dt.timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "10", "1.5h", "30m1h", "1w", "-5m", "10 m"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"name": "Limited", "replicas": 3, "maxReplicasPercent": 50}, "not both"),
        ({"name": "Killed"}, "kill switch"),
        ({"name": "Limited", "minSoak": "ten minutes"}, "pattern"),
        ({"name": "Limited", "maxReplicasPercent": 0}, "greater than or equal to 1"),
        ({"name": "Limited", "trafficWeight": 101}, "less than or equal to 100"),
        ({"name": "lim ited"}, "pattern"),
    ],
)
def test_bad_stage_definitions_are_refused(fields: dict[str, object], match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        StageSpec.model_validate(fields)


@pytest.mark.parametrize(
    ("stages", "match"),
    [
        ([{"name": "Pilot"}], "at least two"),
        ([{"name": "Pilot", "requiredGates": ["evals"]}, {"name": "Production"}], "first stage"),
        ([{"name": "Pilot", "minSoak": "1h"}, {"name": "Production"}], "first stage"),
        ([{"name": "Pilot"}, {"name": "Pilot"}], "unique"),
    ],
)
def test_bad_policy_stages_are_refused(stages: list[dict[str, object]], match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        ReadinessPolicySpec.model_validate({"stages": stages})


def test_a_service_stage_above_its_ceiling_is_refused() -> None:
    with pytest.raises(ValidationError, match="above maxReplicas"):
        AIServiceSpec.model_validate(
            {
                "workload": {"name": "bot"},
                "owner": "jane",
                "versions": {"model": "m", "prompt": "p"},
                "maxReplicas": 4,
                "stages": [{"name": "Limited", "replicas": 5}],
            }
        )


# ---- merging: the service tightens, never loosens ------------------------------------------------


def test_without_stages_a_service_has_pilot_and_production() -> None:
    pilot, production = resolve_stages(None, None, pilot=2, ceiling=None, required=(E, S))
    assert (pilot.name, pilot.cap, pilot.gates) == ("Pilot", 2, ())
    assert (production.name, production.cap, production.gates) == ("Production", NO_CAP, (E, S))


def test_gates_accumulate_and_the_last_stage_needs_every_required_gate() -> None:
    pilot, limited, production = resolved()
    assert pilot.gates == ()
    assert limited.gates == (E, S)
    assert production.gates == ALL


def test_a_service_tightens_a_policy_stage_by_name() -> None:
    own = (spec("Limited", replicas=3, requiredGates=["ownership"], minSoak="1h", trafficWeight=5),)
    _, limited, _ = resolved(service=own)
    assert limited.cap == 3 and limited.gates == (E, S, OWN)
    assert limited.soak == dt.timedelta(hours=1) and limited.traffic_weight == 5


def test_a_service_cannot_loosen_a_policy_stage() -> None:
    own = (spec("Limited", replicas=50, requiredGates=[], minSoak="1s", trafficWeight=90),)
    assert resolved(service=own) == resolved()


def test_a_stage_the_service_adds_needs_what_the_next_policy_stage_needs() -> None:
    own = (spec("Pilot"), spec("Canary", replicas=2, requiredGates=["evals"]), spec("Limited"))
    names = [s.name for s in resolved(service=own)]
    assert names == ["Pilot", "Canary", "Limited", "Production"]
    canary = resolved(service=own)[1]
    # Canary comes before Limited, so it needs Limited's gates and soak and is capped at most as Limited.
    assert canary.gates == (E, S) and canary.soak == dt.timedelta(minutes=10) and canary.cap == 2


def test_an_added_stage_is_capped_by_the_policy_stage_above_it() -> None:
    own = (spec("Canary", replicas=15),)
    canary = resolved(service=own)[1]
    assert canary.name == "Canary" and canary.cap == 5  # Limited's cap, the policy stage above it


def test_an_added_stage_after_the_last_needs_everything() -> None:
    own = (spec("Production"), spec("Global", minSoak="7d"))
    *_, production, global_ = resolved(service=own)
    assert production.name == "Production" and global_.gates == ALL and global_.cap == 20


def test_merge_keeps_the_policy_order_whatever_the_service_lists() -> None:
    own = (spec("Production", minSoak="2h"), spec("Limited", replicas=4))
    assert [d.name for d in merge_stages(THREE, own)] == ["Pilot", "Limited", "Production"]


@pytest.mark.parametrize(
    ("stage", "pilot", "ceiling", "cap"),
    [
        pytest.param(spec("Limited", replicas=5), 1, 20, 5, id="a number"),
        pytest.param(spec("Limited", replicas=50), 1, 20, 20, id="never above the ceiling"),
        pytest.param(spec("Limited", replicas=1), 3, 20, 3, id="never below the pilot size"),
        pytest.param(spec("Limited", maxReplicasPercent=25), 1, 20, 5, id="a share of the ceiling"),
        pytest.param(spec("Limited", maxReplicasPercent=25), 1, 3, 1, id="a share rounds down"),
        pytest.param(spec("Limited", maxReplicasPercent=25), 2, None, 2, id="a share without a ceiling"),
        pytest.param(spec("Limited", maxReplicasPercent=100), 2, None, NO_CAP, id="all of no ceiling"),
        pytest.param(spec("Limited"), 1, None, NO_CAP, id="no cap stated, no ceiling"),
        pytest.param(spec("Limited"), 1, 8, 8, id="no cap stated: the ceiling"),
    ],
)
def test_stage_caps(stage: StageSpec, pilot: int, ceiling: int | None, cap: int) -> None:
    stages = resolve_stages((spec("Pilot"), stage, spec("Production")), None, pilot=pilot, ceiling=ceiling,
                            required=ALL)  # fmt: skip
    assert stages[1].cap == cap
    assert bool(stages[1].note) == (stage.max_replicas_percent == 25 and ceiling is None)


def test_the_first_stage_is_never_above_the_pilot_size() -> None:
    first = resolved(service=(spec("Pilot", replicas=10),), pilot=2)[0]
    assert first.cap == 2
    assert resolved(service=(spec("Pilot", replicas=1),), pilot=2)[0].cap == 1


# ---- where the service stands --------------------------------------------------------------------


def prev(reached: int = 0, peak: int | None = None, since: dt.datetime | None = None,
         was_killed: bool = False) -> PreviousStage:  # fmt: skip
    return PreviousStage(reached, reached if peak is None else peak, since, was_killed)


MIN = dt.timedelta(minutes=1)


@pytest.mark.parametrize(
    ("passing", "before", "killed", "action", "reached", "peak", "soak_until"),
    [
        pytest.param((), prev(), False, "Hold", 0, 0, None, id="nothing passes: first stage"),
        pytest.param((E, S), prev(since=NOW - 11 * MIN), False, "Hold", 1, 1, None, id="soaked: promoted"),
        pytest.param(
            (E, S), prev(since=NOW - 5 * MIN), False, "Hold", 0, 0, NOW + 5 * MIN, id="soak still running"
        ),
        pytest.param(
            ALL, prev(since=NOW - 11 * MIN), False, "Hold", 1, 1, NOW + 60 * MIN, id="one step per soak"
        ),
        pytest.param(ALL, prev(1, since=NOW - 61 * MIN), False, "Hold", 2, 2, None, id="then the last"),
        pytest.param((E,), prev(1, since=NOW - 61 * MIN), False, "Hold", 1, 1, None, id="regressed: held"),
        pytest.param(
            (E,), prev(2, since=NOW - 61 * MIN), False, "ScaleDown", 0, 2, None, id="regressed: steps down"
        ),
        pytest.param(
            (E, S, OWN), prev(2), False, "ScaleDown", 1, 2, None, id="down to the highest stage satisfied"
        ),
        pytest.param((E, S), prev(since=NOW - 11 * MIN), True, "Hold", 0, 0, None, id="no soak ends killed"),
    ],
)
def test_stage_progress(
    passing: tuple[GateName, ...],
    before: PreviousStage,
    killed: bool,
    action: str,
    reached: int,
    peak: int,
    soak_until: dt.datetime | None,
) -> None:
    got = stage_progress(
        resolved(), passing, before, now=NOW, killed=killed, on_regression=RegressionAction(action)
    )
    assert (got.reached, got.peak, got.soak_until) == (reached, peak, soak_until)


def test_without_soak_a_service_climbs_every_satisfied_stage_at_once() -> None:
    stages = resolved((spec("Pilot"), spec("Limited", requiredGates=["evals"]), spec("Production")))
    got = stage_progress(stages, ALL, prev(), now=NOW, killed=False, on_regression=RegressionAction.HOLD)
    assert got.reached == 2 and got.since == NOW


def test_a_released_kill_switch_restarts_the_soak() -> None:
    before = prev(since=NOW - dt.timedelta(hours=5), was_killed=True)
    got = stage_progress(
        resolved(), (E, S), before, now=NOW, killed=False, on_regression=RegressionAction.HOLD
    )
    assert got.reached == 0 and got.soak_until == NOW + 10 * MIN


def test_the_satisfied_stage_is_bounded_by_the_first_failing_one() -> None:
    stages = resolved()
    assert satisfied_stage(stages, ()) == 0
    assert satisfied_stage(stages, (E,)) == 0
    assert satisfied_stage(stages, (E, S)) == 1
    assert satisfied_stage(stages, ALL) == 2


@pytest.mark.parametrize(
    ("progress", "held", "cap"),
    [
        pytest.param(StageProgress(1, 1, 1, NOW), None, 5, id="the stage's cap"),
        pytest.param(StageProgress(2, 2, 0, NOW), 7, 7, id="held keeps its replicas"),
        pytest.param(StageProgress(2, 2, 1, NOW), 3, 5, id="held, at least the stage still satisfied"),
        pytest.param(StageProgress(2, 2, 0, NOW), None, 1, id="held with nothing recorded: the floor"),
    ],
)
def test_stage_cap(progress: StageProgress, held: int | None, cap: int) -> None:
    assert stage_cap(resolved(), progress, held) == cap


def test_blocking_stage_is_the_next_or_the_one_held() -> None:
    stages = resolved()
    assert blocking_stage(stages, StageProgress(0, 0, 0, NOW)) is stages[1]
    assert blocking_stage(stages, StageProgress(2, 2, 1, NOW)) is stages[2]
    assert blocking_stage(stages, StageProgress(2, 2, 2, NOW)) is None


def test_a_status_from_before_stages_reads_as_its_stage() -> None:
    stages = resolved()
    assert previous_stage(AIServiceStatus(stage="Production", promoted=True), stages).reached == 2
    assert previous_stage(AIServiceStatus(stage="Pilot", promoted=True), stages) == PreviousStage(
        0, 2, None, False
    )
    assert previous_stage(AIServiceStatus(stage="Killed", promoted=False), stages).was_killed
    gone = AIServiceStatus(stage="Regional", reached_stage="Regional", peak_stage="Regional", promoted=True)
    assert previous_stage(gone, stages).reached == 2


def test_summary_reports_each_stage_and_zero_traffic_when_killed() -> None:
    stages = resolved()
    summary = summarize(stages, StageProgress(1, 1, 1, NOW), (E, S), killed=False)
    assert (summary.reached, summary.next, summary.traffic_weight) == ("Limited", "Production", 10)
    assert [s.gates_pass for s in summary.stages] == [True, True, False]
    assert summarize(stages, StageProgress(1, 1, 1, NOW), (E, S), killed=True).traffic_weight == 0


def test_gates_or_a_soak_the_service_gives_the_first_stage_are_named_as_having_no_effect() -> None:
    first = resolved(service=(spec("Pilot", requiredGates=["evals"], minSoak="1h"),))[0]
    assert first.gates == () and first.soak == dt.timedelta(0)
    assert first.note.startswith("stage Pilot is the first") and "no effect" in first.note
    assert resolved(service=(spec("Pilot", replicas=1),))[0].note == ""
