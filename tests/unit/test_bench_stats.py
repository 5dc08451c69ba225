"""The benchmark's arithmetic: percentiles, summaries, ratios and memory trends."""

from __future__ import annotations

import pytest

from airlock_dev.bench_stats import fmt, halves_growth, percentile, ratio, slope, summarize


def test_percentile_interpolates_linearly_between_closest_ranks() -> None:
    values = [10.0, 20.0, 30.0, 40.0]
    assert percentile(values, 0) == 10.0
    assert percentile(values, 100) == 40.0
    assert percentile(values, 50) == pytest.approx(25.0)
    assert percentile(values, 90) == pytest.approx(37.0)


def test_percentile_does_not_depend_on_the_order_of_the_samples() -> None:
    assert percentile([5.0, 1.0, 4.0, 2.0, 3.0], 50) == 3.0


def test_p99_of_a_hundred_samples_sits_just_below_the_largest() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 99) == pytest.approx(99.01)


def test_percentile_of_one_sample_is_that_sample() -> None:
    assert percentile([7.5], 99) == 7.5


def test_percentile_refuses_an_empty_sample_rather_than_inventing_a_number() -> None:
    with pytest.raises(ValueError, match="no samples"):
        percentile([], 50)


@pytest.mark.parametrize("q", [-1.0, 100.5])
def test_percentile_refuses_a_rank_outside_0_to_100(q: float) -> None:
    with pytest.raises(ValueError, match="outside"):
        percentile([1.0, 2.0], q)


def test_summary_reports_count_percentiles_max_and_mean() -> None:
    s = summarize([1.0, 2.0, 3.0, 4.0, 100.0])
    assert (s.n, s.p50, s.max, s.mean) == (5, 3.0, 100.0, 22.0)
    assert s.p90 == pytest.approx(61.6)
    assert s.p99 > s.p90


def test_a_summary_converts_units_without_changing_the_count() -> None:
    s = summarize([0.001, 0.002]).scaled(1000)
    assert s.n == 2
    assert s.p50 == pytest.approx(1.5)
    assert s.max == pytest.approx(2.0)


def test_ratio_divides_and_is_undefined_against_zero() -> None:
    assert ratio(30.0, 10.0) == 3.0
    assert ratio(1.0, 0.0) is None


def test_slope_of_a_steadily_growing_series_is_its_rate() -> None:
    xs = [0.0, 10.0, 20.0, 30.0]
    assert slope(xs, [100.0, 101.0, 102.0, 103.0]) == pytest.approx(0.1)


def test_slope_of_a_flat_series_with_noise_is_near_zero() -> None:
    xs = [float(x) for x in range(10)]
    ys = [100.0 + (0.5 if x % 2 else -0.5) for x in range(10)]
    assert abs(slope(xs, ys)) < 0.1


def test_slope_needs_matching_and_at_least_two_samples() -> None:
    with pytest.raises(ValueError, match="as many"):
        slope([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="two"):
        slope([1.0], [1.0])


def test_slope_over_a_single_instant_is_zero() -> None:
    assert slope([5.0, 5.0], [1.0, 9.0]) == 0.0


def test_halves_growth_compares_the_second_half_with_the_first() -> None:
    assert halves_growth([100.0, 100.0, 104.0, 104.0]) == pytest.approx(4.0)
    # An odd count leaves the middle sample out of both halves.
    assert halves_growth([100.0, 500.0, 100.0]) == 0.0


def test_fmt_prints_undefined_values_as_a_dash() -> None:
    assert fmt(None) == "—"
    assert fmt(float("nan")) == "—"
    assert fmt(2.345, 2) == "2.35"
