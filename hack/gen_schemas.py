"""Writes the editor schemas in schemas/ from the pydantic models (`make crds`); `--check` fails on drift."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from airlock.models.editor import render_all

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    parser.add_argument("--out", type=Path, default=ROOT / "schemas")
    args = parser.parse_args()
    rendered = render_all()
    if args.check:
        stale = [
            n
            for n, text in rendered.items()
            if not (args.out / n).is_file() or (args.out / n).read_text() != text
        ]
        extra = sorted(p.name for p in args.out.glob("*.json") if p.name not in rendered)
        for name in stale + extra:
            print(
                f"schemas/{name} does not match the models; run `make crds` and commit the result",
                file=sys.stderr,
            )
        return 1 if stale or extra else 0
    args.out.mkdir(exist_ok=True)
    for name, text in rendered.items():
        (args.out / name).write_text(text)
        print(f"wrote schemas/{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
