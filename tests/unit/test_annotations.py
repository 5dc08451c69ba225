"""Near misses among an AIService's annotations, as sentences a person can act on."""

from __future__ import annotations

import pytest

from airlock.logic.annotations import near_misses


@pytest.mark.parametrize(
    ("annotations", "expected"),
    [
        pytest.param(None, [], id="no annotations, nothing to say"),
        pytest.param(
            {"airlock.dev/kill-switch": "true", "airlock.dev/kill-switch-reason": "INC-1", "team": "x"},
            [],
            id="known keys and other prefixes are fine",
        ),
        pytest.param(
            {"airlock.dev/killswitch": "true"},
            [
                "Annotation airlock.dev/killswitch is not one Airlock knows and does nothing; "
                "did you mean airlock.dev/kill-switch?"
            ],
            id="a misspelt key suggests the canonical one",
        ),
        pytest.param(
            {"airlock.dev/kill-switch": "False"},
            [
                'airlock.dev/kill-switch is "False", which keeps the kill switch engaged: only exactly '
                '"false" releases it. Write "true" or "false".'
            ],
            id="False keeps the switch engaged and says so",
        ),
        pytest.param(
            {"airlock.dev/kill-switch": "a\nb" + "c" * 60},
            [
                'airlock.dev/kill-switch is "a b' + "c" * 37 + '…", which keeps the kill switch engaged: '
                'only exactly "false" releases it. Write "true" or "false".'
            ],
            id="quoted text is cut and kept on one line",
        ),
    ],
)
def test_near_misses(annotations: dict[str, str] | None, expected: list[str]) -> None:
    assert near_misses(annotations) == expected


def test_an_unknown_key_with_no_near_spelling_lists_the_known_keys() -> None:
    (sentence,) = near_misses({"airlock.dev/pause": "true"})
    assert sentence.endswith(
        "the keys Airlock reads are airlock.dev/kill-switch, airlock.dev/kill-switch-reason, "
        "airlock.dev/kill-switch-by, airlock.dev/kill-switch-replicas-before, "
        "airlock.dev/kill-switch-since, airlock.dev/versions."
    )
