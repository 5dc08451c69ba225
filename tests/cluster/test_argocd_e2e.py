"""Promotion, the replica cap and the kill switch through a real Argo CD (v3.6, built from Go modules).

Argo CD's application controller, repo server and API server sync a team's git repository into a local
control plane that runs Airlock's CRDs, admission policies, roles and operator. Argo CD is configured as
docs/argocd.md says: Airlock's argocd-cm patch, the example Application's ignoreDifferences and
RespectIgnoreDifferences with automated sync, prune and self-heal, and manifests/argocd/rbac.yaml. The
controller and the API server act as their own ServiceAccounts with the ClusterRoles of Argo CD's
install.yaml, not as cluster-admin.

The suite has its own control plane: it sets the cluster-wide ReadinessPolicy that trusts Argo CD's
ServiceAccount to carry approvals made in Git, which other tests must not see.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from airlock_dev import samples
from airlock_dev.argocd import ArgoCDError, GitRepo, LocalArgoCD, find_argocd, install_airlock, wait_for
from airlock_dev.localcluster import LocalCluster, find_binaries
from tests.conftest import GOVERNED, ROOT, Cluster, OperatorProcess, start_operator

EXAMPLE_APP = ROOT / "manifests" / "argocd" / "application-example.yaml"
SERVICE = "support-assistant"
WAVE = "argocd.argoproj.io/sync-wave"


@dataclass
class Env:
    cluster: Cluster
    argocd: LocalArgoCD
    workdir: Path
    operator: OperatorProcess | None = None

    def start_operator(self) -> None:
        if self.operator is None or self.operator.proc.poll() is not None:
            self.operator = start_operator(self.cluster, self.workdir)

    def stop_operator(self) -> None:
        if self.operator is not None:
            self.operator.stop()
            self.operator = None


@pytest.fixture(scope="module")
def env() -> Iterator[Env]:
    try:
        argocd_dir = find_argocd()
    except ArgoCDError as err:
        pytest.fail(str(err))
    workdir = Path(tempfile.mkdtemp(prefix="airlock-argocd-e2e-"))
    local = LocalCluster(bin_dir=find_binaries(), workdir=workdir / "cluster")
    local.start()
    argocd: LocalArgoCD | None = None
    state: Env | None = None
    try:
        cluster = Cluster(local)
        install_airlock(local)
        argocd = LocalArgoCD(argocd_dir=argocd_dir, cluster=local, workdir=workdir / "argocd")
        try:
            argocd.start()
        except ArgoCDError as err:
            pytest.fail(str(err))
        state = Env(cluster, argocd, workdir)
        state.start_operator()
        yield state
    finally:
        if state is not None:
            state.stop_operator()
        if argocd is not None:
            argocd.stop()
        local.stop()
        shutil.rmtree(workdir, ignore_errors=True)


# ---- what a team keeps in Git ------------------------------------------------------------------------
def with_wave(doc: dict[str, Any], wave: int) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    doc["metadata"].setdefault("annotations", {})[WAVE] = str(wave)
    return doc


def packet(namespace: str, example: str = "packet-complete.yaml", **versions: str) -> dict[str, Any]:
    doc = samples.current_packet(samples.load(example), dt.datetime.now(dt.UTC), namespace=namespace)
    if versions:
        doc["spec"]["versions"].update(versions)
        doc = samples.current_packet(doc, dt.datetime.now(dt.UTC), namespace=namespace)
    return with_wave(doc, -2)


def aiservice(namespace: str, **versions: str) -> dict[str, Any]:
    doc = samples.load("service.yaml")
    doc["metadata"]["namespace"] = namespace
    doc["spec"]["versions"].update(versions)
    return with_wave(doc, -1)


def deployment(namespace: str, replicas: int) -> dict[str, Any]:
    doc = samples.load("deployment.yaml")
    doc["metadata"]["namespace"] = namespace
    doc["spec"]["replicas"] = replicas
    return doc


@dataclass
class Service:
    """One team's service: a governed namespace, its git repository and its Application."""

    env: Env
    namespace: str
    repo: GitRepo
    app: str

    def commit(self, files: dict[str, list[dict[str, Any]] | None], message: str) -> str:
        sha = self.repo.commit({f"deploy/{k}": v for k, v in files.items()}, message)
        # What a git webhook does: ask Argo CD to look now rather than at its next resync.
        self.env.cluster.kubectl(
            "-n", "argocd", "annotate", "application", self.app, "--overwrite",
            "argocd.argoproj.io/refresh=normal",
        )  # fmt: skip
        return sha

    def application(self) -> dict[str, Any]:
        return self.env.cluster.get("application", self.app, "argocd")

    def app_get(self) -> dict[str, Any]:
        """`argocd app get -o json`, as a person at a terminal sees it."""
        out: dict[str, Any] = json.loads(self.env.argocd.cli("app", "get", self.app, "-o", "json").stdout)
        return out

    def health_of(self, kind: str, name: str = SERVICE) -> dict[str, str]:
        for resource in self.app_get()["status"].get("resources", []):
            if resource["kind"] == kind and resource["name"] == name:
                health: dict[str, str] = resource.get("health") or {}
                return health
        return {}

    def wait_health(self, kind: str, status: str, timeout: float = 90) -> dict[str, str]:
        return wait_for(  # type: ignore[no-any-return]
            lambda: (h := self.health_of(kind)) and h.get("status") == status and h,
            timeout,
            f"Argo CD to report {kind} {self.namespace}/{SERVICE} {status} (last: {self.health_of(kind)})",
        )

    def wait_synced(self, sha: str, timeout: float = 120) -> dict[str, Any]:
        def synced() -> dict[str, Any] | None:
            app = self.application()
            status = app.get("status", {})
            op = status.get("operationState", {})
            if (
                status.get("sync", {}).get("status") == "Synced"
                and status.get("sync", {}).get("revision") == sha
                and op.get("phase") == "Succeeded"
                and op.get("syncResult", {}).get("revision") == sha
            ):
                return app
            return None

        return wait_for(synced, timeout, f"Application {self.app} to sync {sha[:8]}")  # type: ignore[no-any-return]

    def replicas(self) -> int | None:
        result = self.env.cluster.kubectl(
            "-n", self.namespace, "get", "deployment", SERVICE, "-o", "json", check=False
        )  # fmt: skip
        if result.returncode != 0:
            return None
        out: int = json.loads(result.stdout)["spec"]["replicas"]
        return out

    def ais(self) -> dict[str, Any]:
        return self.env.cluster.get("aiservice", SERVICE, self.namespace)

    def reconciled_twice_more(self) -> None:
        """Waits for two more reconciliations of the Application: self-heal has had its chance since."""
        seen: list[str] = []

        def advanced() -> bool:
            at = self.application().get("status", {}).get("reconciledAt", "")
            if not seen or seen[-1] != at:
                seen.append(at)
            return len(seen) >= 3

        wait_for(advanced, 90, f"Application {self.app} to be reconciled twice more")


def new_service(
    env: Env, tmp_path: Path, packet_example: str = "packet-prompt-injection-failed.yaml"
) -> Service:
    """A pilot onboarded as docs/argocd.md says: the Deployment (at pilot size) and the packet in a first
    commit, the AIService that governs it in a second. Both synced."""
    namespace = env.cluster.create_namespace(f"e2e-{secrets.token_hex(3)}")
    assert GOVERNED.items() <= env.cluster.get("namespace", namespace)["metadata"]["labels"].items()
    repo = GitRepo(tmp_path / "repo").init()
    service = Service(env, namespace, repo, f"support-{namespace}")
    first = {
        "packet.yaml": [packet(namespace, packet_example)],
        "deployment.yaml": [deployment(namespace, 1)],
    }
    sha = repo.commit({f"deploy/{k}": v for k, v in first.items()}, "The Deployment and its packet")
    # The documented Application, pointed at this repository and namespace.
    app = yaml.safe_load(EXAMPLE_APP.read_text())
    app["metadata"]["name"] = service.app
    app["spec"]["source"] = {"repoURL": repo.url, "targetRevision": "main", "path": "deploy"}
    app["spec"]["destination"]["namespace"] = namespace
    env.cluster.apply(app)
    service.wait_synced(sha)
    service.wait_synced(service.commit({"aiservice.yaml": [aiservice(namespace)]}, "Govern it with Airlock"))
    return service


def test_onboarding_in_one_commit_stops_at_the_aiservice_wave_naming_the_missing_deployment(
    env: Env, tmp_path: Path
) -> None:
    env.start_operator()
    namespace = env.cluster.create_namespace(f"e2e-{secrets.token_hex(3)}")
    repo = GitRepo(tmp_path / "repo").init()
    service = Service(env, namespace, repo, f"support-{namespace}")
    files = {
        "packet.yaml": [packet(namespace)],
        "aiservice.yaml": [aiservice(namespace)],
        "deployment.yaml": [deployment(namespace, 1)],
    }
    repo.commit({f"deploy/{k}": v for k, v in files.items()}, "Everything at once")
    app = yaml.safe_load(EXAMPLE_APP.read_text())
    app["metadata"]["name"] = service.app
    app["spec"]["source"] = {"repoURL": repo.url, "targetRevision": "main", "path": "deploy"}
    app["spec"]["destination"]["namespace"] = namespace
    env.cluster.apply(app)
    # The AIService (wave -1) governs a Deployment that only wave 0 would create: Degraded, and the
    # sync fails there with the operator's message, so the Deployment is never applied.
    missing = service.wait_health("AIService", "Degraded")
    assert missing["message"] == (
        f"Deployment {SERVICE} does not exist in namespace {namespace}; create it or fix spec.workload.name."
    ), missing
    wait_for(
        lambda: (
            missing["message"] in service.application()["status"].get("operationState", {}).get("message", "")
            or any(
                r["kind"] == "AIService" and r.get("message") == missing["message"]
                for r in service.application()["status"]
                .get("operationState", {})
                .get("syncResult", {})
                .get("resources", [])
            )
        ),
        90,
        "the sync result to name the missing Deployment",
    )
    assert service.replicas() is None


def test_promotion_syncs_packet_then_aiservice_then_deployment(env: Env, tmp_path: Path) -> None:
    env.start_operator()
    service = new_service(env, tmp_path)
    ns = service.namespace
    assert service.health_of("AIService")["message"].startswith("Pilot: capped at 1 replica;")

    # The promotion commit: prompt v15, the complete packet for it, a new image and 3 replicas.
    env.stop_operator()
    new_image = deployment(ns, 3)
    new_image["spec"]["template"]["spec"]["containers"][0]["image"] = "registry.example/support-assistant:1.1"
    sha = service.commit(
        {
            "packet.yaml": [packet(ns, prompt="v15")],
            "aiservice.yaml": [aiservice(ns, prompt="v15")],
            "deployment.yaml": [new_image],
        },
        "Promote prompt v15 with its complete packet",
    )
    # With the operator not running nothing evaluates the new packet: the sync waits at its wave, and the
    # AIService and the Deployment are not touched.
    wait_for(
        lambda: (
            "ReadinessPacket" in service.application()["status"].get("operationState", {}).get("message", "")
            and service.application()["status"]["operationState"].get("syncResult", {}).get("revision") == sha
        ),
        90,
        "the sync to wait for the packet's health",
    )
    assert service.ais()["spec"]["versions"]["prompt"] == "v14"
    image = service.env.cluster.get("deployment", SERVICE, ns)["spec"]["template"]["spec"]["containers"][0][
        "image"
    ]
    assert image.endswith(":1.0")

    env.start_operator()
    service.wait_synced(sha)
    assert service.ais()["status"]["stage"] == "Production"
    live = service.env.cluster.get("deployment", SERVICE, ns)
    assert live["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":1.1")
    assert service.health_of("AIService") == {
        "status": "Healthy",
        "message": "Production: up to 20 replicas; 11/11 gates pass",
    }
    # RespectIgnoreDifferences keeps the live replicas of a Deployment that exists: Git's 3 are not
    # applied. After promotion replicas are scaled outside Git (kubectl scale, an HPA), as documented.
    assert service.replicas() == 1
    env.cluster.kubectl("-n", ns, "scale", "deployment", SERVICE, "--replicas=3")
    service.reconciled_twice_more()
    assert service.replicas() == 3
    assert service.application()["status"]["sync"]["status"] == "Synced"


def test_replicas_raised_in_git_while_the_packet_is_incomplete_stay_capped_without_a_fight(
    env: Env, tmp_path: Path
) -> None:
    env.start_operator()
    service = new_service(env, tmp_path)
    ns = service.namespace
    pilot = service.wait_health("AIService", "Healthy")
    assert pilot["message"].startswith("Pilot: capped at 1 replica;"), pilot
    assert "blocking: evals" in pilot["message"], pilot

    before = service.application()["status"]
    history = len(before.get("history", []))
    started = before["operationState"]["startedAt"]
    sha = service.commit({"deployment.yaml": [deployment(ns, 5)]}, "Scale to 5")
    # Git says 5 and the live Deployment keeps the operator's 1. The difference is ignored, so Argo CD
    # compares the new commit as Synced and starts no sync: there is no denial to retry and self-heal
    # has nothing to put back.
    wait_for(
        lambda: (
            (st := service.application()["status"]).get("sync", {}).get("revision") == sha
            and st["sync"].get("status") == "Synced"
        ),
        90,
        f"Argo CD to compare {sha[:8]} as Synced",
    )
    assert service.replicas() == 1
    service.reconciled_twice_more()
    app = service.application()
    assert app["status"]["sync"]["status"] == "Synced"
    assert app["status"]["operationState"]["startedAt"] == started, "self-heal started another sync"
    assert len(app["status"].get("history", [])) == history
    assert service.replicas() == 1
    # Health says why it stays at 1.
    assert service.health_of("AIService")["message"].startswith("Pilot: capped at 1 replica;")


def test_kill_and_restore_through_argo_cd_actions_hold_under_self_heal(env: Env, tmp_path: Path) -> None:
    env.start_operator()
    service = new_service(env, tmp_path, "packet-complete.yaml")
    ns = service.namespace
    service.wait_health("AIService", "Healthy")
    env.cluster.kubectl("-n", ns, "scale", "deployment", SERVICE, "--replicas=3")

    # Kill as the web UI does it: the actions API with the reason on-call typed.
    code, body = env.argocd.api(
        "POST",
        f"/api/v1/applications/{service.app}/resource/actions/v2",
        {
            "name": service.app,
            "namespace": ns,
            "resourceName": SERVICE,
            "group": "airlock.dev",
            "version": "v1alpha1",
            "kind": "AIService",
            "action": "kill",
            "resourceActionParameters": [{"name": "reason", "value": "INC-4711 refunds promised"}],
        },
    )
    assert code == 200, body
    wait_for(lambda: service.replicas() == 0, 30, "the kill switch to scale the Deployment to zero")
    killed = service.wait_health("AIService", "Suspended")
    assert killed["message"] == "Kill switch engaged: INC-4711 refunds promised"

    service.reconciled_twice_more()
    assert service.replicas() == 0, "self-heal brought replicas back during a kill"
    assert service.ais()["metadata"]["annotations"]["airlock.dev/kill-switch"] == "true"
    assert service.application()["status"]["sync"]["status"] == "Synced"

    # Restore from a terminal: `argocd app actions run`.
    env.argocd.cli(
        "app", "actions", "run", service.app, "restore", "--kind", "AIService",
        "--group", "airlock.dev", "--resource-name", SERVICE, "--namespace", ns,
    )  # fmt: skip
    wait_for(lambda: service.replicas() == 3, 30, "the restore to bring back 3 replicas")
    restored = service.wait_health("AIService", "Healthy")
    assert restored["message"].startswith("Production:"), restored


def test_argo_cd_reports_a_regressed_service_as_degraded_and_holds_its_replicas(
    env: Env, tmp_path: Path
) -> None:
    env.start_operator()
    service = new_service(env, tmp_path, "packet-complete.yaml")
    ns = service.namespace
    wait_for(lambda: service.ais().get("status", {}).get("stage") == "Production", 60, "promotion")
    env.cluster.kubectl("-n", ns, "scale", "deployment", SERVICE, "--replicas=3")

    # A prompt bump with no packet for it: the service is held, and Degraded fails the sync at its wave.
    service.commit({"aiservice.yaml": [aiservice(ns, prompt="v15")]}, "Prompt v15")
    regressed = service.wait_health("AIService", "Degraded")
    assert regressed["message"].startswith("Promoted, but required gates no longer pass ("), regressed
    assert regressed["message"].endswith("held at 3 replicas until they pass again."), regressed
    assert service.replicas() == 3
