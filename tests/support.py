"""The one wait the tests use: poll a positive condition until it holds, or fail saying what was awaited;
and the operator's metrics read the way Prometheus reads them."""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Callable
from typing import TypeVar

from prometheus_client.parser import text_string_to_metric_families

Samples = dict[str, list[tuple[dict[str, str], float]]]

T = TypeVar("T")


def wait_for(
    predicate: Callable[[], T], timeout: float = 30, what: str = "condition", interval: float = 0.1
) -> T:
    """Polls until `predicate` returns a truthy value and returns it; after `timeout` seconds fails with
    `what` and the last value seen."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last value: {last!r}")


def scrape(port: int) -> Samples:
    """Every sample on the operator's /metrics, by sample name."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, []).append((sample.labels, sample.value))
    return out


def value(metrics: Samples, name: str, **labels: str) -> float:
    """The sum of the samples called `name` whose labels include `labels`."""
    return sum(v for lbl, v in metrics.get(name, []) if all(lbl.get(k) == want for k, want in labels.items()))


def sample(read: Callable[[], T], seconds: float, interval: float = 0.05) -> list[T]:
    """What `read` returns, polled for `seconds`: for a property that must hold throughout a window (a
    value that must never change), not a wait."""
    seen = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        seen.append(read())
        time.sleep(interval)
    return seen
