"""`make demo`: the whole story on a local control plane, printed plainly.

Brings up the local control plane on 127.0.0.1, installs the CRDs and the admission policies, starts the
operator, and walks through a pilot being capped, a packet completing, promotion, the kill switch, restore
and a version bump that leaves the service held; then, in a second namespace, a service widened through
three stages of the organisation's ReadinessPolicy. Every command shown is run for real.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from airlock_dev import samples
from airlock_dev.admission_probe import wait_until_enforced
from airlock_dev.localcluster import REPO_ROOT, LocalCluster, die_with_parent, find_binaries

NS = "support"
SERVICE = "support-assistant"
# The three-stage scene runs in its own namespace, under examples/policy-stages.yaml with its soak
# times shortened so the demo does not wait an hour.
STAGED_NS = "claims"
DEMO_SOAKS = {"Limited": "2s", "Production": "8s"}
BOLD = "\033[1m" if sys.stdout.isatty() and not os.environ.get("NO_COLOR") else ""
DIM = "\033[2m" if BOLD else ""
RESET = "\033[0m" if BOLD else ""


class Demo:
    def __init__(self, cluster: LocalCluster, workdir: Path) -> None:
        self.cluster = cluster
        self.workdir = workdir
        self.operator: subprocess.Popen[bytes] | None = None
        self.step_no = 0

    # ---- output --------------------------------------------------------------------------------------
    def step(self, title: str) -> None:
        self.step_no += 1
        print(f"\n{BOLD}{self.step_no}. {title}{RESET}", flush=True)

    def say(self, text: str) -> None:
        print(f"   {text}", flush=True)

    def kubectl(self, *args: str, stdin: str | None = None, show: bool = True, check: bool = True) -> str:
        if show:
            print(f"{DIM}$ kubectl {' '.join(shlex.quote(a) for a in args)}{RESET}", flush=True)
        result = subprocess.run(
            [self.cluster.kubectl, f"--kubeconfig={self.cluster.kubeconfig}", *args],
            input=stdin,
            capture_output=True,
            text=True,
            check=False,
        )
        out = (result.stdout + result.stderr).rstrip()
        if show and out:
            print("\n".join(f"  {line}" for line in out.splitlines()), flush=True)
        if check and result.returncode != 0:
            raise SystemExit(f"demo failed: kubectl {' '.join(args)}: {result.stderr.strip()}")
        return result.stdout

    def apply(self, doc: dict[str, Any], show_as: str) -> None:
        print(f"{DIM}$ kubectl apply -f {show_as}{RESET}", flush=True)
        out = self.kubectl("apply", "-f", "-", stdin=yaml.safe_dump(doc), show=False)
        print(f"  {out.strip()}", flush=True)

    def wait(self, predicate: Callable[[], bool], what: str, timeout: float = 30) -> float:
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if predicate():
                return time.monotonic() - started
            time.sleep(0.05)
        raise SystemExit(f"demo failed: timed out after {timeout:.0f}s waiting for {what}")

    def replicas(self, ns: str = NS) -> int:
        dep = json.loads(self.kubectl("get", "deployment", SERVICE, "-n", ns, "-o", "json", show=False))
        out: int = dep["spec"]["replicas"]
        return out

    def status(self, ns: str = NS) -> dict[str, Any]:
        ais = json.loads(self.kubectl("get", "ais", SERVICE, "-n", ns, "-o", "json", show=False))
        out: dict[str, Any] = ais.get("status") or {}
        return out

    # ---- the story -----------------------------------------------------------------------------------
    def install(self) -> None:
        self.step("Install Airlock: the generated CRDs and the admission policies")
        self.kubectl("apply", "--server-side", "-f", str(REPO_ROOT / "crds"))
        self.kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s", show=False)
        self.kubectl("apply", "--server-side", "-f", str(REPO_ROOT / "manifests" / "admission"))
        took = wait_until_enforced(self.cluster)
        self.say(f"admission policies enforcing after {took:.1f}s")

    def start_operator(self, title: str = "Start the operator (airlock run)") -> None:
        self.step(title)
        path = self.workdir / "operator.log"
        path.touch()
        ready_before = path.read_bytes().count(b"airlock operator ready")
        env = {**os.environ, "KUBECONFIG": str(self.cluster.kubeconfig), "AIRLOCK_METRICS_PORT": "0"}
        with path.open("ab") as log:
            self.operator = subprocess.Popen(
                [sys.executable, "-m", "airlock", "run"],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                preexec_fn=die_with_parent,  # noqa: PLW1509 - only prctl runs between fork and exec
            )
        self.wait(lambda: path.read_bytes().count(b"airlock operator ready") > ready_before, "the operator")
        self.say(f"operator running (pid {self.operator.pid}); log: {path}")

    def pilot(self) -> None:
        self.step("A new AI service is a pilot: one replica until its readiness packet is complete")
        self.say("Airlock acts only in namespaces a platform admin marks as governed")
        self.kubectl("create", "namespace", NS)
        self.kubectl("label", "namespace", NS, "airlock.dev/governed=true")
        deployment = yaml.safe_load((REPO_ROOT / "examples" / "deployment.yaml").read_text())
        self.apply(deployment, "examples/deployment.yaml")
        self.apply(samples.load("service.yaml"), "examples/service.yaml")
        self.wait(lambda: self.status().get("stage") == "Pilot", "the first status")
        self.kubectl("get", "ais", "-n", NS)

        self.step("Scaling the pilot up is denied by the API server, naming the service and what blocks it")
        self.kubectl("scale", "deployment", SERVICE, "-n", NS, "--replicas=5", check=False)

    def packet(self) -> None:
        now = dt.datetime.now(dt.UTC)
        self.step("A packet whose prompt-injection eval failed: one gate blocks")
        incomplete = samples.current_packet(samples.load("packet-prompt-injection-failed.yaml"), now)
        self.apply(incomplete, "examples/packet-prompt-injection-failed.yaml")
        self.wait(
            lambda: self.status().get("blockingGates") == ["evals"], "evals to be the only blocking gate"
        )
        self.kubectl("get", "ais", "-n", NS)
        evals = next(g for g in self.status()["gates"] if g["name"] == "evals")
        self.say(f"evals: {evals['message']}")

        self.step("The eval is fixed and re-run: the complete packet, signed off by owner and security")
        self.apply(
            samples.current_packet(samples.load("packet-complete.yaml"), now), "examples/packet-complete.yaml"
        )
        self.kubectl("wait", "--for=condition=Ready", f"ais/{SERVICE}", "-n", NS, "--timeout=30s")
        self.kubectl("get", "ais,rp", "-n", NS)

    def promote(self) -> None:
        self.step("Promoted: the cap is lifted to maxReplicas, so the scale-up goes through")
        self.kubectl("scale", "deployment", SERVICE, "-n", NS, "--replicas=5")
        self.kubectl("get", "deployment", SERVICE, "-n", NS, "--show-labels")

    def kill(self) -> None:
        self.step("3 a.m.: on-call pulls the kill switch")
        started = time.monotonic()
        self.kubectl(
            "annotate",
            "ais",
            SERVICE,
            "-n",
            NS,
            "airlock.dev/kill-switch=true",
            "airlock.dev/kill-switch-reason=INC-4711 refunds promised",
        )
        self.wait(lambda: self.replicas() == 0, "the Deployment to reach 0 replicas", timeout=10)
        self.say(
            f"Deployment at 0 replicas {time.monotonic() - started:.2f}s after the annotate command started"
        )
        self.wait(lambda: self.status().get("stage") == "Killed", "stage Killed")
        self.kubectl("get", "ais", "-n", NS)

        self.step("With the operator stopped, the API server still denies every scale-up while killed")
        self.stop()
        self.say("operator stopped")
        self.kubectl("scale", "deployment", SERVICE, "-n", NS, "--replicas=3", check=False)
        self.start_operator("Start the operator again")

    def restore(self) -> None:
        self.step("The incident is over: releasing the switch restores the recorded replicas")
        self.kubectl("annotate", "ais", SERVICE, "-n", NS, "airlock.dev/kill-switch-")
        self.wait(lambda: self.replicas() == 5, "the restore to 5 replicas")
        self.kubectl("get", "ais,deployment", "-n", NS)

    def regress(self) -> None:
        self.step("A new prompt version ships without a packet: the service is held, not grown")
        self.kubectl(
            "patch", "ais", SERVICE, "-n", NS, "--type=merge", "-p", '{"spec":{"versions":{"prompt":"v15"}}}'
        )
        self.wait(
            lambda: any(
                c["type"] == "Ready" and c["reason"] == "GatesRegressed"
                for c in self.status().get("conditions", [])
            ),
            "the service to be held as regressed",
        )
        self.kubectl("get", "ais", "-n", NS)
        ready = next(c for c in self.status()["conditions"] if c["type"] == "Ready")
        self.say(f"Ready={ready['status']} ({ready['reason']}): {ready['message']}")
        self.kubectl("scale", "deployment", SERVICE, "-n", NS, "--replicas=8", check=False)

    def history(self) -> None:
        self.step("Every transition is an Event")
        self.kubectl(
            "get",
            "events",
            "-n",
            NS,
            "--sort-by=.metadata.creationTimestamp",
            "--field-selector=involvedObject.kind=AIService",
        )

    def stages(self) -> None:
        self.step(
            "Three stages: the platform's ReadinessPolicy widens every service Pilot -> Limited -> Production"
        )
        policy = yaml.safe_load((REPO_ROOT / "examples" / "policy-stages.yaml").read_text())
        for stage in policy["spec"]["stages"]:
            if stage["name"] in DEMO_SOAKS:
                stage["minSoak"] = DEMO_SOAKS[stage["name"]]
        self.say(f"soak times shortened for the demo: {', '.join(f'{k} {v}' for k, v in DEMO_SOAKS.items())}")
        self.apply(policy, "examples/policy-stages.yaml")
        self.kubectl("create", "namespace", STAGED_NS)
        self.kubectl("label", "namespace", STAGED_NS, "airlock.dev/governed=true")
        deployment = yaml.safe_load((REPO_ROOT / "examples" / "deployment.yaml").read_text())
        deployment["metadata"]["namespace"] = STAGED_NS
        service = samples.load("service.yaml")
        service["metadata"]["namespace"] = STAGED_NS
        self.apply(deployment, f"examples/deployment.yaml -n {STAGED_NS}")
        self.apply(service, f"examples/service.yaml -n {STAGED_NS}")
        self.wait(lambda: self.status(STAGED_NS).get("nextStage") == "Limited", "the first stage")
        self.kubectl("get", "ais", "-n", STAGED_NS)

        now = dt.datetime.now(dt.UTC)
        self.step("Evals and the security review pass, the cost estimate does not: Limited, not Production")
        over = samples.current_packet(samples.load("packet-over-budget.yaml"), now, namespace=STAGED_NS)
        self.apply(over, f"examples/packet-over-budget.yaml -n {STAGED_NS}")
        self.wait(lambda: self.status(STAGED_NS).get("stage") == "Limited", "stage Limited", timeout=60)
        self.kubectl("get", "ais", "-n", STAGED_NS)
        limited = self.status(STAGED_NS)
        self.say(f"traffic weight published for the traffic router: {limited.get('trafficWeight')}%")
        wanted = limited["allowedReplicas"] + 1
        self.kubectl("scale", "deployment", SERVICE, "-n", STAGED_NS, f"--replicas={wanted}", check=False)

        self.step("The complete packet: Production's gates pass, and it waits out its soak in Limited")
        done = samples.current_packet(samples.load("packet-complete.yaml"), now, namespace=STAGED_NS)
        self.apply(done, f"examples/packet-complete.yaml -n {STAGED_NS}")
        self.wait(
            lambda: (
                self.status(STAGED_NS).get("stage") == "Production"
                or str(self.status(STAGED_NS).get("blocking", "")).startswith("soak")
            ),
            "the soak or the promotion",
        )
        self.kubectl("get", "ais", "-n", STAGED_NS)
        self.kubectl("wait", "--for=condition=Ready", f"ais/{SERVICE}", "-n", STAGED_NS, "--timeout=60s")
        self.kubectl("get", "ais", "-n", STAGED_NS)
        self.kubectl(
            "get",
            "events",
            "-n",
            STAGED_NS,
            "--sort-by=.metadata.creationTimestamp",
            "--field-selector=involvedObject.kind=AIService,reason=Promoted",
        )

    def stop(self) -> None:
        if self.operator is not None and self.operator.poll() is None:
            self.operator.terminate()
            try:
                self.operator.wait(10)
            except subprocess.TimeoutExpired:
                self.operator.kill()


def main() -> int:
    print(
        f"{BOLD}Airlock demo{RESET}: building or reusing the local control plane "
        "(the first build takes minutes)"
    )
    bin_dir = find_binaries()
    with tempfile.TemporaryDirectory(prefix="airlock-demo-") as tmp:
        workdir = Path(tmp)
        cluster = LocalCluster(bin_dir=bin_dir, workdir=workdir / "cluster")
        demo = Demo(cluster, workdir)
        try:
            cluster.start()
            demo.install()
            demo.start_operator()
            demo.pilot()
            demo.packet()
            demo.promote()
            demo.kill()
            demo.restore()
            demo.regress()
            demo.history()
            demo.stages()
        finally:
            demo.stop()
            cluster.stop()
    print(f"\n{BOLD}Done.{RESET} The control plane and the operator are stopped.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
