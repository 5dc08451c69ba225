"""Airlock's development tooling: the local control plane, the admission probe, the samples, the demo and
the benchmarks. It runs from a checkout (PYTHONPATH=operator), uses the dev dependencies, and the runtime
package `airlock` never imports it (an import-linter contract says so).
"""

from __future__ import annotations

from pathlib import Path

# The checkout this package runs from: examples/, crds/, manifests/ and hack/ are read from here.
REPO_ROOT = Path(__file__).resolve().parents[2]
