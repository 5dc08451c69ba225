"""Condition mechanics in one place: observedGeneration stamped, lastTransitionTime kept unless the status
flips, messages trimmed, order stable."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum

from airlock.models.common import Condition

MAX_MESSAGE = 1024


class ConditionType(StrEnum):
    READY = "Ready"
    GATES_PASSED = "GatesPassed"
    KILL_SWITCH_ENGAGED = "KillSwitchEngaged"
    WORKLOAD_FOUND = "WorkloadFound"
    ANNOTATIONS_RECOGNIZED = "AnnotationsRecognized"
    COMPLETE = "Complete"


class ConditionReason(StrEnum):
    """Reasons on AIService and ReadinessPacket conditions."""

    PRODUCTION = "Production"  # Ready: every required gate passes
    PILOT = "Pilot"  # Ready False: never promoted, required gates fail
    IN_STAGE = "InStage"  # Ready False: in a stage between the first and the last
    GATES_REGRESSED = "GatesRegressed"  # Ready False: promoted, then gates stopped passing
    KILL_SWITCH_ENGAGED = "KillSwitchEngaged"  # Ready False / KillSwitchEngaged True
    WORKLOAD_NOT_FOUND = "WorkloadNotFound"  # Ready False / WorkloadFound False
    WORKLOAD_CLAIMED = "WorkloadClaimed"  # WorkloadFound False: another AIService governs it
    NAMESPACE_NOT_GOVERNED = "NamespaceNotGoverned"  # WorkloadFound False: namespace not marked governed
    KIND_NOT_ENABLED = "KindNotEnabled"  # WorkloadFound False: the operator does not govern that kind
    FOUND = "Found"  # WorkloadFound True
    ALL_GATES_PASSED = "AllGatesPassed"  # GatesPassed True / Complete True
    GATES_BLOCKING = "GatesBlocking"  # GatesPassed False / Complete False
    NOT_ENGAGED = "NotEngaged"  # KillSwitchEngaged False
    ENGAGED = "Engaged"  # KillSwitchEngaged True
    RECOGNIZED = "Recognized"  # AnnotationsRecognized True
    NEAR_MISS = "NearMiss"  # AnnotationsRecognized False: an unknown airlock.dev/ key or kill-switch value
    INVALID_SPEC = "InvalidSpec"  # Ready False: the stored spec does not parse (stored before an upgrade)


def trim(message: str, limit: int = MAX_MESSAGE) -> str:
    return message if len(message) <= limit else message[: limit - 1] + "…"


def set_condition(
    conditions: Sequence[Condition],
    *,
    type_: str,
    status: bool,
    reason: str,
    message: str,
    generation: int | None,
    now: datetime,
) -> list[Condition]:
    """Returns conditions with `type_` set; keeps lastTransitionTime when the status did not flip."""
    wanted = "True" if status else "False"
    previous = find(conditions, type_)
    since = previous.last_transition_time if previous is not None and previous.status == wanted else now
    updated = Condition(
        type=type_,
        status=wanted,
        reason=reason,
        message=trim(message),
        observed_generation=generation,
        last_transition_time=since,
    )
    if previous is None:
        return [*conditions, updated]
    return [updated if c.type == type_ else c for c in conditions]


def find(conditions: Sequence[Condition], type_: str) -> Condition | None:
    return next((c for c in conditions if c.type == type_), None)
