"""What a broken Airlock install can deny outside the namespaces it governs: nothing.

A policy whose paramKind cannot be resolved fails closed on whatever its matchConstraints match. These
tests break the install the three ways seen in practice, on a control plane of their own, and count the
Deployment writes refused in a namespace nobody marked (goal: 0) beside a governed one (where failing
closed is the point). The figures printed here are the ones in docs/faults.md.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from airlock_dev.localcluster import LocalCluster, find_binaries
from tests.cluster.helpers import deployment
from tests.conftest import ADMISSION, CRDS, Cluster, _install_admission, _install_crds


@pytest.fixture
def bare() -> Iterator[Cluster]:
    """A control plane of this test's own, with nothing of Airlock installed yet."""
    workdir = Path(tempfile.mkdtemp(prefix="airlock-blast-radius-"))
    local = LocalCluster(bin_dir=find_binaries(), workdir=workdir)
    local.start()
    try:
        yield Cluster(local)
    finally:
        local.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def namespaces(cluster: Cluster) -> tuple[str, str]:
    plain = cluster.create_namespace("plain", governed=False)
    governed = cluster.create_namespace("governed")
    for ns in (plain, governed):
        cluster.apply(deployment("web", ns, 1))
    return plain, governed


def denied_writes(cluster: Cluster, ns: str, seconds: float) -> tuple[int, int]:
    """Scales Deployment web in `ns` up and down for `seconds`; returns (writes, denied by admission)."""
    writes = denied = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = cluster.kubectl(
            "scale", "deployment", "web", "-n", ns, f"--replicas={1 + writes % 2}", check=False
        )
        writes += 1
        if result.returncode != 0 and "ValidatingAdmissionPolicy" in result.stderr:
            denied += 1
    return writes, denied


def test_policies_applied_before_the_crds_deny_nothing_in_an_unmarked_namespace(bare: Cluster) -> None:
    plain, governed = namespaces(bare)
    bare.kubectl("apply", "--server-side", "-f", str(ADMISSION))
    writes, denied = denied_writes(bare, plain, 10)
    governed_writes, governed_denied = denied_writes(bare, governed, 3)
    print(f"policies before CRDs: unmarked {denied}/{writes}; governed {governed_denied}/{governed_writes}")
    assert writes > 10 and denied == 0
    assert governed_denied > 0, "the governed namespace did not fail closed: this test proves nothing"
    bare.kubectl("apply", "--server-side", "-f", str(CRDS))


def test_a_deleted_crd_and_an_api_server_restart_deny_nothing_in_an_unmarked_namespace(bare: Cluster) -> None:
    _install_crds(bare)
    _install_admission(bare)
    plain, governed = namespaces(bare)
    bare.kubectl("delete", "crd", "aiservices.airlock.dev")
    bare.local.restart_apiserver()
    writes, denied = denied_writes(bare, plain, 10)
    governed_writes, governed_denied = denied_writes(bare, governed, 3)
    print(f"CRD deleted + restart: unmarked {denied}/{writes}; governed {governed_denied}/{governed_writes}")
    assert writes > 10 and denied == 0
    assert governed_denied > 0, "the governed namespace did not fail closed: this test proves nothing"


def test_api_server_restarts_deny_nothing_in_an_unmarked_namespace(bare: Cluster) -> None:
    _install_crds(bare)
    _install_admission(bare)
    plain, _ = namespaces(bare)
    total = total_denied = 0
    for _ in range(3):
        bare.local.restart_apiserver()
        writes, denied = denied_writes(bare, plain, 5)
        total, total_denied = total + writes, total_denied + denied
    print(f"3 API server restarts: unmarked {total_denied}/{total} denied")
    assert total > 10 and total_denied == 0
