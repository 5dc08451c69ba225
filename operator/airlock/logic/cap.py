"""The one definition of the replica cap.

The admission policy (manifests/admission/) enforces `admits(new, old, enforced_cap(...))` inside the API
server with CEL; the operator's backstop converges with the same functions. tests/cluster/test_admission.py
runs one table of cases through both, so the two cannot drift apart.
"""

from __future__ import annotations

from airlock.models.policy import RegressionAction
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

    A service the operator has not evaluated yet (no status) is capped at its pilot size: fail safe.
    """
    if killed:
        return 0
    if status_allowed is None:
        return pilot_replicas
    return status_allowed


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
