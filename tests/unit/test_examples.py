"""The examples are part of the product: each shows what its first line says, through `airlock validate`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from airlock.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
NOW = "2026-11-20T00:00:00Z"

INCOMPLETE = [
    pytest.param(
        "packet-no-non-use-case.yaml", "useCase", "Incomplete", id="no non-use case leaves useCase incomplete"
    ),
    pytest.param(
        "packet-prompt-injection-failed.yaml",
        "evals",
        "PassRateTooLow",
        id="a failed prompt-injection case fails evals on pass rate",
    ),
    pytest.param(
        "packet-write-tool-without-approval.yaml",
        "toolPermissions",
        "ExcessiveAgency",
        id="a refund tool without human approval is excessive agency",
    ),
    pytest.param(
        "packet-agentic-risk-not-assessed.yaml",
        "toolPermissions",
        "RiskNotAssessed",
        id="acting tools with ASI06 unassessed fail the tool permissions",
    ),
    pytest.param(
        "packet-llm05-not-assessed.yaml",
        "securityReview",
        "RiskNotAssessed",
        id="an unassessed LLM05 fails the security review",
    ),
    pytest.param("packet-over-budget.yaml", "cost", "OverBudget", id="an estimate above budget fails cost"),
    pytest.param(
        "packet-stale-evals.yaml", "evals", "Expired", id="evals older than thirty days have expired"
    ),
    pytest.param(
        "packet-approval-on-changed-content.yaml",
        "signoffs",
        "StaleApproval",
        id="an approval of earlier content is stale",
    ),
]
SHARED = {"service.yaml", "deployment.yaml", "packet-complete.yaml", "policy-stages.yaml"}


def validate_json(capsys: pytest.CaptureFixture[str], *files: str) -> tuple[int, dict[str, Any]]:
    code = main(["validate", *(str(EXAMPLES / f) for f in files), "--now", NOW, "-o", "json"])
    return code, json.loads(capsys.readouterr().out)


def test_the_complete_packet_passes_every_gate(capsys: pytest.CaptureFixture[str]) -> None:
    code, report = validate_json(capsys, "service.yaml", "deployment.yaml", "packet-complete.yaml")
    assert code == 0
    assert report["passed"] is True


@pytest.mark.parametrize(("name", "gate", "reason"), INCOMPLETE)
def test_each_incomplete_packet_fails_only_the_gate_it_shows(
    capsys: pytest.CaptureFixture[str], name: str, gate: str, reason: str
) -> None:
    code, report = validate_json(capsys, "service.yaml", name)
    assert code == 1
    [result] = report["results"]
    assert result["blockingGates"] == [gate]
    [failed] = [g for g in result["gates"] if not g["passed"]]
    assert (failed["name"], failed["reason"]) == (gate, reason)
    first_line = (EXAMPLES / name).read_text().splitlines()[0]
    assert first_line.startswith(f"# Gate {gate} fails ({reason})")


def test_the_staged_policy_takes_a_packet_without_its_cost_estimate_to_limited_only(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from airlock.logic.stages import resolve_stages, satisfied_stage
    from airlock.models.policy import ReadinessPolicySpec

    doc = yaml.safe_load((EXAMPLES / "policy-stages.yaml").read_text())
    policy = ReadinessPolicySpec.model_validate(doc["spec"])
    code, report = validate_json(capsys, "service.yaml", "packet-over-budget.yaml", "policy-stages.yaml")
    assert code == 1
    [result] = report["results"]
    passing = [g["name"] for g in result["gates"] if g["passed"]]
    stages = resolve_stages(
        policy.stages, None, pilot=1, ceiling=20, required=[g["name"] for g in result["gates"]]
    )
    assert [s.name for s in stages] == ["Pilot", "Limited", "Production"]
    assert stages[satisfied_stage(stages, passing)].name == "Limited"
    assert (stages[1].cap, stages[1].traffic_weight) == (5, 20)


def test_every_example_file_is_used() -> None:
    used = SHARED | {p.values[0] for p in INCOMPLETE}
    assert {p.name for p in EXAMPLES.glob("*.yaml")} == used


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("packet-*.yaml")), ids=lambda p: p.name)
def test_each_packet_example_is_one_commented_document(path: Path) -> None:
    text = path.read_text()
    assert text.startswith("# ")
    documents = list(yaml.safe_load_all(text))
    assert len(documents) == 1
    assert (documents[0]["kind"], documents[0]["metadata"]["namespace"]) == ("ReadinessPacket", "support")


def test_the_deployment_is_the_governed_workload() -> None:
    deployment = yaml.safe_load((EXAMPLES / "deployment.yaml").read_text())
    service = yaml.safe_load((EXAMPLES / "service.yaml").read_text())
    assert (deployment["kind"], deployment["metadata"]["name"]) == (
        "Deployment",
        service["spec"]["workload"]["name"],
    )
    assert deployment["metadata"]["namespace"] == service["metadata"]["namespace"] == "support"
    assert deployment["spec"]["replicas"] == service["spec"]["pilotReplicas"] == 1
    assert (
        deployment["spec"]["template"]["spec"]["containers"][0]["image"]
        == "registry.example/support-assistant:1.0"
    )


def test_the_installed_command_validates_the_examples() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "operator")}
    files = [str(EXAMPLES / f) for f in ("service.yaml", "deployment.yaml", "packet-complete.yaml")]
    result = subprocess.run(
        [sys.executable, "-m", "airlock", "validate", *files, "--now", NOW],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "11/11 required gates pass" in result.stdout
    assert "ignored: apps/v1 Deployment is not an Airlock resource" in result.stderr
