"""`airlock validate` and `airlock digest`: exit codes, error lines a person can act on, output shapes."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from airlock.cli.main import main
from airlock.logic.digest import packet_digest
from airlock.models import ReadinessPacketSpec

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SERVICE = str(EXAMPLES / "service.yaml")
COMPLETE = str(EXAMPLES / "packet-complete.yaml")
NOW = "2026-11-20T00:00:00Z"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def write(tmp_path: Path, name: str, *documents: dict[str, Any] | str) -> str:
    texts = [d if isinstance(d, str) else yaml.safe_dump(d, sort_keys=False) for d in documents]
    path = tmp_path / name
    path.write_text("---\n".join(texts))
    return str(path)


def document(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((EXAMPLES / name).read_text())
    return loaded


def packet_with(**spec_changes: Any) -> dict[str, Any]:
    doc = document("packet-complete.yaml")
    doc["spec"].update(spec_changes)
    return doc


# --- schema and syntax errors -----------------------------------------------------------------------


def test_a_typo_in_a_field_name_names_file_document_and_field(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    doc = document("packet-complete.yaml")
    doc["spec"]["useCase"]["nonUseCase"] = doc["spec"]["useCase"].pop("nonUseCases")
    path = write(tmp_path, "packet.yaml", doc)
    code, out, err = run(capsys, "validate", SERVICE, path, "--now", NOW)
    assert code == 2
    assert out == ""
    assert (
        f"{path}: document 1 (ReadinessPacket/support-assistant-v14): "
        "spec.useCase.nonUseCase: unknown field; did you mean nonUseCases?"
    ) in err.splitlines()


@pytest.mark.parametrize(
    ("spec_changes", "expected"),
    [
        pytest.param(
            {
                "evals": {
                    "evaluatedAt": "2026-11-12T09:30:00Z",
                    "cases": [{"name": "x", "category": "x", "result": "pass"}],
                }
            },
            "spec.evals.cases[0].category: Input should be",
            id="a wrong enum value is located by list index",
        ),
        pytest.param(
            {"securityReview": {"risks": {"LLM07": {"status": "accepted"}}}},
            "spec.securityReview.risks.LLM07: a risk that is accepted or notApplicable needs evidence",
            id="an accepted risk without evidence is refused with the reason",
        ),
        pytest.param(
            {"versions": {"model": "gpt-4o-2024-08-06", "prompt": 14}},
            "spec.versions.prompt: Input should be a valid string (got 14)",
            id="a number where a version string belongs shows the value",
        ),
        pytest.param(
            {"versions": {"model": "gpt-4o-2024-08-06"}},
            "spec.versions.prompt: required field is missing",
            id="a missing required field is named",
        ),
        pytest.param(
            {"tools": [{"name": "t", "access": "read"}, {"name": "t", "access": "write"}]},
            "spec: tools lists 't' twice",
            id="a tool listed twice is refused",
        ),
        pytest.param(
            {"rollout": {"kill_switch_drill_at": "2026-11-10"}},
            "spec.rollout.killSwitchDrillAt: Input should have timezone info",
            id="a snake_case field is reported by its wire name",
        ),
    ],
)
def test_schema_errors_are_reported_with_wire_paths(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, spec_changes: dict[str, Any], expected: str
) -> None:
    path = write(tmp_path, "packet.yaml", packet_with(**spec_changes))
    code, _, err = run(capsys, "validate", SERVICE, path, "--now", NOW)
    assert code == 2
    assert f"{path}: document 1 (ReadinessPacket/support-assistant-v14): {expected}" in err


def test_errors_in_later_documents_carry_their_number(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    service = document("service.yaml")
    service["spec"]["pilotReplicas"] = 5
    service["spec"]["maxReplicas"] = 2
    path = write(tmp_path, "all.yaml", document("deployment.yaml"), document("packet-complete.yaml"), service)
    code, _, err = run(capsys, "validate", path, "--now", NOW)
    assert code == 2
    assert (
        f"{path}: document 3 (AIService/support-assistant): spec: maxReplicas must be at least pilotReplicas"
        in err
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "kind: AIService\nmetadata: {name: [\n", "document 1: invalid YAML at line 3", id="broken YAML"
        ),
        pytest.param(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\nkind: AIService\n  bad: indent\n",
            "document 2: invalid YAML at line 6",
            id="broken YAML after a good document names the broken one",
        ),
        pytest.param(
            "apiVersion: airlock.dev/v1alpha1\nkind: AIService\nkind: ReadinessPacket\nmetadata: {name: a}\n",
            "found duplicate key 'kind'",
            id="a duplicate key is refused rather than silently overwritten",
        ),
        pytest.param(
            "- a\n- b\n", "document 1: expected a Kubernetes object (a mapping), got a list", id="a list"
        ),
        pytest.param("metadata: {name: a}\n", "document 1: apiVersion and kind are required", id="no kind"),
        pytest.param(
            "apiVersion: airlock.dev/v1alpha1\nkind: AIServce\nmetadata: {name: a}\nspec: {}\n",
            "document 1 (AIServce/a): unknown kind AIServce",
            id="a misspelt Airlock kind is an error, not ignored",
        ),
        pytest.param(
            "apiVersion: airlock.dev/v1\nkind: AIService\nmetadata: {name: a}\nspec: {}\n",
            "apiVersion airlock.dev/v1 is not served; use airlock.dev/v1alpha1",
            id="an unserved Airlock version is an error",
        ),
        pytest.param(
            "apiVersion: airlock.dev/v1alpha1\nkind: ReadinessPacket\nmetadata: {namespace: support}\n"
            "spec: {service: s, versions: {model: m, prompt: p}}\n",
            "document 1 (ReadinessPacket): metadata.name: required field is missing",
            id="an object without a name",
        ),
        pytest.param(
            "apiVersion: airlock.dev/v1alpha1\nkind: ReadinessPacket\nmetadata: {name: a}\n",
            "(ReadinessPacket/a): spec: required field is missing",
            id="a packet without a spec",
        ),
        pytest.param(
            "apiVersion: airlock.dev/v1alpha1\nkind: ReadinessPacket\nmetadata: {name: a}\nspecs: {}\n"
            "spec: {service: s, versions: {model: m, prompt: p}}\n",
            "(ReadinessPacket/a): specs: unknown field",
            id="an unknown top-level field",
        ),
        pytest.param(
            "apiVersion: airlock.dev/v1alpha1\nkind: ReadinessPolicy\nmetadata: {name: strict}\n",
            "metadata.name: Airlock reads only the ReadinessPolicy named 'default'",
            id="a policy with another name would be ignored by the operator, so it is refused",
        ),
    ],
)
def test_input_errors_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str, expected: str
) -> None:
    path = write(tmp_path, "input.yaml", text)
    code, out, err = run(capsys, "validate", path, "--now", NOW)
    assert code == 2
    assert out == ""
    assert err.startswith(f"{path}: document ")
    assert expected in err.splitlines()[0]


def test_an_object_defined_twice_is_an_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "validate", SERVICE, COMPLETE, COMPLETE, "--now", NOW)
    assert code == 2
    assert (
        f"{COMPLETE}: document 1 (ReadinessPacket/support-assistant-v14): defined twice; "
        f"the first is {COMPLETE}: document 1 (ReadinessPacket/support-assistant-v14)" in err
    )


def test_a_missing_file_is_an_input_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "validate", str(tmp_path / "nope.yaml"))
    assert code == 2
    assert "nope.yaml: cannot read: No such file or directory" in err


@pytest.mark.parametrize(
    "now",
    [
        pytest.param("2026-11-20", id="a date without a time"),
        pytest.param("2026-11-20T00:00:00", id="a time without a zone"),
        pytest.param("yesterday", id="words"),
    ],
)
def test_now_must_be_rfc3339_with_a_zone(capsys: pytest.CaptureFixture[str], now: str) -> None:
    code, _, err = run(capsys, "validate", SERVICE, COMPLETE, "--now", now)
    assert code == 2
    assert "--now" in err and "RFC 3339" in err


def test_files_without_airlock_objects_are_an_input_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "validate", str(EXAMPLES / "deployment.yaml"))
    assert code == 2
    assert "ignored: apps/v1 Deployment is not an Airlock resource" in err
    assert "no AIService or ReadinessPacket found" in err


# --- evaluation -------------------------------------------------------------------------------------


def test_a_complete_packet_passes_and_prints_a_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "validate", SERVICE, COMPLETE, "--now", NOW)
    assert code == 0
    assert err == ""
    lines = out.splitlines()
    assert lines[0] == (
        "AIService support/support-assistant with ReadinessPacket support-assistant-v14: "
        "11/11 required gates pass"
    )
    header = next(line for line in lines if line.startswith("GATE"))
    assert header.split() == ["GATE", "REQUIRED", "RESULT", "REASON", "MESSAGE"]
    rows = [line.split()[:4] for line in lines[lines.index(header) + 1 :][:11]]
    assert [row[0] for row in rows] == [
        "useCase", "dataGovernance", "versions", "evals", "observability", "toolPermissions",
        "securityReview", "cost", "ownership", "rollout", "signoffs",
    ]  # fmt: skip
    assert {tuple(row[1:]) for row in rows} == {("yes", "PASS", "Passed")}
    assert "every required gate passes" in lines[-1]


def test_a_service_without_a_packet_fails_with_no_packet(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "validate", SERVICE, "--now", NOW, "-o", "json")
    assert code == 1
    result = json.loads(out)["results"][0]
    assert (result["packet"], result["gatesPassed"]) == (None, "0/11")
    assert {g["reason"] for g in result["gates"]} == {"NoPacket"}
    assert "No ReadinessPacket names support-assistant" in result["packetMessage"]


def test_a_packet_on_its_own_fails_versions_because_no_service_was_given(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, "validate", COMPLETE, "--now", NOW, "-o", "json")
    assert code == 1
    result = json.loads(out)["results"][0]
    assert (result["kind"], result["name"], result["blockingGates"]) == (
        "ReadinessPacket",
        "support-assistant-v14",
        ["versions"],
    )
    versions = next(g for g in result["gates"] if g["name"] == "versions")
    assert versions["reason"] == "ServiceNotFound"
    assert "No AIService support/support-assistant was given" in versions["message"]


def test_json_output_is_machine_readable(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "validate", SERVICE, str(EXAMPLES / "packet-over-budget.yaml"), "--now", NOW, "-o", "json"
    )
    assert code == 1
    report = json.loads(out)
    assert (report["passed"], report["now"], report["policy"]) == (False, NOW, "built-in")
    result = report["results"][0]
    assert result["digest"].startswith("sha256:")
    assert result["blockingGates"] == ["cost"]
    assert result["expiresAt"] == "2026-12-12T09:30:00Z"
    cost = next(g for g in result["gates"] if g["name"] == "cost")
    assert cost == {
        "name": "cost",
        "passed": False,
        "reason": "OverBudget",
        "message": cost["message"],
        "required": True,
    }


def test_a_policy_in_the_files_is_used(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    policy = write(
        tmp_path,
        "policy.yaml",
        {"apiVersion": "airlock.dev/v1alpha1", "kind": "ReadinessPolicy", "metadata": {"name": "default"},
         "spec": {"minPassRate": 0.9}},
    )  # fmt: skip
    failed = str(EXAMPLES / "packet-prompt-injection-failed.yaml")
    assert run(capsys, "validate", SERVICE, failed, "--now", NOW)[0] == 1
    code, out, _ = run(capsys, "validate", SERVICE, failed, policy, "--now", NOW)
    assert code == 0
    assert "Policy: ReadinessPolicy/default" in out


def test_only_packets_in_the_service_namespace_are_considered(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    elsewhere = document("packet-complete.yaml")
    elsewhere["metadata"]["namespace"] = "staging"
    path = write(tmp_path, "staging.yaml", elsewhere)
    code, out, _ = run(capsys, "validate", SERVICE, path, "--now", NOW, "-o", "json")
    assert code == 1
    results = {(r["kind"], r["namespace"]): r for r in json.loads(out)["results"]}
    assert results["AIService", "support"]["packet"] is None
    assert results["ReadinessPacket", "staging"]["blockingGates"] == ["versions"]


def test_a_packet_for_old_versions_is_noted_not_evaluated(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    old = document("packet-complete.yaml")
    old["metadata"]["name"] = "support-assistant-v13"
    old["spec"]["versions"]["prompt"] = "v13"
    path = write(tmp_path, "old.yaml", old)
    code, out, err = run(capsys, "validate", SERVICE, COMPLETE, path, "--now", NOW)
    assert code == 0
    assert "support-assistant-v13" not in out
    assert f"{path}: document 1 (ReadinessPacket/support-assistant-v13): not evaluated" in err


def test_stdin_is_read_for_a_dash(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    text = (EXAMPLES / "service.yaml").read_text() + "---\n" + (EXAMPLES / "packet-complete.yaml").read_text()
    monkeypatch.setattr("sys.stdin", io.StringIO(text))
    code, out, _ = run(capsys, "validate", "-", "--now", NOW)
    assert code == 0
    assert "11/11 required gates pass" in out


# --- airlock digest ---------------------------------------------------------------------------------


def test_digest_prints_the_digest_approvals_must_carry(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "digest", COMPLETE, str(EXAMPLES / "packet-over-budget.yaml"))
    assert code == 0
    spec = ReadinessPacketSpec.model_validate(document("packet-complete.yaml")["spec"])
    lines = out.splitlines()
    assert lines[0] == f"{packet_digest(spec)}  support/support-assistant-v14"
    assert len(lines) == 2
    assert lines[0] != lines[1]


def test_digest_without_packets_is_an_input_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "digest", SERVICE)
    assert code == 2
    assert out == ""
    assert "no ReadinessPacket found" in err


def test_digest_refuses_an_invalid_packet(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = write(tmp_path, "packet.yaml", packet_with(useCase={"summary": "x", "nonUseCase": ["y"]}))
    code, out, err = run(capsys, "digest", path)
    assert code == 2
    assert out == ""
    assert "spec.useCase.nonUseCase: unknown field" in err


# --- stages -------------------------------------------------------------------------------------------

THREE_STAGES = {
    "apiVersion": "airlock.dev/v1alpha1",
    "kind": "ReadinessPolicy",
    "metadata": {"name": "default"},
    "spec": {
        "stages": [
            {"name": "Canary", "trafficWeight": 5},
            {
                "name": "Limited",
                "replicas": 5,
                "requiredGates": ["evals"],
                "minSoak": "1h",
                "trafficWeight": 25,
            },
            {"name": "Production", "minSoak": "24h"},
        ]
    },
}


def stage_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("Stage:")]


@pytest.mark.parametrize(
    ("packet", "code", "expected"),
    [
        pytest.param(
            "packet-over-budget.yaml",
            1,
            "Stage: the gates of Limited (2 of 3) pass: up to 5 replicas; Production needs: cost. "
            "Soak times apply in the cluster.",
            id="a failing gate only the last stage needs stops at the stage between",
        ),
        pytest.param(
            "packet-prompt-injection-failed.yaml",
            1,
            "Stage: Canary (1 of 3), where every service starts: up to 1 replica; Limited needs: evals.",
            id="a failing gate the second stage needs keeps the first",
        ),
        pytest.param(
            "packet-complete.yaml",
            0,
            "Stage: the gates of Production (3 of 3) pass: up to 20 replicas. "
            "Soak times apply in the cluster.",
            id="every gate passing reaches the last stage",
        ),
    ],
)
def test_validate_reports_the_stage_a_three_stage_policy_lets_the_packet_reach(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, packet: str, code: int, expected: str
) -> None:
    policy = write(tmp_path, "policy.yaml", THREE_STAGES)
    result, out, _ = run(capsys, "validate", SERVICE, str(EXAMPLES / packet), policy, "--now", NOW)
    assert result == code
    assert stage_lines(out) == [expected]


def test_stages_the_service_tightens_need_its_gates_too(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    policy = write(tmp_path, "policy.yaml", THREE_STAGES)
    service = document("service.yaml")
    service["spec"]["stages"] = [{"name": "Limited", "requiredGates": ["cost"]}]
    path = write(tmp_path, "service.yaml", service)
    over_budget = str(EXAMPLES / "packet-over-budget.yaml")
    code, out, _ = run(capsys, "validate", path, over_budget, policy, "--now", NOW)
    assert code == 1
    assert stage_lines(out) == [
        "Stage: Canary (1 of 3), where every service starts: up to 1 replica; Limited needs: cost."
    ]


def test_json_output_carries_the_stage_and_every_stage_as_the_status_would(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    policy = write(tmp_path, "policy.yaml", THREE_STAGES)
    over_budget = str(EXAMPLES / "packet-over-budget.yaml")
    code, out, _ = run(capsys, "validate", SERVICE, over_budget, policy, "--now", NOW, "-o", "json")
    assert code == 1
    result = json.loads(out)["results"][0]
    assert (result["stage"], result["nextStage"], result["blocking"]) == ("Limited", "Production", ["cost"])
    assert [(s["name"], s["allowedReplicas"], s["gatesPass"]) for s in result["stages"]] == [
        ("Canary", 1, True),
        ("Limited", 5, True),
        ("Production", 20, False),
    ]
    assert result["stages"][2]["blockingGates"] == ["cost"]
    assert result["stages"][1]["minSoak"] == "1h"


def test_without_stages_validate_says_nothing_of_them(capsys: pytest.CaptureFixture[str]) -> None:
    over_budget = str(EXAMPLES / "packet-over-budget.yaml")
    _, out, _ = run(capsys, "validate", SERVICE, over_budget, "--now", NOW)
    assert stage_lines(out) == []
    _, out, _ = run(capsys, "validate", SERVICE, over_budget, "--now", NOW, "-o", "json")
    assert "stage" not in json.loads(out)["results"][0]
