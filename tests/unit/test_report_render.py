"""The readiness record rendered from objects (pure): what an auditor must find, and nothing injected."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from airlock.cli.report_render import build_report, render_html, render_markdown
from airlock.models.policy import ReadinessPolicySpec
from tests.unit.conftest import example

NOW = datetime(2026, 11, 20, tzinfo=UTC)


def service(**status: Any) -> dict[str, Any]:
    doc = example("service.yaml")
    doc["status"] = {"stage": "Pilot", "gatesPassed": "10/11", "blockingGates": ["signoffs"], **status}
    return doc


def test_an_approval_for_other_content_is_marked_stale_and_the_current_one_current() -> None:
    packet = example("packet-complete.yaml")
    current = packet["spec"]["approvals"][0]["digest"]
    packet["spec"]["approvals"][1]["digest"] = "sha256:" + "0" * 64
    packet["status"] = {"digest": current}
    text = render_markdown(build_report(service(), packet, [], ReadinessPolicySpec(), NOW))
    assert f"| owner | jane.doe@example.com | 2026-11-14T16:20:00Z | {current} | current |" in text
    assert (
        "| security | amir.haddad@example.com | 2026-11-14T17:05:00Z | sha256:" + "0" * 64 + " | stale |"
        in text
    )


def test_a_service_without_a_packet_or_events_says_so_instead_of_failing() -> None:
    text = render_markdown(build_report(service(), None, [], ReadinessPolicySpec(), NOW))
    assert "blocking: signoffs" in text and "The operator has not evaluated the gates yet." in text
    assert text.count("None recorded.") == 4


def test_evidence_lapses_at_the_policys_maximum_age() -> None:
    packet = example("packet-complete.yaml")
    st = {"gates": [{"name": "evals", "passed": True, "reason": "Passed", "message": "ok"}]}
    policy = ReadinessPolicySpec.model_validate({"maxAgeDays": {"evals": 10}})
    text = render_markdown(build_report(service(**st), packet, [], policy, NOW))
    assert "| evals | yes | pass | Passed | ok | 11/11 cases passed | 2026-11-22T09:30:00Z |" in text


def test_text_from_the_cluster_cannot_inject_markup_into_the_page() -> None:
    event = {
        "reason": "KillSwitchEngaged",
        "message": "<script>alert(1)</script>",
        "type": "Warning",
        "involvedObject": {"kind": "AIService", "name": "support-assistant"},
        "lastTimestamp": "2026-11-19T10:00:00Z",
    }
    page = render_html(build_report(service(), None, [event], ReadinessPolicySpec(), NOW))
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_the_crosswalk_names_only_real_gates_and_sections_and_cites_a_source_for_every_reference() -> None:
    from airlock.cli.report_render import load_crosswalk
    from airlock.models.common import GateName

    crosswalk = load_crosswalk()
    sources = crosswalk["sources"]
    assert all(s["title"] and s["url"].startswith("https://") for s in sources.values())
    subjects = set(crosswalk["crosswalk"])
    assert subjects <= {g.value for g in GateName} | {"kill-switch", "transitions"}
    assert {g.value for g in GateName} <= subjects, "every gate has a reference"
    for subject, refs in crosswalk["crosswalk"].items():
        for ref in refs:
            assert ref["source"] in sources and ref["id"] and ref["about"], (subject, ref)


def test_the_record_lists_each_gates_framework_references() -> None:
    from airlock.cli.report_render import load_crosswalk

    text = render_markdown(build_report(service(), None, [], ReadinessPolicySpec(), NOW, load_crosswalk()))
    frameworks = text.split("## Frameworks this evidence speaks to", 1)[1]
    assert "| rollout | Regulation (EU) 2024/1689" in frameworks and "| Art. 14(4)(e) |" in frameworks
    assert "| MANAGE 2.4 |" in frameworks


def test_the_record_shows_each_llm_and_agentic_risk_and_when_the_agentic_review_lapses() -> None:
    packet = example("packet-complete.yaml")
    del packet["spec"]["agenticReview"]["risks"]["ASI06"]
    st = {
        "gates": [{"name": "toolPermissions", "passed": False, "reason": "RiskNotAssessed", "message": "m"}]
    }
    report = build_report(service(**st), packet, [], ReadinessPolicySpec(), NOW)
    text = render_markdown(report)
    assert (
        "| 4 tools reviewed; 2 act (freeze_card, open_agent_case); agentic review by amir.haddad@example.com "
        "| 2027-02-03T15:00:00Z |" in text
    )
    reviews = text.split("## Risk reviews", 1)[1].split("## Approvals", 1)[0]
    assert (
        "| OWASP LLM Top 10 (2025) | LLM07 | System prompt leakage | accepted | The system prompt" in reviews
    )
    assert "| OWASP Agentic Top 10 (2026) | ASI09 | Human-agent trust exploitation | accepted |" in reviews
    assert (
        "| OWASP Agentic Top 10 (2026) | ASI06 | Memory and context poisoning | not assessed |  |" in reviews
    )
    assert reviews.count("| OWASP Agentic Top 10 (2026) |") == 10
    page = render_html(report)
    assert '<tr class="bad"><td>OWASP Agentic Top 10 (2026)</td><td>ASI06</td>' in page


def test_read_only_tools_need_no_agentic_rows() -> None:
    packet = example("packet-complete.yaml")
    packet["spec"]["tools"] = [{"name": "search_help_centre", "access": "read"}]
    del packet["spec"]["agenticReview"]
    text = render_markdown(build_report(service(), packet, [], ReadinessPolicySpec(), NOW))
    assert "OWASP Agentic Top 10" not in text and text.count("| OWASP LLM Top 10 (2025) |") == 10


def staged_service() -> dict[str, Any]:
    return service(
        stage="Limited",
        reachedStage="Limited",
        nextStage="Production",
        stageSince="2026-11-19T08:00:00Z",
        trafficWeight=25,
        blocking="signoffs",
        stages=[
            {"name": "Canary", "allowedReplicas": 1, "gatesPass": True, "blockingGates": []},
            {
                "name": "Limited",
                "allowedReplicas": 5,
                "gatesPass": True,
                "minSoak": "1h",
                "trafficWeight": 25,
            },
            {"name": "Production", "allowedReplicas": -1, "gatesPass": False, "blockingGates": ["signoffs"]},
        ],
    )


def test_the_record_lists_every_stage_and_where_the_service_stands() -> None:
    text = render_markdown(build_report(staged_service(), None, [], ReadinessPolicySpec(), NOW))
    assert "| Limited | yes | 5 | 1h | 25% | pass |  |" in text
    assert "| Production |  | no cap | none |  | blocked | signoffs |" in text
    assert "Next stage needs" in text and "2026-11-19T08:00:00Z" in text


def test_a_step_down_is_a_stage_transition_and_an_older_status_has_no_stage_list() -> None:
    event = {
        "type": "Warning",
        "reason": "SteppedDown",
        "message": "Gates of stage Production regressed; support-assistant steps down to Limited.",
        "lastTimestamp": "2026-11-19T09:00:00Z",
        "involvedObject": {"kind": "AIService", "name": "support-assistant"},
    }
    report = build_report(staged_service(), None, [event], ReadinessPolicySpec(), NOW)
    transitions = next(s for s in report.sections if s.title == "Stage and cap transitions")
    assert [row.cells[2] for row in transitions.rows] == ["SteppedDown"]
    older = build_report(service(), None, [], ReadinessPolicySpec(), NOW)
    assert "Stages" not in [s.title for s in older.sections]
