"""Runs the Go test beside this file: Airlock's argocd-cm customizations checked by Argo CD's own code.

The Go test is the authority on what Argo CD does with the scripts (docs/argocd.md). This wrapper makes
`make test` and CI run it, and checks that every case of the health_test.yaml and action_test.yaml files
ran as its own passing subtest, so that a Go test that finds no cases cannot pass.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
CUSTOMIZATIONS = ROOT / "manifests" / "argocd" / "airlock.dev"


def _versions() -> dict[str, str]:
    pairs = (
        line.split("=", 1)
        for line in (ROOT / "hack" / "versions.env").read_text().splitlines()
        if "=" in line and not line.lstrip().startswith("#")
    )
    return {key.strip(): value.strip() for key, value in pairs}


def _expected_cases() -> dict[str, int]:
    health = 0
    for path in CUSTOMIZATIONS.glob("*/health_test.yaml"):
        health += len(yaml.safe_load(path.read_text())["tests"])
    discovery = actions = 0
    for path in CUSTOMIZATIONS.glob("*/actions/action_test.yaml"):
        doc = yaml.safe_load(path.read_text())
        discovery += len(doc.get("discoveryTests", []))
        actions += len(doc.get("actionTests", []))
    return {
        "TestHealthMatchesEveryHealthTestCaseExactly": health,
        "TestDiscoveryOffersExactlyTheExpectedActions": discovery,
        "TestEveryActionReturnsExactlyTheExpectedObjectOrError": actions,
    }


# Cold, the first run compiles Argo CD's settings and Lua packages (several minutes on 2 cores); warm, with
# the build cache hack/build-argocd.sh leaves, it takes seconds.
@pytest.mark.timeout(2400)
def test_argo_cd_own_code_agrees_with_every_health_and_action_case() -> None:
    go = shutil.which("go")
    if go is None:
        pytest.fail("Go is required to check the Argo CD customizations with Argo CD's code; install Go")
    versions = _versions()
    env = {
        **os.environ,
        "GOTOOLCHAIN": versions["ARGOCD_GO_TOOLCHAIN"],
        "CGO_ENABLED": "0",
        "GOFLAGS": "-mod=readonly",
    }
    result = subprocess.run(
        [go, "test", "-count=1", "-v", "./..."],
        cwd=HERE,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=2300,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"go test in tests/argocd failed:\n{output[-12000:]}"
    pin = f"github.com/argoproj/argo-cd/v3 {versions['ARGOCD_VERSION']}"
    assert pin in (HERE / "go.mod").read_text(), f"tests/argocd/go.mod must require {pin} (hack/versions.env)"
    for parent, count in _expected_cases().items():
        passed = re.findall(rf"^\s+--- PASS: {parent}/", output, flags=re.MULTILINE)
        assert count > 0, f"no cases for {parent} under {CUSTOMIZATIONS}"
        assert len(passed) == count, (
            f"{parent}: {len(passed)} subtests passed, {count} cases exist:\n{output[-6000:]}"
        )
