"""Failures carry their retry meaning: the kind of a failure decides how soon a pass is tried again."""

from __future__ import annotations

import pydantic
import pytest
import urllib3
from kubernetes.client.exceptions import ApiException

from airlock.k8s.io import ConflictError, failure_kind
from airlock.logic.retry import BUG_EVERY, REFUSED_EVERY, TRANSIENT_MAX, Failure, Retry, retry_after
from airlock.models.service import AIServiceSpec


def _validation_error() -> pydantic.ValidationError:
    try:
        AIServiceSpec.model_validate({"workload": {}})
    except pydantic.ValidationError as exc:
        return exc
    raise AssertionError("the model accepted an AIService without a workload name")


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (ConflictError("changed"), Failure.TRANSIENT),
        (ApiException(status=409), Failure.TRANSIENT),
        (ApiException(status=429), Failure.TRANSIENT),
        (ApiException(status=500), Failure.TRANSIENT),
        (ApiException(status=503), Failure.TRANSIENT),
        (ApiException(status=0, reason="no status"), Failure.TRANSIENT),
        (ApiException(status=404), Failure.TRANSIENT),  # deleted during the pass
        (ApiException(status=410), Failure.TRANSIENT),
        (urllib3.exceptions.ReadTimeoutError(None, "/", "read timed out"), Failure.TRANSIENT),
        (urllib3.exceptions.ProtocolError("connection aborted"), Failure.TRANSIENT),
        (TimeoutError(), Failure.TRANSIENT),
        (ConnectionResetError(), Failure.TRANSIENT),
        (ApiException(status=403), Failure.REFUSED),
        (ApiException(status=422), Failure.REFUSED),
        (ApiException(status=400), Failure.REFUSED),
        (_validation_error(), Failure.INVALID),
        (KeyError("spec"), Failure.BUG),
        (TypeError("unsupported operand"), Failure.BUG),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else str(v),
)
def test_each_failure_is_sorted_by_what_it_means(exc: BaseException, kind: Failure) -> None:
    assert failure_kind(exc) is kind


@pytest.mark.parametrize(
    ("failure", "count", "retry"),
    [
        (Failure.TRANSIENT, 1, Retry(0.25, traceback=False)),
        (Failure.TRANSIENT, 2, Retry(0.5, traceback=False)),
        (Failure.TRANSIENT, 4, Retry(2.0, traceback=False)),
        (Failure.TRANSIENT, 5, Retry(4.0, traceback=True)),  # the fifth in a row, once
        (Failure.TRANSIENT, 6, Retry(8.0, traceback=False)),
        (Failure.TRANSIENT, 40, Retry(TRANSIENT_MAX, traceback=False)),
        (Failure.REFUSED, 1, Retry(REFUSED_EVERY, traceback=False)),
        (Failure.REFUSED, 9, Retry(REFUSED_EVERY, traceback=False)),
        (Failure.INVALID, 1, Retry(None, traceback=False)),  # only a change can mend it
        (Failure.INVALID, 3, Retry(None, traceback=False)),
        (Failure.BUG, 1, Retry(BUG_EVERY, traceback=True)),  # the traceback once
        (Failure.BUG, 2, Retry(BUG_EVERY, traceback=False)),
    ],
)
def test_the_retry_follows_the_kind_and_the_count(failure: Failure, count: int, retry: Retry) -> None:
    assert retry_after(failure, count) == retry


def test_a_lost_race_is_retried_far_sooner_than_a_refusal_or_a_bug() -> None:
    worst_transient = max(retry_after(Failure.TRANSIENT, n).delay or 0 for n in range(1, 50))
    assert worst_transient < REFUSED_EVERY < BUG_EVERY
