"""What the operator remembers per object is one record per key: forgetting a service or a packet drops
all of it, timers hand out each due key once, and a failure count resets on success.

The Runtime here holds a client that is never called.
"""

from __future__ import annotations

import datetime as dt

import pytest

from airlock.config import Settings
from airlock.k8s import io
from airlock.metrics import Metrics
from airlock.reconciler import UNSEEN, Runtime

KEY = ("team", "bot")
NOW = dt.datetime(2026, 12, 2, 8, 0, tzinfo=dt.UTC)


@pytest.fixture
def rt() -> Runtime:
    return Runtime(clients=io.Clients(None), settings=Settings(), metrics=Metrics())


def test_forgetting_a_service_drops_everything_remembered_of_it(rt: Runtime) -> None:
    memory = rt.service(KEY)
    lock = rt.lock(KEY)
    memory.due, memory.failures, memory.written_version, memory.generation = NOW, 3, "42", 7
    rt.forget(KEY)
    fresh = rt.service(KEY)
    assert fresh is not memory
    assert (fresh.due, fresh.failures, fresh.written_version, fresh.generation) == (None, 0, None, UNSEEN)
    assert rt.lock(KEY) is not lock


def test_forgetting_a_packet_drops_its_approvals_timer_and_failures(rt: Runtime) -> None:
    memory = rt.packet(KEY)
    memory.approvals, memory.approvals_version, memory.due, memory.failures = (
        {"owner": ("a", "d")},
        "9",
        NOW,
        2,
    )
    rt.forget_packet(KEY)
    fresh = rt.packet(KEY)
    assert (fresh.approvals, fresh.approvals_version, fresh.due, fresh.failures) == (None, None, None, 0)


@pytest.mark.parametrize(
    ("service_due", "packet_due", "expected"),
    [
        (None, None, ([], [])),
        (NOW, None, ([KEY], [])),
        (None, NOW - dt.timedelta(seconds=1), ([], [KEY])),
        (NOW + dt.timedelta(seconds=1), NOW, ([], [KEY])),
    ],
)
def test_the_timer_takes_each_due_key_once(
    rt: Runtime,
    service_due: dt.datetime | None,
    packet_due: dt.datetime | None,
    expected: tuple[list[tuple[str, str]], list[tuple[str, str]]],
) -> None:
    rt.service(KEY).due = service_due
    rt.packet(KEY).due = packet_due
    assert rt.take_due(NOW) == expected
    assert rt.take_due(NOW) == ([], [])
    assert rt.service(KEY).due == (service_due if not expected[0] else None)


@pytest.mark.parametrize("kind", ["service", "packet"])
def test_a_failure_counts_and_schedules_a_retry_and_success_resets_it(rt: Runtime, kind: str) -> None:
    memory = rt.service(KEY) if kind == "service" else rt.packet(KEY)
    rt.retry_later(kind, KEY, TimeoutError("slow"))
    _, _, count = rt.retry_later(kind, KEY, TimeoutError("slow"))
    assert count == 2 and memory.failures == 2
    assert memory.due is not None
    rt.succeeded(kind, KEY)
    assert memory.failures == 0


@pytest.mark.parametrize("kind", ["service", "packet"])
def test_a_pass_that_succeeds_after_its_object_was_forgotten_leaves_no_record(rt: Runtime, kind: str) -> None:
    rt.retry_later(kind, KEY, TimeoutError("slow"))
    (rt.forget if kind == "service" else rt.forget_packet)(KEY)
    rt.succeeded(kind, KEY)
    assert rt.remembered(kind, KEY) is None
