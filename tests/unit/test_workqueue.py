"""The reconcile queue: kill switches first, namespaces in turn, each key once and never run twice at once."""

from __future__ import annotations

import threading

import pytest

from airlock.logic.killswitch import transition_pending
from airlock.workqueue import Key, WorkQueue


def drain(queue: WorkQueue) -> list[Key]:
    order = []
    while (item := queue.pop(timeout=0)) is not None:
        order.append(item[0])
        queue.done(item[0])
    return order


def test_an_engaged_kill_switch_is_served_before_ordinary_work_queued_earlier() -> None:
    queue = WorkQueue()
    for i in range(100):
        queue.push(("b", f"s{i}"))
    queue.push(("a", "killed"), urgent=True)
    assert drain(queue)[0] == ("a", "killed")


def test_namespaces_take_turns_so_a_backlog_does_not_starve_another_namespace() -> None:
    queue = WorkQueue()
    for i in range(1000):
        queue.push(("b", f"s{i}"))
    for i in range(3):
        queue.push(("c", f"s{i}"))
    order = drain(queue)
    assert [order.index(("c", f"s{i}")) for i in range(3)] == [1, 3, 5]
    assert len(order) == 1003


def test_urgent_work_also_takes_turns_between_namespaces() -> None:
    queue = WorkQueue()
    for i in range(50):
        queue.push(("b", f"k{i}"), urgent=True)
    queue.push(("a", "k"), urgent=True)
    assert drain(queue).index(("a", "k")) == 1


def test_a_key_is_queued_once_and_keeps_its_place_unless_it_becomes_urgent() -> None:
    queue = WorkQueue()
    queue.push(("b", "x"))
    queue.push(("b", "y"))
    queue.push(("b", "x"))
    assert queue.depth() == (0, 2)
    queue.push(("b", "y"), urgent=True)
    assert queue.depth() == (1, 1)
    assert drain(queue) == [("b", "y"), ("b", "x")]


def test_a_key_pushed_while_it_runs_runs_again_after_and_never_twice_at_once() -> None:
    queue = WorkQueue()
    queue.push(("a", "x"))
    first = queue.pop(timeout=0)
    assert first is not None
    queue.push(("a", "x"), urgent=True)
    assert queue.pop(timeout=0) is None, "a running key was handed to a second worker"
    queue.done(("a", "x"))
    assert queue.depth() == (1, 0)
    assert drain(queue) == [("a", "x")]


def test_a_worker_for_kill_switches_takes_nothing_else() -> None:
    queue = WorkQueue()
    queue.push(("b", "ordinary"))
    assert queue.pop(timeout=0, urgent_only=True) is None
    queue.push(("a", "killed"), urgent=True)
    item = queue.pop(timeout=0, urgent_only=True)
    assert item is not None and item[0] == ("a", "killed")


def test_an_ordinary_key_wakes_a_general_worker_while_a_kill_switch_worker_waits() -> None:
    queue = WorkQueue()
    got: list[object] = []
    kill_worker = threading.Thread(target=lambda: got.append(queue.pop(timeout=5, urgent_only=True)))
    general = threading.Thread(target=lambda: got.append(queue.pop(timeout=5)))
    kill_worker.start()
    general.start()
    queue.push(("b", "ordinary"))
    general.join(timeout=10)
    assert got and got[0] is not None and got[0][0] == ("b", "ordinary")  # type: ignore[index]
    queue.close()
    kill_worker.join(timeout=10)


def test_closing_wakes_a_waiting_worker() -> None:
    queue = WorkQueue()
    got: list[object] = []
    worker = threading.Thread(target=lambda: got.append(queue.pop()))
    worker.start()
    queue.close()
    worker.join(timeout=10)
    assert got == [None]


@pytest.mark.parametrize(
    ("annotations", "status", "pending"),
    [
        pytest.param({"airlock.dev/kill-switch": "true"}, None, True, id="engaged and never recorded"),
        pytest.param(
            {"airlock.dev/kill-switch": "true"}, {"killSwitch": {"engaged": False}}, True, id="engaged now"
        ),
        pytest.param(
            {"airlock.dev/kill-switch": "true"}, {"killSwitch": {"engaged": True}}, False, id="carried out"
        ),
        pytest.param({}, {"killSwitch": {"engaged": True}}, True, id="released, not yet restored"),
        pytest.param({}, {"killSwitch": {"engaged": False}}, False, id="released and restored"),
        pytest.param(None, None, False, id="a new service without a switch is ordinary work"),
    ],
)
def test_transition_pending(
    annotations: dict[str, str] | None, status: dict[str, object] | None, pending: bool
) -> None:
    assert transition_pending(annotations, status) is pending
