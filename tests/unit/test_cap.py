"""The one definition of the replica cap, as tables."""

from __future__ import annotations

from pathlib import Path

import pytest

from airlock.logic.cap import (
    Claim,
    admits,
    allowed_replicas,
    backstop_target,
    effective_bounds,
    enforced_cap,
    strictest_claim,
)
from airlock.models.policy import BUILTIN_PILOT_REPLICAS_LIMIT, Limits, RegressionAction

HOLD, DOWN = RegressionAction.HOLD, RegressionAction.SCALE_DOWN


@pytest.mark.parametrize(
    ("kw", "expected"),
    [
        pytest.param(
            dict(gates_passed=False, promoted=False, held_replicas=None, killed=False),
            1,
            id="a pilot whose gates fail is capped at its pilot size",
        ),
        pytest.param(
            dict(gates_passed=True, promoted=True, held_replicas=None, killed=False),
            -1,
            id="a service whose gates pass has no cap without maxReplicas",
        ),
        pytest.param(
            dict(gates_passed=True, promoted=True, held_replicas=None, killed=False, max_replicas=20),
            20,
            id="a service whose gates pass is capped at maxReplicas",
        ),
        pytest.param(
            dict(gates_passed=True, promoted=True, held_replicas=None, killed=True),
            0,
            id="a killed service is capped at zero even when its gates pass",
        ),
        pytest.param(
            dict(gates_passed=False, promoted=True, held_replicas=6, killed=False),
            6,
            id="a promoted service whose gates regress keeps what it had under Hold",
        ),
        pytest.param(
            dict(gates_passed=False, promoted=True, held_replicas=6, killed=False, on_regression=DOWN),
            1,
            id="a promoted service whose gates regress returns to its pilot under ScaleDown",
        ),
        pytest.param(
            dict(gates_passed=False, promoted=True, held_replicas=0, killed=False),
            1,
            id="a held service is never capped below its pilot size",
        ),
        pytest.param(
            dict(gates_passed=False, promoted=False, held_replicas=None, killed=False, pilot_replicas=0),
            0,
            id="a pilot of zero replicas is allowed",
        ),
    ],
)
def test_allowed_replicas(kw: dict[str, object], expected: int) -> None:
    args: dict[str, object] = {"pilot_replicas": 1, "max_replicas": None, "on_regression": HOLD, **kw}
    assert allowed_replicas(**args) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("killed", "status_allowed", "pilot", "expected"),
    [
        pytest.param(True, -1, 1, 0, id="the kill switch caps at zero whatever the status says"),
        pytest.param(False, None, 2, 2, id="a service without status yet caps at its pilot size"),
        pytest.param(False, 5, 1, 5, id="otherwise the status the operator computed is the cap"),
        pytest.param(False, -1, 1, -1, id="no cap stays no cap"),
    ],
)
def test_enforced_cap(killed: bool, status_allowed: int | None, pilot: int, expected: int) -> None:
    assert enforced_cap(killed=killed, status_allowed=status_allowed, pilot_replicas=pilot) == expected


@pytest.mark.parametrize(
    ("new", "old", "cap", "expected"),
    [
        pytest.param(3, 1, 1, False, id="a scale-up above the cap is denied"),
        pytest.param(1, 3, 1, True, id="a scale-down to the cap is admitted"),
        pytest.param(2, 3, 1, True, id="a decrease is admitted even above the cap"),
        pytest.param(3, 3, 1, True, id="an unchanged count above the cap is admitted (a label edit)"),
        pytest.param(3, None, 1, False, id="a create above the cap is denied"),
        pytest.param(1, None, 1, True, id="a create at the cap is admitted"),
        pytest.param(50, 1, -1, True, id="anything is admitted without a cap"),
        pytest.param(1, 0, 0, False, id="a killed service cannot go from zero to one"),
        pytest.param(0, 4, 0, True, id="scaling to zero is always admitted"),
    ],
)
def test_admits(new: int, old: int | None, cap: int, expected: bool) -> None:
    assert admits(new, old, cap) is expected


@pytest.mark.parametrize(
    ("current", "cap", "expected"),
    [
        pytest.param(5, 1, 1, id="above the cap comes down to the cap"),
        pytest.param(1, 1, None, id="at the cap nothing is written"),
        pytest.param(0, 1, None, id="below the cap nothing is written"),
        pytest.param(9, -1, None, id="without a cap nothing is written"),
    ],
)
def test_backstop_target(current: int, cap: int, expected: int | None) -> None:
    assert backstop_target(current, cap) == expected


@pytest.mark.parametrize(
    ("pilot", "ceiling", "limits", "expected"),
    [
        pytest.param(1, 20, Limits(), (1, 20), id="within the limits the service's own numbers apply"),
        pytest.param(50, None, Limits(), (3, None), id="a pilot above the built-in limit is cut to it"),
        pytest.param(2, 40, Limits(pilot_replicas=1, max_replicas=10), (1, 10), id="policy limits cut both"),
        pytest.param(
            2, None, Limits(max_replicas=10), (2, 10), id="no ceiling of its own takes the policy's"
        ),
        pytest.param(5, 2, Limits(pilot_replicas=5), (2, 2), id="the pilot never exceeds the ceiling"),
    ],
)
def test_effective_bounds(
    pilot: int, ceiling: int | None, limits: Limits, expected: tuple[int, int | None]
) -> None:
    assert effective_bounds(pilot_replicas=pilot, max_replicas=ceiling, limits=limits) == expected


def test_a_service_without_status_is_capped_at_the_built_in_pilot_limit_whatever_its_spec_says() -> None:
    assert enforced_cap(killed=False, status_allowed=None, pilot_replicas=100) == BUILTIN_PILOT_REPLICAS_LIMIT


@pytest.mark.parametrize(
    ("claims", "expected"),
    [
        pytest.param([], None, id="no claim, no choice"),
        pytest.param(
            [Claim("a", False, 3), Claim("b", False, 1)], "b", id="the lowest cap wins over the name"
        ),
        pytest.param([Claim("a", False, 0), Claim("b", True, 5)], "b", id="a killed claimant always wins"),
        pytest.param([Claim("a", False, -1), Claim("b", False, 20)], "b", id="no cap is the loosest"),
        pytest.param([Claim("b", False, 1), Claim("a", False, 1)], "a", id="a tie goes to the lowest name"),
    ],
)
def test_strictest_claim(claims: list[Claim], expected: str | None) -> None:
    chosen = strictest_claim(claims)
    assert (chosen.name if chosen else None) == expected


def test_the_admission_policies_use_the_built_in_pilot_limit_of_the_models() -> None:
    root = Path(__file__).resolve().parents[2] / "manifests" / "admission"
    limit = BUILTIN_PILOT_REPLICAS_LIMIT
    assert f"params.spec.pilotReplicas > {limit} ? {limit} :" in (root / "replica-cap.yaml").read_text()
    assert f"params.spec.limits.pilotReplicas : {limit}" in (root / "service-governance.yaml").read_text()
