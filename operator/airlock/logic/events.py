"""The vocabulary of Event reasons, the Event a plan records, and the kill switch's Events.

A kill-switch transition is announced exactly once, even when the operator dies mid-pass or two replicas
run the same pass: its Event is `once`, recorded right after the workload write under a name derived
from the transition (`kill_event_name`), so a repeated pass recreates the same Event, which the API
server refuses as a duplicate. The logic decides which Events are so; the reconciler only applies it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from airlock.models.service import NO_CAP

EventType = Literal["Normal", "Warning"]


class EventReason(StrEnum):
    """The `reason` of every Event recorded on an AIService, in PascalCase as Kubernetes reasons are."""

    #: The kill switch was engaged; the workload is scaled to 0.
    KILL_SWITCH_ENGAGED = "KillSwitchEngaged"
    #: The kill switch was released; the workload is restored, within its cap.
    KILL_SWITCH_RELEASED = "KillSwitchReleased"
    #: The AIService was deleted while its kill switch was engaged: nothing holds the workload any more.
    KILL_SWITCH_ENDED_BY_DELETION = "KillSwitchEndedByDeletion"
    #: The workload ran above its cap (it got past admission) and was scaled down to it.
    SCALED_TO_CAP = "ScaledToCap"
    #: The service entered a higher stage (without stages: every required gate passes, it left its pilot).
    PROMOTED = "Promoted"
    #: The gates regressed and the service is back to its pilot size.
    RETURNED_TO_PILOT = "ReturnedToPilot"
    #: The gates of a stage regressed and the service stepped down to a lower stage, not the first.
    STEPPED_DOWN = "SteppedDown"
    #: A promoted service's required gates no longer pass; it is held.
    GATES_REGRESSED = "GatesRegressed"
    #: One gate passes that did not.
    GATE_PASSED = "GatePassed"
    #: Several gates pass that did not, in one Event.
    GATES_PASSED = "GatesPassed"
    #: One gate fails that passed.
    GATE_FAILED = "GateFailed"
    #: Several gates fail that passed (a version bump fails many), in one Event.
    GATES_FAILED = "GatesFailed"
    #: The replicas allowed changed.
    CAP_CHANGED = "CapChanged"
    #: Another ReadinessPacket is the one the gates read.
    PACKET_SELECTED = "PacketSelected"
    #: The stored spec cannot be read (stored before an upgrade).
    INVALID_SPEC = "InvalidSpec"
    #: The workload does not exist.
    WORKLOAD_NOT_FOUND = "WorkloadNotFound"
    #: Another AIService governs the workload.
    WORKLOAD_CLAIMED = "WorkloadClaimed"
    #: The namespace is not marked governed, so nothing enforces the AIService.
    NAMESPACE_NOT_GOVERNED = "NamespaceNotGoverned"
    #: The operator does not govern the workload's kind.
    KIND_NOT_ENABLED = "KindNotEnabled"


class PacketEventReason(StrEnum):
    """The `reason` of every Event recorded on a ReadinessPacket."""

    #: A role approved the packet (or approved a new digest of it).
    APPROVED = "Approved"
    #: An approval was removed from the packet.
    APPROVAL_REMOVED = "ApprovalRemoved"
    #: Approvals sign a digest other than the packet's current one.
    APPROVALS_STALE = "ApprovalsStale"
    #: Every gate the packet can satisfy passes.
    PACKET_COMPLETE = "PacketComplete"
    #: A gate the packet should satisfy fails.
    PACKET_INCOMPLETE = "PacketIncomplete"


# Gate transitions, by the result they count under: one gate, or several in one Event.
GATE_TRANSITION_RESULTS: Mapping[EventReason, str] = {
    EventReason.GATE_PASSED: "passed",
    EventReason.GATES_PASSED: "passed",
    EventReason.GATE_FAILED: "failed",
    EventReason.GATES_FAILED: "failed",
}


@dataclass(frozen=True)
class Event:
    type: EventType
    reason: EventReason
    message: str
    # How many transitions the one Event stands for (a version bump fails many gates in one Event).
    count: int = 1
    # Announced exactly once: recorded after the workload write, before the status, under a name unique
    # to the transition (a kill switch's engagement or release).
    once: bool = False


def _count(replicas: object) -> str:
    return str(replicas) if replicas is not None else "unknown"


def kill_engaged_event(by: str | None, reason: str | None, workload: str, before: object) -> Event:
    """The Event of an engagement: who, why, and the replicas it scaled from. `workload` is "Kind name"."""
    who = f" by {by}" if by else ""
    return Event(
        "Warning",
        EventReason.KILL_SWITCH_ENGAGED,
        f"Kill switch engaged{who} ({reason or 'no reason given'}); {workload} scaled from "
        f"{_count(before)} to 0 replicas.",
        once=True,
    )


def kill_released_event(
    released_by: object, workload: str, target: int | None, before: object, cap: int | None = None
) -> Event:
    """The Event of a release: who, and what was restored (and, when known, under which cap)."""
    capped = f", cap {'none' if cap == NO_CAP else cap}" if cap is not None else ""
    return Event(
        "Normal",
        EventReason.KILL_SWITCH_RELEASED,
        f"Kill switch released by {released_by or 'an unnamed identity'}; {workload} restored to {target} "
        f"replicas (had {_count(before)}{capped}).",
        once=True,
    )


def interrupted_kill_event(
    workload: str,
    previous: Mapping[str, object],
    planned: Sequence[Event],
    engaged_now: bool,
    replicas: int | None,
    scale_to: int | None,
) -> Event | None:
    """The kill-switch Event of a transition a previous pass recorded but may not have announced.

    The status written before the scale (`previous`, as stored) says a transition is under way; if the
    process died before the Event, the pass that finishes the transition announces it (under the same
    Event name). None when the plan announces it already or nothing was interrupted.
    """
    raw = previous.get("killSwitch")
    record: Mapping[str, object] = raw if isinstance(raw, Mapping) else {}
    reasons = {e.reason for e in planned}
    before = record.get("replicasBefore")
    if (
        not record.get("engaged")
        and before is not None
        and EventReason.KILL_SWITCH_RELEASED not in reasons
        and not engaged_now
    ):
        return kill_released_event(record.get("releasedBy"), workload, replicas, before)
    if record.get("engaged") and scale_to == 0 and EventReason.KILL_SWITCH_ENGAGED not in reasons:
        return kill_engaged_event(None, str(record.get("reason") or "") or None, workload, before)
    return None


def kill_event_name(
    service: str,
    uid: object,
    reason: EventReason,
    since: dt.datetime | None,
    previous: Mapping[str, object],
    recorded: Mapping[str, object],
    final: Mapping[str, object],
) -> str | None:
    """A name unique to one kill-switch transition: the service's uid and the time it was engaged.

    Without the time in the plan, the engagement takes it from the status as recorded this pass, then
    as it was, then as planned; the release from the status as it was, then as recorded.
    """
    stamp = since.astimezone(dt.UTC).isoformat().replace("+00:00", "Z") if since is not None else None
    engaged = reason == EventReason.KILL_SWITCH_ENGAGED
    if stamp is None:
        for status in (recorded, previous, final) if engaged else (previous, recorded):
            record = status.get("killSwitch")
            if isinstance(record, Mapping) and record.get("since"):
                stamp = str(record["since"])
                break
    if stamp is None or not uid:
        return None
    digest = hashlib.sha256(f"{uid}/{stamp}".encode()).hexdigest()[:16]
    return f"{service[:200]}.kill-switch-{'engaged' if engaged else 'released'}.{digest}"
