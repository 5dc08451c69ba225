"""The retry of a write that admission refused: admission reads the AIService from an informer, which for
a moment after a change may still see the old cap or switch. No client is imported here, so the
benchmark's bare HTTP client retries the same way as the operator."""

from __future__ import annotations

import time
from collections.abc import Callable


def retry_denials(write: Callable[[], None], denied: Callable[[Exception], bool], retry_for: float) -> None:
    """Runs `write`, again while it fails with an error `denied` recognises as an admission denial, for up
    to `retry_for` seconds; any other error, and a denial once the time is up, is raised."""
    deadline = time.monotonic() + retry_for
    # The informer usually catches up within milliseconds: retry soon, then back off.
    delay = 0.01
    while True:
        try:
            write()
            return
        except Exception as exc:
            if denied(exc) and time.monotonic() < deadline:
                time.sleep(delay)
                delay = min(delay * 2, 0.5)
                continue
            raise
