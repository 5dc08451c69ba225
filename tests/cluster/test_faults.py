"""Airlock under faults: an operator killed mid-burst, an API server restart, a silently stalled watch, lost
write races and server errors, two operator replicas at once, and etcd with fsync on.

Every test says what "nothing lost" means for it and asserts exactly that; every wait is bounded and
everything a test starts is stopped in a `finally`.
"""

from __future__ import annotations

import collections
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airlock.handlers.operator import WATCH_INACTIVITY_TIMEOUT
from airlock.k8s import io
from airlock_dev.localcluster import LocalCluster, find_binaries, free_port
from tests.cluster.faults_proxy import FreezingProxy
from tests.cluster.helpers import aiservice, deployment
from tests.conftest import Cluster, OperatorProcess, _install_admission, _install_crds, start_operator
from tests.support import sample

KILL = "airlock.dev/kill-switch"
KILL_REASON = "airlock.dev/kill-switch-reason"
RECORD = "airlock.dev/kill-switch-replicas-before"
FIELD_MANAGER = "airlock-fault-tests"
SERVICES = "aiservices"
PILOT = 3  # every service here may run up to 3 replicas, so a restore is never cut by the cap


class Api:
    """Direct API access for the test itself, through the operator's own calls with the test's timeout:
    fast enough to toggle ten switches inside one reconcile."""

    def __init__(self, cluster: Cluster) -> None:
        self.clients = io.Clients(cluster.api_client(), timeout=10, reconnect=False)
        self.apps = self.clients.apps
        self.core = self.clients.core

    def replicas(self, ns: str, name: str) -> int:
        scale = self.apps.read_namespaced_deployment_scale(name, ns, _request_timeout=10)
        return int(scale.spec.replicas or 0)

    def record(self, ns: str, name: str) -> str | None:
        """The replicas the kill switch recorded on the Deployment itself, or None."""
        found = self.apps.read_namespaced_deployment(name, ns, _request_timeout=10).metadata.annotations
        return (found or {}).get(RECORD)

    def status(self, ns: str, name: str) -> dict[str, Any]:
        out: dict[str, Any] = io.get_custom_object(self.clients, SERVICES, ns, name).get("status") or {}
        return out

    def set_kill(self, ns: str, name: str, engaged: bool) -> None:
        annotations = (
            {KILL: "true", KILL_REASON: "fault test"} if engaged else {KILL: None, KILL_REASON: None}
        )
        io.patch_annotations(self.clients, SERVICES, ns, name, annotations, FIELD_MANAGER)

    def events(self, ns: str) -> collections.Counter[tuple[str, str]]:
        """How many Events each (object name, reason) has."""
        items = self.core.list_namespaced_event(ns, _request_timeout=10).items
        return collections.Counter((e.involved_object.name, e.reason) for e in items)

    def event_log(self, ns: str) -> str:
        """Every Event of the namespace, one a line, for a failure message."""
        items = self.core.list_namespaced_event(ns, _request_timeout=10).items
        lines = sorted(f"{e.first_timestamp} {e.metadata.name} {e.reason}: {e.message}" for e in items)
        return "\n".join(lines)


def create_services(
    cluster: Cluster, ns: str, replicas: dict[str, int], killed: set[str] | None = None
) -> None:
    """Deployments with these replicas, then an AIService for each (engaged for the `killed` ones)."""
    killed = killed or set()
    cluster.apply([deployment(name, ns, count) for name, count in replicas.items()])
    cluster.apply(
        [
            aiservice(name, ns, pilot=PILOT, annotations={KILL: "true"} if name in killed else {})
            for name in replicas
        ]
    )


def is_killed(api: Api, ns: str, name: str, before: int) -> bool:
    st = api.status(ns, name)
    record = st.get("killSwitch") or {}
    return (
        api.replicas(ns, name) == 0
        and st.get("stage") == "Killed"
        and record.get("engaged") is True
        and record.get("replicasBefore") == before
        and api.record(ns, name) == str(before)
    )


def is_running(api: Api, ns: str, name: str, count: int) -> bool:
    st = api.status(ns, name)
    record = st.get("killSwitch") or {}
    return (
        api.replicas(ns, name) == count
        and st.get("stage") == "Pilot"
        and record.get("engaged") is False
        and record.get("replicasBefore") is None
        and api.record(ns, name) is None
    )


# ---- 1. the operator is SIGKILLed in the middle of a burst of toggles ---------------------------------


@pytest.mark.parametrize("kill_after", [2, 6])
def test_a_sigkilled_operator_loses_no_kill_and_no_restore_from_a_burst_of_toggles(
    cluster: Cluster, namespace: str, tmp_path: Path, kill_after: int
) -> None:
    """Ten services, five running and five killed; the five are killed and the other five released in one
    burst, and the operator is SIGKILLed after `kill_after` of the ten toggles (the rest land while it is
    down). Nothing lost: after a restart every engaged service runs 0 replicas and its status remembers
    the replicas it had; every released service runs exactly the replicas it had before its kill; each
    transition is announced by exactly one KillSwitchEngaged / KillSwitchReleased Event."""
    api = Api(cluster)
    engage = [f"svc-{i}" for i in range(5)]
    release = [f"svc-{i}" for i in range(5, 10)]
    before = {name: 1 + i % PILOT for i, name in enumerate(engage + release)}
    op = start_operator(cluster, tmp_path)
    try:
        create_services(cluster, namespace, before, killed=set(release))
        cluster.wait_for(
            lambda: (
                all(is_running(api, namespace, n, before[n]) for n in engage)
                and all(is_killed(api, namespace, n, before[n]) for n in release)
            ),
            timeout=60,
            what="five services running and five killed",
        )
        order = [name for pair in zip(engage, release, strict=True) for name in pair]
        for i, name in enumerate(order):
            if i == kill_after:
                op.proc.send_signal(signal.SIGKILL)
                op.proc.wait(10)
            api.set_kill(namespace, name, engaged=name in engage)
    finally:
        op.stop()
    assert op.proc.returncode == -signal.SIGKILL

    started = time.monotonic()
    op = start_operator(cluster, tmp_path)
    try:
        cluster.wait_for(
            lambda: (
                all(is_killed(api, namespace, n, before[n]) for n in engage)
                and all(is_running(api, namespace, n, before[n]) for n in release)
            ),
            timeout=60,
            what="every engaged switch at 0 and every released one restored",
        )
        print(f"converged {time.monotonic() - started:.1f}s after the restart (operator start included)")
        for name in engage + release:  # a late duplicate transition would be announced before this
            op.settle(cluster, namespace, name)
        events = api.events(namespace)
        for name in engage:
            assert api.replicas(namespace, name) == 0, name
            assert (events[(name, "KillSwitchEngaged")], events[(name, "KillSwitchReleased")]) == (1, 0), name
        for name in release:
            assert api.replicas(namespace, name) == before[name], name
            assert (events[(name, "KillSwitchEngaged")], events[(name, "KillSwitchReleased")]) == (1, 1), name
    finally:
        op.stop()


# ---- 3. a watch that stalls silently ------------------------------------------------------------------


def test_a_silently_stalled_watch_is_abandoned_and_a_kill_switch_set_meanwhile_acts_within_15s(
    cluster: Cluster, namespace: str, tmp_path: Path
) -> None:
    """The operator reaches the API server through a proxy that, on command, stops moving bytes on every
    open connection without closing any (new connections still work). Nothing lost: a kill switch set
    right after the stall starts scales the Deployment to 0 within 15 s of the stall; and before the
    stall, healthy but quiet watches are not abandoned as dead."""
    api = Api(cluster)
    with FreezingProxy(cluster.local.api_port) as proxy:
        kubeconfig = cluster.local.kubeconfig_for_server(proxy.url, tmp_path / "kubeconfig-via-proxy")
        op = start_operator(cluster, tmp_path, kubeconfig=kubeconfig)
        try:
            create_services(cluster, namespace, {"bot": 2})
            cluster.wait_for(lambda: is_running(api, namespace, "bot", 2), what="a first status")
            # Quiet for longer than the inactivity timeout: a healthy watch must not be taken for dead.
            mark, accepted = len(op.log()), proxy.accepted
            time.sleep(WATCH_INACTIVITY_TIMEOUT + 2)  # the quiet itself is what is tested, not a wait
            assert "inactive, reconnecting" not in op.log()[mark:]
            print(f"connections opened while quiet: {proxy.accepted - accepted}")

            accepted = proxy.accepted
            frozen = proxy.freeze()
            stalled = time.monotonic()
            assert frozen >= 1
            api.set_kill(namespace, "bot", engaged=True)
            cluster.wait_for(
                lambda: api.replicas(namespace, "bot") == 0,
                timeout=15 - (time.monotonic() - stalled),
                what="the kill switch to act through a stalled connection",
            )
            reaction = time.monotonic() - stalled
            print(f"stall to 0 replicas: {reaction:.1f}s ({frozen} connections frozen)")
            assert reaction < 15
            assert proxy.accepted > accepted, "the operator recovered without opening a new connection?"
            assert op.proc.poll() is None
            cluster.wait_for(lambda: is_killed(api, namespace, "bot", 2), what="the kill recorded")
        finally:
            op.stop()


# ---- 4. lost write races and server errors ---------------------------------------------------------


def test_status_writes_that_lose_a_race_are_planned_again_and_no_transition_is_lost(
    cluster: Cluster, namespace: str, operator: OperatorProcess
) -> None:
    """A second writer keeps overwriting status.blocking (every ~30 ms) while the kill switch is engaged
    and released, three times or more until a status write has lost a race. The operator's first status
    write of a pass is conditional on the resourceVersion it planned from, so the API server answers 409
    when the other writer got there first, and the pass re-reads and plans again. Nothing lost: every
    engage reaches 0 replicas with the right replicas recorded, every release restores them, each
    transition has exactly one Event, at least one real 409 happened, and the other writer's edit is
    corrected once it stops."""
    api = Api(cluster)
    create_services(cluster, namespace, {"bot": 2})
    cluster.wait_for(lambda: is_running(api, namespace, "bot", 2), what="a first status")
    stop = threading.Event()

    def tamper() -> None:
        while not stop.is_set():
            io.patch_status(api.clients, SERVICES, namespace, "bot", {"blocking": "tampered"}, FIELD_MANAGER)
            stop.wait(0.03)

    def conflicts() -> int:
        return operator.log().count("changed while it was reconciled")

    writer = threading.Thread(target=tamper, daemon=True)
    writer.start()
    cycles = 0
    try:
        # Three cycles at least; more (up to twelve) until a write has really lost a race, which one
        # run in a few does not within three.
        while cycles < 3 or (conflicts() == 0 and cycles < 12):
            api.set_kill(namespace, "bot", engaged=True)
            cluster.wait_for(lambda: is_killed(api, namespace, "bot", 2), timeout=20, what="the kill")
            api.set_kill(namespace, "bot", engaged=False)
            cluster.wait_for(lambda: is_running(api, namespace, "bot", 2), timeout=20, what="the restore")
            cycles += 1
    finally:
        stop.set()
        writer.join(10)
    cluster.wait_for(
        lambda: api.status(namespace, "bot").get("blocking") not in (None, "tampered"),
        timeout=20,
        what=f"the operator to correct the tampered status; operator log:\n{operator.log()[-6000:]}",
    )
    operator.settle(cluster, namespace, "bot")
    events = api.events(namespace)
    transitions = (events[("bot", "KillSwitchEngaged")], events[("bot", "KillSwitchReleased")])
    assert transitions == (cycles, cycles), api.event_log(namespace) + "\n" + operator.log()[-20000:]
    print(f"409 conflicts answered by a re-read: {conflicts()} in {cycles} kill-switch cycles")
    assert conflicts() >= 1


def test_a_scale_refused_with_a_server_error_is_retried_until_it_lands(
    cluster: Cluster, namespace: str, operator: OperatorProcess
) -> None:
    """A validating webhook that cannot be reached (failurePolicy Fail) makes every write to the
    namespace's Deployments (and their scale) fail with HTTP 500 while the kill switch is engaged. kopf
    does not retry event handlers, so the operator schedules the failed pass again itself. Nothing lost:
    the one write that scales to zero and records the replicas is retried until it lands, within seconds
    of the webhook going away (not at the next resync); the status then records the 2 replicas it had,
    and the transition is announced exactly once although its pass ran several times."""
    api = Api(cluster)
    create_services(cluster, namespace, {"bot": 2})
    cluster.wait_for(lambda: is_running(api, namespace, "bot", 2), what="a first status")
    webhook = f"airlock-fault-{namespace}"
    cluster.apply(
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingWebhookConfiguration",
            "metadata": {"name": webhook},
            "webhooks": [
                {
                    "name": "unreachable.faults.airlock.dev",
                    "clientConfig": {"url": f"https://127.0.0.1:{free_port()}/validate"},
                    "rules": [
                        {
                            "apiGroups": ["apps"],
                            "apiVersions": ["v1"],
                            "operations": ["UPDATE"],
                            "resources": ["deployments", "deployments/scale"],
                        }
                    ],
                    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}},
                    "failurePolicy": "Fail",
                    "sideEffects": "None",
                    "admissionReviewVersions": ["v1"],
                    "timeoutSeconds": 2,
                }
            ],
        }
    )
    try:
        cluster.wait_for(
            lambda: (
                "failed calling webhook"
                in cluster.kubectl(
                    "scale",
                    "deployment",
                    "bot",
                    "-n",
                    namespace,
                    "--replicas=1",
                    "--dry-run=server",
                    check=False,
                ).stderr
            ),
            timeout=20,
            what="the webhook to refuse scales",
        )
        api.set_kill(namespace, "bot", engaged=True)
        cluster.wait_for(
            lambda: operator.log().count("retrying in") >= 2,
            what="the operator to retry the refused write",
        )
        assert api.replicas(namespace, "bot") == 2, "the scale went through the failing webhook?"
        assert api.record(namespace, "bot") is None, "the record went through the failing webhook?"
    finally:
        cluster.kubectl("delete", "validatingwebhookconfiguration", webhook, "--ignore-not-found")
    lifted = time.monotonic()
    cluster.wait_for(lambda: is_killed(api, namespace, "bot", 2), timeout=20, what="the retried scale")
    print(f"webhook removed to 0 replicas: {time.monotonic() - lifted:.1f}s")
    operator.settle(cluster, namespace, "bot")
    assert api.events(namespace)[("bot", "KillSwitchEngaged")] == 1


# ---- 5. two operator replicas at once -------------------------------------------------------------


def test_two_operator_replicas_act_once_and_never_fight_over_the_replicas(
    cluster: Cluster, namespace: str, tmp_path: Path
) -> None:
    """Two standalone operators watch the same cluster. The kill switch's one write of the Deployment is
    conditional on the Deployment's resourceVersion, and the first status write of every pass on the
    AIService's, so for each transition one replica wins and the other re-reads and finds nothing to
    do. Nothing lost and no fight: the Deployment reaches 0 and never goes back up during 10 s while
    killed, the restore brings back exactly the 3 replicas it had and they stay, and each transition has
    exactly one Event."""
    api = Api(cluster)
    first = start_operator(cluster, tmp_path)
    try:
        second = start_operator(cluster, tmp_path)
        try:
            create_services(cluster, namespace, {"bot": 3})
            cluster.wait_for(lambda: is_running(api, namespace, "bot", 3), what="a first status")
            api.set_kill(namespace, "bot", engaged=True)
            cluster.wait_for(lambda: api.replicas(namespace, "bot") == 0, timeout=10, what="the kill")
            seen = sample(lambda: api.replicas(namespace, "bot"), 10)
            assert set(seen) == {0}, f"replicas went back up while killed: {sorted(set(seen))}"
            assert is_killed(api, namespace, "bot", 3)

            api.set_kill(namespace, "bot", engaged=False)
            cluster.wait_for(lambda: is_running(api, namespace, "bot", 3), timeout=10, what="the restore")
            seen = sample(lambda: api.replicas(namespace, "bot"), 3)
            assert set(seen) == {3}, f"replicas changed after the restore: {sorted(set(seen))}"
            first.settle(cluster, namespace, "bot")
            second.settle(cluster, namespace, "bot")
            events = api.events(namespace)
            assert (events[("bot", "KillSwitchEngaged")], events[("bot", "KillSwitchReleased")]) == (1, 1)
            assert first.proc.poll() is None and second.proc.poll() is None
        finally:
            second.stop()
    finally:
        first.stop()


# ---- 2 and 6. a cluster of this module's own: etcd fsyncs, kube-apiserver restarts -------------------


@pytest.fixture(scope="module")
def durable_cluster() -> Iterator[Cluster]:
    """A cluster of its own (its API server gets restarted), with etcd fsyncing every write."""
    workdir = Path(tempfile.mkdtemp(prefix="airlock-faults-cluster-"))
    local = LocalCluster(bin_dir=find_binaries(), workdir=workdir, etcd_fsync=True)
    local.start()
    try:
        own = Cluster(local)
        _install_crds(own)
        _install_admission(own)
        yield own
    finally:
        local.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def fresh_namespace(cluster: Cluster, name: str) -> str:
    return cluster.create_namespace(name)


def test_kill_and_restore_work_with_etcd_fsyncing_every_write(
    durable_cluster: Cluster, tmp_path: Path
) -> None:
    """etcd with fsync on (as in production) is slower per write. Nothing lost: the kill switch scales to
    0 and records the replicas, and the release restores exactly them, once each."""
    api = Api(durable_cluster)
    ns = fresh_namespace(durable_cluster, "fsync")
    op = start_operator(durable_cluster, tmp_path)
    try:
        create_services(durable_cluster, ns, {"bot": 3})
        durable_cluster.wait_for(lambda: is_running(api, ns, "bot", 3), what="a first status")
        started = time.monotonic()
        api.set_kill(ns, "bot", engaged=True)
        durable_cluster.wait_for(lambda: api.replicas(ns, "bot") == 0, timeout=10, what="the kill")
        print(f"kill switch with fsync on: 0 replicas in {time.monotonic() - started:.2f}s")
        durable_cluster.wait_for(lambda: is_killed(api, ns, "bot", 3), what="the kill recorded")
        api.set_kill(ns, "bot", engaged=False)
        durable_cluster.wait_for(lambda: is_running(api, ns, "bot", 3), timeout=10, what="the restore")
        op.settle(durable_cluster, ns, "bot")
        events = api.events(ns)
        assert (events[("bot", "KillSwitchEngaged")], events[("bot", "KillSwitchReleased")]) == (1, 1)
    finally:
        op.stop()


def test_the_operator_reconnects_after_an_api_server_restart_and_acts_on_a_later_kill_switch(
    durable_cluster: Cluster, tmp_path: Path
) -> None:
    """kube-apiserver is stopped for 2 s and started again while the operator runs, and the kill switch is
    set as soon as it answers. Until the admission policy has synced its parameters again, the API server
    refuses every Deployment write (the scale to 0 included: the kill holds, since nothing can scale up
    either), so the operator's scale fails for a while and is retried. Nothing lost: the operator
    survives, reconnects on its own, scales to 0 once admission lets it, and the release restores the 2
    replicas, each transition announced once."""
    api_before = Api(durable_cluster)
    ns = fresh_namespace(durable_cluster, "restart")
    op = start_operator(durable_cluster, tmp_path)
    try:
        create_services(durable_cluster, ns, {"bot": 2})
        durable_cluster.wait_for(lambda: is_running(api_before, ns, "bot", 2), what="a first status")
        durable_cluster.local.restart_apiserver(downtime=2)
        restarted = time.monotonic()
        api = Api(durable_cluster)  # the test's own pooled connections died with the server
        api.set_kill(ns, "bot", engaged=True)
        durable_cluster.wait_for(
            lambda: api.replicas(ns, "bot") == 0, timeout=90, what="the kill after a restart"
        )
        refused = op.log().count("UnprocessableEntity")
        print(
            f"API server ready to 0 replicas: {time.monotonic() - restarted:.1f}s ({refused} passes refused)"
        )
        durable_cluster.wait_for(lambda: is_killed(api, ns, "bot", 2), what="the kill recorded")
        api.set_kill(ns, "bot", engaged=False)
        durable_cluster.wait_for(lambda: is_running(api, ns, "bot", 2), timeout=30, what="the restore")
        op.settle(durable_cluster, ns, "bot")
        events = api.events(ns)
        assert (events[("bot", "KillSwitchEngaged")], events[("bot", "KillSwitchReleased")]) == (1, 1)
        assert op.proc.poll() is None
    finally:
        op.stop()
