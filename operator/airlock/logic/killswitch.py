"""The kill switch, read from the AIService's annotations."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from airlock.models.common import MAX_REPLICAS
from airlock.models.service import (
    KILL_SWITCH_ANNOTATION,
    KILL_SWITCH_ANNOTATIONS,
    KILL_SWITCH_BY_ANNOTATION,
    KILL_SWITCH_REASON_ANNOTATION,
    KILL_SWITCH_REPLICAS_BEFORE_ANNOTATION,
    KILL_SWITCH_SINCE_ANNOTATION,
)

# Only this exact value releases the switch: a typo ("flase", "no", "") fails safe, as engaged.
RELEASED_VALUE = "false"
ENGAGED_VALUE = "true"
MAX_REASON = 1024
# A recorded engagement time later than this past now is a wrong clock or a hand-written value: ignored.
CLOCK_SKEW = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class KillSwitch:
    """The switch as the annotations say. `replicas_before`, `since` and `by` are what the person who
    engaged it recorded (kubectl airlock kill does), when present and sensible; None otherwise."""

    engaged: bool
    reason: str | None
    replicas_before: int | None = None
    since: dt.datetime | None = None
    by: str | None = None


def parse_kill_switch(annotations: Mapping[str, str] | None, now: dt.datetime | None = None) -> KillSwitch:
    """Engaged when the annotation is present with any value but exactly "false".

    A recorded replica count is taken when it is a whole number within the CRD's replica bounds; a
    recorded time when it is RFC 3339 with a zone and, given `now`, not in the future.
    """
    annotations = annotations or {}
    value = annotations.get(KILL_SWITCH_ANNOTATION)
    if value is None or value == RELEASED_VALUE:
        return KillSwitch(engaged=False, reason=None)
    reason = annotations.get(KILL_SWITCH_REASON_ANNOTATION) or None
    if reason is not None and len(reason) > MAX_REASON:
        reason = reason[: MAX_REASON - 1] + "…"
    return KillSwitch(
        engaged=True,
        reason=reason,
        replicas_before=recorded_replicas(annotations.get(KILL_SWITCH_REPLICAS_BEFORE_ANNOTATION)),
        since=recorded_time(annotations.get(KILL_SWITCH_SINCE_ANNOTATION), now),
        by=(annotations.get(KILL_SWITCH_BY_ANNOTATION) or "").strip()[:256] or None,
    )


def release_identity(annotations: Mapping[str, str] | None, engaged_by: str | None) -> str | None:
    """Who released the switch, as far as the API server verified it, or None for an unnamed identity.

    The airlock.dev/kill-switch-by present after the release names the releaser only when it differs
    from who engaged it: admission refuses a changed value that is not the requester's own name, but
    lets any request keep the value already there. So a release that removed it, or left the engager's
    name in place (a plain `kubectl annotate ... airlock.dev/kill-switch-`), names nobody.
    """
    annotations = annotations or {}
    if parse_kill_switch(annotations).engaged:
        return None
    by = (annotations.get(KILL_SWITCH_BY_ANNOTATION) or "").strip()[:256]
    if not by or by == (engaged_by or ""):
        return None
    return by


def recorded_replicas(raw: str | None) -> int | None:
    """A replica count written in an annotation, or None when it is absent or not a sensible count."""
    if raw is None:
        return None
    text = raw.strip()
    if not text.isascii() or not text.isdigit():
        return None
    count = int(text)
    return count if count <= MAX_REPLICAS else None


def recorded_time(raw: str | None, now: dt.datetime | None = None) -> dt.datetime | None:
    """An RFC 3339 time written in an annotation, or None when it is absent, unparseable, without a zone,
    or later than `now` (plus a little clock skew)."""
    if not raw:
        return None
    try:
        moment = dt.datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    if now is not None and moment > now + CLOCK_SKEW:
        return None
    return moment


def leftover_annotations(annotations: Mapping[str, str] | None) -> dict[str, None]:
    """A merge patch removing what a released switch left behind (its reason, who, replicas, since),
    so a later kill is not reported with an old incident's reason; empty when the switch is engaged or
    nothing is left. The switch annotation itself is kept when it says "false": someone set it so."""
    annotations = annotations or {}
    if parse_kill_switch(annotations).engaged:
        return {}
    return {
        key: None for key in KILL_SWITCH_ANNOTATIONS if key != KILL_SWITCH_ANNOTATION and key in annotations
    }


def rfc3339(moment: dt.datetime) -> str:
    """UTC, to the second, with a Z: how the kill-switch annotations record a time."""
    return moment.astimezone(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


# ---- the record on the workload ---------------------------------------------------------------------
# The kill switch's record lives on the workload itself, under the names it has on the AIService, and is
# written in the same request that scales it to zero: no crash between two writes can lose what to
# restore. The restore takes it back in the one request that brings the replicas back.
WORKLOAD_RECORD_ANNOTATIONS = (KILL_SWITCH_REPLICAS_BEFORE_ANNOTATION, KILL_SWITCH_SINCE_ANNOTATION)


@dataclass(frozen=True)
class WorkloadRecord:
    """What the kill switch stopped, as recorded on the workload: its replicas and when it was engaged."""

    replicas_before: int
    since: dt.datetime | None


def workload_record(annotations: Mapping[str, str] | None) -> WorkloadRecord | None:
    """The record a kill left on the workload, or None when there is none (or it is not a sensible count)."""
    annotations = annotations or {}
    before = recorded_replicas(annotations.get(KILL_SWITCH_REPLICAS_BEFORE_ANNOTATION))
    if before is None:
        return None
    return WorkloadRecord(before, recorded_time(annotations.get(KILL_SWITCH_SINCE_ANNOTATION)))


def workload_patch(replicas: int | None, record: WorkloadRecord | None) -> dict[str, object]:
    """The one merge patch of the workload for a kill switch transition: `replicas` (None keeps them)
    and the record set (engaging) or removed (None: restoring)."""
    annotations: dict[str, str | None]
    if record is None:
        annotations = dict.fromkeys(WORKLOAD_RECORD_ANNOTATIONS)
    else:
        annotations = {KILL_SWITCH_REPLICAS_BEFORE_ANNOTATION: str(record.replicas_before)}
        # To the microsecond: the time names the transition's Events, and two kills can share a second.
        since = record.since.astimezone(dt.UTC).isoformat().replace("+00:00", "Z") if record.since else None
        annotations[KILL_SWITCH_SINCE_ANNOTATION] = since
    patch: dict[str, object] = {"metadata": {"annotations": annotations}}
    if replicas is not None:
        patch["spec"] = {"replicas": replicas}
    return patch


def transition_pending(annotations: Mapping[str, str] | None, status: Mapping[str, object] | None) -> bool:
    """Whether the switch says one thing and the recorded status another: an engagement or a release the
    operator has yet to carry out, which is served before any other pass."""
    record = (status or {}).get("killSwitch")
    recorded = isinstance(record, Mapping) and record.get("engaged") is True
    return parse_kill_switch(annotations).engaged is not recorded
