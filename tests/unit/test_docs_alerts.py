"""Alert names in the docs are the names of the shipped rules, and every shipped rule is in the runbook."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "charts" / "airlock" / "files" / "alerts.yaml"
DOCS = [ROOT / "README.md", ROOT / "charts" / "airlock" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
ALERT = re.compile(r"`(Airlock[A-Z][A-Za-z]+)`")


def shipped() -> set[str]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return {rule["alert"] for group in groups for rule in group["rules"] if "alert" in rule}


def test_every_alert_the_docs_name_is_a_shipped_rule() -> None:
    names = shipped()
    wrong = {
        f"{doc.relative_to(ROOT)}: {name}"
        for doc in DOCS
        for name in ALERT.findall(doc.read_text())
        if name not in names
    }
    assert not wrong, f"alerts named in the docs but not in {RULES.relative_to(ROOT)}: {sorted(wrong)}"


def test_the_runbook_says_what_to_do_for_every_shipped_alert() -> None:
    missing = shipped() - set(ALERT.findall((ROOT / "docs" / "runbook.md").read_text()))
    assert not missing, f"docs/runbook.md has no row for {sorted(missing)}"
