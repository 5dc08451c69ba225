"""The kill switch, read from the AIService's annotations."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from airlock.models.service import KILL_SWITCH_ANNOTATION, KILL_SWITCH_REASON_ANNOTATION

# Only this exact value releases the switch: a typo ("flase", "no", "") fails safe, as engaged.
RELEASED_VALUE = "false"
MAX_REASON = 1024


@dataclass(frozen=True)
class KillSwitch:
    engaged: bool
    reason: str | None


def parse_kill_switch(annotations: Mapping[str, str] | None) -> KillSwitch:
    """Engaged when the annotation is present with any value but exactly "false"."""
    annotations = annotations or {}
    value = annotations.get(KILL_SWITCH_ANNOTATION)
    if value is None or value == RELEASED_VALUE:
        return KillSwitch(engaged=False, reason=None)
    reason = annotations.get(KILL_SWITCH_REASON_ANNOTATION) or None
    if reason is not None and len(reason) > MAX_REASON:
        reason = reason[: MAX_REASON - 1] + "…"
    return KillSwitch(engaged=True, reason=reason)
