"""Every shell block marked as tested in the docs runs, as written, on a local control plane.

A block fenced as ```sh test is run with bash (errexit, pipefail) from the repository root, with kubectl,
airlock and kubectl-airlock on PATH and KUBECONFIG pointing at a fresh cluster where the operator runs
and the example service is promoted to 3 replicas.
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

from airlock import samples
from airlock.localcluster import LocalCluster, find_binaries
from tests.cluster.helpers import deployment
from tests.conftest import ROOT, Cluster, _install_admission, _install_crds, start_operator

DOCS = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
BLOCK = re.compile(r"^([ \t]*)```sh test\n(.*?)^[ \t]*```", re.M | re.S)


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


def test_the_docs_have_tested_examples() -> None:
    assert sum(len(blocks(p)) for p in DOCS) >= 8


@pytest.mark.parametrize("doc", [p for p in DOCS if blocks(p)], ids=lambda p: p.name)
def test_every_tested_shell_example_runs(docs_cluster: Cluster, doc: Path, tmp_path: Path) -> None:
    cluster = docs_cluster
    ns = "support"
    cluster.create_namespace(ns, check=False)
    cluster.kubectl("delete", "aiservice,readinesspacket,deployment", "--all", "-n", ns, "--wait=true")
    op = start_operator(cluster, tmp_path)
    try:
        service = samples.load("service.yaml")
        cluster.apply(deployment("support-assistant", ns, 1))
        cluster.apply(service)
        cluster.apply(samples.current_packet(samples.load("packet-complete.yaml"), dt.datetime.now(dt.UTC)))
        cluster.kubectl("wait", "--for=condition=Ready", "ais/support-assistant", "-n", ns, "--timeout=30s")
        cluster.kubectl("scale", "deployment", "support-assistant", "-n", ns, "--replicas=3")
        env = {
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
