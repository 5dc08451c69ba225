"""`make bench`: Airlock measured on a real local control plane, each number next to its floor in one run.

For every size N it starts a fresh etcd + kube-apiserver on 127.0.0.1, installs the CRDs and the replica
cap policy, creates N Deployments and N AIServices, and measures:

  1. kill-switch latency: from just before the annotation PATCH is sent to the moment a separate watcher
     process sees the Deployment's spec.replicas become 0 (and, on release, come back), quiet and under
     background churn;
  2. the floor: the same for a bare client that reacts to the same AIService event with one scale PATCH;
  3. admission overhead: deployments/scale PATCHes with the policy binding present and deleted,
     interleaved in blocks;
  4. the operator's memory (VmRSS) and CPU (utime + stime) at steady state;
  5. cold start: a restart with N converged services, until every service was reconciled, and how many
     already-compliant Deployments and AIServices it wrote to;
  6. a memory soak under churn (at one size), with the RSS trend;
  7. a noisy neighbour: kill-switch latency in the main namespaces while another namespace floods in
     --noisy AIServices (created as fast as the API server takes them), then while it holds them and
     churns them, beside the quiet figure of 1.

    python -m airlock_dev.bench [--sizes 100,1000] [--toggles 500] [--soak-seconds 300] [--quick]
                            [--noisy 3000] [--noisy-toggles 50] [--noisy-churn-rate 50]
                            [--floor-sequence] [--operator-env AIRLOCK_WORKERS=4] [--json out.json]

Progress goes to stderr, the result tables (Markdown) to stdout, raw numbers to --json.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import hashlib
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import yaml

from airlock_dev.admission_probe import GOVERNED, wait_until_enforced
from airlock_dev.bench_agents import KILL_SWITCH, MERGE_PATCH, Api, ApiError
from airlock_dev.bench_stats import Summary, fmt, halves_growth, ratio, slope, summarize
from airlock_dev.localcluster import LocalCluster, die_with_parent, find_binaries, free_port

ROOT = Path(__file__).resolve().parents[2]
CRDS = ROOT / "crds"
POLICY = ROOT / "manifests" / "admission" / "replica-cap.yaml"
OPERATOR_DIR = ROOT / "operator"
GROUP_PATH = "/apis/airlock.dev/v1alpha1"
BINDINGS = "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings"
CHURN_NS = "bench-churn"
NOISY_NS = "bench-noisy"
# Namespaces with few AIServices, next to the main ones: admission evaluates every AIService of the
# request's namespace, so these separate the policy's fixed cost from its cost per AIService.
SIDE_NAMESPACES = {"bench-p1": 1, "bench-p10": 10}
CLK_TCK = os.sysconf("SC_CLK_TCK")


def say(message: str) -> None:
    """One line of progress on stderr, with the time."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ---- the machine ---------------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_kib = 0
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    bins = find_binaries()

    def version(*cmd: str) -> str:
        out = subprocess.run(cmd, capture_output=True, text=True, check=False).stdout.strip()
        return out.splitlines()[0] if out else "unknown"

    import kopf  # the operator's own dependency: its version is part of what is measured

    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "kopf": getattr(kopf, "__version__", "unknown"),
        "kube_apiserver": version(str(bins / "kube-apiserver"), "--version"),
        "etcd": version(str(bins / "etcd"), "--version"),
        "revision": revision(),
    }


def revision() -> str:
    """The commit measured, and the operator files that differ from it (the run measures the tree)."""
    head = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    changed = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "--", "operator/airlock"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split("\n")
    local = sorted(line[3:] for line in changed if line[3:] and "/bench" not in line)
    return (head or "unknown") + (f" with local changes to {', '.join(local)}" if local else "")


def code_digest() -> str:
    """A digest of the operator's sources as a started operator imports them, to notice edits mid-run."""
    digest = hashlib.sha256()
    for path in sorted((OPERATOR_DIR / "airlock").rglob("*.py")):
        if not path.name.startswith("bench"):
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def loadavg() -> str:
    """The 1, 5 and 15 minute load averages: what else the machine was doing."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


# ---- processes -----------------------------------------------------------------------------------------


def rss_mib(pid: int) -> float:
    """The resident set size of a process, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"/proc/{pid}/status has no VmRSS; is process {pid} a zombie?")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used so far, in seconds."""
    # Fields after the parenthesised command name: utime and stime are the 14th and 15th of the line.
    stat = Path(f"/proc/{pid}/stat").read_text()
    rest = stat.rsplit(")", 1)[1].split()
    return (int(rest[11]) + int(rest[12])) / CLK_TCK


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(OPERATOR_DIR)}


@dataclass
class Operator:
    """`airlock run` as a subprocess, its metrics endpoint on a free loopback port."""

    kubeconfig: Path
    log_path: Path
    extra_env: dict[str, str]
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    started_ns: int = 0
    digests: list[str] = field(default_factory=list)

    def start(self) -> float:
        """Starts the process; returns the seconds until it logged that it is ready."""
        self.port = free_port()
        env = {
            **_env(),
            "KUBECONFIG": str(self.kubeconfig),
            "AIRLOCK_METRICS_PORT": str(self.port),
            "AIRLOCK_METRICS_ADDRESS": "127.0.0.1",
            **self.extra_env,
        }
        self.digests.append(code_digest())
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        log = self.log_path.open("ab")
        self.started_ns = time.monotonic_ns()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "airlock", "run"],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=die_with_parent,  # noqa: PLW1509 - only prctl runs between fork and exec
            env=env,
            cwd=ROOT,
        )
        log.close()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"the operator exited with code {self.proc.returncode} while starting; "
                    f"its log:\n{self.log_path.read_text(errors='replace')[-3000:]}"
                )
            with self.log_path.open("rb") as f:
                f.seek(offset)
                if b"airlock operator ready" in f.read():
                    return (time.monotonic_ns() - self.started_ns) / 1e9
            time.sleep(0.05)
        raise RuntimeError(
            f"the operator did not log 'airlock operator ready' within 120s; see {self.log_path}"
        )

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def metrics(self, *names: str) -> str:
        """The operator's /metrics text, only the named samples when names are given."""
        query = "&".join(f"name[]={n}" for n in names)
        url = f"http://127.0.0.1:{self.port}/metrics" + (f"?{query}" if query else "")
        with urllib.request.urlopen(url, timeout=10) as resp:
            text: str = resp.read().decode()
            return text

    def progress(self) -> tuple[int, int]:
        """(services reconciled at least once, reconcile passes) as the operator's metrics say."""
        text = self.metrics("airlock_kill_switch_engaged", "airlock_reconcile_duration_seconds_count")
        services = passes = 0
        for line in text.splitlines():
            if line.startswith("airlock_kill_switch_engaged{"):
                services += 1
            elif line.startswith("airlock_reconcile_duration_seconds_count"):
                passes = int(float(line.split()[-1]))
        return services, passes

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 20 s; safe to call twice."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


class Agent:
    """One bench_agents process; its stdout lines are handed to `on_line` from a reader thread."""

    def __init__(
        self, role: str, server: str, certs: Path, log_dir: Path, extra: list[str] | None = None
    ) -> None:
        self.role = role
        self.ready = threading.Event()
        self._err = (log_dir / f"{role}.err").open("ab")
        agent = [sys.executable, "-m", "airlock_dev.bench_agents", role]
        self.proc = subprocess.Popen(
            [*agent, "--server", server, "--certs", str(certs), *(extra or [])],
            stdout=subprocess.PIPE,
            stderr=self._err,
            stdin=subprocess.DEVNULL,
            env=_env(),
            cwd=ROOT,
        )
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def on_line(self, fields: list[str]) -> None:
        """Handles one line the agent printed (split into fields); kept by default."""
        self.lines.append(" ".join(fields))

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            fields = raw.decode().split()
            if fields and fields[0] == "READY":
                self.ready.set()
            elif fields:
                self.on_line(fields)

    def wait_ready(self, timeout: float = 120) -> None:
        """Blocks until the agent has listed its objects and is watching."""
        if not self.ready.wait(timeout):
            raise RuntimeError(f"the {self.role} agent was not ready within {timeout:.0f}s")

    def stop(self) -> None:
        """Terminates the agent (killing it after 10 s); safe to call twice."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._err.close()


class Watcher(Agent):
    """Deployment replicas as a separate process sees them, with arrival times."""

    def __init__(self, server: str, certs: Path, log_dir: Path) -> None:
        self._seen: dict[tuple[str, str], list[tuple[int, int]]] = {}
        self._cond = threading.Condition()
        super().__init__("watch", server, certs, log_dir)

    def on_line(self, fields: list[str]) -> None:
        if fields[0] != "DEP":
            return
        _, ns, name, replicas, at = fields
        with self._cond:
            self._seen.setdefault((ns, name), []).append(
                (int(replicas) if replicas != "None" else 0, int(at))
            )
            self._cond.notify_all()

    def wait_for(self, key: tuple[str, str], replicas: int, after_ns: int, timeout: float) -> int | None:
        """The arrival time (ns) of the first change of `key` to `replicas` after `after_ns`, or None."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for value, at in self._seen.get(key, ()):
                    if value == replicas and at >= after_ns:
                        return at
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._cond.wait(remaining)

    def forget(self, key: tuple[str, str]) -> None:
        """Drops what was seen of one Deployment, before it is toggled again."""
        with self._cond:
            self._seen.pop(key, None)


# ---- the cluster and its objects ----------------------------------------------------------------------


@dataclass
class Bench:
    """One size: a fresh cluster, its objects, and the processes measuring it."""

    n: int
    per_namespace: int
    workdir: Path
    cluster: LocalCluster
    api: Api
    services: list[tuple[str, str]] = field(default_factory=list)
    agents: list[Agent] = field(default_factory=list)

    @property
    def total(self) -> int:
        """Every AIService in the cluster, the side namespaces' included."""
        return self.n + sum(SIDE_NAMESPACES.values())

    @property
    def certs(self) -> Path:
        return self.cluster.workdir

    def kubectl(self, *args: str) -> str:
        """Runs kubectl against this cluster; raises with kubectl's own error text."""
        result = subprocess.run(
            [self.cluster.kubectl, f"--kubeconfig={self.cluster.kubeconfig}", *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        if result.returncode != 0:
            raise RuntimeError(f"kubectl {' '.join(args)} failed: {result.stderr.strip()}")
        return result.stdout

    def agent(self, role: str, extra: list[str] | None = None) -> Agent:
        """Starts a bench_agents process that is stopped with the bench."""
        a = Agent(role, self.cluster.server, self.certs, self.workdir, extra)
        self.agents.append(a)
        return a

    def watcher(self) -> Watcher:
        """Starts the Deployment watcher that timestamps every replicas change."""
        w = Watcher(self.cluster.server, self.certs, self.workdir)
        self.agents.append(w)
        return w

    def stop_agent(self, agent: Agent) -> None:
        """Stops one agent before the end of the bench."""
        agent.stop()
        with contextlib.suppress(ValueError):
            self.agents.remove(agent)


def install(bench: Bench) -> None:
    """The CRDs and the replica cap policy (only replica-cap.yaml), ready to admit."""
    bench.kubectl("apply", "--server-side", "--field-manager=airlock-bench", "-f", str(CRDS))
    bench.kubectl("wait", "--for=condition=Established", "--timeout=60s", "crd", "--all")
    bench.kubectl("apply", "--server-side", "--field-manager=airlock-bench", "-f", str(POLICY))
    wait_until_enforced(bench.cluster)


def _deployment_spec(name: str, replicas: int) -> dict[str, Any]:
    return {
        "replicas": replicas,
        "selector": {"matchLabels": {"app": name}},
        "template": {
            "metadata": {"labels": {"app": name}},
            "spec": {"containers": [{"name": "model", "image": "registry.example/model-server:1"}]},
        },
    }


def _parallel(jobs: list[Callable[[], Any]], threads: int, what: str) -> float:
    """Runs the jobs on a thread pool, printing progress; returns the seconds it took."""
    started = time.monotonic()
    done = 0
    step = max(1, len(jobs) // 5)
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        for future in concurrent.futures.as_completed([pool.submit(j) for j in jobs]):
            future.result()
            done += 1
            if done % step == 0:
                say(f"  {what}: {done}/{len(jobs)}")
    return time.monotonic() - started


class _Patient:
    """POSTs that retry for a while: right after start-up the policy can still refuse writes while its
    parameter kind is being resolved ("failed to configure binding"), which is not what is measured."""

    def __init__(self, api: Api) -> None:
        self._api = api

    def request(self, method: str, path: str, body: Any = None) -> Any:
        deadline = time.monotonic() + 60
        while True:
            try:
                return self._api.request(method, path, body)
            except ApiError as exc:
                if exc.status not in (403, 422, 429, 500, 503) or time.monotonic() > deadline:
                    raise
                time.sleep(0.5)


def _service_body(ns: str, name: str) -> dict[str, Any]:
    return {
        "apiVersion": "airlock.dev/v1alpha1",
        "kind": "AIService",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "workload": {"name": name},
            "owner": "bench@example.com",
            "versions": {"model": "model-2026-11-01", "prompt": "v1"},
            "pilotReplicas": 1,
            "maxReplicas": 20,
        },
    }


def create_objects(bench: Bench) -> dict[str, float]:
    """N Deployments and N AIServices (one per Deployment), `per_namespace` to a namespace."""
    api = _Patient(bench.api)
    namespaces = [*sorted({f"bench-{i // bench.per_namespace:03d}" for i in range(bench.n)}), CHURN_NS]
    for ns in namespaces:
        api.request("POST", "/api/v1/namespaces", {"metadata": {"name": ns, "labels": GOVERNED}})
    bench.services = [(f"bench-{i // bench.per_namespace:03d}", f"svc-{i:05d}") for i in range(bench.n)]

    def deployment(ns: str, name: str) -> Callable[[], Any]:
        body = {"metadata": {"name": name, "namespace": ns}, "spec": _deployment_spec(name, 1)}
        return lambda: api.request("POST", f"/apis/apps/v1/namespaces/{ns}/deployments", body)

    def service(ns: str, name: str) -> Callable[[], Any]:
        body = _service_body(ns, name)
        return lambda: api.request("POST", f"{GROUP_PATH}/namespaces/{ns}/aiservices", body)

    def configmap(i: int) -> Callable[[], Any]:
        body = {"metadata": {"name": f"churn-{i:02d}", "namespace": CHURN_NS}, "data": {"k": "v"}}
        return lambda: api.request("POST", f"/api/v1/namespaces/{CHURN_NS}/configmaps", body)

    for ns, count in SIDE_NAMESPACES.items():
        api.request("POST", "/api/v1/namespaces", {"metadata": {"name": ns, "labels": GOVERNED}})
        for i in range(count):
            deployment(ns, f"side-{i:02d}")()
            service(ns, f"side-{i:02d}")()
    times = {
        "deployments_s": _parallel([deployment(*s) for s in bench.services], 8, "Deployments"),
        "aiservices_s": _parallel([service(*s) for s in bench.services], 8, "AIServices"),
    }
    _parallel([configmap(i) for i in range(20)], 4, "ConfigMaps")
    return times


def churn_targets(bench: Bench, exclude: set[tuple[str, str]]) -> Path:
    """Half ConfigMaps nobody watches, half AIServices that are not being toggled (labels only)."""
    paths = [f"/api/v1/namespaces/{CHURN_NS}/configmaps/churn-{i:02d}" for i in range(20)]
    others = [s for s in reversed(bench.services) if s not in exclude][:20] or bench.services[-20:]
    paths += [f"{GROUP_PATH}/namespaces/{ns}/aiservices/{name}" for ns, name in others]
    # Interleave so that the rate is split evenly between the two kinds.
    mixed = [p for pair in zip(paths[:20], paths[20:], strict=False) for p in pair] + paths[
        20 + len(others) :
    ]
    target = bench.workdir / "churn-targets.txt"
    target.write_text("\n".join(mixed or paths))
    return target


@contextlib.contextmanager
def churning(
    bench: Bench, rate: float, exclude: set[tuple[str, str]], targets: Path | None = None
) -> Iterator[None]:
    if rate <= 0:
        yield
        return
    paths = targets if targets is not None else churn_targets(bench, exclude)
    agent = bench.agent("churn", ["--rate", str(rate), "--targets", str(paths)])
    try:
        time.sleep(1.0)
        yield
    finally:
        bench.stop_agent(agent)


# ---- measurements --------------------------------------------------------------------------------------


def wait_converged(op: Operator, n: int, timeout: float) -> dict[str, float]:
    """Seconds from the operator's start until every service was reconciled once, and until its reconcile
    count stayed still for 3 s (nothing left to do)."""
    deadline = time.monotonic() + timeout
    all_seen: float | None = None
    last_passes, still_since = -1, time.monotonic()
    while time.monotonic() < deadline:
        try:
            services, passes = op.progress()
        except OSError:
            time.sleep(0.2)
            continue
        now_s = (time.monotonic_ns() - op.started_ns) / 1e9
        if all_seen is None and services >= n:
            all_seen = now_s
        if passes != last_passes:
            last_passes, still_since = passes, time.monotonic()
        elif all_seen is not None and time.monotonic() - still_since >= 3.0:
            return {"all_reconciled_s": all_seen, "quiet_s": now_s - 3.0, "passes": float(passes)}
        time.sleep(0.25)
    raise RuntimeError(
        f"the operator did not reconcile all {n} AIServices within {timeout:.0f}s "
        f"(last: {last_passes} passes); see its log"
    )


def reaction(op: Operator) -> tuple[float, int]:
    """(sum of seconds, count) of the operator's own kill-switch reaction histogram: from the event in
    its handler to the scale written, which separates its handler from watch delivery and queueing."""
    total, count = 0.0, 0
    names = ("airlock_kill_switch_reaction_seconds_sum", "airlock_kill_switch_reaction_seconds_count")
    for line in op.metrics(*names).splitlines():
        if line.startswith("airlock_kill_switch_reaction_seconds_sum"):
            total = float(line.split()[-1])
        elif line.startswith("airlock_kill_switch_reaction_seconds_count"):
            count = int(float(line.split()[-1]))
    return total, count


def in_handler_ms(before: tuple[float, int], after: tuple[float, int]) -> float | None:
    """Mean of the reaction histogram between two readings, in ms; None when nothing was observed."""
    count = after[1] - before[1]
    return 1000 * (after[0] - before[0]) / count if count else None


def steady(pid: int, seconds: float) -> dict[str, float]:
    """CPU share (percent of one core) over `seconds`, and RSS at the end."""
    c0, t0 = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    c1, t1 = cpu_seconds(pid), time.monotonic()
    return {"cpu_percent": 100 * (c1 - c0) / (t1 - t0), "rss_mib": rss_mib(pid)}


def annotate(api: Api, key: tuple[str, str], value: str | None) -> None:
    """Sets (or, with None, removes) the kill-switch annotation of one AIService."""
    ns, name = key
    api.request(
        "PATCH",
        f"{GROUP_PATH}/namespaces/{ns}/aiservices/{name}",
        {"metadata": {"annotations": {KILL_SWITCH: value}}},
        content_type=MERGE_PATCH,
    )


def toggle_set(bench: Bench, toggles: int) -> list[tuple[str, str]]:
    """Services to toggle, spread across namespaces: every k-th one."""
    stride = max(1, bench.n // max(1, toggles))
    picked = bench.services[::stride]
    return [picked[i % len(picked)] for i in range(toggles)]


def kill_switch(
    bench: Bench,
    watcher: Watcher,
    keys: list[tuple[str, str]],
    timeout: float,
    until: threading.Event | None = None,
) -> dict[str, Any]:
    """Engage, wait for 0, release, wait for the restore: for each key in turn (with `until`, round the
    keys again and again until it is set, at least once). Latencies in ms."""
    engage: list[float] = []
    restore: list[float] = []
    missed = 0
    turns = keys if until is None else _until(keys, until)
    for i, key in enumerate(turns):
        watcher.forget(key)
        t0 = time.monotonic_ns()
        annotate(bench.api, key, "true")
        seen = watcher.wait_for(key, 0, t0, timeout)
        if seen is None:
            missed += 1
            say(f"  {key[0]}/{key[1]}: replicas did not reach 0 within {timeout:.0f}s")
        else:
            engage.append((seen - t0) / 1e6)
        t1 = time.monotonic_ns()
        annotate(bench.api, key, None)
        back = watcher.wait_for(key, 1, t1, timeout)
        if back is None:
            missed += 1
            say(f"  {key[0]}/{key[1]}: replicas did not come back to 1 within {timeout:.0f}s")
        else:
            restore.append((back - t1) / 1e6)
        # Ten misses and not one toggle seen is a broken reacting client; misses among seen toggles are
        # the measurement (a saturated API server), reported as `missed`, each at least `timeout` long.
        if missed >= 10 and not engage and not restore:
            raise RuntimeError("ten kill-switch toggles timed out; the reacting client is not working")
        if (i + 1) % max(1, len(keys) // 4) == 0:
            say(f"  toggles: {i + 1}/{len(keys)}")
    return {
        "engage_ms": summarize(engage).__dict__ if engage else None,
        "restore_ms": summarize(restore).__dict__ if restore else None,
        "missed": missed,
        "engage_raw": engage,
    }


def _until(keys: list[tuple[str, str]], until: threading.Event) -> Iterator[tuple[str, str]]:
    i = 0
    while i == 0 or not until.is_set():
        yield keys[i % len(keys)]
        i += 1


def _post(api: _Patient, path: str, body: dict[str, Any]) -> Callable[[], Any]:
    return lambda: api.request("POST", path, body)


def noisy_neighbour(
    bench: Bench, op: Operator, watcher: Watcher, keys: list[tuple[str, str]], args: argparse.Namespace
) -> dict[str, Any]:
    """Kill-switch latency in the main namespaces while NOISY_NS floods in `--noisy` AIServices, and
    then while it holds and churns them; the noisy AIServices are deleted at the end."""
    api = _Patient(bench.api)
    count = args.noisy
    api.request("POST", "/api/v1/namespaces", {"metadata": {"name": NOISY_NS, "labels": GOVERNED}})
    names = [f"noisy-{i:05d}" for i in range(count)]
    deployments = f"/apis/apps/v1/namespaces/{NOISY_NS}/deployments"
    services = f"{GROUP_PATH}/namespaces/{NOISY_NS}/aiservices"
    _parallel(
        [
            _post(
                api,
                deployments,
                {"metadata": {"name": n, "namespace": NOISY_NS}, "spec": _deployment_spec(n, 1)},
            )
            for n in names
        ],
        8,
        "noisy Deployments",
    )
    flood_done = threading.Event()
    flood_s: list[float] = []

    def flood() -> None:
        try:
            jobs = [_post(api, services, _service_body(NOISY_NS, n)) for n in names]
            flood_s.append(_parallel(jobs, 8, "noisy AIServices"))
        finally:
            flood_done.set()

    result: dict[str, Any] = {"services": count, "load_before": loadavg()}
    say(f"  flood: {count} AIServices into {NOISY_NS} while toggling kill switches elsewhere")
    thread = threading.Thread(target=flood, daemon=True)
    flood_start_s = (time.monotonic_ns() - op.started_ns) / 1e9
    r0 = reaction(op)
    thread.start()
    result["flood"] = kill_switch(bench, watcher, keys, args.toggle_timeout, until=flood_done)
    r1 = reaction(op)
    result["flood"]["in_handler_mean_ms"] = in_handler_ms(r0, r1)
    thread.join()
    result["flood_create_s"] = flood_s[0] if flood_s else None
    result["load_after_flood"] = loadavg()
    say("  flood done; waiting for the operator to reconcile the noisy namespace")
    try:
        converged = wait_converged(op, bench.total + count, args.noisy_converge_timeout)
        result["converged"] = {k: v - flood_start_s if k.endswith("_s") else v for k, v in converged.items()}
    except RuntimeError as exc:  # measured as it is: the phase goes on with what was reconciled
        say(f"  {exc}")
        result["converged"] = None
        result["reconciled_within_timeout"] = op.progress()[0] - bench.total
    result["rss_mib"] = rss_mib(op.pid)
    targets = bench.workdir / "noisy-targets.txt"
    targets.write_text("\n".join(f"{GROUP_PATH}/namespaces/{NOISY_NS}/aiservices/{n}" for n in names))
    say(f"  holding {count}, churning them at {args.noisy_churn_rate}/s")
    with churning(bench, args.noisy_churn_rate, set(), targets):
        c0, t0 = cpu_seconds(op.pid), time.monotonic()
        r2 = reaction(op)
        result["churn"] = kill_switch(bench, watcher, keys, args.toggle_timeout)
        result["churn"]["in_handler_mean_ms"] = in_handler_ms(r2, reaction(op))
        result["churn_cpu_percent"] = 100 * (cpu_seconds(op.pid) - c0) / (time.monotonic() - t0)
    result["load_after"] = loadavg()
    bench.api.request("DELETE", f"{GROUP_PATH}/namespaces/{NOISY_NS}/aiservices")
    return result


def admission(bench: Bench, blocks: int, per_block: int) -> dict[str, Any]:
    """Latency of deployments/scale PATCHes (alternating 1 and 0 replicas, always within the cap) with the
    policy binding present and deleted, in interleaved blocks (ABBA) so that drift hits both alike."""
    api = bench.api
    binding = next(d for d in yaml.safe_load_all(POLICY.read_text()) if d["kind"].endswith("Binding"))
    name = binding["metadata"]["name"]
    stride = max(1, bench.n // 50)
    targets = bench.services[::stride][:50]
    probe_ns, probe_name = targets[0]
    probe_path = f"/apis/apps/v1/namespaces/{probe_ns}/deployments/{probe_name}/scale"

    def enforced() -> bool:
        try:
            api.request(
                "PATCH",
                probe_path,
                {"spec": {"replicas": 50}},
                params={"dryRun": "All"},
                content_type=MERGE_PATCH,
            )
            return False
        except ApiError as exc:
            if exc.status in (403, 422):
                return True
            raise

    def set_bound(bound: bool) -> None:
        if bound:
            with contextlib.suppress(ApiError):
                api.request("POST", BINDINGS, binding)
        else:
            with contextlib.suppress(ApiError):
                api.request("DELETE", f"{BINDINGS}/{name}")
        deadline = time.monotonic() + 60
        while enforced() != bound:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"the policy binding {name} did not take effect within 60s (bound={bound})"
                )
            time.sleep(0.05)

    samples: dict[bool, list[float]] = {True: [], False: []}
    side: dict[str, dict[bool, list[float]]] = {ns: {True: [], False: []} for ns in SIDE_NAMESPACES}
    replicas = dict.fromkeys([*targets, *((ns, "side-00") for ns in SIDE_NAMESPACES)], 1)

    def timed_scale(key: tuple[str, str]) -> float:
        replicas[key] = 1 - replicas[key]
        path = f"/apis/apps/v1/namespaces/{key[0]}/deployments/{key[1]}/scale"
        t0 = time.perf_counter_ns()
        api.request("PATCH", path, {"spec": {"replicas": replicas[key]}}, content_type=MERGE_PATCH)
        return (time.perf_counter_ns() - t0) / 1e6

    order = [True, False, False, True]
    for b in range(blocks):
        bound = order[b % 4]
        set_bound(bound)
        time.sleep(0.5)
        for i in range(per_block):
            samples[bound].append(timed_scale(targets[i % len(targets)]))
            if i % 5 == 0:
                for ns in SIDE_NAMESPACES:
                    side[ns][bound].append(timed_scale((ns, "side-00")))
    set_bound(True)
    with_policy, without = summarize(samples[True]), summarize(samples[False])
    return {
        "with_ms": with_policy.__dict__,
        "without_ms": without.__dict__,
        "side": {
            str(SIDE_NAMESPACES[ns]): {
                "with_ms": summarize(v[True]).__dict__,
                "without_ms": summarize(v[False]).__dict__,
            }
            for ns, v in side.items()
        },
        "params_per_request": bench.per_namespace,
        "deployments": len(targets),
    }


def cold_start(bench: Bench, op: Operator, timeout: float) -> dict[str, Any]:
    """Restart the operator over converged services; count the writes it made to compliant objects."""

    def versions(path: str) -> dict[tuple[str, str], str]:
        items = bench.api.request("GET", path)["items"]
        return {
            (o["metadata"]["namespace"], o["metadata"]["name"]): o["metadata"]["resourceVersion"]
            for o in items
        }

    op.stop()
    before_d = versions("/apis/apps/v1/deployments")
    before_s = versions(f"{GROUP_PATH}/aiservices")
    ready_s = op.start()
    times = wait_converged(op, bench.total, timeout)
    after_d = versions("/apis/apps/v1/deployments")
    after_s = versions(f"{GROUP_PATH}/aiservices")
    return {
        "ready_s": ready_s,
        **times,
        "deployment_writes": sum(1 for k, v in before_d.items() if after_d.get(k) != v),
        "aiservice_writes": sum(1 for k, v in before_s.items() if after_s.get(k) != v),
        "rss_mib": rss_mib(op.pid),
    }


def soak(bench: Bench, op: Operator, seconds: float, rate: float) -> dict[str, Any]:
    """RSS every 10 s for `seconds` under churn, with one kill-switch toggle every 5 s."""
    samples: list[tuple[float, float]] = []
    keys = toggle_set(bench, 50)
    stop = threading.Event()

    def toggler() -> None:
        i = 0
        while not stop.wait(2.5):
            key = keys[i // 2 % len(keys)]
            annotate(bench.api, key, "true" if i % 2 == 0 else None)
            i += 1
        if i % 2 == 1:  # leave the last one released
            annotate(bench.api, keys[(i - 1) // 2 % len(keys)], None)

    started = time.monotonic()
    c0 = cpu_seconds(op.pid)
    with churning(bench, rate, set(keys)):
        thread = threading.Thread(target=toggler, daemon=True)
        thread.start()
        try:
            while time.monotonic() - started < seconds:
                samples.append((time.monotonic() - started, rss_mib(op.pid)))
                if len(samples) % 6 == 0:
                    say(f"  soak: {samples[-1][0]:.0f}s, RSS {samples[-1][1]:.1f} MiB")
                time.sleep(10)
        finally:
            stop.set()
            thread.join()
    elapsed = time.monotonic() - started
    rss = [s[1] for s in samples]
    return {
        "seconds": elapsed,
        "samples": samples,
        "rss_first_mib": rss[0],
        "rss_last_mib": rss[-1],
        "rss_max_mib": max(rss),
        "slope_mib_per_hour": slope([s[0] for s in samples], rss) * 3600 if len(rss) > 1 else 0.0,
        "halves_growth_mib": halves_growth(rss) if len(rss) > 1 else 0.0,
        "cpu_percent": 100 * (cpu_seconds(op.pid) - c0) / elapsed,
    }


# ---- one size ------------------------------------------------------------------------------------------


def run_size(n: int, args: argparse.Namespace, soak_here: bool) -> dict[str, Any]:
    """Every measurement at one size, on a fresh cluster that is stopped and removed at the end."""
    workdir = Path(tempfile.mkdtemp(prefix=f"airlock-bench-{n}-"))
    cluster = LocalCluster(bin_dir=find_binaries(), workdir=workdir / "cluster", log=False)
    result: dict[str, Any] = {"n": n, "per_namespace": args.per_namespace}
    op: Operator | None = None
    bench: Bench | None = None
    try:
        say(f"N={n}: starting a fresh control plane")
        cluster.start()
        api = Api(cluster.server, cluster.workdir, pool_size=16)
        bench = Bench(n, args.per_namespace, workdir, cluster, api)
        install(bench)
        say(f"N={n}: creating {n} Deployments and {n} AIServices ({args.per_namespace} per namespace)")
        result["create"] = create_objects(bench)
        say(f"N={n}: created in {sum(result['create'].values()):.1f}s; starting the operator")
        env = {k: v for k, v in (e.split("=", 1) for e in args.operator_env)}
        op = Operator(cluster.kubeconfig, workdir / "operator.log", env)
        ready = op.start()
        result["first_start"] = {"ready_s": ready, **wait_converged(op, bench.total, args.converge_timeout)}
        say(f"N={n}: converged: {result['first_start']}")
        result["idle"] = steady(op.pid, args.idle_seconds)
        # LocalCluster starts etcd first, then kube-apiserver.
        result["etcd_rss_mib"] = rss_mib(cluster.pids[0])
        result["apiserver_rss_mib"] = rss_mib(cluster.pids[1])
        say(f"N={n}: idle {result['idle']}")

        watcher = bench.watcher()
        watcher.wait_ready()
        keys = toggle_set(bench, args.toggles)
        timeout = args.toggle_timeout
        say(f"N={n}: operator kill switch, quiet, {len(keys)} toggles")
        r0 = reaction(op)
        result["load_quiet"] = loadavg()
        result["op_quiet"] = kill_switch(bench, watcher, keys, timeout)
        r1 = reaction(op)
        result["op_quiet"]["in_handler_mean_ms"] = in_handler_ms(r0, r1)
        say(f"N={n}: operator kill switch under churn ({args.churn_rate}/s)")
        with churning(bench, args.churn_rate, set(keys)):
            c0, t0 = cpu_seconds(op.pid), time.monotonic()
            result["op_churn"] = kill_switch(bench, watcher, keys, timeout)
            result["op_churn"]["in_handler_mean_ms"] = in_handler_ms(r1, reaction(op))
            result["churn_load"] = {
                "cpu_percent": 100 * (cpu_seconds(op.pid) - c0) / (time.monotonic() - t0),
                "rss_mib": rss_mib(op.pid),
            }

        say(f"N={n}: cold start")
        result["cold_start"] = cold_start(bench, op, args.converge_timeout)
        say(f"N={n}: cold start {result['cold_start']}")
        result["after_cold_idle"] = steady(op.pid, min(args.idle_seconds, 10))
        if soak_here and args.soak_seconds > 0:
            say(f"N={n}: memory soak for {args.soak_seconds:.0f}s under churn")
            result["soak"] = soak(bench, op, args.soak_seconds, args.churn_rate)
        if args.noisy > 0:
            say(f"N={n}: noisy neighbour, {args.noisy} AIServices in {NOISY_NS}")
            result["noisy"] = noisy_neighbour(bench, op, watcher, keys[: args.noisy_toggles], args)
            say(f"N={n}: noisy neighbour {result['noisy'].get('converged')}")
        op.stop()

        floor = bench.agent("floor")
        floor.wait_ready()
        say(f"N={n}: floor kill switch, quiet")
        result["floor_quiet"] = kill_switch(bench, watcher, keys, timeout)
        say(f"N={n}: floor kill switch under churn")
        with churning(bench, args.churn_rate, set(keys)):
            result["floor_churn"] = kill_switch(bench, watcher, keys, timeout)
        bench.stop_agent(floor)
        if args.floor_sequence:
            floor = bench.agent("floor", ["--sequence"])
            floor.wait_ready()
            say(f"N={n}: floor making the operator's calls before its scale, quiet")
            result["seq_quiet"] = kill_switch(bench, watcher, keys, timeout)
            bench.stop_agent(floor)

        say(f"N={n}: admission overhead, {args.admission_blocks} blocks of {args.admission_calls}")
        result["admission"] = admission(bench, args.admission_blocks, args.admission_calls)
        result["load_after"] = loadavg()
        result["operator_code"] = sorted(set(op.digests))
        return result
    finally:
        if bench is not None:
            for agent in list(bench.agents):
                agent.stop()
        if op is not None:
            op.stop()
        cluster.stop()
        if args.keep:
            say(f"N={n}: kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


# ---- the report ----------------------------------------------------------------------------------------


def _s(d: dict[str, Any] | None) -> Summary | None:
    return Summary(**d) if d else None


def report(info: dict[str, Any], results: list[dict[str, Any]], out: IO[str]) -> None:
    """The results as Markdown tables."""
    w = out.write
    w("## Machine\n\n")
    for k, v in info.items():
        w(f"- {k}: {v}\n")
    digests = "; ".join(f"N={r['n']}: {', '.join(r.get('operator_code', []))}" for r in results)
    w(f"- operator source digest at each start: {digests}\n")
    w("\n## Kill switch: annotation PATCH sent → watcher sees spec.replicas = 0 (ms)\n\n")
    w("| N | client | load | n | p50 | p90 | p99 | max | missed | restore p50 | restore p99 | ")
    w("engage pass mean |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n")
    for r in results:
        for client, load, key in (
            ("operator", "quiet", "op_quiet"),
            ("floor", "quiet", "floor_quiet"),
            ("floor + operator's calls", "quiet", "seq_quiet"),
            ("operator", "churn", "op_churn"),
            ("floor", "churn", "floor_churn"),
        ):
            m = r.get(key)
            if not m:
                continue
            e, rs = _s(m["engage_ms"]), _s(m["restore_ms"])
            cells = [str(r["n"]), client, load, str(e.n if e else 0)]
            cells += [fmt(e.p50), fmt(e.p90), fmt(e.p99), fmt(e.max)] if e else ["—"] * 4
            cells.append(str(m["missed"]))
            cells += [fmt(rs.p50), fmt(rs.p99)] if rs else ["—"] * 2
            cells.append(fmt(m.get("in_handler_mean_ms")))
            w("| " + " | ".join(cells) + " |\n")
    w("\n## Kill switch: operator ÷ floor (same run)\n\n")
    w("| N | load | p50 ratio | p99 ratio | p50 extra ms | p99 extra ms |\n|---|---|---|---|---|---|\n")
    for r in results:
        for load in ("quiet", "churn"):
            o, f = r.get(f"op_{load}"), r.get(f"floor_{load}")
            if not (o and f and o["engage_ms"] and f["engage_ms"]):
                continue
            so, sf = Summary(**o["engage_ms"]), Summary(**f["engage_ms"])
            w(
                f"| {r['n']} | {load} | {fmt(ratio(so.p50, sf.p50), 2)} | {fmt(ratio(so.p99, sf.p99), 2)} | "
                f"{fmt(so.p50 - sf.p50)} | {fmt(so.p99 - sf.p99)} |\n"
            )
    w("\n## Kill switch in the main namespaces beside a noisy one (ms), operator\n\n")
    w("| N | noisy AIServices | phase | load | n | p50 | p90 | p99 | max | missed | restore p99 | ")
    w("engage pass mean |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n")
    for r in results:
        noisy = r.get("noisy")
        if not noisy:
            continue
        phases = (
            ("quiet (no noisy namespace)", r.get("op_quiet"), r.get("load_quiet", "—")),
            ("during the flood", noisy.get("flood"), noisy.get("load_after_flood", "—")),
            ("holding and churning", noisy.get("churn"), noisy.get("load_after", "—")),
        )
        for phase, m, load in phases:
            if not m:
                continue
            e, rs = _s(m["engage_ms"]), _s(m["restore_ms"])
            cells = [str(r["n"]), str(noisy["services"]) if m is not r.get("op_quiet") else "0", phase, load]
            cells += [str(e.n), fmt(e.p50), fmt(e.p90), fmt(e.p99), fmt(e.max)] if e else ["0"] + ["—"] * 4
            cells += [str(m["missed"]), fmt(rs.p99) if rs else "—", fmt(m.get("in_handler_mean_ms"))]
            w("| " + " | ".join(cells) + " |\n")
        conv = noisy.get("converged") or {}
        reconciled = (
            f"all reconciled {fmt(conv.get('all_reconciled_s'))} s after the flood began"
            if conv
            else f"{noisy.get('reconciled_within_timeout')} of them reconciled within the timeout"
        )
        w(
            f"\nN={r['n']}: the noisy namespace's {noisy['services']} AIServices were created in "
            f"{fmt(noisy.get('flood_create_s'))} s, {reconciled}; RSS with them "
            f"{fmt(noisy.get('rss_mib'))} MiB; operator CPU while they churn "
            f"{fmt(noisy.get('churn_cpu_percent'))} %.\n"
        )
    w("\n## Admission: deployments/scale PATCH round trip (ms), binding present vs deleted, interleaved\n\n")
    w("| N | params | n | with p50 | without p50 | with p99 | without p99 | p50 ratio | p99 ratio | ")
    w("p50 extra | p99 extra |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
    for r in results:
        a = r.get("admission")
        if not a:
            continue
        rows = [(a["params_per_request"], a["with_ms"], a["without_ms"])]
        rows += [(int(k), v["with_ms"], v["without_ms"]) for k, v in a["side"].items()]
        for params, yes_d, no_d in sorted(rows, key=lambda row: row[0]):
            yes, no = Summary(**yes_d), Summary(**no_d)
            w(
                f"| {r['n']} | {params} | {yes.n}+{no.n} | {fmt(yes.p50, 2)} | {fmt(no.p50, 2)} | "
                f"{fmt(yes.p99, 2)} | {fmt(no.p99, 2)} | {fmt(ratio(yes.p50, no.p50), 2)} | "
                f"{fmt(ratio(yes.p99, no.p99), 2)} | {fmt(yes.p50 - no.p50, 2)} | "
                f"{fmt(yes.p99 - no.p99, 2)} |\n"
            )
    w("\n## Operator resources and start-up\n\n")
    w("| N | create s | first convergence s | idle RSS MiB | idle CPU % | churn RSS MiB | churn CPU % | ")
    w("apiserver RSS MiB | etcd RSS MiB |\n|---|---|---|---|---|---|---|---|---|\n")
    for r in results:
        idle, churn = r.get("idle", {}), r.get("churn_load", {})
        fs = r.get("first_start", {})
        w(
            f"| {r['n']} | {fmt(sum(r.get('create', {}).values()))} | {fmt(fs.get('all_reconciled_s'))} | "
            f"{fmt(idle.get('rss_mib'))} | {fmt(idle.get('cpu_percent'))} | {fmt(churn.get('rss_mib'))} | "
            f"{fmt(churn.get('cpu_percent'))} | {fmt(r.get('apiserver_rss_mib'))} | "
            f"{fmt(r.get('etcd_rss_mib'))} |\n"
        )
    w("\n## Cold start over converged services\n\n")
    w("| N | ready s | all reconciled s | quiet s | passes | Deployment writes | AIService writes | ")
    w("RSS MiB |\n")
    w("|---|---|---|---|---|---|---|---|\n")
    for r in results:
        c = r.get("cold_start")
        if not c:
            continue
        w(
            f"| {r['n']} | {fmt(c['ready_s'])} | {fmt(c['all_reconciled_s'])} | {fmt(c['quiet_s'])} | "
            f"{int(c['passes'])} | {c['deployment_writes']} | {c['aiservice_writes']} | "
            f"{fmt(c['rss_mib'])} |\n"
        )
    for r in results:
        s = r.get("soak")
        if not s:
            continue
        w(f"\n## Memory soak at N={r['n']} ({s['seconds']:.0f} s, churn + a kill toggle every 5 s)\n\n")
        w("| first MiB | last MiB | max MiB | slope MiB/h | 2nd half - 1st half MiB | CPU % |\n")
        w("|---|---|---|---|---|---|\n")
        w(
            f"| {fmt(s['rss_first_mib'])} | {fmt(s['rss_last_mib'])} | {fmt(s['rss_max_mib'])} | "
            f"{fmt(s['slope_mib_per_hour'], 2)} | {fmt(s['halves_growth_mib'], 2)} | "
            f"{fmt(s['cpu_percent'])} |\n"
        )
        w("\nRSS samples (s: MiB): " + ", ".join(f"{t:.0f}: {v:.1f}" for t, v in s["samples"]) + "\n")
    w("\n")


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """`python -m airlock_dev.bench`: runs every size, prints the tables; 130 when interrupted."""
    parser = argparse.ArgumentParser(
        prog="python -m airlock_dev.bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--sizes", default="100,1000", help="comma-separated numbers of AIServices")
    parser.add_argument("--toggles", type=int, default=500, help="kill-switch toggles per phase")
    parser.add_argument("--soak-seconds", type=float, default=300.0, help="memory soak length (0: none)")
    parser.add_argument("--soak-size", type=int, default=1000, help="the size to soak at (else the largest)")
    parser.add_argument("--churn-rate", type=float, default=20.0, help="background writes per second")
    parser.add_argument("--per-namespace", type=int, default=100, help="AIServices per namespace")
    parser.add_argument(
        "--admission-blocks", type=int, default=20, help="blocks of scale PATCHes, binding present/deleted"
    )
    parser.add_argument("--admission-calls", type=int, default=100, help="PATCHes per admission block")
    parser.add_argument("--idle-seconds", type=float, default=20.0, help="steady-state CPU interval")
    parser.add_argument("--toggle-timeout", type=float, default=10.0, help="seconds to wait per toggle")
    parser.add_argument(
        "--converge-timeout", type=float, default=1800.0, help="seconds for the operator to reconcile all"
    )
    parser.add_argument(
        "--operator-env", action="append", default=[], metavar="AIRLOCK_X=V", help="extra operator setting"
    )
    parser.add_argument(
        "--floor-sequence",
        action="store_true",
        help="also measure a bare client making the operator's calls (a GET, then one Deployment PATCH)",
    )
    parser.add_argument(
        "--noisy",
        type=int,
        default=3000,
        help="AIServices of the noisy neighbour namespace (0: no such phase)",
    )
    parser.add_argument(
        "--noisy-converge-timeout",
        type=float,
        default=600.0,
        help="seconds to wait for the noisy AIServices to be reconciled before churning them anyway",
    )
    parser.add_argument("--noisy-toggles", type=int, default=50, help="kill-switch toggles while it churns")
    parser.add_argument(
        "--noisy-churn-rate", type=float, default=50.0, help="writes per second to the noisy AIServices"
    )
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument("--keep", action="store_true", help="keep the working directories (logs)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: N=100, 50 toggles, 30 s soak")
    args = parser.parse_args(argv)
    if args.admission_blocks < 2:
        # Blocks alternate binding present / deleted: one block would measure only one side.
        parser.error("--admission-blocks must be at least 2 (blocks alternate with and without the policy)")
    if args.quick:
        args.sizes, args.toggles, args.soak_seconds, args.noisy = "100", 50, 30.0, 300
        args.admission_blocks, args.admission_calls, args.idle_seconds = 4, 50, 5.0
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    soak_at = args.soak_size if args.soak_size in sizes else max(sizes)
    # Ctrl-C and SIGTERM both unwind through the finally blocks that stop every server.
    signal.signal(signal.SIGTERM, _interrupt)
    info = machine()
    info["command"] = "python -m airlock_dev.bench " + " ".join(sys.argv[1:] if argv is None else argv)
    info["load_average_start"] = loadavg()
    say(f"machine: {info}")
    results: list[dict[str, Any]] = []
    try:
        for n in sizes:
            results.append(run_size(n, args, soak_here=n == soak_at))
            if args.json:
                args.json.write_text(json.dumps({"machine": info, "results": results}, indent=1))
    except KeyboardInterrupt:
        say("interrupted; every server was stopped")
        return 130
    info["load_average_end"] = loadavg()
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "results": results}, indent=1))
    report(info, results, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
