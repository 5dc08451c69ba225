"""The reconcile plan: from what the operator observed to what it must write. Pure; no I/O.

Order of concerns, as Flux puts suspend first: the kill switch, then the workload, then the gates and the
cap. The plan says what to write and in which order; handlers only carry it out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from airlock.logic import cap as caps
from airlock.logic.annotations import near_misses
from airlock.logic.conditions import ConditionReason, ConditionType, find, set_condition
from airlock.logic.gates import GateReport, evaluate_gates
from airlock.logic.killswitch import (
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
from airlock.logic.selection import select_packet
from airlock.models.common import Condition
from airlock.models.packet import ReadinessPacketSpec
from airlock.models.policy import ReadinessPolicySpec, RegressionAction
from airlock.models.service import NO_CAP, AIServiceSpec, AIServiceStatus, KillSwitchStatus, Stage

EventType = Literal["Normal", "Warning"]

# Event reasons of gate transitions: one gate, or several in one Event (a version bump fails many).
GATE_PASSED, GATES_PASSED = "GatePassed", "GatesPassed"
GATE_FAILED, GATES_FAILED = "GateFailed", "GatesFailed"
GATE_TRANSITION_REASONS = {
    GATE_PASSED: "passed",
    GATES_PASSED: "passed",
    GATE_FAILED: "failed",
    GATES_FAILED: "failed",
}

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
class Event:
    type: EventType
    reason: str
    message: str
    # How many transitions the one Event stands for (a version bump fails many gates in one Event).
    count: int = 1


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


def plan_service(
    service: ServiceView,
    workload: Workload | None,
    packets: Sequence[tuple[str, ReadinessPacketSpec]],
    policy: ReadinessPolicySpec,
    now: datetime,
    claimed_by: str | None = None,
) -> Plan:
    """Decides the AIService's status, the scale write, the Deployment's labels and the events."""
    prev = service.status or AIServiceStatus()
    prev_kill = prev.kill_switch or KillSwitchStatus(engaged=False)
    spec = service.spec
    kill = parse_kill_switch(service.annotations, now)
    claimed = _workload_claimed(claimed_by, service.name)
    if claimed or not service.namespace_governed or not service.kind_enabled:
        workload = None  # never act on a Deployment another AIService governs, or outside governed namespaces
    current = workload.replicas if workload is not None else None

    choice = select_packet(service.name, spec, packets)
    packet = next((p for n, p in packets if n == choice.name), None)
    declared = declared_versions(workload.template_annotations) if workload is not None else {}
    report = evaluate_gates(spec, packet, policy, now, workload_versions=declared)
    pilot, ceiling = caps.effective_bounds(
        pilot_replicas=spec.pilot_replicas, max_replicas=spec.max_replicas, limits=policy.limits
    )
    events: list[Event] = []

    # Promotion is remembered: a service that once passed is held, not shrunk, when its gates regress.
    promoted = bool(prev.promoted) or report.passed
    regressed = promoted and not report.passed
    if report.passed or not regressed:
        held = None
    elif prev.held_replicas is not None:
        held = prev.held_replicas
    elif kill.engaged or current is None:
        held = prev_kill.replicas_before if prev_kill.replicas_before is not None else pilot
    else:
        held = max(current, pilot)
    if held is not None and ceiling is not None:
        held = min(held, ceiling)

    # What the gates allow; the kill switch overrides it with 0, and a restore goes back to it.
    unkilled_cap = caps.allowed_replicas(
        pilot_replicas=pilot,
        max_replicas=ceiling,
        gates_passed=report.passed,
        promoted=promoted,
        held_replicas=held,
        killed=False,
        on_regression=policy.on_regression,
    )
    allowed = 0 if kill.engaged else unkilled_cap

    # --- kill switch -------------------------------------------------------------------------------
    # The workload's record is the source of truth for what to restore: it is written in the request
    # that scales to zero, while the status follows and may lag (or be lost with a crash in between).
    record = workload_record(workload.annotations) if workload is not None else None
    scale_to: int | None = None
    patch: dict[str, object] | None = None
    restore_pending = False
    workload_name = spec.workload.name
    kind = spec.workload.kind
    if kill.engaged:
        if prev_kill.engaged:
            kill_status = prev_kill.model_copy(
                update={"reason": kill.reason, "engaged_by": prev_kill.engaged_by or kill.by}
            )
        else:
            if record is not None:  # a pass that scaled to zero and died before the status
                before: int | None = record.replicas_before
                since = record.since or kill.since or now
            else:
                # What the person who engaged it recorded comes first: with the operator down they may
                # have scaled to 0 by hand before it got here, and the live count would then be 0.
                before = kill.replicas_before if kill.replicas_before is not None else current
                since = kill.since or now
            kill_status = KillSwitchStatus(
                engaged=True,
                reason=kill.reason,
                engaged_by=kill.by,
                since=since,
                replicas_before=before,
            )
            by = f" by {kill.by}" if kill.by else ""
            events.append(
                Event(
                    "Warning",
                    "KillSwitchEngaged",
                    f"Kill switch engaged{by} ({kill.reason or 'no reason given'}); {kind} "
                    f"{workload_name} scaled from {before if before is not None else 'unknown'} to 0 "
                    "replicas.",
                )
            )
        if workload is not None and record is None:
            # Also a kill engaged before the record lived on the workload, or one whose record was removed
            # by hand: written again from the status.
            before = kill_status.replicas_before
            patch = workload_patch(
                0, WorkloadRecord(before if before is not None else current or 0, kill_status.since)
            )
            scale_to = 0 if current else None
        elif current:
            scale_to = 0
    else:
        before = prev_kill.replicas_before
        if record is not None:
            # A status, which only the operator writes, caps what a record edited on the workload restores.
            before = record.replicas_before if before is None else min(before, record.replicas_before)
        released_by = prev_kill.released_by
        if prev_kill.engaged:
            released_by = release_identity(service.annotations, prev_kill.engaged_by)
        if prev_kill.engaged or before is not None:
            # Released now, or released earlier and the restore did not finish (a restart in between).
            target = before if before is not None else 0
            if unkilled_cap != NO_CAP:
                target = min(target, unkilled_cap)
            grow = current is not None and current < target
            if record is not None:
                patch = workload_patch(target if grow else None, None)
            if grow:
                scale_to = target
                restore_pending = True
            if prev_kill.engaged or (record is not None and prev_kill.replicas_before is None):
                events.append(
                    Event(
                        "Normal",
                        "KillSwitchReleased",
                        f"Kill switch released by {released_by or 'an unnamed identity'}; {kind} "
                        f"{workload_name} restored to {target} replicas "
                        f"(had {before if before is not None else 'unknown'}, cap "
                        f"{'none' if unkilled_cap == NO_CAP else unkilled_cap}).",
                    )
                )
        kill_status = KillSwitchStatus(engaged=False, released_by=released_by)

    # --- backstop: anything that got past admission comes down to the cap -------------------------
    if not kill.engaged and scale_to is None and current is not None:
        backstop = caps.backstop_target(current, allowed)
        if backstop is not None:
            scale_to = backstop
            events.append(
                Event(
                    "Warning",
                    "ScaledToCap",
                    f"{kind} {workload_name} had {current} replicas, above its cap of {allowed}; "
                    f"scaled to {allowed}.",
                )
            )

    # --- stage and status ---------------------------------------------------------------------------
    if kill.engaged:
        stage = Stage.KILLED
    elif promoted and (report.passed or policy.on_regression is RegressionAction.HOLD):
        stage = Stage.PRODUCTION
    else:
        stage = Stage.PILOT
    replicas_after = scale_to if scale_to is not None else current

    conditions = _conditions(
        prev.conditions,
        service=service,
        workload_found=workload is not None,
        claimed_by=claimed_by if claimed else None,
        report=report,
        killed=kill.engaged,
        kill_reason=kill.reason,
        regressed=regressed,
        allowed=allowed,
        bounds_note=_bounds_note(spec, pilot, ceiling),
        now=now,
    )
    blocking = report.blocking_summary(BLOCKING_COLUMN)
    status = AIServiceStatus(
        stage=stage,
        allowed_replicas=allowed,
        replicas=replicas_after,
        gates_passed=report.summary,
        blocking_gates=list(report.blocking),
        blocking=blocking or None,
        gates=list(report.results),
        packet=choice.name,
        promoted=promoted,
        held_replicas=held,
        expires_at=report.expires_at,
        kill_switch=kill_status,
        conditions=conditions,
        observed_generation=service.generation,
    )
    status_first: AIServiceStatus | None = None
    if restore_pending:
        status_first = status.model_copy(
            update={
                "kill_switch": prev_kill.model_copy(
                    update={"engaged": False, "released_by": kill_status.released_by}
                )
            }
        )

    events.extend(_transition_events(prev, status, report, workload_name, choice.message))

    meta = None
    if workload is not None:
        meta = metadata_patch(
            dict(workload.labels),
            dict(workload.annotations),
            desired_labels(service.name, stage.value, running_versions(spec.versions, declared)),
            desired_annotations(running_versions(spec.versions, declared)),
        )
    return Plan(
        status=status,
        status_first=status_first,
        scale_to=scale_to,
        workload_patch=patch,
        kill_since=kill_status.since if kill.engaged else prev_kill.since or _record_since(record),
        metadata=meta,
        service_annotations=leftover_annotations(service.annotations) or None,
        events=tuple(events),
        requeue_at=report.expires_at,
        report=report,
    )


def _record_since(record: WorkloadRecord | None) -> datetime | None:
    return record.since if record is not None else None


def _bounds_note(spec: AIServiceSpec, pilot: int, ceiling: int | None) -> str:
    """Says when the ReadinessPolicy's limits cut what the AIService asks for; empty when they do not."""
    notes = []
    if pilot < spec.pilot_replicas:
        notes.append(f"spec.pilotReplicas {spec.pilot_replicas} is above the ReadinessPolicy limit, {pilot}")
    if spec.max_replicas is not None and ceiling is not None and ceiling < spec.max_replicas:
        notes.append(f"spec.maxReplicas {spec.max_replicas} is above the ReadinessPolicy limit, {ceiling}")
    return f" ({'; '.join(notes)})" if notes else ""


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
) -> list[Condition]:
    gen = service.generation
    workload = f"{service.spec.workload.kind} {service.spec.workload.name}"
    conds = list(previous)
    if not service.namespace_governed:
        found_reason, found_msg = (
            ConditionReason.NAMESPACE_NOT_GOVERNED,
            f"Namespace {service.namespace} is not governed, so nothing enforces this AIService and Airlock "
            f"leaves {workload} alone; a platform admin marks it with: kubectl label namespace "
            f"{service.namespace} airlock.dev/governed=true",
        )
    elif not service.kind_enabled:
        found_reason, found_msg = (
            ConditionReason.KIND_NOT_ENABLED,
            f"This Airlock operator does not govern {service.spec.workload.kind}s, so it leaves {workload} "
            "alone: admission still caps it and holds the kill switch, but nothing labels it, backs the cap "
            "up or scales it to 0. Ask the platform team to turn the kind on (chart values workloads.*).",
        )
    elif claimed_by is not None:
        found_reason, found_msg = (
            ConditionReason.WORKLOAD_CLAIMED,
            f"{workload} is also claimed by AIService {claimed_by}, which is stricter (killed, or "
            f"a lower cap), so Airlock acts on {claimed_by} and admission applies both caps. One workload "
            "has one AIService: ask the platform team to delete one of the two.",
        )
    elif workload_found:
        found_reason, found_msg = (
            ConditionReason.FOUND,
            f"{workload} is governed by this AIService.",
        )
    else:
        found_reason, found_msg = (
            ConditionReason.WORKLOAD_NOT_FOUND,
            f"{workload} does not exist in namespace {service.namespace}; create it or fix "
            "spec.workload.name.",
        )
    conds = set_condition(
        conds,
        type_=ConditionType.WORKLOAD_FOUND,
        status=workload_found,
        reason=found_reason,
        message=found_msg,
        generation=gen,
        now=now,
    )
    blocking = ", ".join(report.blocking)
    conds = set_condition(
        conds,
        type_=ConditionType.GATES_PASSED,
        status=report.passed,
        reason=ConditionReason.ALL_GATES_PASSED if report.passed else ConditionReason.GATES_BLOCKING,
        message=f"All {len(report.required)} required gates pass."
        if report.passed
        else f"{report.summary} required gates pass; blocking: {blocking}. Run `kubectl airlock explain "
        f"{service.name} -n {service.namespace}` for what each needs.",
        generation=gen,
        now=now,
    )
    conds = set_condition(
        conds,
        type_=ConditionType.KILL_SWITCH_ENGAGED,
        status=killed,
        reason=ConditionReason.ENGAGED if killed else ConditionReason.NOT_ENGAGED,
        message=f"Kill switch engaged: {kill_reason or 'no reason given'}. Scale-ups are denied until it is "
        "released."
        if killed
        else "Kill switch not engaged.",
        generation=gen,
        now=now,
    )
    misses = near_misses(service.annotations)
    conds = set_condition(
        conds,
        type_=ConditionType.ANNOTATIONS_RECOGNIZED,
        status=not misses,
        reason=ConditionReason.NEAR_MISS if misses else ConditionReason.RECOGNIZED,
        message=" ".join(misses) if misses else "Every airlock.dev/ annotation is one Airlock knows.",
        generation=gen,
        now=now,
    )
    cap_text = ("no cap" if allowed == NO_CAP else f"{allowed} replicas") + bounds_note
    if not service.namespace_governed:
        ready = (False, found_reason, found_msg)
    elif killed:
        ready = (
            False,
            ConditionReason.KILL_SWITCH_ENGAGED,
            "Kill switch engaged; the service runs 0 replicas.",
        )
    elif not workload_found:
        ready = (False, found_reason, found_msg)
    elif report.passed:
        ready = (True, ConditionReason.PRODUCTION, f"Every required gate passes; {cap_text}.")
    elif regressed:
        ready = (
            False,
            ConditionReason.GATES_REGRESSED,
            f"Promoted, but required gates no longer pass ({blocking}); held at {cap_text} until they "
            "pass again.",
        )
    else:
        ready = (
            False,
            ConditionReason.PILOT,
            f"Pilot: capped at {cap_text} until these gates pass: {blocking}.",
        )
    return set_condition(
        conds,
        type_=ConditionType.READY,
        status=ready[0],
        reason=ready[1],
        message=ready[2],
        generation=gen,
        now=now,
    )


def _transition_events(
    prev: AIServiceStatus, new: AIServiceStatus, report: GateReport, workload: str, packet_message: str
) -> list[Event]:
    """Events for what changed between two statuses; none when nothing did."""
    events: list[Event] = []
    first = prev.stage is None
    if prev.stage != new.stage and new.stage is not Stage.KILLED and not (first and new.stage is Stage.PILOT):
        if new.stage is Stage.PRODUCTION and prev.stage is not Stage.KILLED:
            events.append(
                Event("Normal", "Promoted", f"Every required gate passes; {workload} left its pilot.")
            )
        elif new.stage is Stage.PILOT and prev.stage is Stage.PRODUCTION:
            events.append(
                Event("Warning", "ReturnedToPilot", f"Gates regressed; {workload} is back to its pilot size.")
            )
    prev_ready = find(prev.conditions, ConditionType.READY)
    new_ready = find(new.conditions, ConditionType.READY)
    if (
        new_ready is not None
        and new_ready.reason == ConditionReason.GATES_REGRESSED
        and (prev_ready is None or prev_ready.reason != ConditionReason.GATES_REGRESSED)
    ):
        events.append(Event("Warning", "GatesRegressed", new_ready.message))
    prev_found = find(prev.conditions, ConditionType.WORKLOAD_FOUND)
    new_found = find(new.conditions, ConditionType.WORKLOAD_FOUND)
    if (
        new_found is not None
        and new_found.status == "False"
        and (prev_found is None or prev_found.status != "False" or prev_found.reason != new_found.reason)
    ):
        events.append(Event("Warning", new_found.reason, new_found.message))
    before = {g.name: g for g in prev.gates}
    changed = [
        g for g in report.results if not first and (g.name not in before or before[g.name].passed != g.passed)
    ]
    # One event per direction: a version bump fails eleven gates at once, and that is one thing to read.
    directions: tuple[tuple[bool, EventType, str, str, str], ...] = (
        (True, "Normal", GATE_PASSED, GATES_PASSED, "passes"),
        (False, "Warning", GATE_FAILED, GATES_FAILED, "fails"),
    )
    for passed, kind, one, many, verb in directions:
        gates = [g for g in changed if g.passed is passed]
        if len(gates) == 1:
            events.append(Event(kind, one, f"Gate {gates[0].name} {verb}: {gates[0].message}"))
        elif gates:
            names = ", ".join(g.name for g in gates)
            detail = gates[0].message if len({g.message for g in gates}) == 1 else "see status.gates for each"
            plural = "pass" if passed else "fail"
            events.append(Event(kind, many, f"Gates {names} {plural}: {detail}", count=len(gates)))
    if prev.allowed_replicas is not None and prev.allowed_replicas != new.allowed_replicas:
        new_cap = "no cap" if new.allowed_replicas == NO_CAP else str(new.allowed_replicas)
        old_cap = "no cap" if prev.allowed_replicas == NO_CAP else str(prev.allowed_replicas)
        events.append(
            Event("Normal", "CapChanged", f"Allowed replicas for {workload}: {old_cap} -> {new_cap}.")
        )
    if prev.packet != new.packet:
        events.append(
            Event("Normal", "PacketSelected", packet_message or f"Using ReadinessPacket {new.packet}.")
        )
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
            "KillSwitchEndedByDeletion",
            f"AIService {name} was deleted while its kill switch was engaged "
            f"({kill.reason or 'no reason given'}); {kind} {workload_name} is no longer governed by "
            f"Airlock and stays at {replicas} replicas until someone scales it. Re-apply the AIService "
            "to cap it again.",
        )
    return DeletionPlan(metadata=meta, event=event)


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
    prev_kill = prev.kill_switch or KillSwitchStatus(engaged=False)
    kill = parse_kill_switch(service.annotations, now)
    workload_name = service.spec.workload.name
    current = workload.replicas if workload is not None else None
    record = workload_record(workload.annotations) if workload is not None else None
    events: list[Event] = []
    scale_to: int | None = None
    patch: dict[str, object] | None = None
    kill_status, allowed, stage = prev_kill, prev.allowed_replicas, prev.stage
    if kill.engaged:
        allowed, stage = 0, Stage.KILLED
        if not prev_kill.engaged:
            if record is not None:
                before: int | None = record.replicas_before
                since = record.since or kill.since or now
            else:
                before = kill.replicas_before if kill.replicas_before is not None else current
                since = kill.since or now
            kill_status = KillSwitchStatus(
                engaged=True,
                reason=kill.reason,
                engaged_by=kill.by,
                since=since,
                replicas_before=before,
            )
            events.append(
                Event(
                    "Warning",
                    "KillSwitchEngaged",
                    f"Kill switch engaged{f' by {kill.by}' if kill.by else ''} "
                    f"({kill.reason or 'no reason given'}); {service.spec.workload.kind} {workload_name} "
                    "scaled from "
                    f"{before if before is not None else 'unknown'} to 0 replicas.",
                )
            )
        if workload is not None and record is None:
            before = kill_status.replicas_before
            patch = workload_patch(
                0, WorkloadRecord(before if before is not None else current or 0, kill_status.since)
            )
        if current:
            scale_to = 0
    held = " The kill switch holds it at 0." if kill.engaged else " The last cap stays in force."
    message = (
        f"The spec cannot be read: {problem}. Fix those fields (kubectl edit aiservice {service.name} -n "
        f"{service.namespace}); until then gates are not evaluated and nothing is restored.{held}"
    )
    conds = set_condition(
        list(prev.conditions),
        type_=ConditionType.KILL_SWITCH_ENGAGED,
        status=kill.engaged,
        reason=ConditionReason.ENGAGED if kill.engaged else ConditionReason.NOT_ENGAGED,
        message=f"Kill switch engaged: {kill.reason or 'no reason given'}."
        if kill.engaged
        else "Kill switch not engaged.",
        generation=service.generation,
        now=now,
    )
    conds = set_condition(
        conds,
        type_=ConditionType.READY,
        status=False,
        reason=ConditionReason.INVALID_SPEC,
        message=message,
        generation=service.generation,
        now=now,
    )
    previous_ready = find(prev.conditions, ConditionType.READY)
    if previous_ready is None or previous_ready.reason != ConditionReason.INVALID_SPEC:
        events.append(Event("Warning", "InvalidSpec", message))
    status = prev.model_copy(
        update={
            "stage": stage,
            "allowed_replicas": allowed,
            "kill_switch": kill_status,
            "conditions": conds,
            "observed_generation": service.generation,
        }
    )
    return Plan(
        status=status,
        scale_to=scale_to,
        workload_patch=patch,
        kill_since=kill_status.since if kill.engaged else None,
        events=tuple(events),
    )
