"""The kill-switch annotation: engaged unless its value is exactly "false"."""

from __future__ import annotations

import pytest

from airlock.logic.killswitch import parse_kill_switch


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
