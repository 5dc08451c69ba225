"""Stages: the policy's ladder tightened by the service, each stage's cap, and where the service stands.

Pure; no I/O. Three steps, each a function:

1. `resolve_stages` merges the ReadinessPolicy's stages (or the built-in Pilot and Production) with the
   AIService's and gives each its cap, the gates it needs (its own and every one below it; the last stage
   also every required gate) and its soak. Nothing the AIService writes loosens the policy: a stage it
   names gets the lower cap, the union of gates, the longer soak and the lower traffic weight; a stage it
   adds between two of the policy's needs at least what the next policy stage needs and is capped at most
   as it is, so adding stages only adds steps.
2. `stage_progress` decides the stage: the highest whose gates pass and whose soak in the stage below has
   elapsed, one step per soak. Regressions hold the stage (Hold) or step down to the highest stage still
   satisfied (ScaleDown). No soak ends while the service is killed, and its release restarts the soak.
3. `stage_cap` is the cap that stage allows, or what a held service keeps.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from airlock.models.common import GateName
from airlock.models.policy import RegressionAction
from airlock.models.service import NO_CAP, AIServiceStatus, StageStatus
from airlock.models.stages import PILOT_STAGE, PRODUCTION_STAGE, StageSpec

BUILTIN_STAGES: tuple[StageSpec, ...] = (StageSpec(name=PILOT_STAGE), StageSpec(name=PRODUCTION_STAGE))


@dataclass(frozen=True)
class _Definition:
    """A stage's definition after merging: every bound stated, the tightest of each kept."""

    name: str
    replicas: int | None = None
    percent: int | None = None
    gates: frozenset[GateName] = frozenset()
    soak: timedelta = timedelta(0)
    min_soak: str | None = None
    weight: int | None = None


def _lowest(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else min(a, b)


def _definition(spec: StageSpec) -> _Definition:
    return _Definition(
        spec.name,
        spec.replicas,
        spec.max_replicas_percent,
        frozenset(spec.required_gates or ()),
        spec.soak,
        spec.min_soak,
        spec.traffic_weight,
    )


def _tighten(base: _Definition, other: _Definition, name: str | None = None) -> _Definition:
    """`base` with every bound of `other` that is stricter: lower caps and weight, more gates, longer soak."""
    longer = other.soak > base.soak
    return _Definition(
        name or base.name,
        _lowest(base.replicas, other.replicas),
        _lowest(base.percent, other.percent),
        base.gates | other.gates,
        other.soak if longer else base.soak,
        other.min_soak if longer else base.min_soak,
        _lowest(base.weight, other.weight),
    )


def first_stage_note(policy: Sequence[StageSpec], service: Sequence[StageSpec]) -> str:
    """Says when the AIService gives the first stage gates or a soak, which the first stage never has
    (every service starts there); empty when it does not."""
    first = policy[0].name if policy else ""
    own = next((s for s in service if s.name == first), None)
    if own is None or (not own.required_gates and own.min_soak is None):
        return ""
    return (
        f"stage {first} is the first, where every service starts: its requiredGates and minSoak in "
        "spec.stages have no effect; put them on the next stage"
    )


def merge_stages(policy: Sequence[StageSpec], service: Sequence[StageSpec]) -> list[_Definition]:
    """The policy's stages in the policy's order, each tightened by the service's stage of that name; the
    service's other stages after the policy stage that precedes them in its list (after the first stage
    when none does), each bounded by the policy stage above it (by the last, when none is above)."""
    merged = [_definition(s) for s in policy]
    names = [d.name for d in merged]
    own = {s.name: _definition(s) for s in service}
    merged = [_tighten(d, own[d.name]) if d.name in own else d for d in merged]
    after: dict[int, list[_Definition]] = {}
    anchor = 0
    for spec in service:
        if spec.name in names:
            anchor = names.index(spec.name)
        else:
            after.setdefault(anchor, []).append(own[spec.name])
    out: list[_Definition] = []
    for i, definition in enumerate(merged):
        out.append(definition)
        bound = merged[min(i + 1, len(merged) - 1)]
        out.extend(_tighten(added, bound, name=added.name) for added in after.get(i, ()))
    return out


@dataclass(frozen=True)
class ResolvedStage:
    """One stage as it applies to one service."""

    name: str
    cap: int  # NO_CAP for none
    gates: tuple[GateName, ...]  # every gate it needs, its own and those below it, in GateName order
    soak: timedelta = timedelta(0)
    min_soak: str | None = None
    traffic_weight: int | None = None
    # Why the cap is not what the definition says, as a sentence; empty when it is.
    note: str = ""


def _cap(definition: _Definition, *, first: bool, pilot: int, ceiling: int | None) -> tuple[int, str]:
    """A stage's cap: the lowest it states, within the ceiling, never below the pilot size (the first stage
    is never above it); a share without a ceiling keeps the pilot size."""
    if first:
        return min(pilot, definition.replicas) if definition.replicas is not None else pilot, ""
    candidates = [c for c in (definition.replicas, ceiling) if c is not None]
    note = ""
    if definition.percent is not None:
        if ceiling is not None:
            candidates.append(ceiling * definition.percent // 100)
        elif definition.percent < 100:
            candidates.append(pilot)
            note = (
                f"stage {definition.name} is {definition.percent}% of maxReplicas, which this service does "
                "not set: it stays at the pilot size"
            )
    if not candidates:
        return NO_CAP, note
    return max(pilot, min(candidates)), note


def resolve_stages(
    policy_stages: Sequence[StageSpec] | None,
    service_stages: Sequence[StageSpec] | None,
    *,
    pilot: int,
    ceiling: int | None,
    required: Collection[GateName],
) -> tuple[ResolvedStage, ...]:
    """Every stage of one service, lowest first: caps from its pilot size and ceiling, and the last stage
    needing every gate in `required`."""
    ladder = policy_stages or BUILTIN_STAGES
    merged = merge_stages(ladder, service_stages or ())
    ignored = first_stage_note(ladder, service_stages or ())
    resolved: list[ResolvedStage] = []
    needed: set[GateName] = set()
    for i, definition in enumerate(merged):
        first, last = i == 0, i == len(merged) - 1
        if not first:
            needed |= definition.gates
        if last:
            needed |= set(required)
        cap, note = _cap(definition, first=first, pilot=pilot, ceiling=ceiling)
        note = ignored if first else note
        resolved.append(
            ResolvedStage(
                name=definition.name,
                cap=cap,
                gates=tuple(g for g in GateName if g in needed),
                soak=timedelta(0) if first else definition.soak,
                min_soak=None if first else definition.min_soak,
                traffic_weight=definition.weight,
                note=note,
            )
        )
    return tuple(resolved)


def declares_stages(
    policy_stages: Sequence[StageSpec] | None, service_stages: Sequence[StageSpec] | None
) -> bool:
    """Whether anything declares stages; without, a service tells today's two-stage story word for word."""
    return bool(policy_stages) or bool(service_stages)


# --- where the service stands ---------------------------------------------------------------------


@dataclass(frozen=True)
class PreviousStage:
    """What the last status said, as stage indexes into the resolved stages."""

    reached: int
    peak: int
    since: datetime | None
    was_killed: bool


def previous_stage(prev: AIServiceStatus, stages: Sequence[ResolvedStage]) -> PreviousStage:
    """Reads the last status against this pass's stages. A status from before stages existed (or naming a
    stage that is gone) reads as the last stage when the service was promoted, else the first."""
    names = [s.name for s in stages]
    top = len(stages) - 1
    fallback = top if prev.promoted else 0

    def index(name: str | None, default: int) -> int:
        return names.index(name) if name in names else default

    reached = index(prev.reached_stage, index(prev.stage, fallback))
    peak = max(index(prev.peak_stage, fallback), reached)
    return PreviousStage(reached, peak, prev.stage_since, prev.stage == "Killed")


@dataclass(frozen=True)
class StageProgress:
    """Where the service stands this pass."""

    reached: int
    peak: int
    # The highest stage whose gates pass (the first always does).
    satisfied: int
    since: datetime
    # The next stage's gates pass and its soak ends then; None when nothing waits on a soak.
    soak_until: datetime | None = None

    @property
    def regressed(self) -> bool:
        """Gates of a stage the service has reached no longer pass."""
        return self.satisfied < self.peak

    @property
    def held(self) -> bool:
        """The service stays in a stage whose gates fail (Hold)."""
        return self.satisfied < self.reached


def satisfied_stage(stages: Sequence[ResolvedStage], passing: Collection[GateName]) -> int:
    """The highest stage every gate of which passes; gates accumulate, so the first failing one bounds it."""
    ok = set(passing)
    best = 0
    for i, stage in enumerate(stages):
        if not set(stage.gates) <= ok:
            break
        best = i
    return best


def stage_progress(
    stages: Sequence[ResolvedStage],
    passing: Collection[GateName],
    prev: PreviousStage,
    *,
    now: datetime,
    killed: bool,
    on_regression: RegressionAction,
) -> StageProgress:
    """Promotes one step per soak up to the highest satisfied stage (while killed, only into stages
    without a soak); on a regression, holds the stage or steps down to the highest satisfied one, as the
    policy says."""
    satisfied = satisfied_stage(stages, passing)
    reached = min(prev.reached, len(stages) - 1)
    since = prev.since or now
    if prev.was_killed and not killed:
        since = now  # the release restarts the soak: time at zero replicas is not time serving
    soak_until = None
    if satisfied < reached:
        if on_regression is RegressionAction.SCALE_DOWN:
            reached, since = satisfied, now
    else:
        while reached < satisfied:
            soak = stages[reached + 1].soak
            if killed and soak:
                break  # time at zero replicas is not time serving: no soak ends while killed
            if now < since + soak:
                soak_until = since + soak
                break
            reached, since = reached + 1, now
    return StageProgress(reached, max(prev.peak, reached), satisfied, since, soak_until)


def stage_cap(stages: Sequence[ResolvedStage], progress: StageProgress, held: int | None) -> int:
    """The cap of the stage reached; a held service keeps `held` replicas, at least the cap of the highest
    stage still satisfied."""
    cap = stages[progress.reached].cap
    if not progress.held:
        return cap
    floor = stages[progress.satisfied].cap
    if floor == NO_CAP:
        return NO_CAP
    return max(floor, held) if held is not None else floor


def blocking_stage(stages: Sequence[ResolvedStage], progress: StageProgress) -> ResolvedStage | None:
    """The stage whose needs the Blocking column shows: the stage held with failing gates, else the next
    one; None in the last stage with its gates passing."""
    if progress.held:
        return stages[progress.reached]
    if progress.reached + 1 < len(stages):
        return stages[progress.reached + 1]
    return None


@dataclass(frozen=True)
class StageSummary:
    """The stage status fields of one pass."""

    reached: str
    peak: str
    next: str | None
    traffic_weight: int | None
    stages: list[StageStatus] = field(default_factory=list)


def stage_statuses(stages: Sequence[ResolvedStage], passing: Collection[GateName]) -> list[StageStatus]:
    """Every stage with its cap and the gates it still needs, for status.stages."""
    ok = set(passing)
    return [
        StageStatus(
            name=s.name,
            allowed_replicas=s.cap,
            gates_pass=set(s.gates) <= ok,
            blocking_gates=[g for g in s.gates if g not in ok],
            min_soak=s.min_soak,
            traffic_weight=s.traffic_weight,
        )
        for s in stages
    ]


def summarize(
    stages: Sequence[ResolvedStage], progress: StageProgress, passing: Collection[GateName], killed: bool
) -> StageSummary:
    """The stage fields of the status: reached, peak, next, the traffic weight (0 while killed) and each
    stage."""
    reached = stages[progress.reached]
    nxt = stages[progress.reached + 1].name if progress.reached + 1 < len(stages) else None
    weight = 0 if killed else reached.traffic_weight
    return StageSummary(
        reached=reached.name,
        peak=stages[progress.peak].name,
        next=nxt,
        traffic_weight=weight,
        stages=stage_statuses(stages, passing),
    )
