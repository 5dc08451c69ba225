"""A real, local Kubernetes control plane: etcd and kube-apiserver on 127.0.0.1, and a
kube-controller-manager that runs only the clusterrole-aggregation controller.

Used by the tests, `make demo` and the benchmarks. Every process binds to loopback on a free port and is
stopped when the cluster is stopped, when the Python process exits, on Ctrl-C, and (through the
parent-death signal) even when the Python process is killed.

    python -m airlock_dev.localcluster up      # start, print the kubeconfig path, run until Ctrl-C
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import ctypes
import datetime as dt
import ipaddress
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

REPO_ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO_ROOT / "hack" / "build-control-plane.sh"
BIN_ENV = "AIRLOCK_CONTROL_PLANE_BIN"
ADMIN_USER = "airlock-admin"
BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager", "kubectl")
# The built-in roles a namespace's team is given; the clusterrole-aggregation controller fills their rules.
AGGREGATED_ROLES = ("admin", "edit", "view")
CONTEXT = "airlock-local"


class ControlPlaneError(RuntimeError):
    """The local control plane could not be built or started."""


def find_binaries(build: bool = True) -> Path:
    """The directory holding the control plane's binaries, building them when asked and needed."""
    configured = os.environ.get(BIN_ENV)
    if configured:
        path = Path(configured)
        missing = [b for b in BINARIES if not (path / b).exists()]
        if missing:
            raise ControlPlaneError(f"{BIN_ENV}={path} lacks {', '.join(missing)}; run {BUILD_SCRIPT}")
        return path
    if not build or not BUILD_SCRIPT.exists():
        raise ControlPlaneError(
            f"set {BIN_ENV} to the output of hack/build-control-plane.sh (make control-plane)"
        )
    result = subprocess.run(["bash", str(BUILD_SCRIPT)], stdout=subprocess.PIPE, text=True, check=False)
    if result.returncode != 0:
        raise ControlPlaneError(
            f"{BUILD_SCRIPT} failed with exit code {result.returncode}; see its output above"
        )
    return Path(result.stdout.strip().splitlines()[-1])


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def die_with_parent() -> None:
    """For `preexec_fn`: the child is killed when the process that started it dies, however it dies.

    PR_SET_PDEATHSIG with SIGKILL, not SIGTERM: a kube-apiserver told SIGTERM starts a graceful shutdown
    that waits on the etcd which died with the same parent, and was measured alive 5 minutes later. With
    the parent gone nobody waits for a graceful exit; a normal stop still sends SIGTERM first.
    """
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)


@dataclass
class _Pki:
    """A throw-away CA, the server's certificate, an admin client certificate and service-account keys."""

    directory: Path

    def write(self) -> None:
        now = dt.datetime.now(dt.UTC)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "airlock-local-ca")])
        ca = (
            x509.CertificateBuilder()
            .subject_name(ca_name)
            .issuer_name(ca_name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=7))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
            )
            .sign(ca_key, hashes.SHA256())
        )
        self._save("ca", ca, ca_key)

        def leaf(
            name: x509.Name, usage: x509.ObjectIdentifier, sans: list[x509.GeneralName] | None
        ) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
            key = ec.generate_private_key(ec.SECP256R1())
            builder = (
                x509.CertificateBuilder()
                .subject_name(name)
                .issuer_name(ca_name)
                .public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(minutes=5))
                .not_valid_after(now + dt.timedelta(days=7))
                .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            )
            if sans:
                builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
            return builder.sign(ca_key, hashes.SHA256()), key

        server, server_key = leaf(
            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]),
            x509.oid.ExtendedKeyUsageOID.SERVER_AUTH,
            [
                x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                x509.IPAddress(ipaddress.ip_address("10.0.0.1")),
                x509.DNSName("localhost"),
                x509.DNSName("kubernetes.default.svc"),
            ],
        )
        self._save("server", server, server_key)
        admin, admin_key = leaf(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:masters"),
                    x509.NameAttribute(NameOID.COMMON_NAME, ADMIN_USER),
                ]
            ),
            x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH,
            None,
        )
        self._save("admin", admin, admin_key)
        sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        (self.directory / "sa.key").write_bytes(
            sa_key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        (self.directory / "sa.pub").write_bytes(
            sa_key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )

    def _save(self, stem: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
        (self.directory / f"{stem}.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        (self.directory / f"{stem}.key").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )

    def path(self, name: str) -> str:
        return str(self.directory / name)


@dataclass
class LocalCluster:
    """etcd, kube-apiserver and a kube-controller-manager running only the clusterrole-aggregation
    controller, on loopback, with RBAC on and an admin kubeconfig."""

    bin_dir: Path
    workdir: Path
    etcd_fsync: bool = False
    log: bool = True
    server: str = ""
    _procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    _etcd_url: str = ""
    _api_port: int = 0

    @property
    def kubeconfig(self) -> Path:
        return self.workdir / "kubeconfig"

    @property
    def kubectl(self) -> str:
        return str(self.bin_dir / "kubectl")

    def _say(self, message: str) -> None:
        if self.log:
            print(f"[local cluster] {message}", file=sys.stderr, flush=True)

    def start(self, timeout: float = 90.0) -> LocalCluster:
        started = time.monotonic()
        self.workdir.mkdir(parents=True, exist_ok=True)
        pki = _Pki(self.workdir)
        pki.write()
        self._start_etcd()
        self._api_port = free_port()
        self.server = f"https://127.0.0.1:{self._api_port}"
        self._start_apiserver(pki)
        self._write_kubeconfig(pki)
        self._wait_ready(pki, timeout)
        self._start_controller_manager()
        self._wait_aggregated(started + timeout)
        self._say(
            f"ready at {self.server} in {time.monotonic() - started:.1f}s; KUBECONFIG={self.kubeconfig}"
        )
        return self

    def _spawn(self, name: str, args: list[str]) -> None:
        logfile = (self.workdir / f"{name}.log").open("ab")
        self._procs[name] = subprocess.Popen(
            args,
            stdout=logfile,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=die_with_parent,  # noqa: PLW1509 - only prctl runs between fork and exec
        )
        logfile.close()

    def _start_etcd(self) -> None:
        client, peer = free_port(), free_port()
        self._etcd_url = f"http://127.0.0.1:{client}"
        args = [
            str(self.bin_dir / "etcd"),
            "--name=airlock",
            f"--data-dir={self.workdir / 'etcd'}",
            f"--listen-client-urls={self._etcd_url}",
            f"--advertise-client-urls={self._etcd_url}",
            f"--listen-peer-urls=http://127.0.0.1:{peer}",
            f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
            f"--initial-cluster=airlock=http://127.0.0.1:{peer}",
            "--log-level=warn",
        ]
        if not self.etcd_fsync:
            args.append("--unsafe-no-fsync")
        self._spawn("etcd", args)

    def _apiserver_args(self, pki: _Pki) -> list[str]:
        return [
            str(self.bin_dir / "kube-apiserver"),
            f"--etcd-servers={self._etcd_url}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={self._api_port}",
            f"--cert-dir={self.workdir}",
            f"--tls-cert-file={pki.path('server.crt')}",
            f"--tls-private-key-file={pki.path('server.key')}",
            f"--client-ca-file={pki.path('ca.crt')}",
            "--authorization-mode=RBAC",
            "--service-account-issuer=https://kubernetes.default.svc",
            f"--service-account-key-file={pki.path('sa.pub')}",
            f"--service-account-signing-key-file={pki.path('sa.key')}",
            "--service-cluster-ip-range=10.0.0.0/24",
            # No controller-manager runs, so nothing would create ServiceAccount tokens for pods.
            "--disable-admission-plugins=ServiceAccount",
            "--allow-privileged=true",
            "--profiling=false",
            "--v=1",
        ]

    def _start_apiserver(self, pki: _Pki) -> None:
        self._spawn("kube-apiserver", self._apiserver_args(pki))

    def _start_controller_manager(self) -> None:
        # Only the controller that fills the aggregated ClusterRoles (admin, edit, view, and any a chart
        # adds to them): without it those roles have no rules and tests could not hand a team the roles it
        # really gets. --secure-port=0: it serves nothing, so it listens on no port at all.
        self._spawn(
            "kube-controller-manager",
            [
                str(self.bin_dir / "kube-controller-manager"),
                f"--kubeconfig={self.kubeconfig}",
                "--controllers=clusterrole-aggregation-controller",
                "--leader-elect=false",
                "--secure-port=0",
                "--bind-address=127.0.0.1",
                "--v=1",
            ],
        )

    def _wait_aggregated(self, deadline: float) -> None:
        """Until every built-in aggregated ClusterRole has rules: then the controller has done its first
        pass, and a test that binds `edit` gets what a team really gets."""
        ctx = self._ssl()
        empty: list[str] = list(AGGREGATED_ROLES)
        while time.monotonic() < deadline:
            self._check_alive()
            empty = [r for r in AGGREGATED_ROLES if not self._cluster_role_rules(r, ctx)]
            if not empty:
                return
            time.sleep(0.2)
        self.stop()
        raise ControlPlaneError(
            f"the ClusterRoles {', '.join(empty)} still have no rules: kube-controller-manager's "
            "clusterrole-aggregation controller did not fill them; see "
            f"{self.workdir / 'kube-controller-manager.log'}"
        )

    def _cluster_role_rules(self, name: str, ctx: ssl.SSLContext) -> list[object]:
        url = f"{self.server}/apis/rbac.authorization.k8s.io/v1/clusterroles/{name}"
        try:
            with urllib.request.urlopen(url, context=ctx, timeout=2) as resp:
                rules = json.loads(resp.read()).get("rules")
        except (urllib.error.URLError, OSError, ValueError):
            return []
        return rules if isinstance(rules, list) else []

    def _check_alive(self) -> None:
        for name, proc in self._procs.items():
            if proc.poll() is not None:
                tail = (self.workdir / f"{name}.log").read_text(errors="replace")[-3000:]
                self.stop()
                raise ControlPlaneError(f"{name} exited with code {proc.returncode} while starting:\n{tail}")

    def _ssl(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.workdir / "ca.crt"))
        ctx.load_cert_chain(str(self.workdir / "admin.crt"), str(self.workdir / "admin.key"))
        return ctx

    def _wait_ready(self, pki: _Pki, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        ctx = self._ssl()
        last = "no answer yet"
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                with urllib.request.urlopen(f"{self.server}/readyz", context=ctx, timeout=2) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, OSError) as exc:
                last = str(exc)
            time.sleep(0.2)
        self.stop()
        raise ControlPlaneError(
            f"kube-apiserver was not ready within {timeout:.0f}s ({last}); see {self.workdir}"
        )

    def _write_kubeconfig(self, pki: _Pki) -> None:
        def b64(name: str) -> str:
            return base64.b64encode((self.workdir / name).read_bytes()).decode()

        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": CONTEXT,
                    "cluster": {"server": self.server, "certificate-authority-data": b64("ca.crt")},
                }
            ],
            "users": [
                {
                    "name": ADMIN_USER,
                    "user": {
                        "client-certificate-data": b64("admin.crt"),
                        "client-key-data": b64("admin.key"),
                    },
                }
            ],
            "contexts": [{"name": CONTEXT, "context": {"cluster": CONTEXT, "user": ADMIN_USER}}],
            "current-context": CONTEXT,
        }
        self.kubeconfig.write_text(yaml.safe_dump(config))
        self.kubeconfig.chmod(0o600)

    def kubeconfig_for_token(self, token: str, path: Path, user: str = "token-user") -> Path:
        """A kubeconfig that authenticates with a bearer token (for example a ServiceAccount's)."""
        config = yaml.safe_load(self.kubeconfig.read_text())
        config["users"] = [{"name": user, "user": {"token": token}}]
        config["contexts"] = [{"name": CONTEXT, "context": {"cluster": CONTEXT, "user": user}}]
        path.write_text(yaml.safe_dump(config))
        path.chmod(0o600)
        return path

    def kubeconfig_for_server(self, server: str, path: Path) -> Path:
        """The admin kubeconfig pointed at another address of this API server (a proxy in front of it).

        The address must be one the server certificate names (127.0.0.1 or localhost)."""
        config = yaml.safe_load(self.kubeconfig.read_text())
        for entry in config["clusters"]:
            entry["cluster"]["server"] = server
        path.write_text(yaml.safe_dump(config))
        path.chmod(0o600)
        return path

    @property
    def api_port(self) -> int:
        """The port kube-apiserver listens on (on 127.0.0.1)."""
        return self._api_port

    def restart_apiserver(self, downtime: float = 0.0) -> None:
        """Stops kube-apiserver, waits, and starts it again on the same port with the same state."""
        self._stop_one("kube-apiserver")
        time.sleep(downtime)
        pki = _Pki(self.workdir)
        self._start_apiserver(pki)
        self._wait_ready(pki, 90)

    def _stop_one(self, name: str, grace: float = 10.0) -> None:
        proc = self._procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def stop(self) -> None:
        """Stops every process this cluster started; safe to call twice."""
        for name in ("kube-controller-manager", "kube-apiserver", "etcd"):
            self._stop_one(name)

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self._procs.values()]

    def pid_of(self, name: str) -> int:
        """The pid of one of this cluster's processes: etcd, kube-apiserver or kube-controller-manager."""
        return self._procs[name].pid

    def __enter__(self) -> LocalCluster:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


@contextlib.contextmanager
def local_cluster(
    workdir: Path | None = None, *, keep: bool = False, etcd_fsync: bool = False
) -> Iterator[LocalCluster]:
    """A started cluster in a temporary directory, stopped and removed on exit."""
    bin_dir = find_binaries()
    own_dir = workdir is None
    directory = Path(tempfile.mkdtemp(prefix="airlock-cluster-")) if workdir is None else workdir
    cluster = LocalCluster(bin_dir=bin_dir, workdir=directory, etcd_fsync=etcd_fsync)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        if own_dir and not keep:
            shutil.rmtree(directory, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m airlock_dev.localcluster",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start the control plane and run until Ctrl-C")
    up.add_argument("--dir", type=Path, default=None, help="working directory (default: a temporary one)")
    sub.add_parser("build", help="build the binaries (cached) and print their directory")
    args = parser.parse_args(argv)
    if args.command == "build":
        print(find_binaries())
        return 0
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with local_cluster(args.dir) as cluster:
        print(f"export KUBECONFIG={cluster.kubeconfig}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while all(p.poll() is None for p in cluster._procs.values()):
                time.sleep(1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
