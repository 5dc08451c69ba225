"""The packet plan: from a ReadinessPacket as observed to the status to write and the Events to announce.
Pure; no I/O.

A pass over a packet announces two kinds of news: approvals added, changed or removed since this process
last saw the packet (never on first sight, so a restart replays nothing), and the transitions of its
status (approvals made stale by a content change, the packet becoming complete or incomplete).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from airlock.logic.conditions import ConditionReason, ConditionType, set_condition
from airlock.logic.events import EventType, PacketEventReason
from airlock.logic.gates import evaluate_gates
from airlock.models.packet import Approval, ReadinessPacketSpec, ReadinessPacketStatus
from airlock.models.policy import ReadinessPolicySpec
from airlock.models.service import AIServiceSpec

# Event reasons on a ReadinessPacket.
APPROVED = PacketEventReason.APPROVED
APPROVAL_REMOVED = PacketEventReason.APPROVAL_REMOVED
APPROVALS_STALE = PacketEventReason.APPROVALS_STALE
PACKET_COMPLETE = PacketEventReason.PACKET_COMPLETE
PACKET_INCOMPLETE = PacketEventReason.PACKET_INCOMPLETE

# role -> (by, digest): what an approval is, as far as news of it goes.
Approvals = Mapping[str, tuple[str, str]]


@dataclass(frozen=True)
class PacketEvent:
    type: EventType
    reason: str
    message: str
    # What the log line adds to the reason (the log never quotes the message: it can quote packet content).
    detail: str = ""


@dataclass(frozen=True)
class SeenApprovals:
    """The approvals of a packet this process last compared, and the resourceVersion they came from."""

    approvals: Approvals
    version: str | None = None


@dataclass(frozen=True)
class PacketPlan:
    """What a pass over a packet does, in order: remember `seen` and announce `approval_events`, then, when
    the status `changed`, write `status` (conditionally on the version planned from) and announce
    `events`."""

    status: ReadinessPacketStatus
    changed: bool
    # The approvals to remember for the next pass; None leaves what is remembered alone (an older body).
    seen: SeenApprovals | None = None
    approval_events: tuple[PacketEvent, ...] = ()
    events: tuple[PacketEvent, ...] = ()


def short_digest(digest: str | None) -> str:
    """`sha256:` and the first 12 hex digits: enough to tell two digests apart in an event."""
    if not digest:
        return "none"
    algorithm, _, value = digest.partition(":")
    return f"{algorithm}:{value[:12]}" if value else digest[:19]


def approvals_of(approvals: Sequence[Approval]) -> dict[str, tuple[str, str]]:
    return {a.role: (a.by, a.digest) for a in approvals}


def _older(version: str | None, than: str | None) -> bool:
    """Whether resourceVersion `version` is below `than`; versions that are not integers never are."""
    return bool(version and than and version.isdigit() and than.isdigit() and int(version) < int(than))


def approval_news(
    current: Approvals, version: str | None, seen: SeenApprovals | None
) -> tuple[SeenApprovals | None, tuple[PacketEvent, ...]]:
    """What to remember of the approvals and the Events for those added, changed or removed since `seen`.

    A body older than the one last compared (a late event after a fresh read) changes nothing; on first
    sight the approvals are remembered and nothing is announced.
    """
    if seen is not None and _older(version, seen.version):
        return None, ()
    if version is None and seen is not None:
        version = seen.version
    remember = SeenApprovals(dict(current), version)
    if seen is None:
        return remember, ()
    events = [
        PacketEvent(
            "Normal",
            APPROVED,
            f"Role {role} approved by {by} for digest {short_digest(digest)}.",
            detail=f" role {role}",
        )
        for role in sorted(current)
        if seen.approvals.get(role) != current[role]
        for by, digest in [current[role]]
    ]
    events += [
        PacketEvent(
            "Normal",
            APPROVAL_REMOVED,
            f"Approval of role {role} by {by} for digest {short_digest(digest)} was removed.",
            detail=f" role {role}",
        )
        for role in sorted(seen.approvals.keys() - current.keys())
        for by, digest in [seen.approvals[role]]
    ]
    return remember, tuple(events)


def plan_packet(
    spec: ReadinessPacketSpec,
    service: AIServiceSpec | None,
    policy: ReadinessPolicySpec,
    now: datetime,
    *,
    previous: ReadinessPacketStatus | None,
    generation: int | None,
    version: str | None = None,
    seen: SeenApprovals | None = None,
) -> PacketPlan:
    """Evaluates the packet against its service (None when not found or unreadable) and decides its
    status, its Complete condition and the Events of what changed."""
    remember, approval_events = approval_news(approvals_of(spec.approvals), version, seen)
    report = evaluate_gates(service, spec, policy, now)
    prev = previous or ReadinessPacketStatus()
    blocking = ", ".join(report.blocking)
    conditions = set_condition(
        prev.conditions,
        type_=ConditionType.COMPLETE,
        status=report.passed,
        reason=ConditionReason.ALL_GATES_PASSED if report.passed else ConditionReason.GATES_BLOCKING,
        message=f"All {len(report.required)} required gates pass."
        if report.passed
        else f"{report.summary} required gates pass; blocking: {blocking}.",
        generation=generation,
        now=now,
    )
    status = ReadinessPacketStatus(
        gates=list(report.results),
        gates_passed=report.summary,
        digest=report.digest,
        complete=report.passed,
        expires_at=report.expires_at,
        conditions=conditions,
        observed_generation=generation,
    )
    changed = status != prev
    events: list[PacketEvent] = []
    if changed and prev.digest is not None and prev.digest != status.digest:
        stale = [a for a in spec.approvals if a.digest == prev.digest]
        if stale:
            who = ", ".join(f"{a.role} by {a.by}" for a in stale)
            events.append(
                PacketEvent(
                    "Warning",
                    APPROVALS_STALE,
                    f"The packet content changed (digest {short_digest(prev.digest)} -> "
                    f"{short_digest(status.digest)}); these approvals no longer count: {who}. "
                    "Each role must approve the new digest.",
                )
            )
    if changed and prev.complete is not None and prev.complete != status.complete:
        message = conditions[-1].message if conditions else ""
        if report.passed:
            events.append(PacketEvent("Normal", PACKET_COMPLETE, message))
        else:
            events.append(PacketEvent("Warning", PACKET_INCOMPLETE, message))
    return PacketPlan(status, changed, remember, approval_events, tuple(events))
