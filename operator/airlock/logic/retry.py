"""What a failed pass means, and when to try it again.

The API layer sorts a failure into one of four kinds (k8s/io.failure_kind); this module decides, for each
kind and the number of failures in a row, how long to wait and whether the log gets the traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Failure(StrEnum):
    """The kinds of failure a pass can meet, as the airlock_reconcile_failures_total label spells them."""

    #: A lost race (409), throttling (429), the API server failing or unreachable (5xx, a timeout, a
    #: broken connection), an object deleted during the pass (404, 410): the next pass, in a moment,
    #: either works or finds the object gone.
    TRANSIENT = "Transient"
    #: The API server refused the request for what it is (another 4xx: a denial by someone's admission
    #: policy, RBAC taken away, a body it finds invalid). Retrying soon changes nothing; retrying slowly
    #: picks up the fix an administrator makes elsewhere.
    REFUSED = "Refused"
    #: The object as stored cannot be read by the models: nothing but a change to it can help, and that
    #: change triggers a pass by itself.
    INVALID = "Invalid"
    #: Anything else is a defect in the operator: logged with its traceback once and retried slowly.
    BUG = "Bug"


#: A transient failure is tried again after TRANSIENT_FIRST seconds, doubling up to TRANSIENT_MAX.
TRANSIENT_FIRST = 0.25
TRANSIENT_MAX = 30.0
#: A refusal is tried again at this pace, which an administrator's fix elsewhere needs at most to show.
REFUSED_EVERY = 60.0
#: A bug is tried again at this pace: often enough to recover once the cause goes, rarely enough not to
#: flood the log or the API server.
BUG_EVERY = 300.0


@dataclass(frozen=True)
class Retry:
    """When to try again (None: wait for a change to the object) and whether to log the traceback."""

    delay: float | None
    traceback: bool


def retry_after(failure: Failure, count: int) -> Retry:
    """The retry for the `count`-th failure in a row (1 for the first) of this kind."""
    if failure is Failure.TRANSIENT:
        # A blip does not deserve a traceback; the fifth in a row does, once.
        return Retry(min(TRANSIENT_FIRST * 2.0 ** min(count - 1, 16), TRANSIENT_MAX), traceback=count == 5)
    if failure is Failure.REFUSED:
        return Retry(REFUSED_EVERY, traceback=False)
    if failure is Failure.INVALID:
        return Retry(None, traceback=False)
    return Retry(BUG_EVERY, traceback=count == 1)
