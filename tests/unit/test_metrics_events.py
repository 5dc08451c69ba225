"""The gate-transition metric counts every gate that changed, one Event for many included."""

from __future__ import annotations

import pytest

from airlock.logic.reconcile import Event
from airlock.metrics import Metrics


def transitions(metrics: Metrics, direction: str) -> float:
    value = metrics.registry.get_sample_value("airlock_gate_transitions_total", {"result": direction})
    return value or 0.0


@pytest.mark.parametrize(
    ("event", "direction", "expected"),
    [
        pytest.param(Event("Normal", "GatePassed", "Gate evals passes"), "passed", 1, id="one gate passes"),
        pytest.param(
            Event("Warning", "GatesFailed", "Gates a, b, c fail: ...", count=11),
            "failed",
            11,
            id="a version bump failing eleven gates in one Event counts eleven",
        ),
        pytest.param(Event("Normal", "GatesPassed", "Gates a, b pass", count=2), "passed", 2, id="two pass"),
    ],
)
def test_every_gate_transition_is_counted(event: Event, direction: str, expected: int) -> None:
    metrics = Metrics()
    metrics.count_event(event.reason, event.count)
    assert transitions(metrics, direction) == expected
