"""The one definition of the replica cap.

The admission policy (manifests/admission/) enforces `admits(new, old, enforced_cap(...))` inside the API
server with CEL; the operator's backstop converges with the same functions. tests/cluster/test_admission.py
runs one table of cases through both, so the two cannot drift apart.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from airlock.models.policy import BUILTIN_PILOT_REPLICAS_LIMIT, Limits, RegressionAction
from airlock.models.service import NO_CAP


def allowed_replicas(
    *,
    pilot_replicas: int,
    max_replicas: int | None,
    gates_passed: bool,
    promoted: bool,
    held_replicas: int | None,
    killed: bool,
    on_regression: RegressionAction,
) -> int:
    """The most replicas the Deployment may have now; NO_CAP (-1) when nothing caps it.

    Killed caps at 0. Passing gates lift the cap to maxReplicas (or none). A promoted service whose gates
    regressed keeps what it had (held) under the Hold policy and cannot grow; otherwise the pilot size.
    """
    if killed:
        return 0
    if gates_passed:
        return NO_CAP if max_replicas is None else max_replicas
    if promoted and on_regression is RegressionAction.HOLD and held_replicas is not None:
        return max(pilot_replicas, held_replicas)
    return pilot_replicas


def enforced_cap(*, killed: bool, status_allowed: int | None, pilot_replicas: int) -> int:
    """The cap admission enforces: 0 when killed, else status.allowedReplicas, else the pilot size.

    A service the operator has not evaluated yet (no status) is capped at its pilot size, never above the
    built-in pilot limit: fail safe, whatever the service team wrote in its own spec.
    """
    if killed:
        return 0
    if status_allowed is None:
        return min(pilot_replicas, BUILTIN_PILOT_REPLICAS_LIMIT)
    return status_allowed


def effective_bounds(
    *, pilot_replicas: int, max_replicas: int | None, limits: Limits
) -> tuple[int, int | None]:
    """The pilot size and ceiling the operator applies: the AIService's own, never above the
    ReadinessPolicy's limits (which a service team cannot change)."""
    pilot = min(pilot_replicas, limits.pilot_replicas)
    ceilings = [m for m in (max_replicas, limits.max_replicas) if m is not None]
    ceiling = min(ceilings) if ceilings else None
    if ceiling is not None:
        pilot = min(pilot, ceiling)
    return pilot, ceiling


@dataclass(frozen=True)
class Claim:
    """One AIService naming a workload, as the strictest-claimant rule sees it."""

    name: str
    killed: bool
    cap: int  # the cap admission enforces for it; NO_CAP for none


def strictest_claim(claims: Sequence[Claim]) -> Claim | None:
    """Of several AIServices naming one workload, the one the operator acts on: a killed one always wins,
    then the lowest cap, then the lowest name (so every pass and every replica chooses the same)."""
    if not claims:
        return None
    return min(claims, key=lambda c: (not c.killed, math.inf if c.cap == NO_CAP else c.cap, c.name))


def admits(new: int, old: int | None, cap: int) -> bool:
    """Whether a write that sets replicas from `old` (None on create) to `new` is admitted under `cap`."""
    if cap == NO_CAP or new <= cap:
        return True
    return old is not None and new <= old


def backstop_target(current: int, cap: int) -> int | None:
    """The replicas to scale to when `current` got past admission above `cap`; None when compliant."""
    if cap == NO_CAP or current <= cap:
        return None
    return cap
