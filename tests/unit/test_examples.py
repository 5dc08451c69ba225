"""The examples are part of the product: each shows what its first line says, through `airlock validate`."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from airlock.cli.main import main
from airlock.logic.stages import resolve_stages, satisfied_stage
from airlock.models.common import ALL_GATES
from airlock.models.policy import ReadinessPolicySpec
from airlock.models.service import AIServiceSpec

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


def stages_policy() -> ReadinessPolicySpec:
    """examples/policy-stages.yaml: the ReadinessPolicy the operator reads, the one named default."""
    document = yaml.safe_load((EXAMPLES / "policy-stages.yaml").read_text())
    assert (document["kind"], document["metadata"]["name"]) == ("ReadinessPolicy", "default")
    return ReadinessPolicySpec.model_validate(document["spec"])


def test_the_complete_packet_passes_under_the_stages_policy(capsys: pytest.CaptureFixture[str]) -> None:
    code, report = validate_json(capsys, "service.yaml", "packet-complete.yaml", "policy-stages.yaml")
    assert code == 0
    assert (report["passed"], report["policy"]) == (True, "ReadinessPolicy/default")


def test_the_stages_policy_gives_the_example_service_the_three_stages_docs_stages_md_shows() -> None:
    policy = stages_policy()
    service = AIServiceSpec.model_validate(yaml.safe_load((EXAMPLES / "service.yaml").read_text())["spec"])
    stages = resolve_stages(
        policy.stages,
        None,
        pilot=service.pilot_replicas,
        ceiling=service.max_replicas,
        required=ALL_GATES,
    )
    assert [(s.name, s.cap, s.min_soak, s.traffic_weight) for s in stages] == [
        ("Pilot", 1, None, 5),
        ("Limited", 5, "10m", 25),
        ("Production", 20, "1h", 100),
    ]
    assert [s.gates for s in stages][:2] == [(), ("evals", "securityReview")]
    assert stages[-1].gates == tuple(ALL_GATES)
    assert (EXAMPLES / "policy-stages.yaml").read_text().startswith("# Three stages for every service")


def stages_doc_yaml() -> list[Any]:
    """Every YAML document shown in docs/stages.md."""
    blocks = re.findall(r"^```yaml\n(.*?)^```", (ROOT / "docs" / "stages.md").read_text(), re.M | re.S)
    return [d for b in blocks for d in yaml.safe_load_all(b)]


def test_docs_stages_md_shows_the_stages_policy_as_it_is() -> None:
    assert yaml.safe_load((EXAMPLES / "policy-stages.yaml").read_text()) in stages_doc_yaml()


def test_the_tightening_docs_stages_md_shows_keeps_the_policys_cap_and_adds_its_gate() -> None:
    [own] = [d for d in stages_doc_yaml() if list(d) == ["spec"] and "stages" in d["spec"]]
    policy = stages_policy()
    service = yaml.safe_load((EXAMPLES / "service.yaml").read_text())["spec"]
    spec = AIServiceSpec.model_validate({**service, **own["spec"]})
    stages = resolve_stages(
        policy.stages,
        spec.stages,
        pilot=spec.pilot_replicas,
        ceiling=spec.max_replicas,
        required=ALL_GATES,
    )
    limited = stages[1]
    assert (limited.name, limited.cap, limited.traffic_weight) == ("Limited", 5, 20)
    assert limited.gates == ("evals", "securityReview", "cost")


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
    code, report = validate_json(capsys, "service.yaml", "packet-over-budget.yaml", "policy-stages.yaml")
    assert code == 1
    [result] = report["results"]
    passing = [g["name"] for g in result["gates"] if g["passed"]]
    stages = resolve_stages(stages_policy().stages, None, pilot=1, ceiling=20, required=ALL_GATES)
    assert stages[satisfied_stage(stages, passing)].name == "Limited"


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
