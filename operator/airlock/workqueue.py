"""The queue of AIServices to reconcile: kill switches first, and namespaces in turn.

Every trigger (a watch event, a packet or Deployment change, a timer, a resync) puts the service's key
here; a fixed set of worker threads takes keys out and runs one pass each. Two lanes: a kill-switch
transition waiting to be carried out goes in the urgent lane, which is always served first; anything else
in the ordinary lane. Within a lane, namespaces take turns one key at a time, so a namespace with
thousands of services queued delays another namespace's next service by at most one pass per worker.

A key is queued at most once (the pass reads the newest body, so a second trigger adds nothing) and never
run by two workers at once: a key pushed while it runs is queued again when its pass is done.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field

Key = tuple[str, str]  # (namespace, name)


@dataclass
class _Lane:
    """Keys of one priority, in namespace turns: the namespaces with keys waiting, in the order served."""

    turns: deque[str] = field(default_factory=deque)
    waiting: dict[str, deque[tuple[Key, int]]] = field(default_factory=dict)

    def add(self, key: Key, ticket: int) -> None:
        namespace = key[0]
        if namespace not in self.waiting:
            self.waiting[namespace] = deque()
            self.turns.append(namespace)
        self.waiting[namespace].append((key, ticket))

    def take(self, valid: dict[Key, tuple[bool, int, float]], urgent: bool) -> Key | None:
        """The next key whose ticket is still current (a key moved to the urgent lane leaves a stale one)."""
        while self.turns:
            namespace = self.turns.popleft()
            keys = self.waiting[namespace]
            found = None
            while keys and found is None:
                key, ticket = keys.popleft()
                entry = valid.get(key)
                if entry is not None and entry[0] is urgent and entry[1] == ticket:
                    found = key
            if keys:
                self.turns.append(namespace)
            else:
                del self.waiting[namespace]
            if found is not None:
                return found
        return None


class WorkQueue:
    """A thread-safe, deduplicating queue with an urgent lane and namespace turns."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._urgent = _Lane()
        self._ordinary = _Lane()
        # key -> (urgent, ticket, when first queued)
        self._queued: dict[Key, tuple[bool, int, float]] = {}
        self._running: set[Key] = set()
        # Pushed while running: queued again when done, urgent if any of those pushes was.
        self._again: dict[Key, tuple[bool, float]] = {}
        self._tickets = 0
        self._closed = False

    def push(self, key: Key, urgent: bool = False) -> None:
        """Queues a pass over `key`; a key already queued keeps its place unless it becomes urgent."""
        with self._cond:
            if self._closed:
                return
            if key in self._running:
                was, since = self._again.get(key, (False, time.perf_counter()))
                self._again[key] = (was or urgent, since)
                return
            self._enqueue(key, urgent, time.perf_counter())

    def _enqueue(self, key: Key, urgent: bool, since: float) -> None:
        current = self._queued.get(key)
        if current is not None and (current[0] or not urgent):
            return
        if current is not None:
            since = current[2]
        self._tickets += 1
        self._queued[key] = (urgent, self._tickets, since)
        (self._urgent if urgent else self._ordinary).add(key, self._tickets)
        # Every waiter: a worker that takes urgent keys only must not swallow the wake-up of one that
        # would take this key.
        self._cond.notify_all()

    def pop(self, timeout: float | None = None, urgent_only: bool = False) -> tuple[Key, float] | None:
        """The next key to run and when it was first queued (perf_counter); None once closed, or when
        nothing came within `timeout`. With `urgent_only`, only keys of the urgent lane. The caller must
        call done(key) when the pass is over."""
        with self._cond:
            deadline = None if timeout is None else time.monotonic() + timeout
            while True:
                if self._closed:
                    return None
                key = self._urgent.take(self._queued, True)
                if key is None and not urgent_only:
                    key = self._ordinary.take(self._queued, False)
                if key is not None:
                    since = self._queued.pop(key)[2]
                    self._running.add(key)
                    return key, since
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return None
                self._cond.wait(remaining)

    def done(self, key: Key) -> None:
        with self._cond:
            self._running.discard(key)
            again = self._again.pop(key, None)
            if again is not None and not self._closed:
                self._enqueue(key, again[0], again[1])

    def depth(self) -> tuple[int, int]:
        """How many keys wait: (urgent, ordinary)."""
        with self._cond:
            urgent = sum(1 for entry in self._queued.values() if entry[0])
            return urgent, len(self._queued) - urgent

    def close(self) -> None:
        """Wakes every worker with None; later pushes are ignored."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
