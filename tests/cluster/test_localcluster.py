"""The local control plane leaves nothing behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from airlock_dev.localcluster import LocalCluster, find_binaries


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
    assert len(pids) == 2 and all(_alive(p) for p in pids)
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
        assert len(pids) == 3 and all(_alive(p) for p in pids), pids
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
    deadline = time.monotonic() + 20
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
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
