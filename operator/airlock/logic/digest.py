"""The packet digest: what an approval is bound to."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

from airlock.models.packet import ReadinessPacketSpec

DIGEST_PREFIX = "sha256:"


def canonical_packet_json(spec: ReadinessPacketSpec) -> bytes:
    """The canonical JSON of a packet's content: the spec without `approvals`.

    Canonical means that two specs a reviewer would call the same content serialize to the same bytes:

    * keys are the camelCase wire names, sorted, with no whitespace, ASCII only;
    * fields that are unset (None) or equal to their default are left out (`exclude_defaults`), so an
      omitted list and an empty one, or an omitted `approval` and `approval: none`, give the same bytes,
      and a field added to the API later with a default does not make every existing approval stale;
      `tools: []` ("calls no tools") still differs from an omitted `tools` ("not stated"), because the
      default there is None;
    * timestamps are normalised to UTC with a `Z` suffix, so `+01:00` and the same instant in `Z` agree;
    * numbers go through the model first, so `120` and `120.0` for a float field agree.

    List order is content: reordering eval cases or tools changes the digest.
    """
    data = spec.model_dump(
        mode="python", by_alias=True, exclude_none=True, exclude_defaults=True, exclude={"approvals"}
    )
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=_encode)
    return text.encode("ascii")


def packet_digest(spec: ReadinessPacketSpec) -> str:
    """`sha256:<hex>` over the canonical JSON of the spec without approvals (see canonical_packet_json).

    Approvals carry this value, so any change to the packet's content makes earlier approvals stale
    while adding or removing an approval does not change it.
    """
    return DIGEST_PREFIX + hashlib.sha256(canonical_packet_json(spec)).hexdigest()


def _encode(value: object) -> str:
    # Enum members are str subclasses and need no help; timestamps are the only other non-JSON values.
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    raise TypeError(f"cannot canonicalise a {type(value).__name__} in a packet")
