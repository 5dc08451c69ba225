"""`make demo-gitops`: promotion, the replica cap and the kill switch through a real Argo CD.

Brings up the local control plane with Airlock and its operator, then Argo CD's application controller,
repo server and API server (built by hack/build-argocd.sh) syncing a git repository on disk, configured
as docs/argocd.md says. A team commits a pilot, tries to scale it in Git, completes its packet and is
promoted; on-call kills and restores it through Argo CD's actions. Every step is really run; what Argo
CD reports is printed as `argocd app get` shows it. Needs root (Argo CD runs in a private network
namespace) and redis-server.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

from airlock_dev import samples
from airlock_dev.argocd import GitRepo, LocalArgoCD, find_argocd, install_airlock, kubectl, wait_for
from airlock_dev.localcluster import REPO_ROOT, LocalCluster, die_with_parent, find_binaries

NS = "support"
SERVICE = "support-assistant"
APP = "support-assistant"
WAVE = "argocd.argoproj.io/sync-wave"
BOLD = "\033[1m" if sys.stdout.isatty() and not os.environ.get("NO_COLOR") else ""
DIM = "\033[2m" if BOLD else ""
RESET = "\033[0m" if BOLD else ""


def _wave(doc: dict[str, Any], wave: int) -> dict[str, Any]:
    doc["metadata"].setdefault("annotations", {})[WAVE] = str(wave)
    return doc


class GitOpsDemo:
    def __init__(self, cluster: LocalCluster, argocd: LocalArgoCD, repo: GitRepo) -> None:
        self.cluster = cluster
        self.argocd = argocd
        self.repo = repo
        self.step_no = 0

    def step(self, title: str) -> None:
        self.step_no += 1
        print(f"\n{BOLD}{self.step_no}. {title}{RESET}", flush=True)

    def say(self, text: str) -> None:
        print(f"   {text}", flush=True)

    def commit(self, files: dict[str, list[dict[str, Any]]], message: str, refresh: bool = True) -> str:
        print(f"{DIM}$ git commit -m {message!r} && git push{RESET}", flush=True)
        sha = self.repo.commit({f"deploy/{k}": v for k, v in files.items()}, message)
        if refresh:  # the first commit comes before the Application exists
            kubectl(self.cluster, "-n", "argocd", "annotate", "application", APP, "--overwrite",
                    "argocd.argoproj.io/refresh=normal")  # fmt: skip
        return sha

    def app(self) -> dict[str, Any]:
        out: dict[str, Any] = json.loads(
            kubectl(self.cluster, "-n", "argocd", "get", "application", APP, "-o", "json")
        )
        return out

    def wait_synced(self, sha: str) -> None:
        def synced() -> bool:
            status = self.app().get("status", {})
            op = status.get("operationState", {})
            return bool(
                status.get("sync", {}).get("revision") == sha
                and op.get("phase") == "Succeeded"
                and op.get("syncResult", {}).get("revision") == sha
            )

        wait_for(synced, 180, f"Argo CD to sync {sha[:8]}")
        self.say(f"Argo CD synced {sha[:8]}")

    def health(self, kind: str = "AIService") -> dict[str, str]:
        app = json.loads(self.argocd.cli("app", "get", APP, "-o", "json").stdout)
        for resource in app["status"].get("resources", []):
            if resource["kind"] == kind and resource["name"] == SERVICE:
                found: dict[str, str] = resource.get("health") or {}
                return found
        return {}

    def wait_health(self, status: str) -> None:
        wait_for(lambda: self.health().get("status") == status, 120, f"the AIService to be {status}")

    def show(self) -> None:
        print(f"{DIM}$ argocd app get {APP}{RESET}", flush=True)
        out = self.argocd.cli("app", "get", APP).stdout
        for line in out.splitlines():
            if line.startswith(("Sync Status", "Health Status", "GROUP")) or SERVICE in line:
                print(f"  {line}", flush=True)
        health = self.health()
        if health:
            self.say(f"AIService health: {health.get('status')}: {health.get('message', '')}")
        replicas = json.loads(
            kubectl(self.cluster, "-n", NS, "get", "deployment", SERVICE, "-o", "json", check=False) or "{}"
        )
        if replicas:
            self.say(f"Deployment {SERVICE}: {replicas['spec']['replicas']} replicas")

    def files(self, packet_example: str, replicas: int) -> dict[str, list[dict[str, Any]]]:
        now = dt.datetime.now(dt.UTC)
        service = samples.load("service.yaml")
        deployment = samples.load("deployment.yaml")
        deployment["spec"]["replicas"] = replicas
        return {
            "packet.yaml": [
                _wave(samples.current_packet(samples.load(packet_example), now, namespace=NS), -2)
            ],
            "aiservice.yaml": [_wave(service, -1)],
            "deployment.yaml": [deployment],
        }

    def run(self) -> None:
        self.step("Onboarding: the Deployment and its packet first, then the AIService that governs it")
        first = self.files("packet-prompt-injection-failed.yaml", 1)
        aiservice = first.pop("aiservice.yaml")
        sha = self.commit(first, "The support assistant's Deployment and packet", refresh=False)
        app = yaml.safe_load((REPO_ROOT / "manifests" / "argocd" / "application-example.yaml").read_text())
        app["spec"]["source"] = {"repoURL": self.repo.url, "targetRevision": "main", "path": "deploy"}
        kubectl(self.cluster, "apply", "-f", "-", stdin=yaml.safe_dump(app))
        self.say(
            "Application applied from manifests/argocd/application-example.yaml (auto-sync, prune, self-heal)"
        )
        self.wait_synced(sha)
        self.wait_synced(self.commit({"aiservice.yaml": aiservice}, "Govern it with Airlock"))
        self.wait_health("Healthy")
        self.show()
        self.say(f"the pilot is Healthy and says why it is capped: {self.health()['message']}")
        self.say("(no kubelet runs here, so no pods start and Argo CD keeps the Deployment Progressing)")

        self.step("A commit raises replicas to 5 while the packet is incomplete")
        sha = self.commit(self.files("packet-prompt-injection-failed.yaml", 5), "Scale to 5")
        wait_for(
            lambda: self.app().get("status", {}).get("sync", {}).get("revision") == sha, 120, "the compare"
        )
        self.show()
        self.say("Git says 5; the live Deployment keeps the cap, and self-heal does not fight over it")

        self.step("The evals are fixed: the complete packet is committed")
        sha = self.commit(self.files("packet-complete.yaml", 5), "Complete packet: evals pass, signed off")
        wait_for(lambda: self.app().get("status", {}).get("sync", {}).get("revision") == sha, 120, "the sync")
        self.wait_health("Healthy")
        wait_for(lambda: self.health()["message"].startswith("Production"), 60, "promotion")
        self.say(
            "promoted; Git's replicas do not apply to a Deployment that exists, so scale it outside Git:"
        )
        kubectl(self.cluster, "-n", NS, "scale", "deployment", SERVICE, "--replicas=5")
        self.show()

        self.step("On-call engages the kill switch from Argo CD (the kill action)")
        code, body = self.argocd.api(
            "POST",
            f"/api/v1/applications/{APP}/resource/actions/v2",
            {"name": APP, "namespace": NS, "resourceName": SERVICE, "group": "airlock.dev",
             "version": "v1alpha1", "kind": "AIService", "action": "kill",
             "resourceActionParameters": [{"name": "reason", "value": "INC-4711 refunds promised"}]},
        )  # fmt: skip
        if code != 200:
            raise SystemExit(f"demo failed: the kill action answered {code}: {body}")
        self.wait_health("Suspended")
        self.show()

        self.step("On-call restores it: argocd app actions run ... restore")
        self.argocd.cli(
            "app", "actions", "run", APP, "restore", "--kind", "AIService",
            "--group", "airlock.dev", "--resource-name", SERVICE, "--namespace", NS,
        )  # fmt: skip
        self.wait_health("Healthy")
        self.show()

        self.step("A commit ships a new prompt version without its packet: the service is held, not grown")
        files = self.files("packet-complete.yaml", 5)
        files["aiservice.yaml"][0]["spec"]["versions"]["prompt"] = "v15"
        sha = self.commit(files, "Prompt v15")
        wait_for(lambda: self.app().get("status", {}).get("sync", {}).get("revision") == sha, 120, "the sync")
        self.wait_health("Degraded")
        self.show()


def main() -> int:
    print(
        f"{BOLD}Airlock with Argo CD{RESET}: building or reusing the control plane and Argo CD "
        "(the first build takes minutes)"
    )
    bin_dir = find_binaries()
    argocd_dir = find_argocd()
    with tempfile.TemporaryDirectory(prefix="airlock-demo-gitops-") as tmp:
        workdir = Path(tmp)
        cluster = LocalCluster(bin_dir=bin_dir, workdir=workdir / "cluster", log=False)
        argocd = LocalArgoCD(argocd_dir=argocd_dir, cluster=cluster, workdir=workdir / "argocd", log=False)
        operator: subprocess.Popen[bytes] | None = None
        try:
            cluster.start()
            install_airlock(cluster)
            kubectl(cluster, "create", "namespace", NS)
            kubectl(cluster, "label", "namespace", NS, "airlock.dev/governed=true")
            with (workdir / "operator.log").open("wb") as log:
                operator = subprocess.Popen(
                    [sys.executable, "-m", "airlock", "run"], stdout=log, stderr=subprocess.STDOUT,
                    env={**os.environ, "KUBECONFIG": str(cluster.kubeconfig), "AIRLOCK_METRICS_PORT": "0"},
                    preexec_fn=die_with_parent,  # noqa: PLW1509 - only prctl runs between fork and exec
                )  # fmt: skip
            argocd.start()
            print("Control plane, Airlock, its operator and Argo CD are running.")
            GitOpsDemo(cluster, argocd, GitRepo(workdir / "repo").init()).run()
        finally:
            if operator is not None:
                operator.terminate()
                operator.wait(10)
            argocd.stop()
            cluster.stop()
    print(f"\n{BOLD}Done.{RESET} Argo CD, the operator and the control plane are stopped.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
