"""The kill switch's Events: built once, in the logic, announced exactly once under a transition's name."""

from __future__ import annotations

import datetime as dt

import pytest

from airlock.logic.events import (
    Event,
    EventReason,
    interrupted_kill_event,
    kill_engaged_event,
    kill_event_name,
    kill_released_event,
)
from airlock.models.service import NO_CAP

LABEL = "Deployment bot"
SINCE = dt.datetime(2026, 11, 20, 12, 0, 0, 123456, tzinfo=dt.UTC)
ENGAGED = kill_engaged_event("alice", "INC-1", LABEL, 4)
RELEASED = kill_released_event("bob", LABEL, 4, 4, NO_CAP)


@pytest.mark.parametrize(
    ("event", "type_", "reason", "message"),
    [
        pytest.param(
            kill_engaged_event("alice", "INC-1", LABEL, 4),
            "Warning",
            EventReason.KILL_SWITCH_ENGAGED,
            "Kill switch engaged by alice (INC-1); Deployment bot scaled from 4 to 0 replicas.",
            id="an engagement names who, why and what it stopped",
        ),
        pytest.param(
            kill_engaged_event(None, None, LABEL, None),
            "Warning",
            EventReason.KILL_SWITCH_ENGAGED,
            "Kill switch engaged (no reason given); Deployment bot scaled from unknown to 0 replicas.",
            id="an engagement with nothing recorded says so",
        ),
        pytest.param(
            kill_released_event("bob", LABEL, 2, 4, 2),
            "Normal",
            EventReason.KILL_SWITCH_RELEASED,
            "Kill switch released by bob; Deployment bot restored to 2 replicas (had 4, cap 2).",
            id="a release names who, what it restored and the cap",
        ),
        pytest.param(
            kill_released_event(None, LABEL, 4, 4, NO_CAP),
            "Normal",
            EventReason.KILL_SWITCH_RELEASED,
            "Kill switch released by an unnamed identity; Deployment bot restored to 4 replicas (had 4, cap "
            "none).",
            id="a release by nobody named, without a cap",
        ),
        pytest.param(
            kill_released_event("bob", LABEL, 3, 3),
            "Normal",
            EventReason.KILL_SWITCH_RELEASED,
            "Kill switch released by bob; Deployment bot restored to 3 replicas (had 3).",
            id="a release finished by a later pass, the cap unknown",
        ),
    ],
)
def test_kill_switch_events_are_announced_once(
    event: Event, type_: str, reason: EventReason, message: str
) -> None:
    assert (event.type, event.reason, event.message, event.once) == (type_, reason, message, True)


@pytest.mark.parametrize(
    ("previous", "planned", "engaged_now", "scale_to", "expected"),
    [
        pytest.param({}, (), False, None, None, id="nothing under way: nothing"),
        pytest.param(
            {"killSwitch": {"engaged": False, "replicasBefore": 4, "releasedBy": "bob"}},
            (),
            False,
            None,
            kill_released_event("bob", LABEL, 4, 4),
            id="a restore recorded but perhaps not announced is announced",
        ),
        pytest.param(
            {"killSwitch": {"engaged": False, "replicasBefore": 4}},
            (RELEASED,),
            False,
            None,
            None,
            id="a release the plan announces is not announced twice",
        ),
        pytest.param(
            {"killSwitch": {"engaged": False, "replicasBefore": 4}},
            (),
            True,
            0,
            None,
            id="engaged again since: no release",
        ),
        pytest.param(
            {"killSwitch": {"engaged": True, "replicasBefore": 4, "reason": "INC-1"}},
            (),
            True,
            0,
            kill_engaged_event(None, "INC-1", LABEL, 4),
            id="an engagement recorded whose scale to zero is still to write is announced",
        ),
        pytest.param(
            {"killSwitch": {"engaged": True, "replicasBefore": 4}},
            (ENGAGED,),
            True,
            0,
            None,
            id="an engagement the plan announces is not announced twice",
        ),
        pytest.param(
            {"killSwitch": {"engaged": True, "replicasBefore": 4}},
            (),
            True,
            None,
            None,
            id="an engagement already carried out: nothing",
        ),
        pytest.param({"killSwitch": "garbled"}, (), False, None, None, id="an unreadable record: nothing"),
    ],
)
def test_interrupted_kill_event(
    previous: dict[str, object],
    planned: tuple[Event, ...],
    engaged_now: bool,
    scale_to: int | None,
    expected: Event | None,
) -> None:
    got = interrupted_kill_event(LABEL, previous, planned, engaged_now, 4 if not engaged_now else 0, scale_to)
    assert got == expected


RECORDED = {"killSwitch": {"engaged": True, "since": "2026-11-20T12:00:00.123456Z"}}
OTHER = {"killSwitch": {"engaged": True, "since": "2026-11-20T13:00:00Z"}}


def name(
    reason: EventReason,
    since: dt.datetime | None,
    previous: dict[str, object],
    recorded: dict[str, object],
    final: dict[str, object],
    uid: str = "u1",
) -> str | None:
    return kill_event_name("bot", uid, reason, since, previous, recorded, final)


@pytest.mark.parametrize(
    ("left", "right", "same"),
    [
        pytest.param(
            name(EventReason.KILL_SWITCH_ENGAGED, SINCE, {}, {}, {}),
            name(EventReason.KILL_SWITCH_ENGAGED, None, {}, RECORDED, {}),
            True,
            id="the time in the plan and the time recorded name the same engagement",
        ),
        pytest.param(
            name(EventReason.KILL_SWITCH_ENGAGED, SINCE, {}, {}, {}),
            name(EventReason.KILL_SWITCH_RELEASED, SINCE, {}, {}, {}),
            False,
            id="an engagement and its release are two Events",
        ),
        pytest.param(
            name(EventReason.KILL_SWITCH_ENGAGED, SINCE, {}, {}, {}),
            name(EventReason.KILL_SWITCH_ENGAGED, SINCE, {}, {}, {}, uid="u2"),
            False,
            id="two services never share a name",
        ),
        pytest.param(
            name(EventReason.KILL_SWITCH_ENGAGED, None, {}, RECORDED, OTHER),
            name(EventReason.KILL_SWITCH_ENGAGED, SINCE, {}, {}, {}),
            True,
            id="an engagement prefers the status recorded this pass to the one planned",
        ),
        pytest.param(
            name(EventReason.KILL_SWITCH_RELEASED, None, RECORDED, OTHER, {}),
            name(EventReason.KILL_SWITCH_RELEASED, SINCE, {}, {}, {}),
            True,
            id="a release prefers the status as it was",
        ),
    ],
)
def test_kill_event_name(left: str | None, right: str | None, same: bool) -> None:
    assert left is not None and right is not None and (left == right) is same


@pytest.mark.parametrize(
    ("since", "uid", "expected"),
    [
        pytest.param(None, "u1", None, id="no time anywhere: no name (the API server picks one)"),
        pytest.param(SINCE, "", None, id="no uid: no name"),
    ],
)
def test_kill_event_name_needs_a_time_and_a_uid(since: dt.datetime | None, uid: str, expected: None) -> None:
    assert name(EventReason.KILL_SWITCH_ENGAGED, since, {}, {}, {}, uid=uid) is expected


def test_a_kill_event_name_says_the_service_and_the_transition() -> None:
    got = name(EventReason.KILL_SWITCH_RELEASED, SINCE, {}, {}, {})
    assert (
        got is not None and got.startswith("bot.kill-switch-released.") and len(got.rsplit(".", 1)[1]) == 16
    )
