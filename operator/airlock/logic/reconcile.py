"""The reconcile plan: from what the operator observed to what it must write. Pure; no I/O.

Order of concerns, as Flux puts suspend first: the kill switch, then the workload, then the gates and the
cap. `plan_service` is one straight path through named steps, each a pure function:

1. the kill switch, read from the annotations (`parse_kill_switch`);
2. the workload the operator may act on (`governed_workload`);
3. the gates and the cap they allow (`gates_and_cap`, `held_replicas`);
4. the kill switch's transition: engaged, or released and restored within that cap (`kill_transition`);
5. the backstop, for anything that got past admission (`backstop`);
6. the stage (`service_stage`) and the status with its conditions (`service_status`);
7. the Events of what changed (`transition_events`).

The plan says what to write and in which order; handlers only carry it out.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from airlock.logic import cap as caps
from airlock.logic import stages as stages_
from airlock.logic.annotations import PREFIX, near_misses
from airlock.logic.conditions import ConditionReason, ConditionType, find, set_condition
from airlock.logic.events import (
    Event,
    EventReason,
    EventType,
    kill_engaged_event,
    kill_released_event,
)
from airlock.logic.gates import GateReport, evaluate_gates, format_time
from airlock.logic.killswitch import (
    KillSwitch,
    WorkloadRecord,
    leftover_annotations,
    parse_kill_switch,
    release_identity,
    workload_patch,
    workload_record,
)
from airlock.logic.labels import (
    SERVICE_LABEL,
    STAGE_LABEL,
    declared_versions,
    desired_annotations,
    desired_labels,
    label_value,
    metadata_patch,
    running_versions,
)
from airlock.logic.selection import PacketChoice, select_packet
from airlock.models.base import GOVERNED_LABEL, GOVERNED_VALUE
from airlock.models.common import Condition, GateName
from airlock.models.packet import ReadinessPacketSpec
from airlock.models.policy import ReadinessPolicySpec
from airlock.models.service import NO_CAP, AIServiceSpec, AIServiceStatus, KillSwitchStatus, Stage

# status.blocking feeds a kubectl column and the admission message: keep it short; blockingGates has all.
BLOCKING_COLUMN = 60


@dataclass(frozen=True)
class Workload:
    """What the operator needs to know of the governed Deployment."""

    replicas: int
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    # The pod template's annotations: where the team declares the versions the pods run.
    template_annotations: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ServiceView:
    """The AIService as observed."""

    name: str
    namespace: str
    generation: int | None
    annotations: Mapping[str, str]
    spec: AIServiceSpec
    status: AIServiceStatus | None
    # Whether the namespace carries airlock.dev/governed: "true". Outside governed namespaces admission
    # enforces nothing, so the operator leaves the Deployment alone and says so.
    namespace_governed: bool = True
    # Whether this operator governs the workload's kind (its settings, the chart's workloads.* switches):
    # one it does not is still capped by admission, but never read, scaled or labelled.
    kind_enabled: bool = True


@dataclass(frozen=True)
class Plan:
    """What to write, in order: `status_first` (if any), then the workload, then `status`, labels, events.

    A kill switch transition is one write of the workload, `workload_patch`: the scale to zero together
    with the record of what to restore (so no crash between two writes can lose it), or the restore
    together with the record's removal. Its status and Events follow. On release, the status that lifts
    the cap goes first so admission lets the restore through. Any other scale (the backstop) is
    `scale_to` alone, through the scale subresource; `scale_to` also names the replicas a
    `workload_patch` sets.
    """

    status: AIServiceStatus
    status_first: AIServiceStatus | None = None
    scale_to: int | None = None
    workload_patch: dict[str, object] | None = None
    # When the switch was engaged: what names the transition's Events, so a pass repeated after a crash
    # (or run by a second replica) announces it under the same name.
    kill_since: datetime | None = None
    metadata: dict[str, dict[str, str | None]] | None = None
    # Annotations to remove from the AIService: what a released kill switch left behind.
    service_annotations: dict[str, None] | None = None
    events: tuple[Event, ...] = ()
    requeue_at: datetime | None = None
    report: GateReport | None = None

    def status_changed(self, previous: AIServiceStatus | None) -> bool:
        return previous is None or self.status != previous


def _workload_claimed(claimed_by: str | None, name: str) -> bool:
    return claimed_by is not None and claimed_by != name


def _workload_label(spec: AIServiceSpec) -> str:
    return f"{spec.workload.kind} {spec.workload.name}"


def governed_workload(service: ServiceView, workload: Workload | None, claimed: bool) -> Workload | None:
    """The workload the operator may act on: none when another AIService governs it, outside governed
    namespaces, or of a kind this operator does not govern."""
    if claimed or not service.namespace_governed or not service.kind_enabled:
        return None
    return workload


@dataclass(frozen=True)
class GatesAndCap:
    """What the gates say and what they allow, before the kill switch overrides it with 0."""

    choice: PacketChoice
    report: GateReport
    declared: Mapping[str, str]
    pilot: int
    ceiling: int | None
    promoted: bool
    regressed: bool
    held: int | None
    # What the gates allow; the kill switch overrides it with 0, and a restore goes back to it.
    unkilled_cap: int
    stages: tuple[stages_.ResolvedStage, ...]
    progress: stages_.StageProgress
    # The gates that pass, whichever stage needs them.
    passing: frozenset[GateName]
    # Whether anything declares stages: without, every message is today's two-stage one.
    staged: bool

    @property
    def reached(self) -> stages_.ResolvedStage:
        return self.stages[self.progress.reached]


def held_replicas(
    *,
    prev: AIServiceStatus,
    passed: bool,
    regressed: bool,
    killed: bool,
    current: int | None,
    pilot: int,
    ceiling: int | None,
) -> int | None:
    """The size a promoted service is held at while its gates regress (None when it is not held): the
    hold already recorded, else what it ran before a kill, else what it runs; at least the pilot (the cap
    of the highest stage still satisfied), at most the ceiling (the cap of the stage held)."""
    if passed or not regressed:
        return None
    prev_kill = prev.kill_switch or KillSwitchStatus(engaged=False)
    if prev.held_replicas is not None:
        held = prev.held_replicas
    elif killed or current is None:
        held = prev_kill.replicas_before if prev_kill.replicas_before is not None else pilot
    else:
        held = max(current, pilot)
    return min(held, ceiling) if ceiling is not None else held


def gates_and_cap(
    service: ServiceView,
    workload: Workload | None,
    packets: Sequence[tuple[str, ReadinessPacketSpec]],
    policy: ReadinessPolicySpec,
    now: datetime,
    killed: bool,
) -> GatesAndCap:
    """Evaluates the gates on the chosen packet, the stage they and the soak reach, and the cap it allows."""
    prev = service.status or AIServiceStatus()
    spec = service.spec
    choice = select_packet(service.name, spec, packets)
    packet = next((p for n, p in packets if n == choice.name), None)
    declared = declared_versions(workload.template_annotations) if workload is not None else {}
    report = evaluate_gates(spec, packet, policy, now, workload_versions=declared)
    pilot, ceiling = caps.effective_bounds(
        pilot_replicas=spec.pilot_replicas, max_replicas=spec.max_replicas, limits=policy.limits
    )
    stages = stages_.resolve_stages(
        policy.stages, spec.stages, pilot=pilot, ceiling=ceiling, required=report.required
    )
    # The last stage needs every gate any stage needs: that is what GatesPassed and blockingGates report.
    report = dataclasses.replace(report, required=stages[-1].gates)
    passing = frozenset(r.name for r in report.results if r.passed)
    progress = stages_.stage_progress(
        stages,
        passing,
        stages_.previous_stage(prev, stages),
        now=now,
        killed=killed,
        on_regression=policy.on_regression,
    )
    floor, top = stages[progress.satisfied].cap, stages[progress.reached].cap
    held = held_replicas(
        prev=prev,
        passed=not progress.held,
        regressed=progress.held,
        killed=killed,
        current=workload.replicas if workload is not None else None,
        pilot=floor if floor != NO_CAP else 0,
        ceiling=top if top != NO_CAP else None,
    )
    unkilled_cap = stages_.stage_cap(stages, progress, held)
    staged = stages_.declares_stages(policy.stages, spec.stages)
    return GatesAndCap(
        choice,
        report,
        declared,
        pilot,
        ceiling,
        progress.peak > 0,
        progress.regressed,
        held,
        unkilled_cap,
        stages,
        progress,
        passing,
        staged,
    )


@dataclass(frozen=True)
class KillTransition:
    """What the kill switch does this pass: its status, the workload write, and its Events."""

    status: KillSwitchStatus
    scale_to: int | None = None
    patch: dict[str, object] | None = None
    # A restore that grows the workload: the status that lifts the cap must be written first.
    restore_pending: bool = False
    events: tuple[Event, ...] = ()
    # When the switch was engaged, which names the transition's Events (None when nothing says).
    since: datetime | None = None


def engaged_status(
    kill: KillSwitch,
    prev_kill: KillSwitchStatus,
    record: WorkloadRecord | None,
    current: int | None,
    now: datetime,
    workload: str,
) -> tuple[KillSwitchStatus, tuple[Event, ...]]:
    """The status of a switch engaged now, and its Event. `workload` is "Kind name".

    The workload's record is the source of truth for what to restore: it is written in the request that
    scales to zero, while the status follows and may lag (or be lost with a crash in between).
    """
    if record is not None:  # a pass that scaled to zero and died before the status
        before: int | None = record.replicas_before
        since = record.since or kill.since or now
    else:
        # What the person who engaged it recorded comes first: with the operator down they may have
        # scaled to 0 by hand before it got here, and the live count would then be 0.
        before = kill.replicas_before if kill.replicas_before is not None else current
        since = kill.since or now
    status = KillSwitchStatus(
        engaged=True, reason=kill.reason, engaged_by=kill.by, since=since, replicas_before=before
    )
    return status, (kill_engaged_event(kill.by, kill.reason, workload, before),)


def kill_scale_down(
    workload: Workload | None, record: WorkloadRecord | None, status: KillSwitchStatus
) -> tuple[int | None, dict[str, object] | None]:
    """The scale to zero of an engaged switch, with the record of what to restore when the workload lacks
    it (a kill engaged before the record lived on the workload, or one whose record was removed by hand:
    written again from the status)."""
    current = workload.replicas if workload is not None else None
    patch = None
    if workload is not None and record is None:
        before = status.replicas_before
        patch = workload_patch(
            0, WorkloadRecord(before if before is not None else current or 0, status.since)
        )
    return (0 if current else None), patch


def engage_kill_switch(
    kill: KillSwitch,
    prev_kill: KillSwitchStatus,
    workload: Workload | None,
    record: WorkloadRecord | None,
    now: datetime,
    label: str,
) -> KillTransition:
    """An engaged switch: recorded (and announced) when it engages, kept at 0 on every pass after."""
    current = workload.replicas if workload is not None else None
    if prev_kill.engaged:
        status = prev_kill.model_copy(
            update={"reason": kill.reason, "engaged_by": prev_kill.engaged_by or kill.by}
        )
        events: tuple[Event, ...] = ()
    else:
        status, events = engaged_status(kill, prev_kill, record, current, now, label)
    scale_to, patch = kill_scale_down(workload, record, status)
    return KillTransition(status, scale_to=scale_to, patch=patch, events=events, since=status.since)


def release_kill_switch(
    annotations: Mapping[str, str],
    prev_kill: KillSwitchStatus,
    current: int | None,
    record: WorkloadRecord | None,
    unkilled_cap: int,
    label: str,
) -> KillTransition:
    """A released switch: the restore to what it stopped, within the cap, until it is done."""
    before = prev_kill.replicas_before
    if record is not None:
        # A status, which only the operator writes, caps what a record edited on the workload restores.
        before = record.replicas_before if before is None else min(before, record.replicas_before)
    released_by = prev_kill.released_by
    if prev_kill.engaged:
        released_by = release_identity(annotations, prev_kill.engaged_by)
    status = KillSwitchStatus(engaged=False, released_by=released_by)
    since = prev_kill.since or (record.since if record is not None else None)
    if not prev_kill.engaged and before is None:
        return KillTransition(status, since=since)
    # Released now, or released earlier and the restore did not finish (a restart in between).
    target = before if before is not None else 0
    if unkilled_cap != NO_CAP:
        target = min(target, unkilled_cap)
    grow = current is not None and current < target
    patch = workload_patch(target if grow else None, None) if record is not None else None
    events: tuple[Event, ...] = ()
    if prev_kill.engaged or (record is not None and prev_kill.replicas_before is None):
        events = (kill_released_event(released_by, label, target, before, unkilled_cap),)
    return KillTransition(
        status,
        scale_to=target if grow else None,
        patch=patch,
        restore_pending=grow,
        events=events,
        since=since,
    )


def backstop(current: int | None, allowed: int, label: str) -> tuple[int, Event] | None:
    """Anything that got past admission comes down to the cap: the scale and its Event; None when the
    workload is within it (or absent)."""
    target = caps.backstop_target(current, allowed) if current is not None else None
    if target is None:
        return None
    return target, Event(
        "Warning",
        EventReason.SCALED_TO_CAP,
        f"{label} had {current} replicas, above its cap of {allowed}; scaled to {allowed}.",
    )


def service_stage(killed: bool, reached: stages_.ResolvedStage) -> str:
    """Killed, else the stage the gates and soak have reached (Pilot or Production without stages)."""
    return Stage.KILLED.value if killed else reached.name


def kill_transition(
    service: ServiceView,
    kill: KillSwitch,
    workload: Workload | None,
    unkilled_cap: int,
    now: datetime,
) -> KillTransition:
    """The kill switch's part of the pass: engaged, or released (and the restore still to finish)."""
    prev = service.status or AIServiceStatus()
    prev_kill = prev.kill_switch or KillSwitchStatus(engaged=False)
    record = workload_record(workload.annotations) if workload is not None else None
    label = _workload_label(service.spec)
    if kill.engaged:
        return engage_kill_switch(kill, prev_kill, workload, record, now, label)
    current = workload.replicas if workload is not None else None
    return release_kill_switch(service.annotations, prev_kill, current, record, unkilled_cap, label)


def plan_service(
    service: ServiceView,
    workload: Workload | None,
    packets: Sequence[tuple[str, ReadinessPacketSpec]],
    policy: ReadinessPolicySpec,
    now: datetime,
    claimed_by: str | None = None,
) -> Plan:
    """Decides the AIService's status, the scale write, the Deployment's labels and the events, in the
    order the module's docstring lists."""
    prev = service.status or AIServiceStatus()
    kill = parse_kill_switch(service.annotations, now)
    claimed = _workload_claimed(claimed_by, service.name)
    workload = governed_workload(service, workload, claimed)
    current = workload.replicas if workload is not None else None
    gates = gates_and_cap(service, workload, packets, policy, now, kill.engaged)
    allowed = 0 if kill.engaged else gates.unkilled_cap
    transition = kill_transition(service, kill, workload, gates.unkilled_cap, now)
    scale_to, events = transition.scale_to, list(transition.events)
    cut = backstop(current, allowed, _workload_label(service.spec)) if not kill.engaged else None
    if cut is not None and scale_to is None:
        scale_to = cut[0]
        events.append(cut[1])
    stage = service_stage(kill.engaged, gates.reached)
    status = service_status(
        service,
        gates,
        stage=stage,
        kill=kill,
        kill_status=transition.status,
        allowed=allowed,
        replicas=scale_to if scale_to is not None else current,
        workload_found=workload is not None,
        claimed_by=claimed_by if claimed else None,
        now=now,
    )
    events.extend(
        transition_events(
            prev, status, gates.report, service.spec.workload.name, gates.choice.message, stage_story(gates)
        )
    )
    return Plan(
        status=status,
        status_first=_status_lifting_cap(status, prev.kill_switch, transition),
        scale_to=scale_to,
        workload_patch=transition.patch,
        kill_since=transition.since,
        metadata=_workload_metadata(service, workload, stage, gates.declared),
        service_annotations=leftover_annotations(service.annotations) or None,
        events=tuple(events),
        requeue_at=_earliest(gates.report.expires_at, gates.progress.soak_until),
        report=gates.report,
    )


def _earliest(*times: datetime | None) -> datetime | None:
    known = [t for t in times if t is not None]
    return min(known) if known else None


def _status_lifting_cap(
    status: AIServiceStatus, prev_kill: KillSwitchStatus | None, transition: KillTransition
) -> AIServiceStatus | None:
    """On a restore that grows the workload, the status that lifts the cap, written before the scale so
    admission lets it through."""
    if not transition.restore_pending:
        return None
    lifted = (prev_kill or KillSwitchStatus(engaged=False)).model_copy(
        update={"engaged": False, "released_by": transition.status.released_by}
    )
    return status.model_copy(update={"kill_switch": lifted})


def _workload_metadata(
    service: ServiceView, workload: Workload | None, stage: str, declared: Mapping[str, str]
) -> dict[str, dict[str, str | None]] | None:
    """The workload's labels and annotations to write (stage, service, versions); None without one."""
    if workload is None:
        return None
    running = running_versions(service.spec.versions, dict(declared))
    return metadata_patch(
        dict(workload.labels),
        dict(workload.annotations),
        desired_labels(service.name, stage, running),
        desired_annotations(running),
    )


def service_status(
    service: ServiceView,
    gates: GatesAndCap,
    *,
    stage: str,
    kill: KillSwitch,
    kill_status: KillSwitchStatus,
    allowed: int,
    replicas: int | None,
    workload_found: bool,
    claimed_by: str | None,
    now: datetime,
) -> AIServiceStatus:
    """The AIService's status at the end of the pass."""
    prev = service.status or AIServiceStatus()
    report = gates.report
    conditions = _conditions(
        prev.conditions,
        service=service,
        workload_found=workload_found,
        claimed_by=claimed_by,
        report=report,
        killed=kill.engaged,
        kill_reason=kill.reason,
        regressed=gates.regressed,
        allowed=allowed,
        bounds_note=_bounds_note(service.spec, gates.pilot, gates.ceiling, gates),
        now=now,
        story=stage_story(gates),
    )
    summary = stages_.summarize(gates.stages, gates.progress, gates.passing, kill.engaged)
    return AIServiceStatus(
        stage=stage,
        reached_stage=summary.reached,
        stage_since=gates.progress.since,
        peak_stage=summary.peak,
        next_stage=summary.next,
        traffic_weight=summary.traffic_weight,
        stages=summary.stages,
        allowed_replicas=allowed,
        replicas=replicas,
        gates_passed=report.summary,
        blocking_gates=list(report.blocking),
        blocking=blocking_column(gates) or None,
        gates=list(report.results),
        packet=gates.choice.name,
        promoted=gates.promoted,
        held_replicas=gates.held,
        expires_at=report.expires_at,
        kill_switch=kill_status,
        conditions=conditions,
        observed_generation=service.generation,
    )


def blocking_column(gates: GatesAndCap) -> str:
    """What the next stage needs (or the stage held, when its gates fail), short enough for a column: its
    failing gates, else the soak still to run; empty in the last stage with every gate passing."""
    stage = stages_.blocking_stage(gates.stages, gates.progress)
    if stage is None:
        return ""
    text = dataclasses.replace(gates.report, required=stage.gates).blocking_summary(BLOCKING_COLUMN)
    soak_until = gates.progress.soak_until
    if not text and soak_until is not None:
        text = f"soak in {gates.reached.name} until {format_time(soak_until)}"
    return text


def _bounds_note(
    spec: AIServiceSpec, pilot: int, ceiling: int | None, gates: GatesAndCap | None = None
) -> str:
    """Says when the ReadinessPolicy's limits cut what the AIService asks for, or a stage says what cannot
    apply (a share of no ceiling, gates on the first stage); empty when nothing does."""
    notes = [s.note for s in gates.stages if s.note] if gates is not None else []
    if pilot < spec.pilot_replicas:
        notes.append(f"spec.pilotReplicas {spec.pilot_replicas} is above the ReadinessPolicy limit, {pilot}")
    if spec.max_replicas is not None and ceiling is not None and ceiling < spec.max_replicas:
        notes.append(f"spec.maxReplicas {spec.max_replicas} is above the ReadinessPolicy limit, {ceiling}")
    return f" ({'; '.join(notes)})" if notes else ""


def workload_found_reason(
    service: ServiceView, workload_found: bool, claimed_by: str | None
) -> tuple[ConditionReason, str]:
    """The WorkloadFound condition's reason and message: why Airlock acts on the workload, or why not."""
    workload = _workload_label(service.spec)
    ns = service.namespace
    if not service.namespace_governed:
        return (
            ConditionReason.NAMESPACE_NOT_GOVERNED,
            f"Namespace {ns} is not governed, so nothing enforces this AIService and Airlock leaves "
            f"{workload} alone; a platform admin marks it with: kubectl label namespace {ns} "
            f"{GOVERNED_LABEL}={GOVERNED_VALUE}",
        )
    if not service.kind_enabled:
        return (
            ConditionReason.KIND_NOT_ENABLED,
            f"This Airlock operator does not govern {service.spec.workload.kind}s, so it leaves {workload} "
            "alone: admission still caps it and holds the kill switch, but nothing labels it, backs the cap "
            "up or scales it to 0. Ask the platform team to turn the kind on (chart values workloads.*).",
        )
    if claimed_by is not None:
        return (
            ConditionReason.WORKLOAD_CLAIMED,
            f"{workload} is also claimed by AIService {claimed_by}, which is stricter (killed, or "
            f"a lower cap), so Airlock acts on {claimed_by} and admission applies both caps. One workload "
            "has one AIService: ask the platform team to delete one of the two.",
        )
    if workload_found:
        return ConditionReason.FOUND, f"{workload} is governed by this AIService."
    return (
        ConditionReason.WORKLOAD_NOT_FOUND,
        f"{workload} does not exist in namespace {ns}; create it or fix spec.workload.name.",
    )


def ready_reason(
    service: ServiceView,
    *,
    found: tuple[ConditionReason, str],
    workload_found: bool,
    report: GateReport,
    killed: bool,
    regressed: bool,
    cap: str,
    story: StageStory | None = None,
) -> tuple[bool, ConditionReason, str]:
    """The Ready condition: not governed, killed, no workload, passing, regressed, or in its pilot (or a
    stage before the last). `cap` is the cap as a sentence reads it ("3 replicas", "no cap")."""
    blocking = ", ".join(report.blocking)
    if not service.namespace_governed:
        return (False, *found)
    if killed:
        return False, ConditionReason.KILL_SWITCH_ENGAGED, "Kill switch engaged; the service runs 0 replicas."
    if not workload_found:
        return (False, *found)
    if story is None:
        if report.passed:
            return True, ConditionReason.PRODUCTION, f"Every required gate passes; {cap}."
        if regressed:
            return (
                False,
                ConditionReason.GATES_REGRESSED,
                f"Promoted, but required gates no longer pass ({blocking}); held at {cap} until they pass "
                "again.",
            )
        return False, ConditionReason.PILOT, f"Pilot: capped at {cap} until these gates pass: {blocking}."
    return staged_ready(story, regressed=regressed, cap=cap)


def staged_ready(story: StageStory, *, regressed: bool, cap: str) -> tuple[bool, ConditionReason, str]:
    """The Ready condition of a service with declared stages, once it is governed, alive and found."""
    count, here = len(story.names), story.reached
    name = story.names[here]
    where = f"{name} (stage {here + 1} of {count})"
    if regressed:
        return (
            False,
            ConditionReason.GATES_REGRESSED,
            f"{where}: gates of a stage it reached no longer pass ({story.next_needs}); held at {cap} until "
            "they pass again.",
        )
    if here == count - 1:
        return True, ConditionReason.PRODUCTION, f"{where}: every required gate passes; {cap}."
    reason = ConditionReason.PILOT if here == 0 else ConditionReason.IN_STAGE
    following = story.names[here + 1]
    return False, reason, f"{where}: capped at {cap}; {following} needs: {story.next_needs}."


def stage_story(gates: GatesAndCap) -> StageStory | None:
    """The stages as the Ready message and Events tell them; None when none are declared."""
    if not gates.staged:
        return None
    return StageStory(
        tuple(s.name for s in gates.stages),
        gates.progress.reached,
        blocking_column(gates),
        tuple(s.min_soak for s in gates.stages),
    )


def _gates_condition(service: ServiceView, report: GateReport) -> tuple[bool, ConditionReason, str]:
    if report.passed:
        return True, ConditionReason.ALL_GATES_PASSED, f"All {len(report.required)} required gates pass."
    return (
        False,
        ConditionReason.GATES_BLOCKING,
        f"{report.summary} required gates pass; blocking: {', '.join(report.blocking)}. Run `kubectl "
        f"airlock explain {service.name} -n {service.namespace}` for what each needs.",
    )


def kill_condition(
    killed: bool, reason: str | None, *, consequence: str
) -> tuple[bool, ConditionReason, str]:
    """The KillSwitchEngaged condition; `consequence` follows the reason in the message when engaged."""
    if killed:
        return (
            True,
            ConditionReason.ENGAGED,
            f"Kill switch engaged: {reason or 'no reason given'}.{consequence}",
        )
    return False, ConditionReason.NOT_ENGAGED, "Kill switch not engaged."


def _annotations_condition(annotations: Mapping[str, str]) -> tuple[bool, ConditionReason, str]:
    misses = near_misses(annotations)
    if misses:
        return False, ConditionReason.NEAR_MISS, " ".join(misses)
    return True, ConditionReason.RECOGNIZED, f"Every {PREFIX} annotation is one Airlock knows."


def _set_all(
    previous: Sequence[Condition],
    wanted: Sequence[tuple[ConditionType, tuple[bool, ConditionReason, str]]],
    generation: int | None,
    now: datetime,
) -> list[Condition]:
    conds = list(previous)
    for type_, (status, reason, message) in wanted:
        conds = set_condition(
            conds, type_=type_, status=status, reason=reason, message=message, generation=generation, now=now
        )
    return conds


def _conditions(
    previous: Sequence[Condition],
    *,
    service: ServiceView,
    workload_found: bool,
    claimed_by: str | None,
    report: GateReport,
    killed: bool,
    kill_reason: str | None,
    regressed: bool,
    allowed: int,
    bounds_note: str,
    now: datetime,
    story: StageStory | None = None,
) -> list[Condition]:
    found = workload_found_reason(service, workload_found, claimed_by)
    cap = ("no cap" if allowed == NO_CAP else f"{allowed} replicas") + bounds_note
    ready = ready_reason(
        service,
        found=found,
        workload_found=workload_found,
        report=report,
        killed=killed,
        regressed=regressed,
        cap=cap,
        story=story,
    )
    wanted = (
        (ConditionType.WORKLOAD_FOUND, (workload_found, *found)),
        (ConditionType.GATES_PASSED, _gates_condition(service, report)),
        (
            ConditionType.KILL_SWITCH_ENGAGED,
            kill_condition(killed, kill_reason, consequence=" Scale-ups are denied until it is released."),
        ),
        (ConditionType.ANNOTATIONS_RECOGNIZED, _annotations_condition(service.annotations)),
        (ConditionType.READY, ready),
    )
    return _set_all(previous, wanted, service.generation, now)


@dataclass(frozen=True)
class StageStory:
    """What the Ready message and the stage Events say of declared stages (None: the built-in two)."""

    names: tuple[str, ...]
    reached: int
    next_needs: str
    # Each stage's minSoak, as written (None for none).
    soaks: tuple[str | None, ...] = ()


BUILTIN_NAMES = (Stage.PILOT.value, Stage.PRODUCTION.value)


def stage_events(
    prev: AIServiceStatus, new: AIServiceStatus, workload: str, story: StageStory | None = None
) -> list[Event]:
    """Promoted, stepped down, or returned to the first stage; none for a kill, its release, or a first
    pass that starts in the first stage."""
    names = story.names if story is not None else BUILTIN_NAMES
    killed = Stage.KILLED.value
    if new.stage in (prev.stage, killed) or prev.stage == killed or new.stage not in names:
        return []
    old = names.index(prev.stage) if prev.stage in names else 0
    now = names.index(new.stage)
    cap = "no cap" if new.allowed_replicas in (None, NO_CAP) else f"up to {new.allowed_replicas} replicas"
    if now > old:
        if story is None:
            message = f"Every required gate passes; {workload} left its pilot."
        else:
            soak = story.soaks[now] if now < len(story.soaks) else None
            served = f" and it served {soak} in {names[now - 1]}" if soak else ""
            message = (
                f"{workload} is promoted from {names[old]} to {new.stage}: every gate {new.stage} needs "
                f"passes{served}; {cap}."
            )
        return [Event("Normal", EventReason.PROMOTED, message)]
    if now == old:
        return []
    if now == 0:
        message = f"Gates regressed; {workload} is back to its pilot size."
        if story is not None:
            message = f"Gates regressed; {workload} is back to its first stage, {new.stage}: {cap}."
        return [Event("Warning", EventReason.RETURNED_TO_PILOT, message)]
    return [
        Event(
            "Warning",
            EventReason.STEPPED_DOWN,
            f"Gates of stage {names[old]} regressed; {workload} steps down to {new.stage}: {cap}.",
        )
    ]


def condition_events(prev: AIServiceStatus, new: AIServiceStatus) -> list[Event]:
    """A regression when Ready turns GatesRegressed; a WorkloadFound that turns False (or changes why)."""
    events: list[Event] = []
    prev_ready = find(prev.conditions, ConditionType.READY)
    new_ready = find(new.conditions, ConditionType.READY)
    if (
        new_ready is not None
        and new_ready.reason == ConditionReason.GATES_REGRESSED
        and (prev_ready is None or prev_ready.reason != ConditionReason.GATES_REGRESSED)
    ):
        events.append(Event("Warning", EventReason.GATES_REGRESSED, new_ready.message))
    prev_found = find(prev.conditions, ConditionType.WORKLOAD_FOUND)
    new_found = find(new.conditions, ConditionType.WORKLOAD_FOUND)
    if (
        new_found is not None
        and new_found.status == "False"
        and (prev_found is None or prev_found.status != "False" or prev_found.reason != new_found.reason)
    ):
        events.append(Event("Warning", EventReason(new_found.reason), new_found.message))
    return events


# One Event per direction: a version bump fails eleven gates at once, and that is one thing to read.
_DIRECTIONS: tuple[tuple[bool, EventType, EventReason, EventReason, str, str], ...] = (
    (True, "Normal", EventReason.GATE_PASSED, EventReason.GATES_PASSED, "passes", "pass"),
    (False, "Warning", EventReason.GATE_FAILED, EventReason.GATES_FAILED, "fails", "fail"),
)


def gate_events(prev: AIServiceStatus, report: GateReport) -> list[Event]:
    """The gates whose result changed since the last status, one Event per direction; none on a first."""
    if prev.stage is None:
        return []
    before = {g.name: g for g in prev.gates}
    changed = [g for g in report.results if g.name not in before or before[g.name].passed != g.passed]
    events: list[Event] = []
    for passed, kind, one, many, verb, plural in _DIRECTIONS:
        gates = [g for g in changed if g.passed is passed]
        if len(gates) == 1:
            events.append(Event(kind, one, f"Gate {gates[0].name} {verb}: {gates[0].message}"))
        elif gates:
            names = ", ".join(g.name for g in gates)
            detail = gates[0].message if len({g.message for g in gates}) == 1 else "see status.gates for each"
            events.append(Event(kind, many, f"Gates {names} {plural}: {detail}", count=len(gates)))
    return events


def transition_events(
    prev: AIServiceStatus,
    new: AIServiceStatus,
    report: GateReport,
    workload: str,
    packet_message: str,
    story: StageStory | None = None,
) -> list[Event]:
    """Events for what changed between two statuses; none when nothing did."""
    events = [
        *stage_events(prev, new, workload, story),
        *condition_events(prev, new),
        *gate_events(prev, report),
    ]
    if prev.allowed_replicas is not None and prev.allowed_replicas != new.allowed_replicas:
        new_cap = "no cap" if new.allowed_replicas == NO_CAP else str(new.allowed_replicas)
        old_cap = "no cap" if prev.allowed_replicas == NO_CAP else str(prev.allowed_replicas)
        events.append(
            Event(
                "Normal", EventReason.CAP_CHANGED, f"Allowed replicas for {workload}: {old_cap} -> {new_cap}."
            )
        )
    if prev.packet != new.packet:
        message = packet_message or f"Using ReadinessPacket {new.packet}."
        events.append(Event("Normal", EventReason.PACKET_SELECTED, message))
    return events


@dataclass(frozen=True)
class DeletionPlan:
    """What to do when an AIService is deleted: the Deployment's labels to remove, and an Event."""

    metadata: dict[str, dict[str, str | None]] | None
    event: Event | None


def plan_deletion(
    name: str,
    workload_name: str,
    annotations: Mapping[str, str],
    stage: str | None,
    workload: Workload | None,
    kind: str = "Deployment",
) -> DeletionPlan:
    """The Deployment loses its stage label (it is no longer governed, so no stage is true of it); a
    deletion that ends an engaged kill switch is recorded, since it lifts the hold on the Deployment."""
    meta = None
    if workload is not None and workload.labels.get(SERVICE_LABEL) == label_value(name):
        meta = metadata_patch(dict(workload.labels), {}, {STAGE_LABEL: None}, {})
    kill = parse_kill_switch(annotations)
    event = None
    if kill.engaged or stage == Stage.KILLED.value:
        replicas = "unknown" if workload is None else str(workload.replicas)
        event = Event(
            "Warning",
            EventReason.KILL_SWITCH_ENDED_BY_DELETION,
            f"AIService {name} was deleted while its kill switch was engaged "
            f"({kill.reason or 'no reason given'}); {kind} {workload_name} is no longer governed by "
            f"Airlock and stays at {replicas} replicas until someone scales it. Re-apply the AIService "
            "to cap it again.",
        )
    return DeletionPlan(metadata=meta, event=event)


def invalid_spec_message(service: ServiceView, problem: str, killed: bool) -> str:
    """What to fix in a spec the operator cannot read, and what holds meanwhile."""
    held = " The kill switch holds it at 0." if killed else " The last cap stays in force."
    return (
        f"The spec cannot be read: {problem}. Fix those fields (kubectl edit aiservice {service.name} -n "
        f"{service.namespace}); until then gates are not evaluated and nothing is restored.{held}"
    )


def invalid_kill_transition(
    service: ServiceView, kill: KillSwitch, workload: Workload | None, now: datetime
) -> KillTransition:
    """The kill switch of an unreadable spec: engaged as always, but a release restores nothing (and an
    engaged switch's recorded reason is left as it was)."""
    prev = service.status or AIServiceStatus()
    prev_kill = prev.kill_switch or KillSwitchStatus(engaged=False)
    if not kill.engaged:
        return KillTransition(prev_kill)
    record = workload_record(workload.annotations) if workload is not None else None
    events: tuple[Event, ...] = ()
    status = prev_kill
    if not prev_kill.engaged:
        current = workload.replicas if workload is not None else None
        status, events = engaged_status(kill, prev_kill, record, current, now, _workload_label(service.spec))
    scale_to, patch = kill_scale_down(workload, record, status)
    return KillTransition(status, scale_to=scale_to, patch=patch, events=events, since=status.since)


def plan_invalid_service(
    service: ServiceView,
    workload: Workload | None,
    problem: str,
    now: datetime,
) -> Plan:
    """Suspend first: an AIService whose stored spec the operator cannot read (stored before an upgrade)
    still has its kill switch honoured, and says what to fix. `service.spec` carries only the workload
    name. Nothing else changes: the last cap stays in the status admission reads, and no restore runs
    until the spec is readable again.
    """
    prev = service.status or AIServiceStatus()
    kill = parse_kill_switch(service.annotations, now)
    transition = invalid_kill_transition(service, kill, workload, now)
    message = invalid_spec_message(service, problem, kill.engaged)
    conds = _set_all(
        prev.conditions,
        (
            (ConditionType.KILL_SWITCH_ENGAGED, kill_condition(kill.engaged, kill.reason, consequence="")),
            (ConditionType.READY, (False, ConditionReason.INVALID_SPEC, message)),
        ),
        service.generation,
        now,
    )
    events = list(transition.events)
    previous_ready = find(prev.conditions, ConditionType.READY)
    if previous_ready is None or previous_ready.reason != ConditionReason.INVALID_SPEC:
        events.append(Event("Warning", EventReason.INVALID_SPEC, message))
    status = prev.model_copy(
        update={
            "stage": Stage.KILLED if kill.engaged else prev.stage,
            "allowed_replicas": 0 if kill.engaged else prev.allowed_replicas,
            "kill_switch": transition.status,
            "conditions": conds,
            "observed_generation": service.generation,
        }
    )
    return Plan(
        status=status,
        scale_to=transition.scale_to,
        workload_patch=transition.patch,
        kill_since=transition.since,
        events=tuple(events),
    )
