"""`airlock examples redate FILE`: a copy of an example packet whose evidence is current, for a trial.

The examples in examples/ are fixed documents dated once; their evals lapse 30 days after evaluatedAt.
A redated copy moves every evidence date by the same amount, so the newest past evidence is a day old
and the order and spacing of the dates stay as written, and re-signs its approvals for the new content.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import sys
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from airlock.logic.digest import packet_digest
from airlock.models.packet import ReadinessPacketSpec

TIME_FIELDS = ("evaluatedAt", "reviewedAt", "killSwitchDrillAt", "postLaunchReviewAt", "at")
# A date still ahead (a post-launch review planned) is moved too, but does not set the shift.
FUTURE_FIELDS = ("postLaunchReviewAt",)


def _times(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], dt.datetime]]:
    found: list[tuple[tuple[Any, ...], dt.datetime]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in TIME_FIELDS and isinstance(value, str):
                found.append(((*path, key), dt.datetime.fromisoformat(value.replace("Z", "+00:00"))))
            else:
                found += _times(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _times(value, (*path, i))
    return found


def redate_packet(doc: dict[str, Any], now: dt.datetime, *, namespace: str | None = None) -> dict[str, Any]:
    """The packet with its dates shifted so the newest past evidence is a day before `now`, and every
    approval's digest set to the new content's."""
    out = copy.deepcopy(doc)
    if namespace is not None:
        out["metadata"]["namespace"] = namespace
    spec = out["spec"]
    times = _times(spec)
    past = [t for p, t in times if p[-1] not in FUTURE_FIELDS]
    if past:
        shift = (now - dt.timedelta(days=1)) - max(past)
        for path, moment in times:
            target: Any = spec
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = (moment + shift).strftime("%Y-%m-%dT%H:%M:%SZ")
    digest = packet_digest(ReadinessPacketSpec.model_validate(spec))
    for approval in spec.get("approvals", []):
        approval["digest"] = digest
    return out


def redate_main(args: argparse.Namespace) -> int:
    """Prints the redated copy of each ReadinessPacket in the files; exit 2 on bad input."""
    now = dt.datetime.now(dt.UTC)
    out: list[dict[str, Any]] = []
    for name in args.files:
        try:
            text = sys.stdin.read() if name == "-" else Path(name).read_text()
            docs = [d for d in yaml.safe_load_all(text) if isinstance(d, dict)]
        except (OSError, yaml.YAMLError) as exc:
            print(f"error: cannot read {name}: {exc}", file=sys.stderr)
            return 2
        packets = [d for d in docs if d.get("kind") == "ReadinessPacket"]
        if not packets:
            print(
                f"error: {name} holds no ReadinessPacket; give a packet such as "
                "examples/packet-complete.yaml.",
                file=sys.stderr,
            )
            return 2
        for packet in packets:
            try:
                out.append(redate_packet(packet, now))
            except (ValidationError, ValueError, KeyError, TypeError) as exc:
                first = str(exc).splitlines()[0]
                print(
                    f"error: ReadinessPacket in {name} cannot be redated ({first}); run "
                    f"`airlock validate {name}` for what is wrong.",
                    file=sys.stderr,
                )
                return 2
    sys.stdout.write(yaml.safe_dump_all(out, sort_keys=False))
    return 0
