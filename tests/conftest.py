"""Fixtures: one real local control plane per test session, a namespace per test, the operator, identities.

Tests under tests/cluster/ run against etcd and kube-apiserver on 127.0.0.1, started once per session with
the generated CRDs and the admission policy installed. Nothing here mocks the Kubernetes API.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from airlock_dev.admission_probe import wait_until_enforced
from airlock_dev.localcluster import LocalCluster, die_with_parent, find_binaries, free_port
from tests.support import scrape, wait_for

ROOT = Path(__file__).resolve().parent.parent
CRDS = ROOT / "crds"
ADMISSION = ROOT / "manifests" / "admission"
BUILD_HELM = ROOT / "hack" / "build-helm.sh"
# The mark of a namespace the platform team governs: Airlock's admission policies act only there.
GOVERNED = {"airlock.dev/governed": "true"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/tests/cluster/" in str(item.path):
            item.add_marker(pytest.mark.cluster)


@dataclass
class Cluster:
    """The session's control plane, with helpers that act as a user would: kubectl and a client."""

    local: LocalCluster

    @property
    def kubeconfig(self) -> Path:
        return self.local.kubeconfig

    def kubectl(
        self,
        *args: str,
        kubeconfig: Path | None = None,
        stdin: str | None = None,
        check: bool = True,
        timeout: float = 60,
    ) -> subprocess.CompletedProcess[str]:
        """Runs kubectl against the cluster; `check` raises with kubectl's own error text."""
        cmd = [self.local.kubectl, f"--kubeconfig={kubeconfig or self.kubeconfig}", *args]
        result = subprocess.run(
            cmd, input=stdin, capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} failed ({result.returncode}): {result.stderr.strip()}"
            )
        return result

    def apply(
        self, manifest: dict[str, Any] | list[dict[str, Any]] | str, **kw: Any
    ) -> subprocess.CompletedProcess[str]:
        text = (
            manifest
            if isinstance(manifest, str)
            else yaml.safe_dump_all(manifest if isinstance(manifest, list) else [manifest])
        )
        return self.kubectl("apply", "-f", "-", stdin=text, **kw)

    def create_namespace(self, name: str, *, governed: bool = True, check: bool = True) -> str:
        """Creates a namespace, marked as governed unless `governed` is false; returns its name."""
        labels = GOVERNED if governed else {}
        self.kubectl(
            "create",
            "-f",
            "-",
            stdin=json.dumps(
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}
            ),
            check=check,
        )
        return name

    def get(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
        ns = ["-n", namespace] if namespace else []
        out: dict[str, Any] = yaml.safe_load(self.kubectl("get", kind, name, *ns, "-o", "yaml").stdout)
        return out

    def api_client(self, kubeconfig: Path | None = None) -> Any:
        from kubernetes import config

        return config.new_client_from_config(config_file=str(kubeconfig or self.kubeconfig))

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 30, what: str = "condition") -> Any:
        """Polls until predicate returns a truthy value; fails with `what` after `timeout` seconds."""
        return wait_for(predicate, timeout, what)

    def token_kubeconfig(self, namespace: str, service_account: str, path: Path) -> Path:
        """A kubeconfig for a real ServiceAccount, with a token from the TokenRequest API."""
        self.kubectl("create", "serviceaccount", service_account, "-n", namespace, check=False)
        token = self.kubectl(
            "create", "token", service_account, "-n", namespace, "--duration=2h"
        ).stdout.strip()
        return self.local.kubeconfig_for_token(token, path, user=f"{namespace}-{service_account}")

    def service_account_may(self, user: str, namespace: str, **attributes: str) -> bool:
        """Asks the authorizer, as admission's `authorizer` would, whether a ServiceAccount (`user`, as
        `system:serviceaccount:<ns>:<name>`) may do something in `namespace`."""
        home = user.split(":")[2]
        review = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SubjectAccessReview",
            "spec": {
                "user": user,
                "groups": [
                    "system:serviceaccounts",
                    f"system:serviceaccounts:{home}",
                    "system:authenticated",
                ],
                "resourceAttributes": {"namespace": namespace, **attributes},
            },
        }
        out = self.kubectl("create", "-o", "json", "-f", "-", stdin=json.dumps(review)).stdout
        allowed: bool = json.loads(out)["status"].get("allowed", False)
        return allowed


def _install_crds(cluster: Cluster) -> None:
    cluster.kubectl("apply", "--server-side", "--field-manager=airlock-tests", "-f", str(CRDS))
    cluster.kubectl("wait", "--for=condition=Established", "--timeout=60s", "crd", "--all")


def _install_admission(cluster: Cluster) -> None:
    if not (ADMISSION.is_dir() and any(ADMISSION.glob("*.yaml"))):
        return
    cluster.kubectl("apply", "--server-side", "--field-manager=airlock-tests", "-f", str(ADMISSION))
    # Applied is not enforcing: wait for the policies to refuse and admit as they should.
    wait_until_enforced(cluster.local)


def workload_crd_files() -> list[Path]:
    """The CRDs of Argo Rollouts (Rollout) and KEDA (ScaledObject), from the projects' own Go modules at the
    versions in hack/versions.env (hack/fetch-crds.sh; `make test` passes them in AIRLOCK_WORKLOAD_CRDS).
    A test that needs them fails, never skips, when they cannot be had."""
    listed = os.environ.get("AIRLOCK_WORKLOAD_CRDS", "")
    if not listed:
        fetched = subprocess.run(
            ["bash", str(ROOT / "hack" / "fetch-crds.sh")], capture_output=True, text=True, check=False
        )
        if fetched.returncode != 0:
            raise AssertionError(f"hack/fetch-crds.sh failed: {fetched.stderr.strip()}")
        listed = ":".join(fetched.stdout.split())
    files = [Path(p) for p in listed.split(":") if p]
    missing = [str(f) for f in files if not f.is_file()]
    if not files or missing:
        raise AssertionError(
            f"the Argo Rollouts and KEDA CRDs are missing ({missing}); run hack/fetch-crds.sh"
        )
    return files


@pytest.fixture(scope="session")
def workload_crds(cluster: Cluster) -> list[str]:
    """Installs the Rollout and ScaledObject CRDs on the session's cluster (their controllers do not run:
    what matters is what the API server admits); returns the CRD names."""
    names = []
    for path in workload_crd_files():
        # Server-side: the Rollout CRD is too large for the last-applied annotation of a client-side apply.
        cluster.kubectl("apply", "--server-side", "--field-manager=airlock-tests", "-f", str(path))
        names.append(yaml.safe_load(path.read_text())["metadata"]["name"])
    cluster.kubectl("wait", "--for=condition=Established", "--timeout=60s", *(f"crd/{n}" for n in names))
    return names


@pytest.fixture(scope="module")
def helm() -> Path:
    """helm built from Go modules by hack/build-helm.sh (cached; instant when already built)."""
    result = subprocess.run(["bash", str(BUILD_HELM)], stdout=subprocess.PIPE, text=True, check=False)
    assert result.returncode == 0, f"{BUILD_HELM} failed with exit code {result.returncode}; see its stderr"
    return Path(result.stdout.strip().splitlines()[-1]) / "helm"


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    bin_dir = find_binaries()
    workdir = Path(tempfile.mkdtemp(prefix="airlock-test-cluster-"))
    local = LocalCluster(bin_dir=bin_dir, workdir=workdir)
    local.start()
    try:
        c = Cluster(local)
        _install_crds(c)
        _install_admission(c)
        yield c
    finally:
        local.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def namespace(cluster: Cluster) -> str:
    """A fresh governed namespace per test. No namespace controller runs, so it is left behind."""
    return cluster.create_namespace(f"t-{secrets.token_hex(4)}")


@dataclass
class OperatorProcess:
    """`python -m airlock run` as a subprocess against the session's cluster."""

    proc: subprocess.Popen[str]
    log_path: Path
    metrics_port: int

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def passes(self, kind: str, namespace: str, name: str) -> int | None:
        """How many reconcile passes over the object this process has completed (None: it has none, or
        it has forgotten a deleted object)."""
        found = [
            v
            for labels, v in scrape(self.metrics_port).get("airlock_reconcile_passes_total", [])
            if labels == {"kind": kind, "namespace": namespace, "name": name}
        ]
        return int(found[0]) if found else None

    def wait_for_pass(self, kind: str, namespace: str, name: str, after: int = 0, timeout: float = 30) -> int:
        """The positive barrier for "nothing more happened": waits until this process has completed a pass
        over the object beyond `after` passes, and returns the count."""
        return wait_for(
            lambda: (self.passes(kind, namespace, name) or 0) > after and self.passes(kind, namespace, name),
            timeout,
            f"the operator to complete pass {after + 1} over {kind} {namespace}/{name}",
        )

    def settle(self, cluster: Cluster, namespace: str, name: str, kind: str = "AIService") -> None:
        """The positive barrier before asserting that nothing more happened to an object after a change
        the test has seen land: twice, touches an annotation of no meaning to Airlock and waits for a pass
        beyond those counted before the touch. Passes over one object never overlap, so the second pass
        began after the first ended: every pass started before the touches has completed."""
        for _ in range(2):
            before = self.passes(kind, namespace, name) or 0
            cluster.kubectl(
                "annotate",
                kind.lower(),
                name,
                "-n",
                namespace,
                f"tests.airlock.dev/touch={secrets.token_hex(4)}",
                "--overwrite",
            )
            self.wait_for_pass(kind, namespace, name, after=before)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_operator(
    cluster: Cluster,
    log_dir: Path,
    *,
    kubeconfig: Path | None = None,
    extra_env: dict[str, str] | None = None,
) -> OperatorProcess:
    log_path = log_dir / f"operator-{secrets.token_hex(3)}.log"
    env = {
        **os.environ,
        "KUBECONFIG": str(kubeconfig or cluster.kubeconfig),
        "PYTHONPATH": str(ROOT / "operator"),
        "AIRLOCK_METRICS_PORT": str(free_port()),
        "AIRLOCK_METRICS_ADDRESS": "127.0.0.1",
        **(extra_env or {}),
    }
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "airlock", "run", "--verbose"],
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            cwd=ROOT,
            preexec_fn=die_with_parent,  # noqa: PLW1509 - only prctl runs between fork and exec
        )
    op = OperatorProcess(proc, log_path, int(env["AIRLOCK_METRICS_PORT"]))

    def ready() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"the operator exited with {proc.returncode}:\n{op.log()[-4000:]}")
        return "airlock operator ready" in op.log()

    try:
        wait_for(ready, 30, "the operator to report ready")
    except AssertionError:
        exited = proc.poll() is not None
        op.stop()
        if exited:
            raise
        raise AssertionError(f"the operator did not report ready within 30s:\n{op.log()[-4000:]}") from None
    return op


@pytest.fixture
def operator(cluster: Cluster, tmp_path: Path) -> Iterator[OperatorProcess]:
    """A running operator for one test; its log is printed when the test fails."""
    op = start_operator(cluster, tmp_path)
    try:
        yield op
    finally:
        op.stop()
        if op.proc.returncode not in (0, -signal.SIGTERM):
            print(op.log()[-8000:], file=sys.stderr)
