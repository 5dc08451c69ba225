"""The kill-switch annotation: engaged unless its value is exactly "false"."""

from __future__ import annotations

import datetime as dt

import pytest

from airlock.logic.killswitch import (
    WorkloadRecord,
    leftover_annotations,
    parse_kill_switch,
    release_identity,
    workload_patch,
    workload_record,
)


@pytest.mark.parametrize(
    ("annotations", "engaged"),
    [
        pytest.param(None, False, id="no annotations means not engaged"),
        pytest.param({"airlock.dev/kill-switch": "true"}, True, id="true engages"),
        pytest.param({"airlock.dev/kill-switch": "false"}, False, id="exactly false releases"),
        pytest.param(
            {"airlock.dev/kill-switch": "FALSE"}, True, id="FALSE is a typo and fails safe as engaged"
        ),
        pytest.param({"airlock.dev/kill-switch": "yes"}, True, id="yes engages"),
        pytest.param({"airlock.dev/kill-switch": ""}, True, id="an empty value engages"),
        pytest.param({"airlock.dev/kill-switch": "flase"}, True, id="a misspelt false fails safe as engaged"),
        pytest.param({"other": "x"}, False, id="unrelated annotations do not engage"),
    ],
)
def test_parse_kill_switch(annotations: dict[str, str] | None, engaged: bool) -> None:
    assert parse_kill_switch(annotations).engaged is engaged


def test_the_reason_comes_from_its_own_annotation_and_is_bounded() -> None:
    ks = parse_kill_switch({"airlock.dev/kill-switch": "true", "airlock.dev/kill-switch-reason": "x" * 5000})
    assert ks.reason is not None and len(ks.reason) == 1024


NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
ENGAGED = {"airlock.dev/kill-switch": "true"}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("4", 4, id="a whole number is taken"),
        pytest.param("0", 0, id="zero is a count"),
        pytest.param(" 3 ", 3, id="surrounding spaces are ignored"),
        pytest.param("-1", None, id="a negative count is not sensible"),
        pytest.param("four", None, id="words are not a count"),
        pytest.param("2.5", None, id="a fraction is not a count"),
        pytest.param("100001", None, id="more than the CRD's replica bound is not sensible"),
        pytest.param("٣", None, id="non-ASCII digits are refused"),
    ],
)
def test_a_recorded_replica_count_is_taken_only_when_sensible(raw: str, expected: int | None) -> None:
    annotations = {**ENGAGED, "airlock.dev/kill-switch-replicas-before": raw}
    assert parse_kill_switch(annotations, NOW).replicas_before == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("2026-11-20T11:00:00Z", dt.datetime(2026, 11, 20, 11, tzinfo=dt.UTC), id="RFC 3339 Z"),
        pytest.param(
            "2026-11-20T12:00:00+01:00", dt.datetime(2026, 11, 20, 11, tzinfo=dt.UTC), id="an offset"
        ),
        pytest.param("2026-11-20T11:00:00", None, id="no zone is ambiguous"),
        pytest.param("yesterday", None, id="not a time"),
        pytest.param("2026-11-20T13:00:00Z", None, id="an hour in the future is a wrong clock"),
        pytest.param("2026-11-20T12:04:00Z", dt.datetime(2026, 11, 20, 12, 4, tzinfo=dt.UTC), id="skew"),
    ],
)
def test_a_recorded_engagement_time_is_taken_only_when_sensible(
    raw: str, expected: dt.datetime | None
) -> None:
    annotations = {**ENGAGED, "airlock.dev/kill-switch-since": raw}
    assert parse_kill_switch(annotations, NOW).since == expected


def test_who_engaged_it_is_read_from_its_annotation() -> None:
    assert parse_kill_switch({**ENGAGED, "airlock.dev/kill-switch-by": "jane"}).by == "jane"
    assert parse_kill_switch({**ENGAGED, "airlock.dev/kill-switch-by": " "}).by is None


@pytest.mark.parametrize(
    ("annotations", "patch"),
    [
        pytest.param(
            {"airlock.dev/kill-switch-reason": "INC-1", "airlock.dev/kill-switch-by": "jane"},
            {"airlock.dev/kill-switch-reason": None, "airlock.dev/kill-switch-by": None},
            id="a released switch's reason and author are removed",
        ),
        pytest.param(
            {
                "airlock.dev/kill-switch": "false",
                "airlock.dev/kill-switch-replicas-before": "4",
                "airlock.dev/kill-switch-since": "2026-11-20T11:00:00Z",
            },
            {"airlock.dev/kill-switch-replicas-before": None, "airlock.dev/kill-switch-since": None},
            id="an explicit false stays, what went with the switch goes",
        ),
        pytest.param(
            {**ENGAGED, "airlock.dev/kill-switch-reason": "INC-1"}, {}, id="nothing goes while engaged"
        ),
        pytest.param({"airlock.dev/versions": "{}"}, {}, id="other airlock annotations stay"),
        pytest.param(None, {}, id="no annotations, nothing to remove"),
    ],
)
def test_leftover_annotations(annotations: dict[str, str] | None, patch: dict[str, None]) -> None:
    assert leftover_annotations(annotations) == patch


@pytest.mark.parametrize(
    ("annotations", "engaged_by", "released_by"),
    [
        pytest.param(
            {"airlock.dev/kill-switch": "false", "airlock.dev/kill-switch-by": "lead@example.com"},
            "oncall@example.com",
            "lead@example.com",
            id="a release that set its own name is released by that name",
        ),
        pytest.param(
            {"airlock.dev/kill-switch-by": "oncall@example.com"},
            "oncall@example.com",
            None,
            id="removing the switch and leaving the engager's name names nobody",
        ),
        pytest.param(
            {"airlock.dev/kill-switch": "false", "airlock.dev/kill-switch-by": "oncall@example.com"},
            "oncall@example.com",
            None,
            id="an unchanged name is not verified by admission, so it names nobody",
        ),
        pytest.param({}, "oncall@example.com", None, id="a plain removal of every annotation names nobody"),
        pytest.param(
            {"airlock.dev/kill-switch": "false", "airlock.dev/kill-switch-by": "lead@example.com"},
            None,
            "lead@example.com",
            id="a name set by the release counts when nobody was named at the engagement",
        ),
        pytest.param(
            {"airlock.dev/kill-switch": "true", "airlock.dev/kill-switch-by": "lead@example.com"},
            "oncall@example.com",
            None,
            id="a switch still engaged was not released by anyone",
        ),
    ],
)
def test_release_identity(
    annotations: dict[str, str], engaged_by: str | None, released_by: str | None
) -> None:
    assert release_identity(annotations, engaged_by) == released_by


SINCE = dt.datetime(2026, 11, 20, 11, 30, tzinfo=dt.UTC)
BEFORE_KEY, SINCE_KEY = "airlock.dev/kill-switch-replicas-before", "airlock.dev/kill-switch-since"


@pytest.mark.parametrize(
    ("annotations", "record"),
    [
        pytest.param(None, None, id="a workload without annotations carries no record"),
        pytest.param(
            {BEFORE_KEY: "3", SINCE_KEY: "2026-11-20T11:30:00Z"}, WorkloadRecord(3, SINCE), id="both"
        ),
        pytest.param({BEFORE_KEY: "0"}, WorkloadRecord(0, None), id="zero is a record, the time optional"),
        pytest.param({BEFORE_KEY: "many", SINCE_KEY: "x"}, None, id="a count that is not one is no record"),
        pytest.param(
            {BEFORE_KEY: "3", SINCE_KEY: "noon"}, WorkloadRecord(3, None), id="a bad time is dropped"
        ),
    ],
)
def test_workload_record(annotations: dict[str, str] | None, record: WorkloadRecord | None) -> None:
    assert workload_record(annotations) == record


@pytest.mark.parametrize(
    ("replicas", "record", "patch"),
    [
        pytest.param(
            0,
            WorkloadRecord(3, SINCE),
            {
                "metadata": {"annotations": {BEFORE_KEY: "3", SINCE_KEY: "2026-11-20T11:30:00Z"}},
                "spec": {"replicas": 0},
            },
            id="engaging scales to zero and records the replicas in the same patch",
        ),
        pytest.param(
            4,
            None,
            {"metadata": {"annotations": {BEFORE_KEY: None, SINCE_KEY: None}}, "spec": {"replicas": 4}},
            id="restoring brings the replicas back and removes the record in the same patch",
        ),
        pytest.param(
            0,
            WorkloadRecord(1, SINCE.replace(microsecond=250)),
            {
                "metadata": {"annotations": {BEFORE_KEY: "1", SINCE_KEY: "2026-11-20T11:30:00.000250Z"}},
                "spec": {"replicas": 0},
            },
            id="the time is kept to the microsecond, since two kills can share a second",
        ),
        pytest.param(
            None,
            None,
            {"metadata": {"annotations": {BEFORE_KEY: None, SINCE_KEY: None}}},
            id="a restore with nothing to grow only removes the record",
        ),
    ],
)
def test_workload_patch(
    replicas: int | None, record: WorkloadRecord | None, patch: dict[str, object]
) -> None:
    assert workload_patch(replicas, record) == patch
    # What the patch records reads back as the same record.
    annotations = patch["metadata"]["annotations"]  # type: ignore[index]
    written = {k: v for k, v in annotations.items() if v is not None}
    assert workload_record(written) == record
