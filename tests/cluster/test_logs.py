"""`airlock run --log-format json`: every line the operator prints is a JSON object, its decisions name
the object and the reason, and nothing a packet says in free text reaches the log."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from airlock_dev import samples
from airlock_dev.localcluster import die_with_parent
from tests.cluster.helpers import deployment
from tests.conftest import ROOT, Cluster

CANARY = "Canary free text 7f3a9c from the packet"


def test_json_logs_are_one_object_a_line_with_the_object_and_reason_of_each_decision(
    cluster: Cluster, namespace: str, tmp_path: Path
) -> None:
    log_path = tmp_path / "operator.log"
    env = {
        **os.environ,
        "KUBECONFIG": str(cluster.kubeconfig),
        "PYTHONPATH": str(ROOT / "operator"),
        "AIRLOCK_METRICS_PORT": "0",
    }
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "airlock", "run", "--log-format", "json", "--verbose"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=ROOT,
            preexec_fn=die_with_parent,  # noqa: PLW1509 - only prctl runs between fork and exec
        )
    try:
        cluster.wait_for(
            lambda: "airlock operator ready" in log_path.read_text(), what="the operator to start"
        )
        service = samples.load("service.yaml")
        service["metadata"]["namespace"] = namespace
        cluster.apply(deployment("support-assistant", namespace, 2))
        cluster.apply(service)
        packet = samples.current_packet(
            samples.load("packet-prompt-injection-failed.yaml"), dt.datetime.now(dt.UTC), namespace=namespace
        )
        packet["spec"]["useCase"]["summary"] = CANARY
        cluster.apply(packet)
        cluster.kubectl(
            "annotate", "ais", "support-assistant", "-n", namespace, "airlock.dev/kill-switch=true"
        )
        cluster.wait_for(
            lambda: '"KillSwitchEngaged"' in log_path.read_text(), what="the kill-switch decision in the log"
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    text = log_path.read_text()
    records = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise AssertionError(
                    f"line {number} of the operator log is not JSON ({exc}): {line!r}"
                ) from None
    assert all(isinstance(r, dict) and "message" in r for r in records)
    # The operator watches the whole cluster: services other tests left engaged log their own decisions.
    engaged = [
        r
        for r in records
        if r.get("reason") == "KillSwitchEngaged" and (r.get("object") or {}).get("namespace") == namespace
    ]
    assert len(engaged) == 1
    assert engaged[0]["object"] == {"kind": "AIService", "namespace": namespace, "name": "support-assistant"}
    assert engaged[0]["severity"] == "info"
    assert any(r.get("reason") == "Scaled" and r.get("replicas") == 0 for r in records)
    assert CANARY not in text
