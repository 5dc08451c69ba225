"""The local control plane leaves nothing behind, listens on loopback only, and fills the aggregated
ClusterRoles (admin, edit, view) as a real cluster's controller-manager does."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Any

from airlock_dev.localcluster import AGGREGATED_ROLES, LocalCluster, find_binaries
from tests.conftest import Cluster
from tests.support import wait_for


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it is dead for our purposes.
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


def test_a_cluster_stops_every_process_it_started(tmp_path: Path) -> None:
    cluster = LocalCluster(bin_dir=find_binaries(), workdir=tmp_path, log=False)
    cluster.start()
    pids = cluster.pids
    assert len(pids) == 3 and all(_alive(p) for p in pids)
    version = subprocess.run(
        [cluster.kubectl, f"--kubeconfig={cluster.kubeconfig}", "version", "-o", "json"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert '"gitVersion": "v1.35' in version
    cluster.stop()
    assert not any(_alive(p) for p in pids)


# A process that starts a control plane and a client holding a watch open, prints their pids, and waits.
_PARENT = textwrap.dedent(
    """
    import subprocess, sys, time
    from pathlib import Path
    from airlock_dev.localcluster import LocalCluster, die_with_parent, find_binaries
    cluster = LocalCluster(bin_dir=find_binaries(), workdir=Path(sys.argv[1]), log=False)
    cluster.start()
    watch = subprocess.Popen(
        [cluster.kubectl, f"--kubeconfig={cluster.kubeconfig}", "get", "deployments", "-A", "--watch"],
        stdout=subprocess.DEVNULL,
        preexec_fn=die_with_parent,
    )
    print(*cluster.pids, watch.pid, flush=True)
    time.sleep(600)
    """
)


def test_nothing_outlives_a_killed_parent(tmp_path: Path) -> None:
    # SIGKILL: no finally, no atexit. Only the parent-death signal is left to stop the children; a
    # kube-apiserver that got SIGTERM that way was seen still draining towards its dead etcd minutes later.
    parent = subprocess.Popen(
        [sys.executable, "-c", _PARENT, str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "operator")},
    )
    try:
        assert parent.stdout is not None
        pids = [int(p) for p in parent.stdout.readline().split()]
        assert len(pids) == 4 and all(_alive(p) for p in pids), pids
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
    with contextlib.suppress(AssertionError):  # the assertion below says who survived
        wait_for(lambda: not any(_alive(p) for p in pids), timeout=20, what="the children to die")
    survivors = [p for p in pids if _alive(p)]
    for pid in survivors:  # leave nothing behind even when the assertion fails
        os.kill(pid, signal.SIGKILL)
    assert not survivors, f"processes outlived their killed parent: {survivors}"


def _listening_addresses(pid: int) -> list[str]:
    """Local addresses of the TCP sockets `pid` listens on, read from /proc (no external tools)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        target = os.readlink(fd) if fd.is_symlink() else ""
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    out = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A = LISTEN
                out.append(fields[1])
    return out


def test_everything_binds_to_loopback(tmp_path: Path) -> None:
    cluster = LocalCluster(bin_dir=find_binaries(), workdir=tmp_path, log=False)
    with cluster:
        assert cluster.server.startswith("https://127.0.0.1:")
        addresses = [a for pid in cluster.pids for a in _listening_addresses(pid)]
        assert addresses
        # 0100007F is 127.0.0.1 in /proc/net/tcp's little-endian hex.
        assert all(a.split(":")[0] == "0100007F" for a in addresses), addresses
        # kube-controller-manager serves nothing (--secure-port=0), so it listens on no port at all.
        manager = cluster.pid_of("kube-controller-manager")
        assert _listening_addresses(manager) == [], "kube-controller-manager listens on a port"


def _rules(cluster: Cluster, role: str) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = cluster.get("clusterrole", role).get("rules") or []
    return rules


def test_the_built_in_aggregated_roles_have_rules_before_tests_run(cluster: Cluster) -> None:
    # The session's cluster waited for this when it started; a team bound to `edit` really can edit.
    for role in AGGREGATED_ROLES:
        assert _rules(cluster, role), f"ClusterRole {role} has no rules"
    edit = {(g, r) for rule in _rules(cluster, "edit") for g in rule["apiGroups"] for r in rule["resources"]}
    assert ("apps", "deployments") in edit and ("apps", "deployments/scale") in edit


def test_a_cluster_role_labelled_aggregate_to_edit_shows_up_in_edit(cluster: Cluster) -> None:
    name = f"airlock-test-aggregate-{uuid.uuid4().hex[:8]}"
    rule = {"apiGroups": ["example.airlock.dev"], "resources": [name], "verbs": ["get", "list"]}
    assert rule not in _rules(cluster, "edit")
    cluster.apply(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": name, "labels": {"rbac.authorization.k8s.io/aggregate-to-edit": "true"}},
            "rules": [rule],
        }
    )
    try:
        cluster.wait_for(lambda: rule in _rules(cluster, "edit"), what=f"ClusterRole edit to include {name}")
        # admin aggregates edit, as in a real cluster; view does not.
        cluster.wait_for(
            lambda: rule in _rules(cluster, "admin"), what=f"ClusterRole admin to include {name}"
        )
        assert rule not in _rules(cluster, "view")
    finally:
        cluster.kubectl("delete", "clusterrole", name, "--ignore-not-found")
    cluster.wait_for(lambda: rule not in _rules(cluster, "edit"), what=f"{name} to leave ClusterRole edit")
