"""The operator's settings, from the environment as a Pod gets them."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from airlock.config import Settings


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("support,payments", ["support", "payments"], id="a comma-separated list"),
        pytest.param(
            '["support", "payments"]', ["support", "payments"], id="a JSON list as the chart sets it"
        ),
        pytest.param("", [], id="empty watches the whole cluster"),
    ],
)
def test_namespaces_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, raw: str, expected: list[str]
) -> None:
    monkeypatch.setenv("AIRLOCK_NAMESPACES", raw)
    assert Settings().namespaces == expected


def test_a_bad_setting_is_refused_with_its_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRLOCK_METRICS_PORT", "70000")
    with pytest.raises(ValidationError, match="metrics_port"):
        Settings()
