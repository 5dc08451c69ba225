"""Condition mechanics: transition times, order, trimming."""

from __future__ import annotations

import datetime as dt

from airlock.logic.conditions import set_condition

T0 = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
T1 = T0 + dt.timedelta(hours=1)


def test_the_transition_time_is_kept_while_the_status_does_not_flip() -> None:
    first = set_condition([], type_="Ready", status=False, reason="Pilot", message="a", generation=1, now=T0)
    again = set_condition(
        first, type_="Ready", status=False, reason="Pilot", message="b", generation=2, now=T1
    )
    assert (
        again[0].last_transition_time == T0 and again[0].message == "b" and again[0].observed_generation == 2
    )


def test_the_transition_time_moves_when_the_status_flips() -> None:
    first = set_condition([], type_="Ready", status=False, reason="Pilot", message="", generation=1, now=T0)
    flipped = set_condition(
        first, type_="Ready", status=True, reason="Production", message="", generation=1, now=T1
    )
    assert flipped[0].last_transition_time == T1 and flipped[0].status == "True"


def test_other_conditions_keep_their_place() -> None:
    conds = set_condition(
        [], type_="WorkloadFound", status=True, reason="Found", message="", generation=1, now=T0
    )
    conds = set_condition(
        conds, type_="Ready", status=False, reason="Pilot", message="", generation=1, now=T0
    )
    conds = set_condition(
        conds,
        type_="WorkloadFound",
        status=False,
        reason="WorkloadNotFound",
        message="",
        generation=1,
        now=T1,
    )
    assert [c.type for c in conds] == ["WorkloadFound", "Ready"]


def test_long_messages_are_trimmed() -> None:
    conds = set_condition(
        [], type_="Ready", status=False, reason="Pilot", message="x" * 5000, generation=1, now=T0
    )
    assert len(conds[0].message) == 1024 and conds[0].message.endswith("…")
