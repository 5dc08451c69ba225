"""A real Argo CD on the local control plane: application controller, repo server and API server.

Built from Go modules by hack/build-argocd.sh. The components run as a team would run them (Argo CD's own
CRDs, argocd-cm and RBAC from its install.yaml, Airlock's argocd-cm patch, a git repository), with three
local substitutions: ARGOCD_FAKE_IN_CLUSTER maps the in-cluster destination to a kubeconfig, Redis is a
local redis-server, and the repository is a bare git repository on disk (a file:// repoURL).

The application controller binds its metrics port on every interface, so all components run in a private
network namespace that has only loopback (`unshare -n`, which needs root). A small bridge process gives
that namespace a port that leads to the API server on the host's loopback; `argocd` CLI calls enter the
namespace with nsenter.

    python -m airlock_dev.argocd bridge NETNS PORT HOST:PORT   # the bridge (started by LocalArgoCD)
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from airlock_dev import REPO_ROOT
from airlock_dev.admission_probe import wait_until_enforced
from airlock_dev.localcluster import LocalCluster, die_with_parent

BUILD_SCRIPT = REPO_ROOT / "hack" / "build-argocd.sh"
ARGOCD_CM_PATCH = REPO_ROOT / "manifests" / "argocd" / "argocd-cm-patch.yaml"
ARGOCD_RBAC = REPO_ROOT / "manifests" / "argocd" / "rbac.yaml"
NAMESPACE = "argocd"
CONTROLLER_SA = "argocd-application-controller"
SERVER_SA = "argocd-server"
CONTROLLER_IDENTITY = f"system:serviceaccount:{NAMESPACE}:{CONTROLLER_SA}"
# Inside the private network namespace every port is free.
API_PORT, REDIS_PORT, REPO_PORT, SERVER_PORT = 6443, 6379, 8081, 8080
CLONE_NEWNET = 0x40000000
# Only these kinds of Argo CD's install.yaml are used: no workloads (nothing runs pods here).
INSTALL_KINDS = {
    "CustomResourceDefinition",
    "ConfigMap",
    "Secret",
    "ServiceAccount",
    "ClusterRole",
    "ClusterRoleBinding",
    "Role",
    "RoleBinding",
}


class ArgoCDError(RuntimeError):
    """Argo CD could not be built, started or driven."""


def find_argocd(build: bool = True) -> Path:
    """The directory with the argocd binary, install.yaml and git-verify-wrapper.sh, built if missing."""
    if not build:
        raise ArgoCDError("Argo CD is not built; run hack/build-argocd.sh")
    result = subprocess.run(["bash", str(BUILD_SCRIPT)], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ArgoCDError(f"hack/build-argocd.sh failed ({result.returncode}):\n{result.stderr[-4000:]}")
    return Path(result.stdout.strip().splitlines()[-1])


def _setns(path: str) -> None:
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    with open(path) as ns:
        if libc.setns(ns.fileno(), CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns {path}")


def _pump(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)


def run_bridge(netns: str, port: int, target: str) -> None:
    """Listens on 127.0.0.1:port inside `netns` and forwards each connection to `target` on the host.

    A socket stays in the network namespace it was created in: the listener is made inside, then the
    process returns to the host's namespace, where every connection to the target is made."""
    host, target_port = target.rsplit(":", 1)
    with open("/proc/self/ns/net") as home:
        _setns(netns)
        listener = socket.create_server(("127.0.0.1", port))
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        if libc.setns(home.fileno(), CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns back to the host")
    print("listening", flush=True)
    while True:
        inside, _ = listener.accept()
        outside = socket.create_connection((host, int(target_port)))
        for a, b in ((inside, outside), (outside, inside)):
            threading.Thread(target=_pump, args=(a, b), daemon=True).start()


def kubectl(cluster: LocalCluster, *args: str, stdin: str | None = None, check: bool = True) -> str:
    """kubectl as the cluster's admin (the platform team installing things); returns its stdout."""
    result = subprocess.run(
        [cluster.kubectl, f"--kubeconfig={cluster.kubeconfig}", *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )
    if check and result.returncode != 0:
        raise ArgoCDError(f"kubectl {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


@dataclass
class GitRepo:
    """A bare repository (the remote Argo CD reads) and a working copy that commits and pushes to it."""

    root: Path

    @property
    def url(self) -> str:
        return f"file://{self.root / 'remote.git'}"

    def _git(self, *args: str, cwd: Path | None = None) -> str:
        env = {
            **os.environ,
            "GIT_AUTHOR_NAME": "Support Team",
            "GIT_AUTHOR_EMAIL": "support@example.com",
            "GIT_COMMITTER_NAME": "Support Team",
            "GIT_COMMITTER_EMAIL": "support@example.com",
        }
        result = subprocess.run(
            ["git", *args],
            cwd=cwd or self.root / "work",
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        if result.returncode != 0:
            raise ArgoCDError(f"git {' '.join(args)} failed: {result.stderr.strip()}")
        return result.stdout.strip()

    def init(self) -> GitRepo:
        self.root.mkdir(parents=True, exist_ok=True)
        self._git("init", "--bare", "--initial-branch=main", str(self.root / "remote.git"), cwd=self.root)
        self._git("clone", str(self.root / "remote.git"), str(self.root / "work"), cwd=self.root)
        self._git("checkout", "-b", "main")
        return self

    def commit(self, files: dict[str, list[dict[str, Any]] | None], message: str) -> str:
        """Writes (or, for None, removes) each file as YAML documents, commits and pushes; returns the sha."""
        work = self.root / "work"
        for name, docs in files.items():
            path = work / name
            if docs is None:
                path.unlink(missing_ok=True)
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
        self._git("add", "-A")
        self._git("commit", "--allow-empty", "-m", message)
        self._git("push", "origin", "main")
        return self._git("rev-parse", "HEAD")


@dataclass
class LocalArgoCD:
    """Argo CD's application controller, repo server and API server against a LocalCluster."""

    argocd_dir: Path
    cluster: LocalCluster
    workdir: Path
    app_resync_seconds: int = 10
    log: bool = True
    _procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    _netns: str = ""

    def _say(self, message: str) -> None:
        if self.log:
            print(f"[argo cd] {message}", file=sys.stderr, flush=True)

    # ---- the cluster side --------------------------------------------------------------------------
    def kubectl(self, *args: str, stdin: str | None = None, check: bool = True) -> str:
        return kubectl(self.cluster, *args, stdin=stdin, check=check)

    def install(self) -> None:
        """Argo CD's CRDs, settings and RBAC from its install.yaml, Airlock's argocd-cm patch and roles."""
        self.kubectl("create", "namespace", NAMESPACE, check=False)
        docs = [d for d in yaml.safe_load_all((self.argocd_dir / "install.yaml").read_text()) if d]
        kept = [d for d in docs if d.get("kind") in INSTALL_KINDS]
        self.kubectl("apply", "--server-side", "-n", NAMESPACE, "-f", "-", stdin=yaml.safe_dump_all(kept))
        self.kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
        self.kubectl(
            "-n", NAMESPACE, "patch", "configmap", "argocd-cm", "--type", "merge",
            "--patch-file", str(ARGOCD_CM_PATCH),
        )  # fmt: skip
        self.kubectl(
            "-n", NAMESPACE, "patch", "secret", "argocd-secret", "--type", "merge",
            "-p", '{"stringData": {"server.secretkey": "airlock-local-argocd"}}',
        )  # fmt: skip
        self.kubectl("apply", "-f", str(ARGOCD_RBAC))
        project = {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "AppProject",
            "metadata": {"name": "default", "namespace": NAMESPACE},
            "spec": {
                "sourceRepos": ["*"],
                "destinations": [{"server": "*", "namespace": "*"}],
                "clusterResourceWhitelist": [{"group": "*", "kind": "*"}],
            },
        }
        self.kubectl("apply", "-f", "-", stdin=yaml.safe_dump(project))

    def _kubeconfig_for(self, service_account: str) -> Path:
        token = self.kubectl(
            "-n", NAMESPACE, "create", "token", service_account, "--duration=24h"
        ).strip()  # fmt: skip
        path = self.workdir / f"{service_account}.kubeconfig"
        self.cluster.kubeconfig_for_token(token, path, user=service_account)
        config = yaml.safe_load(path.read_text())
        for entry in config["clusters"]:
            entry["cluster"]["server"] = f"https://127.0.0.1:{API_PORT}"
        path.write_text(yaml.safe_dump(config))
        return path

    # ---- processes ---------------------------------------------------------------------------------
    def _inside(self) -> list[str]:
        return ["nsenter", f"--net={self._netns}", "--"]

    def _spawn(self, name: str, args: list[str], env: dict[str, str] | None = None) -> None:
        logfile = (self.workdir / f"{name}.log").open("ab")
        self._procs[name] = subprocess.Popen(
            args,
            stdout=logfile,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            cwd=self.workdir,
            preexec_fn=die_with_parent,  # noqa: PLW1509 - only prctl runs between fork and exec
        )
        logfile.close()

    def _component_env(self, binary_name: str, kubeconfig: Path | None) -> dict[str, str]:
        data = self.workdir / "data"
        env = {
            "ARGOCD_BINARY_NAME": binary_name,
            "ARGOCD_FAKE_IN_CLUSTER": "true",
            "ARGOCD_GPG_ENABLED": "false",
            "ARGOCD_TLS_DATA_PATH": str(data / "tls"),
            "ARGOCD_SSH_DATA_PATH": str(data / "ssh"),
            "ARGOCD_GNUPGHOME": str(data / "gnupg"),
            "ARGOCD_PLUGINSOCKFILEPATH": str(data / "plugins"),
            "HOME": str(data / "home"),
            # The repo server runs git-verify-wrapper.sh from PATH.
            "PATH": f"{self.argocd_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        }
        for key in (
            "ARGOCD_TLS_DATA_PATH",
            "ARGOCD_SSH_DATA_PATH",
            "ARGOCD_GNUPGHOME",
            "ARGOCD_PLUGINSOCKFILEPATH",
            "HOME",
        ):
            Path(env[key]).mkdir(parents=True, exist_ok=True)
        if kubeconfig is not None:
            env["KUBECONFIG"] = str(kubeconfig)
        return env

    def start(self, timeout: float = 120.0) -> LocalArgoCD:
        started = time.monotonic()
        self.workdir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() != 0:
            raise ArgoCDError(
                "Argo CD runs in a private network namespace here, which needs root (unshare -n)"
            )
        redis = shutil.which("redis-server")
        if redis is None:
            raise ArgoCDError(
                "redis-server is required for Argo CD; install it (apt-get install redis-server)"
            )
        self.install()
        holder = subprocess.Popen(
            ["unshare", "--net", "--", "sh", "-c", "ip link set lo up && echo up && exec cat"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            preexec_fn=die_with_parent,  # noqa: PLW1509 - only prctl runs between fork and exec
        )
        self._procs["netns"] = holder
        assert holder.stdout is not None
        if holder.stdout.readline().strip() != b"up":
            raise ArgoCDError("could not make a private network namespace (unshare -n)")
        self._netns = f"/proc/{holder.pid}/ns/net"
        bridge = subprocess.Popen(
            [sys.executable, "-m", "airlock_dev.argocd", "bridge", self._netns, str(API_PORT),
             f"127.0.0.1:{self.cluster.api_port}"],
            stdout=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(REPO_ROOT / "operator")},
            preexec_fn=die_with_parent,  # noqa: PLW1509 - only prctl runs between fork and exec
        )  # fmt: skip
        self._procs["bridge"] = bridge
        assert bridge.stdout is not None
        if bridge.stdout.readline().strip() != b"listening":
            raise ArgoCDError("the bridge to the API server did not start")

        argocd = str(self.argocd_dir / "argocd")
        self._spawn("redis", [*self._inside(), redis, "--port", str(REDIS_PORT), "--bind", "127.0.0.1",
                              "--save", "", "--appendonly", "no"])  # fmt: skip
        redis_addr = f"127.0.0.1:{REDIS_PORT}"
        repo_addr = f"127.0.0.1:{REPO_PORT}"
        self._spawn(
            "repo-server",
            [*self._inside(), argocd, "--address", "127.0.0.1", "--port", str(REPO_PORT),
             "--metrics-address", "127.0.0.1", "--redis", redis_addr],
            self._component_env("argocd-repo-server", None),
        )  # fmt: skip
        controller_env = self._component_env(
            "argocd-application-controller", self._kubeconfig_for(CONTROLLER_SA)
        )
        controller_env["HOSTNAME"] = "argocd-application-controller-0"
        self._spawn(
            "application-controller",
            [*self._inside(), argocd, "--namespace", NAMESPACE, "--redis", redis_addr,
             "--repo-server", repo_addr, "--persist-resource-health",
             "--app-resync", str(self.app_resync_seconds), "--self-heal-timeout-seconds", "1",
             "--status-processors", "2", "--operation-processors", "2"],
            controller_env,
        )  # fmt: skip
        self._spawn(
            "server",
            [*self._inside(), argocd, "--namespace", NAMESPACE, "--insecure", "--disable-auth",
             "--address", "127.0.0.1", "--port", str(SERVER_PORT), "--metrics-address", "127.0.0.1",
             "--redis", redis_addr, "--repo-server", repo_addr],
            self._component_env("argocd-server", self._kubeconfig_for(SERVER_SA)),
        )  # fmt: skip
        self._wait_ready(started + timeout)
        self._say(
            f"application controller, repo server and API server up in {time.monotonic() - started:.1f}s"
        )
        return self

    def _wait_ready(self, deadline: float) -> None:
        last = ""
        while time.monotonic() < deadline:
            for name, proc in self._procs.items():
                if proc.poll() is not None:
                    raise ArgoCDError(
                        f"Argo CD's {name} exited with {proc.returncode}:\n{self.logs(name)[-4000:]}"
                    )
            result = self.cli("version", check=False)
            if result.returncode == 0 and "argocd-server" in result.stdout:
                return
            last = result.stderr.strip()[-300:]
            time.sleep(0.5)
        raise ArgoCDError(f"argocd-server did not answer in time ({last}); logs in {self.workdir}")

    def logs(self, name: str) -> str:
        path = self.workdir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """The argocd CLI against the API server, inside the namespace; `check` raises with its error."""
        cmd = [*self._inside(), str(self.argocd_dir / "argocd"), "--server", f"127.0.0.1:{SERVER_PORT}",
               "--plaintext", *args]  # fmt: skip
        env = {**os.environ, "HOME": str(self.workdir / "data" / "home")}
        result = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60, check=False)
        if check and result.returncode != 0:
            raise ArgoCDError(f"argocd {' '.join(args)} failed: {result.stderr.strip()}")
        return result

    def api(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        """A call to the API server's REST gateway (what the web UI uses), inside the namespace."""
        cmd = [*self._inside(), "curl", "-sS", "-X", method, "-H", "Content-Type: application/json",
               "-w", "\n%{http_code}", f"http://127.0.0.1:{SERVER_PORT}{path}"]  # fmt: skip
        if body is not None:
            cmd += ["--data-binary", json.dumps(body)]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
        if result.returncode != 0:
            raise ArgoCDError(f"{method} {path} failed: {result.stderr.strip()}")
        text, _, code = result.stdout.rpartition("\n")
        return int(code), json.loads(text) if text.strip() else None

    def stop(self) -> None:
        for name in reversed(list(self._procs)):
            proc = self._procs.pop(name)
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()

    def __enter__(self) -> LocalArgoCD:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


def install_airlock(cluster: LocalCluster) -> None:
    """Airlock's CRDs, admission policies and roles, and a ReadinessPolicy that trusts Argo CD's
    application controller to carry approvals made in Git (docs/gitops.md)."""
    kubectl(cluster, "apply", "--server-side", "-f", str(REPO_ROOT / "crds"))
    kubectl(cluster, "wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
    kubectl(cluster, "apply", "--server-side", "-f", str(REPO_ROOT / "manifests" / "admission"))
    kubectl(cluster, "apply", "--server-side", "-f", str(REPO_ROOT / "manifests" / "rbac"))
    wait_until_enforced(cluster)
    policy = {
        "apiVersion": "airlock.dev/v1alpha1",
        "kind": "ReadinessPolicy",
        "metadata": {"name": "default"},
        "spec": {"trustedGitOpsIdentities": [CONTROLLER_IDENTITY]},
    }
    kubectl(cluster, "apply", "-f", "-", stdin=yaml.safe_dump(policy))


def wait_for(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    """Polls until `predicate` returns something truthy; raises naming `what` otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise ArgoCDError(f"timed out after {timeout:.0f}s waiting for {what}")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) == 4 and args[0] == "bridge":
        run_bridge(args[1], int(args[2]), args[3])
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
