"""Prometheus metrics scraped from a running operator during an end-to-end run."""

from __future__ import annotations

from pathlib import Path

from airlock_dev.localcluster import free_port
from tests.cluster.helpers import complete_packet, replicas, setup_service
from tests.conftest import Cluster, start_operator
from tests.support import scrape, value


def test_metrics_follow_the_service_through_promotion_and_the_kill_switch(
    cluster: Cluster, namespace: str, tmp_path: Path
) -> None:
    port = free_port()
    op = start_operator(cluster, tmp_path, extra_env={"AIRLOCK_METRICS_PORT": str(port)})
    try:
        setup_service(cluster, namespace)
        svc = {"namespace": namespace, "service": "support-assistant"}
        cluster.wait_for(
            lambda: value(scrape(port), "airlock_service_stage", stage="Pilot", **svc) == 1,
            what="the Pilot gauge",
        )
        m = scrape(port)
        assert value(m, "airlock_service_allowed_replicas", **svc) == 1
        assert value(m, "airlock_service_gates_required", **svc) == 11
        complete_packet(cluster, namespace)
        cluster.wait_for(
            lambda: value(scrape(port), "airlock_service_stage", stage="Production", **svc) == 1,
            what="the Production gauge",
        )
        cluster.kubectl(
            "annotate", "ais", "support-assistant", "-n", namespace, "airlock.dev/kill-switch=true"
        )
        cluster.wait_for(lambda: replicas(cluster, namespace) == 0, what="the kill")
        cluster.wait_for(
            lambda: value(scrape(port), "airlock_kill_switch_engaged", **svc) == 1,
            what="the kill-switch gauge",
        )
        m = scrape(port)
        assert value(m, "airlock_kill_switch_activations_total") >= 1
        assert value(m, "airlock_kill_switch_engaged_since_timestamp_seconds", **svc) > 0
        assert value(m, "airlock_kill_switch_reaction_seconds_count") >= 1
        assert value(m, "airlock_reconcile_duration_seconds_count") >= 3
        # Label sets stay bounded: per-service series carry only namespace and service (and stage).
        for name, samples in m.items():
            if name.startswith("airlock_service_") or name.startswith("airlock_kill_switch_engaged"):
                for labels, _ in samples:
                    assert set(labels) <= {"namespace", "service", "stage"}, (name, labels)
    finally:
        op.stop()
