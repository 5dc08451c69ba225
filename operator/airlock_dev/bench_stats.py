"""Pure helpers of the benchmark: percentiles, summaries, ratios and trends. No I/O, no cluster."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation between closest ranks (numpy's default).

    Raises ValueError on an empty sequence or a q outside 0..100, since a made-up number is worse than none.
    """
    if not values:
        raise ValueError("percentile of no values: the measurement produced no samples")
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"percentile {q} is outside 0..100")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100.0
    low = math.floor(position)
    high = math.ceil(position)
    if low == high:
        return float(ordered[low])
    return float(ordered[low] + (ordered[high] - ordered[low]) * (position - low))


@dataclass(frozen=True)
class Summary:
    """The distribution of one latency measurement, in the unit of its samples."""

    n: int
    p50: float
    p90: float
    p99: float
    max: float
    mean: float

    def scaled(self, factor: float) -> Summary:
        """The same summary in another unit (for example seconds times 1000 for milliseconds)."""
        return Summary(
            self.n,
            self.p50 * factor,
            self.p90 * factor,
            self.p99 * factor,
            self.max * factor,
            self.mean * factor,
        )


def summarize(values: Sequence[float]) -> Summary:
    """p50, p90, p99, max and mean of a non-empty sample."""
    return Summary(
        n=len(values),
        p50=percentile(values, 50),
        p90=percentile(values, 90),
        p99=percentile(values, 99),
        max=float(max(values)),
        mean=float(sum(values) / len(values)),
    )


def ratio(numerator: float, denominator: float) -> float | None:
    """numerator / denominator, or None when the denominator is zero (a ratio to nothing is undefined)."""
    if denominator == 0:
        return None
    return numerator / denominator


def slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    """The least-squares slope of ys over xs (units of y per unit of x); 0.0 when xs do not vary."""
    if len(xs) != len(ys):
        raise ValueError(f"slope needs as many x as y values, got {len(xs)} and {len(ys)}")
    if len(xs) < 2:
        raise ValueError("slope needs at least two samples")
    mean_x = sum(xs) / len(xs)
    mean_y = sum(ys) / len(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    if spread == 0:
        return 0.0
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread


def halves_growth(values: Sequence[float]) -> float:
    """Mean of the second half minus mean of the first half: a trend measure that ignores one-off spikes
    less than the slope does, and so is reported next to it."""
    if len(values) < 2:
        raise ValueError("a trend needs at least two samples")
    middle = len(values) // 2
    first, second = values[:middle], values[len(values) - middle :]
    return sum(second) / len(second) - sum(first) / len(first)


def fmt(value: float | None, digits: int = 1) -> str:
    """A number for a Markdown table; an undefined value prints as an em dash."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:.{digits}f}"
