"""The Grafana dashboard queries only metrics the operator exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

from airlock.metrics import Metrics

ROOT = Path(__file__).resolve().parents[2]


def exported_names() -> set[str]:
    names = set()
    for family in Metrics().registry.collect():
        for sample_suffix in ("", "_total", "_bucket", "_count", "_sum", "_created"):
            names.add(family.name + sample_suffix)
    return names


def test_every_dashboard_query_uses_an_exported_metric() -> None:
    dashboard = json.loads((ROOT / "manifests" / "monitoring" / "grafana-dashboard.json").read_text())
    exported = exported_names()
    used = set()
    for panel in dashboard["panels"]:
        assert panel["title"] and panel["targets"], panel
        for target in panel["targets"]:
            used |= set(re.findall(r"\bairlock_[a-z_]+", target["expr"]))
    assert used, "the dashboard queries no Airlock metric"
    assert used <= exported, f"unknown metrics: {sorted(used - exported)}"
