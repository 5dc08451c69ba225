"""The local control plane leaves nothing behind."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from airlock.localcluster import LocalCluster, find_binaries


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
