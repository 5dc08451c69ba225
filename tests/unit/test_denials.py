"""The retry of a write admission refused: retried while denied, within its time; anything else at once."""

from __future__ import annotations

import time

import pytest

from airlock.k8s.denials import retry_denials


class DeniedError(Exception):
    pass


def _write(failures: list[Exception], calls: list[float]) -> None:
    calls.append(time.monotonic())
    if failures:
        raise failures.pop(0)


def test_a_denied_write_is_retried_until_it_lands() -> None:
    failures: list[Exception] = [DeniedError(), DeniedError()]
    calls: list[float] = []
    retry_denials(lambda: _write(failures, calls), lambda e: isinstance(e, DeniedError), 5)
    assert len(calls) == 3 and not failures


def test_another_error_is_raised_at_once() -> None:
    failures: list[Exception] = [ValueError("boom"), DeniedError()]
    calls: list[float] = []
    with pytest.raises(ValueError, match="boom"):
        retry_denials(lambda: _write(failures, calls), lambda e: isinstance(e, DeniedError), 5)
    assert len(calls) == 1


def test_a_denial_that_lasts_is_raised_once_the_time_is_up() -> None:
    calls: list[float] = []

    def always_denied() -> None:
        calls.append(time.monotonic())
        raise DeniedError()

    started = time.monotonic()
    with pytest.raises(DeniedError):
        retry_denials(always_denied, lambda e: isinstance(e, DeniedError), 0.2)
    assert 0.2 <= time.monotonic() - started < 3
    assert len(calls) >= 2
