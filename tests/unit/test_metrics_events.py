"""The gate-transition metric counts every gate that changed, one Event for many included."""

from __future__ import annotations

import pytest

from airlock.logic.events import GATE_TRANSITION_RESULTS, Event, EventReason
from airlock.metrics import Metrics


def transitions(metrics: Metrics, direction: str) -> float:
    value = metrics.registry.get_sample_value("airlock_gate_transitions_total", {"result": direction})
    return value or 0.0


def events(metrics: Metrics, reason: str) -> float:
    return metrics.registry.get_sample_value("airlock_events_total", {"reason": reason}) or 0.0


@pytest.mark.parametrize(
    ("event", "direction", "expected"),
    [
        pytest.param(
            Event("Normal", EventReason.GATE_PASSED, "Gate evals passes"), "passed", 1, id="one gate passes"
        ),
        pytest.param(
            Event("Warning", EventReason.GATE_FAILED, "Gate evals fails: ..."),
            "failed",
            1,
            id="one gate fails",
        ),
        pytest.param(
            Event("Warning", EventReason.GATES_FAILED, "Gates a, b, c fail: ...", count=11),
            "failed",
            11,
            id="a version bump failing eleven gates in one Event counts eleven",
        ),
        pytest.param(
            Event("Normal", EventReason.GATES_PASSED, "Gates a, b pass", count=2), "passed", 2, id="two pass"
        ),
    ],
)
def test_every_gate_transition_is_counted(event: Event, direction: str, expected: int) -> None:
    metrics = Metrics()
    metrics.count_event(event.reason, event.count)
    assert transitions(metrics, direction) == expected
    assert transitions(metrics, "failed" if direction == "passed" else "passed") == 0
    assert events(metrics, event.reason) == 1


@pytest.mark.parametrize("reason", list(GATE_TRANSITION_RESULTS), ids=str)
def test_every_gate_reason_is_counted_under_its_direction_as_spelled_on_the_wire(reason: EventReason) -> None:
    metrics = Metrics()
    metrics.count_event(str(reason.value), 3)  # as the reconciler passes it: the Event's reason string
    assert transitions(metrics, GATE_TRANSITION_RESULTS[reason]) == 3


def test_every_gate_event_reason_is_a_gate_transition() -> None:
    gate_reasons = {r for r in EventReason if r.name.startswith(("GATE_", "GATES_"))} - {
        EventReason.GATES_REGRESSED
    }
    assert gate_reasons == set(GATE_TRANSITION_RESULTS)


@pytest.mark.parametrize(
    ("reason", "sample"),
    [
        pytest.param(EventReason.KILL_SWITCH_ENGAGED, "airlock_kill_switch_activations_total", id="engaged"),
        pytest.param(EventReason.KILL_SWITCH_RELEASED, "airlock_kill_switch_releases_total", id="released"),
    ],
)
def test_kill_switch_events_are_counted(reason: EventReason, sample: str) -> None:
    metrics = Metrics()
    metrics.count_event(reason)
    assert metrics.registry.get_sample_value(sample) == 1
    assert transitions(metrics, "passed") == transitions(metrics, "failed") == 0
