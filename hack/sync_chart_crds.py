"""Copies the generated CRDs and the admission policy into the Helm chart, byte for byte.

crds/*.yaml               -> charts/airlock/crds/
manifests/admission/*.yaml -> charts/airlock/files/admission/

Helm can only read files inside the chart directory, so the chart carries copies; this script is the only
way they are written, and tests/unit/test_chart_files.py fails when they differ from their sources.

    python hack/sync_chart_crds.py           copy, removing copies whose source is gone
    python hack/sync_chart_crds.py --check   exit 1 and name the stale files instead of copying
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHART = ROOT / "charts" / "airlock"

# (source directory, copy directory) pairs; every *.yaml in the source is copied.
PAIRS = (
    (ROOT / "crds", CHART / "crds"),
    (ROOT / "manifests" / "admission", CHART / "files" / "admission"),
)


def stale_copies() -> list[str]:
    """Paths (relative to the repository) of chart copies that are missing, differ, or have no source."""
    stale: list[str] = []
    for source_dir, copy_dir in PAIRS:
        sources = {p.name: p for p in sorted(source_dir.glob("*.yaml"))}
        copies = {p.name: p for p in sorted(copy_dir.glob("*.yaml"))} if copy_dir.is_dir() else {}
        for name, source in sources.items():
            copy = copies.get(name)
            if copy is None or copy.read_bytes() != source.read_bytes():
                stale.append(str((copy_dir / name).relative_to(ROOT)))
        stale.extend(str(copies[name].relative_to(ROOT)) for name in copies.keys() - sources.keys())
    return sorted(stale)


def sync() -> list[str]:
    """Makes every copy equal to its source; returns what it wrote or removed."""
    changed: list[str] = []
    for source_dir, copy_dir in PAIRS:
        copy_dir.mkdir(parents=True, exist_ok=True)
        sources = {p.name: p for p in source_dir.glob("*.yaml")}
        for name, source in sorted(sources.items()):
            target = copy_dir / name
            data = source.read_bytes()
            if not target.exists() or target.read_bytes() != data:
                target.write_bytes(data)
                changed.append(f"wrote {target.relative_to(ROOT)}")
        for orphan in sorted(copy_dir.glob("*.yaml")):
            if orphan.name not in sources:
                orphan.unlink()
                changed.append(
                    f"removed {orphan.relative_to(ROOT)} (no {source_dir.relative_to(ROOT)}/{orphan.name})"
                )
    return changed


def main(argv: list[str] | None = None) -> int:
    """Entry point: copy, or with --check only report."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="report stale copies instead of writing them")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_copies()
        if stale:
            print(
                "The chart's copies differ from their sources: "
                + ", ".join(stale)
                + ". Run `python hack/sync_chart_crds.py`, then `python hack/gen_manifests.py`.",
                file=sys.stderr,
            )
            return 1
        return 0
    for line in sync():
        print(line, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
