"""Near misses among an AIService's annotations: a key under airlock.dev/ that Airlock does not know (a
typo such as airlock.dev/killswitch, which does nothing), or a kill-switch value other than the two
canonical ones (airlock.dev/kill-switch: "False", which keeps the switch engaged).

The admission policy manifests/admission/annotation-warnings.yaml warns about the same near misses as
the request is made; the operator reports them in the AnnotationsRecognized condition. Both use
KNOWN_ANNOTATIONS, and the same normalisation to suggest a spelling.
"""

from __future__ import annotations

from collections.abc import Mapping

from airlock.logic.killswitch import ENGAGED_VALUE, RELEASED_VALUE
from airlock.models.base import GROUP
from airlock.models.service import KILL_SWITCH_ANNOTATION, KNOWN_ANNOTATIONS

# The annotations Airlock reads on an AIService live under its API group.
PREFIX = f"{GROUP}/"
# User text quoted in a message is cut to this many characters and kept on one line.
QUOTE = 40


def _normalised(key: str) -> str:
    return key.removeprefix(PREFIX).lower().replace("-", "").replace("_", "").replace(".", "")


def quote(text: str, limit: int = QUOTE) -> str:
    """User text fit for a one-line message: newlines and tabs become spaces, at most `limit` characters."""
    flat = text.replace("\r", " ").replace("\n", " ").replace("\t", " ")
    return flat if len(flat) <= limit else flat[:limit] + "…"


def suggestion(key: str) -> str | None:
    """The known key an unknown one is most likely a misspelling of: the same letters once case, dashes,
    underscores and dots are ignored."""
    wanted = _normalised(key)
    return next((k for k in KNOWN_ANNOTATIONS if _normalised(k) == wanted), None)


def near_misses(annotations: Mapping[str, str] | None) -> list[str]:
    """A sentence for each near miss, in a stable order; empty when every airlock.dev/ annotation is
    known and the kill switch is spelled "true" or "false"."""
    annotations = annotations or {}
    found: list[str] = []
    for key in sorted(annotations):
        if not key.startswith(PREFIX) or key in KNOWN_ANNOTATIONS:
            continue
        guess = suggestion(key)
        hint = (
            f"did you mean {guess}?"
            if guess
            else f"the keys Airlock reads are {', '.join(KNOWN_ANNOTATIONS)}."
        )
        found.append(f"Annotation {quote(key, 80)} is not one Airlock knows and does nothing; {hint}")
    value = annotations.get(KILL_SWITCH_ANNOTATION)
    if value is not None and value not in (ENGAGED_VALUE, RELEASED_VALUE):
        found.append(
            f'{KILL_SWITCH_ANNOTATION} is "{quote(value)}", which keeps the kill switch engaged: only '
            f'exactly "{RELEASED_VALUE}" releases it. Write "{ENGAGED_VALUE}" or "{RELEASED_VALUE}".'
        )
    return found
