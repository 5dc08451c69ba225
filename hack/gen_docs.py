"""Writes the field reference of docs/packet.md from the models (`make docs`); `--check` fails on drift."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from airlock.models.crd import kubernetes_schema
from airlock.models.packet import ReadinessPacketSpec
from airlock.models.policy import ReadinessPolicySpec
from airlock.models.service import AIServiceSpec

ROOT = Path(__file__).resolve().parent.parent
BEGIN = "<!-- BEGIN GENERATED FIELD REFERENCE -->"
END = "<!-- END GENERATED FIELD REFERENCE -->"


def _type(schema: dict[str, Any]) -> str:
    kind = schema.get("type", "object")
    if kind == "array":
        return f"list of {_type(schema.get('items', {}))}"
    if "enum" in schema:
        return " \\| ".join(f"`{v}`" for v in schema["enum"])
    if schema.get("format") == "date-time":
        return "RFC 3339 time"
    return str(kind)


def _rows(schema: dict[str, Any], path: str, required: set[str]) -> list[str]:
    rows = []
    for name, sub in schema.get("properties", {}).items():
        here = f"{path}.{name}" if path else name
        bounds = []
        for key, word in (
            ("minimum", "at least {}"),
            ("maximum", "at most {}"),
            ("maxLength", "at most {} characters"),
            ("maxItems", "at most {} items"),
        ):
            if key in sub:
                bounds.append(word.format(sub[key]))
        if "default" in sub:
            bounds.append(f"default `{sub['default']}`")
        req = "yes" if name in required else ""
        desc = " ".join(str(sub.get("description", "")).split())
        extra = f" ({', '.join(bounds)})" if bounds else ""
        rows.append(f"| `{here}` | {_type(sub)} | {req} | {desc}{extra} |")
        target = sub.get("items", sub) if sub.get("type") == "array" else sub
        if target.get("properties"):
            rows += _rows(
                target, here + ("[]" if sub.get("type") == "array" else ""), set(target.get("required", []))
            )
    return rows


def reference() -> str:
    parts = [BEGIN, ""]
    for title, model in (
        ("ReadinessPacket `spec`", ReadinessPacketSpec),
        ("AIService `spec`", AIServiceSpec),
        ("ReadinessPolicy `spec` (cluster-scoped, named `default`)", ReadinessPolicySpec),
    ):
        schema = kubernetes_schema(model)
        parts += [f"### {title}", "", "| field | type | required | meaning |", "|---|---|---|---|"]
        parts += _rows(schema, "", set(schema.get("required", [])))
        parts.append("")
    parts.append(END)
    return "\n".join(parts)


def render(current: str) -> str:
    head, _, rest = current.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return head + reference() + tail


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    path = ROOT / "docs" / "packet.md"
    current = path.read_text()
    wanted = render(current)
    if args.check:
        if wanted != current:
            print(
                "docs/packet.md's field reference does not match the models; run `make docs`", file=sys.stderr
            )
            return 1
        return 0
    path.write_text(wanted)
    print("wrote docs/packet.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
