"""The kill switch, read from the AIService's annotations."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from airlock.models.service import (
    KILL_SWITCH_ANNOTATION,
    KILL_SWITCH_BY_ANNOTATION,
    KILL_SWITCH_REASON_ANNOTATION,
)

# Only this exact value releases the switch: a typo ("flase", "no", "") fails safe, as engaged.
RELEASED_VALUE = "false"
MAX_REASON = 1024
MAX_BY = 256


@dataclass(frozen=True)
class KillSwitch:
    engaged: bool
    reason: str | None
    by: str | None = None


def parse_kill_switch(annotations: Mapping[str, str] | None) -> KillSwitch:
    """Engaged when the annotation is present with any value but exactly "false"."""
    annotations = annotations or {}
    value = annotations.get(KILL_SWITCH_ANNOTATION)
    if value is None or value == RELEASED_VALUE:
        return KillSwitch(engaged=False, reason=None)
    reason = _bounded(annotations.get(KILL_SWITCH_REASON_ANNOTATION), MAX_REASON)
    # The name is the requester's own: admission (service-governance.yaml) refuses any other value.
    by = _bounded(annotations.get(KILL_SWITCH_BY_ANNOTATION), MAX_BY)
    return KillSwitch(engaged=True, reason=reason, by=by)


def _bounded(value: str | None, limit: int) -> str | None:
    if not value:
        return None
    return value if len(value) <= limit else value[: limit - 1] + "…"
