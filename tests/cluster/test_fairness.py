"""Kill switches first and namespaces in turn, on the real API server.

The order of the operator's passes is read from etcd itself: every write gets the next revision of one
counter shared by every object, so the resourceVersion of the label write each pass makes on its
Deployment says which pass came first. The work is all in place before the operator starts (it queues
every service it lists before its one general worker, and the one kept for kill switches, take the
first), so the order proven is the queue's, not a
race between the test and the operator.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from tests.cluster.helpers import aiservice, deployment
from tests.conftest import Cluster, start_operator

BACKLOG = 40  # ordinary services queued in the noisy namespace
NEIGHBOURS = 3  # ordinary services queued in a quiet one


def _labelled_versions(cluster: Cluster, ns: str) -> dict[tuple[str, str], int]:
    """The resourceVersion of each Deployment of `ns` the operator has labelled."""
    items = json.loads(cluster.kubectl("get", "deployments", "-n", ns, "-o", "json").stdout)["items"]
    return {
        (ns, d["metadata"]["name"]): int(d["metadata"]["resourceVersion"])
        for d in items
        if "airlock.dev/stage" in (d["metadata"].get("labels") or {})
    }


def test_a_kill_switch_goes_before_a_backlog_and_no_namespace_waits_for_another_ones(
    cluster: Cluster, tmp_path: Path
) -> None:
    suffix = secrets.token_hex(3)
    # Named so that in any order by name or by listing the kill switch would come last and the quiet
    # namespace after the whole backlog: only the queue puts them first.
    noisy_ns, quiet_ns, killed_ns = (
        cluster.create_namespace(f"{p}-{suffix}") for p in ("noisy", "quiet", "zkill")
    )
    services = {noisy_ns: [f"s{i}" for i in range(BACKLOG)], quiet_ns: [f"s{i}" for i in range(NEIGHBOURS)]}
    services[killed_ns] = ["bot"]
    # Deployments first, then the AIServices: nothing is written to a Deployment after its AIService
    # but by the operator.
    cluster.apply([deployment(n, ns, 1) for ns, names in services.items() for n in names])
    cluster.apply(
        [aiservice(n, ns) for ns in (noisy_ns, quiet_ns) for n in services[ns]]
        + [aiservice("bot", killed_ns, annotations={"airlock.dev/kill-switch": "true"})]
    )

    op = start_operator(
        cluster,
        tmp_path,
        extra_env={"AIRLOCK_WORKERS": "1", "AIRLOCK_NAMESPACES": f"{noisy_ns},{quiet_ns},{killed_ns}"},
    )
    try:

        def all_labelled() -> dict[tuple[str, str], int] | None:
            seen = {k: v for ns in services for k, v in _labelled_versions(cluster, ns).items()}
            return seen if len(seen) == sum(len(names) for names in services.values()) else None

        versions = cluster.wait_for(all_labelled, timeout=120, what="every Deployment labelled")
    finally:
        op.stop()

    order = sorted(versions, key=versions.__getitem__)
    # The kill switch has a worker of its own beside the one general worker, so at most the one
    # ordinary pass that started with it can finish first.
    assert order.index((killed_ns, "bot")) <= 1, f"the kill switch waited behind ordinary work: {order[:5]}"
    assert cluster.get("deployment", "bot", killed_ns)["spec"]["replicas"] == 0
    # Namespaces take turns: the quiet one's services are among the first 2 x NEIGHBOURS ordinary passes,
    # not behind the noisy one's backlog of BACKLOG.
    quiet = [order.index((quiet_ns, name)) for name in services[quiet_ns]]
    assert max(quiet) <= 2 * NEIGHBOURS, f"the quiet namespace waited behind the backlog: positions {quiet}"
