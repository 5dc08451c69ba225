"""Every shell block marked as tested in the docs runs, as written, on a local control plane.

A block fenced as ```sh test is run with bash (errexit, pipefail) from the repository root, with kubectl,
airlock and kubectl-airlock on PATH and KUBECONFIG pointing at a fresh cluster where the operator runs
and the example service is promoted to 3 replicas.

Blocks fenced as ```sh scenario=NAME[,NAME...] are whole paths through the docs: every block of a scenario,
in the order the documents (README first) and their blocks come, runs as one script. The tests below
set the stage (the operator up or down), run a scenario, and check what it must have achieved, so a doc
whose commands stop working fails here.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from airlock_dev import samples
from airlock_dev.localcluster import LocalCluster, find_binaries
from tests.cluster.helpers import deployment
from tests.conftest import ROOT, Cluster, _install_admission, _install_crds, start_operator

DOCS = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
BLOCK = re.compile(r"^([ \t]*)```sh test\n(.*?)^[ \t]*```", re.M | re.S)
SCENARIO = re.compile(r"^([ \t]*)```sh scenario=([a-z,-]+)\n(.*?)^[ \t]*```", re.M | re.S)
SERVICE = "support-assistant"
KILL_SWITCH_KEYS = {
    "airlock.dev/kill-switch",
    "airlock.dev/kill-switch-reason",
    "airlock.dev/kill-switch-by",
    "airlock.dev/kill-switch-replicas-before",
    "airlock.dev/kill-switch-since",
}


def blocks(path: Path) -> list[str]:
    """The tested shell blocks of a document, dedented when they sit in a list item."""
    return [textwrap.dedent(body) for _indent, body in BLOCK.findall(path.read_text())]


@pytest.fixture(scope="module")
def docs_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    workdir = tmp_path_factory.mktemp("docs-cluster")
    local = LocalCluster(bin_dir=find_binaries(), workdir=workdir / "cluster")
    local.start()
    try:
        cluster = Cluster(local)
        _install_crds(cluster)
        _install_admission(cluster)
        yield cluster
    finally:
        local.stop()


def scenario_blocks(name: str, docs: list[Path] = DOCS) -> list[tuple[Path, str]]:
    """Every block of scenario `name`, document by document, in order."""
    found = []
    for path in docs:
        for _indent, names, body in SCENARIO.findall(path.read_text()):
            if name in names.split(","):
                found.append((path, textwrap.dedent(body)))
    return found


def test_the_docs_have_tested_examples() -> None:
    assert sum(len(blocks(p)) for p in DOCS) >= 2
    for name in (
        "install",
        "onboard",
        "incident-operator-up",
        "incident-operator-down",
        "incident-kubectl-only",
        "restore",
        "restore-kubectl-only",
    ):
        assert scenario_blocks(name), f"no doc has a block of scenario {name}"


def shell_env(cluster: Cluster) -> dict[str, str]:
    return {
        **os.environ,
        "KUBECONFIG": str(cluster.kubeconfig),
        "PATH": os.pathsep.join(
            [
                str(Path(cluster.local.kubectl).parent),
                str(Path(sys.executable).parent),
                os.environ.get("PATH", ""),
            ]
        ),
    }


def run_scenario(cluster: Cluster, name: str) -> str:
    """Runs every block of scenario `name` as one bash script; fails with the doc and output when a
    command fails. Returns what it printed."""
    parts = scenario_blocks(name)
    script = "".join(body for _path, body in parts)
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=ROOT,
        env=shell_env(cluster),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    docs = ", ".join(sorted({str(p.relative_to(ROOT)) for p, _ in parts}))
    print(f"--- scenario {name} ({docs})\n{script}{result.stdout}{result.stderr}")
    assert result.returncode == 0, (
        f"scenario {name} from {docs} failed (exit {result.returncode}):\n{script}\n"
        f"{result.stdout}{result.stderr}"
    )
    return result.stdout + result.stderr


def promoted_service(cluster: Cluster) -> None:
    """The example service in namespace support, promoted and at 3 replicas; the operator must run."""
    ns = "support"
    cluster.kubectl("create", "namespace", ns, check=False)
    cluster.kubectl("label", "namespace", ns, "airlock.dev/governed=true", "--overwrite")
    cluster.kubectl("delete", "aiservice,readinesspacket,deployment", "--all", "-n", ns, "--wait=true")
    cluster.apply(deployment(SERVICE, ns, 1))
    cluster.apply(samples.load("service.yaml"))
    cluster.apply(samples.current_packet(samples.load("packet-complete.yaml"), dt.datetime.now(dt.UTC)))
    cluster.kubectl("wait", "--for=condition=Ready", f"ais/{SERVICE}", "-n", ns, "--timeout=30s")
    cluster.kubectl("scale", "deployment", SERVICE, "-n", ns, "--replicas=3")


def replicas(cluster: Cluster) -> int:
    count: int = cluster.get("deployment", SERVICE, "support")["spec"]["replicas"]
    return count


def kill_switch_annotations(cluster: Cluster) -> dict[str, str]:
    annotations = cluster.get("aiservice", SERVICE, "support")["metadata"].get("annotations") or {}
    return {k: v for k, v in annotations.items() if k in KILL_SWITCH_KEYS}


def released_and_cleared(cluster: Cluster) -> None:
    """The restore leaves the switch at "false"; the operator removes who released it once recorded."""
    cluster.wait_for(
        lambda: kill_switch_annotations(cluster) == {"airlock.dev/kill-switch": "false"},
        what="only airlock.dev/kill-switch=false to be left after the restore",
    )


def stage(cluster: Cluster) -> str | None:
    found: str | None = (cluster.get("aiservice", SERVICE, "support").get("status") or {}).get("stage")
    return found


def test_scenario_install_onboard_and_promote(tmp_path: Path) -> None:
    # A control plane with nothing installed: the install scenario installs everything.
    local = LocalCluster(bin_dir=find_binaries(), workdir=tmp_path / "cluster")
    local.start()
    try:
        cluster = Cluster(local)
        installed = run_scenario(cluster, "install")
        assert "the replica cap is enforcing" in installed
        # No kubelet runs the operator's Deployment here: the same operator runs as a process instead.
        op = start_operator(cluster, tmp_path)
        try:
            out = run_scenario(cluster, "onboard")
        finally:
            op.stop()
        assert replicas(cluster) == 3
        assert stage(cluster) == "Production", out
    finally:
        local.stop()


def test_scenario_incident_with_the_operator_up_then_restore(docs_cluster: Cluster, tmp_path: Path) -> None:
    cluster = docs_cluster
    op = start_operator(cluster, tmp_path)
    try:
        promoted_service(cluster)
        run_scenario(cluster, "incident-operator-up")
        assert replicas(cluster) == 0 and stage(cluster) == "Killed"
        run_scenario(cluster, "restore")
        assert replicas(cluster) == 3 and stage(cluster) == "Production"
        released_and_cleared(cluster)
    finally:
        op.stop()


def test_scenario_incident_with_the_operator_down_restores_the_replicas(
    docs_cluster: Cluster, tmp_path: Path
) -> None:
    cluster = docs_cluster
    op = start_operator(cluster, tmp_path)
    try:
        promoted_service(cluster)
    finally:
        op.stop()
    out = run_scenario(cluster, "incident-operator-down")
    assert "on (pending)" in out
    assert replicas(cluster) == 0
    assert kill_switch_annotations(cluster)["airlock.dev/kill-switch-replicas-before"] == "3"
    op = start_operator(cluster, tmp_path)
    try:
        cluster.wait_for(lambda: stage(cluster) == "Killed", what="the operator to record the kill switch")
        run_scenario(cluster, "restore")
        assert replicas(cluster) == 3 and stage(cluster) == "Production"
        released_and_cleared(cluster)
    finally:
        op.stop()


def test_scenario_incident_with_kubectl_alone_then_restore(docs_cluster: Cluster, tmp_path: Path) -> None:
    cluster = docs_cluster
    op = start_operator(cluster, tmp_path)
    try:
        promoted_service(cluster)
        run_scenario(cluster, "incident-kubectl-only")
        recorded = kill_switch_annotations(cluster)
        assert (
            recorded["airlock.dev/kill-switch-replicas-before"] == "3"
            and recorded["airlock.dev/kill-switch-by"]
        )
        assert replicas(cluster) == 0
        run_scenario(cluster, "restore-kubectl-only")
        cluster.wait_for(lambda: replicas(cluster) == 3, what="the operator to restore 3 replicas")
        released_and_cleared(cluster)
    finally:
        op.stop()


@pytest.mark.parametrize("doc", [p for p in DOCS if blocks(p)], ids=lambda p: p.name)
def test_every_tested_shell_example_runs(docs_cluster: Cluster, doc: Path, tmp_path: Path) -> None:
    cluster = docs_cluster
    ns = "support"
    cluster.create_namespace(ns, check=False)
    cluster.kubectl("delete", "aiservice,readinesspacket,deployment", "--all", "-n", ns, "--wait=true")
    op = start_operator(cluster, tmp_path)
    try:
        promoted_service(cluster)
        env = shell_env(cluster)
        for i, block in enumerate(blocks(doc), 1):
            result = subprocess.run(
                ["bash", "-euo", "pipefail", "-c", block],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            print(f"--- {doc.name} block {i}\n{block}{result.stdout}{result.stderr}")
            assert result.returncode == 0, (
                f"{doc.name} block {i} failed:\n{block}\n{result.stdout}{result.stderr}"
            )
    finally:
        op.stop()
