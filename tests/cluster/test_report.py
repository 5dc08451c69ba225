"""`kubectl airlock report` and `airlock report`: the readiness record of a service that went live, was
stopped and came back, read from the real API server, in Markdown and as an HTML page that a real headless
Chromium renders."""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from airlock_dev import samples
from tests.cluster.helpers import deployment, imported_packet
from tests.conftest import Cluster, OperatorProcess
from tests.evaltools import PASSING, results

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# CI installs Debian's chromium; elsewhere the test says how to get it instead of failing.
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None and os.environ.get("CI") != "true",
    reason="headless Chromium is not installed (Debian: apt-get install chromium)",
)


def cli(cluster: Cluster, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *argv],
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "KUBECONFIG": str(cluster.kubeconfig), "PYTHONPATH": str(ROOT / "operator")},
        timeout=60,
    )


def png_colours(path: Path) -> tuple[int, int, int]:
    """Width, height and the number of distinct byte values in the decoded rows of a PNG."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    chunks, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        if data[pos + 4 : pos + 8] == b"IDAT":
            chunks.append(data[pos + 8 : pos + 8 + length])
        pos += 12 + length
    rows = zlib.decompress(b"".join(chunks))
    return width, height, len(set(rows))


@needs_chromium
def test_the_report_of_a_live_service_has_its_gates_approvals_kill_switch_and_transitions(
    cluster: Cluster, namespace: str, operator: OperatorProcess, tmp_path: Path
) -> None:
    assert CHROMIUM is not None, "headless Chromium is not installed (Debian: apt-get install chromium)"
    service = samples.load("service.yaml")
    service["metadata"]["namespace"] = namespace
    cluster.apply(deployment("support-assistant", namespace, 1))
    cluster.apply(service)
    packet = imported_packet(results("promptfoo", PASSING), namespace, tmp_path / "packet")
    cluster.apply(packet)
    cluster.kubectl(
        "wait", "--for=condition=Ready", "ais/support-assistant", "-n", namespace, "--timeout=30s"
    )
    cluster.kubectl("scale", "deployment", "support-assistant", "-n", namespace, "--replicas=4")
    me = cluster.kubectl("auth", "whoami", "-o", "jsonpath={.status.userInfo.username}").stdout.strip()
    cluster.kubectl(
        "annotate",
        "ais",
        "support-assistant",
        "-n",
        namespace,
        "airlock.dev/kill-switch=true",
        "airlock.dev/kill-switch-reason=INC-4711 refunds promised",
        f"airlock.dev/kill-switch-by={me}",
    )

    def reasons() -> list[str]:
        out = cluster.kubectl("get", "events", "-n", namespace, "-o", "json").stdout
        return [e["reason"] for e in json.loads(out)["items"]]

    cluster.wait_for(lambda: "KillSwitchEngaged" in reasons(), what="a KillSwitchEngaged event")
    cluster.kubectl(
        "annotate",
        "ais",
        "support-assistant",
        "-n",
        namespace,
        "airlock.dev/kill-switch-",
        "airlock.dev/kill-switch-reason-",
        "airlock.dev/kill-switch-by-",
    )
    cluster.wait_for(lambda: "KillSwitchReleased" in reasons(), what="a KillSwitchReleased event")
    digest = cluster.get("rp", packet["metadata"]["name"], namespace)["status"]["digest"]
    sha256 = packet["spec"]["evals"]["source"]["sha256"]

    markdown = cli(cluster, "airlock.cli.main", "report", "-n", namespace, "support-assistant")
    assert markdown.returncode == 0, markdown.stderr
    text = markdown.stdout
    assert text.startswith(f"# Readiness record: {namespace}/support-assistant")
    for gate in (
        "useCase",
        "dataGovernance",
        "versions",
        "evals",
        "observability",
        "toolPermissions",
        "securityReview",
        "cost",
        "ownership",
        "rollout",
        "signoffs",
    ):
        assert f"| {gate} | yes | pass |" in text, gate
    assert "6/6 cases passed; from promptfoo 0.118.0" in text and sha256 in text
    assert "| owner | jane.doe@example.com |" in text and f"| {digest} | current |" in text
    history = text.split("## Kill-switch history", 1)[1].split("## Stage and cap transitions", 1)
    assert "KillSwitchEngaged" in history[0] and "KillSwitchReleased" in history[0]
    assert "INC-4711" in history[0]
    assert "Promoted" in history[1].split("## Gate, packet", 1)[0]

    page = tmp_path / "report.html"
    html = cli(
        cluster, "airlock.cli.kubectl_plugin", "report", "support-assistant", "-n", namespace, "-o", str(page)
    )
    assert html.returncode == 0, html.stderr
    source = page.read_text()
    assert "<script" not in source and "http://" not in source and "https://" not in source
    browser = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'chromium'}",
        "--window-size=1280,1600",
    ]
    shot = tmp_path / "report.png"
    subprocess.run(
        [*browser, f"--screenshot={shot}", page.as_uri()],
        capture_output=True,
        check=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    width, height, colours = png_colours(shot)
    assert (width, height) == (1280, 1600)
    # A blank page decodes to a handful of byte values; text, tables and the coloured summary to many.
    assert colours > 64, f"the screenshot looks blank ({colours} distinct values)"
    dom = subprocess.run(
        [*browser, "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    ).stdout
    for fact in (
        f"Readiness record: {namespace}/support-assistant",
        "is Production",
        digest,
        sha256,
        "KillSwitchEngaged",
        "INC-4711 refunds promised",
        "Promoted",
        "amir.haddad@example.com",
    ):
        assert fact in dom, fact
