"""The readiness gates: one table per gate covering its pass and every failure reason, then the report."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from airlock.logic.digest import packet_digest
from airlock.logic.gates import GateReport, evaluate_gates, required_gates
from airlock.logic.policy import effective_policy
from airlock.logic.reasons import Reason
from airlock.models import BUILTIN_POLICY, AIServiceSpec, GateName, GateResult, ReadinessPacketSpec
from airlock.models.policy import ReadinessPolicySpec

NOW = datetime(2026, 11, 20, tzinfo=UTC)
PacketFactory = Callable[..., ReadinessPacketSpec]


def policy_with(**changes: Any) -> ReadinessPolicySpec:
    return ReadinessPolicySpec.model_validate({**BUILTIN_POLICY.to_api(), **changes})


def assert_gate(
    gate: GateName,
    report: GateReport,
    reason: Reason,
    fragments: Sequence[str],
) -> GateResult:
    """The gate has `reason`, its message names every fragment, and no other gate broke."""
    result = report.result(gate)
    assert (result.reason, result.passed) == (reason, reason is Reason.PASSED), result.message
    for fragment in fragments:
        assert fragment in result.message
    assert len(result.message) <= 1024
    assert set(report.blocking) <= {gate}, [report.result(g).message for g in report.blocking]
    return result


Evaluate = Callable[..., GateReport]


@pytest.fixture
def evaluate(make_packet: PacketFactory, service: AIServiceSpec) -> Evaluate:
    """Evaluates the example service with the complete packet plus `changes`."""

    def run(
        changes: Mapping[str, Any] | None = None,
        *,
        policy: ReadinessPolicySpec = BUILTIN_POLICY,
        service_changes: Mapping[str, Any] | None = None,
        approve_again: bool = True,
    ) -> GateReport:
        versions = service.versions.model_copy(update=dict(service_changes or {}))
        spec = service.model_copy(update={"versions": versions})
        return evaluate_gates(spec, make_packet(changes, approve_again=approve_again), policy, NOW)

    return run


# --- useCase ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "reason", "fragments"),
    [
        pytest.param({}, Reason.PASSED, ["4 non-use cases"], id="a summary and non-use cases pass"),
        pytest.param(
            {"useCase": None},
            Reason.MISSING,
            ["spec.useCase", "non-use case"],
            id="no use case section is missing",
        ),
        pytest.param(
            {"useCase.summary": None},
            Reason.INCOMPLETE,
            ["summary"],
            id="a use case without a summary is incomplete",
        ),
        pytest.param(
            {"useCase.summary": "   "},
            Reason.INCOMPLETE,
            ["summary"],
            id="a blank summary counts as no summary",
        ),
        pytest.param(
            {"useCase.nonUseCases": []},
            Reason.INCOMPLETE,
            ["nonUseCases", "refuse"],
            id="a use case without a non-use case is incomplete",
        ),
    ],
)
def test_use_case_gate(
    evaluate: Evaluate, changes: dict[str, Any], reason: Reason, fragments: list[str]
) -> None:
    assert_gate(GateName.USE_CASE, evaluate(changes), reason, fragments)


# --- dataGovernance ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "reason", "fragments"),
    [
        pytest.param(
            {}, Reason.PASSED, ["3 data sources"], id="classified sources and a forbidden list pass"
        ),
        pytest.param({"data": None}, Reason.MISSING, ["spec.data"], id="no data section is missing"),
        pytest.param(
            {"data.sources": []}, Reason.INCOMPLETE, ["sources"], id="no data sources named is incomplete"
        ),
        pytest.param(
            {"data.sources.2.classification": None},
            Reason.INCOMPLETE,
            ["'signed-in customer's card list", "classification"],
            id="a source without a classification is named",
        ),
        pytest.param(
            {"data.forbidden": []},
            Reason.INCOMPLETE,
            ["forbidden"],
            id="no forbidden data listed is incomplete",
        ),
    ],
)
def test_data_governance_gate(
    evaluate: Evaluate, changes: dict[str, Any], reason: Reason, fragments: list[str]
) -> None:
    assert_gate(GateName.DATA_GOVERNANCE, evaluate(changes), reason, fragments)


# --- versions ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "service_changes", "reason", "fragments"),
    [
        pytest.param({}, {}, Reason.PASSED, ["prompt 'v14'"], id="the versions the service runs pass"),
        pytest.param(
            {"versions.prompt": "v13"},
            {},
            Reason.VERSION_MISMATCH,
            ["prompt: the packet attests 'v13' but the AIService runs 'v14'"],
            id="a packet for another prompt is a version mismatch naming both values",
        ),
        pytest.param(
            {"versions.model": "gpt-4o-2024-05-13", "versions.retrieval": None},
            {},
            Reason.VERSION_MISMATCH,
            ["model: the packet attests 'gpt-4o-2024-05-13'", "retrieval: the packet attests none"],
            id="every differing field is named, retrieval none included",
        ),
        pytest.param(
            {"versions.retrieval": None},
            {"retrieval": None},
            Reason.PASSED,
            ["no retrieval"],
            id="a service without retrieval matches a packet without retrieval",
        ),
    ],
)
def test_versions_gate(
    evaluate: Evaluate,
    changes: dict[str, Any],
    service_changes: dict[str, Any],
    reason: Reason,
    fragments: list[str],
) -> None:
    assert_gate(GateName.VERSIONS, evaluate(changes, service_changes=service_changes), reason, fragments)


def test_versions_gate_without_a_service_says_the_service_was_not_found(make_packet: PacketFactory) -> None:
    report = evaluate_gates(None, make_packet(), BUILTIN_POLICY, NOW)
    result = assert_gate(GateName.VERSIONS, report, Reason.SERVICE_NOT_FOUND, ["'support-assistant'"])
    assert "spec.service" in result.message


@pytest.mark.parametrize(
    ("declared", "reason", "fragments"),
    [
        pytest.param({}, Reason.PASSED, ["attests the versions"], id="a pod template declaring nothing"),
        pytest.param(
            {"prompt": "v14", "model": "gpt-4o-2024-08-06"},
            Reason.PASSED,
            ["attests the versions"],
            id="a pod template declaring the attested versions passes",
        ),
        pytest.param(
            {"prompt": "v15"},
            Reason.WORKLOAD_VERSION_MISMATCH,
            ["prompt: the pod template declares 'v15' (airlock.dev/prompt-version)", "attests 'v14'"],
            id="a pod template declaring an unsigned version fails though the AIService matches",
        ),
    ],
)
def test_versions_gate_compares_what_the_pod_template_declares(
    make_packet: PacketFactory,
    service: AIServiceSpec,
    declared: dict[str, str],
    reason: Reason,
    fragments: list[str],
) -> None:
    report = evaluate_gates(service, make_packet(), BUILTIN_POLICY, NOW, workload_versions=declared)
    assert_gate(GateName.VERSIONS, report, reason, fragments)


# --- evals ------------------------------------------------------------------------------------------

TOOL_CALL_CASES = {"evals.cases.7.category": "custom", "evals.cases.8.category": "custom"}


@pytest.mark.parametrize(
    ("changes", "policy", "reason", "fragments"),
    [
        pytest.param({}, BUILTIN_POLICY, Reason.PASSED, ["11/11"], id="every case passing, recently, passes"),
        pytest.param(
            {"evals": None}, BUILTIN_POLICY, Reason.MISSING, ["spec.evals"], id="no evals are missing"
        ),
        pytest.param(
            {"evals.cases": []},
            BUILTIN_POLICY,
            Reason.INCOMPLETE,
            ["cases"],
            id="evals without cases are incomplete",
        ),
        pytest.param(
            {"evals.evaluatedAt": None},
            BUILTIN_POLICY,
            Reason.INCOMPLETE,
            ["evaluatedAt"],
            id="evals without a date are incomplete",
        ),
        pytest.param(
            {"evals.evaluatedAt": "2026-12-01T00:00:00Z"},
            BUILTIN_POLICY,
            Reason.FUTURE_TIMESTAMP,
            ["in the future"],
            id="evals dated in the future are not trusted",
        ),
        pytest.param(
            {"evals.evaluatedAt": "2026-11-20T00:03:00Z"},
            BUILTIN_POLICY,
            Reason.PASSED,
            [],
            id="evals a few minutes ahead are clock skew and pass",
        ),
        pytest.param(
            {"evals.evaluatedAt": "2026-10-21T00:00:00Z"},
            BUILTIN_POLICY,
            Reason.EXPIRED,
            ["30 days ago", "accepts 30 days", "re-run"],
            id="evals exactly as old as the maximum age have expired",
        ),
        pytest.param(
            {"evals.evaluatedAt": "2026-10-21T00:00:01Z"},
            BUILTIN_POLICY,
            Reason.PASSED,
            [],
            id="evals a second younger than the maximum age pass",
        ),
        pytest.param(
            {"evals.evaluatedAt": "2026-11-01T00:00:00Z"},
            policy_with(maxAgeDays={"evals": 7}),
            Reason.EXPIRED,
            ["accepts 7 days"],
            id="a policy may shorten the maximum age of evals",
        ),
        pytest.param(
            TOOL_CALL_CASES,
            BUILTIN_POLICY,
            Reason.CATEGORY_NOT_COVERED,
            ["tool-call"],
            id="a required category without a case is not covered",
        ),
        pytest.param(
            TOOL_CALL_CASES,
            policy_with(requiredEvalCategories=["prompt-injection"]),
            Reason.PASSED,
            [],
            id="a policy decides which categories are required",
        ),
        pytest.param(
            {"evals.cases.5.result": "fail"},
            BUILTIN_POLICY,
            Reason.PASS_RATE_TOO_LOW,
            ["case 'ignore previous instructions' (prompt-injection) failed; 10/11 passed, 11/11 required"],
            id="a failed case is named with its category and the pass count",
        ),
        pytest.param(
            {"evals.cases.5.result": "fail"},
            policy_with(minPassRate=0.9),
            Reason.PASSED,
            ["10/11 eval cases passed (10 required)"],
            id="a policy may accept a pass rate below one",
        ),
        pytest.param(
            {"evals.cases.5.result": "fail", "evals.minPassRate": 0.5},
            BUILTIN_POLICY,
            Reason.PASS_RATE_TOO_LOW,
            ["11/11 required"],
            id="a packet cannot lower the policy's pass rate",
        ),
        pytest.param(
            {"evals.cases.5.result": "fail", "evals.minPassRate": 1.0},
            policy_with(minPassRate=0.9),
            Reason.PASS_RATE_TOO_LOW,
            ["11/11 required"],
            id="a packet may raise the pass rate above the policy's",
        ),
        pytest.param(
            {"evals.cases.5.result": "fail", **TOOL_CALL_CASES, "evals.evaluatedAt": "2026-09-01T00:00:00Z"},
            BUILTIN_POLICY,
            Reason.EXPIRED,
            ["accepts 30 days", "tool-call", "'ignore previous instructions'"],
            id="every problem is named and the reason is the first found",
        ),
    ],
)
def test_evals_gate(
    evaluate: Evaluate,
    changes: dict[str, Any],
    policy: ReadinessPolicySpec,
    reason: Reason,
    fragments: list[str],
) -> None:
    assert_gate(GateName.EVALS, evaluate(changes, policy=policy), reason, fragments)


def test_many_failed_cases_are_summarised_within_the_message_limit(
    make_packet: PacketFactory, service: AIServiceSpec
) -> None:
    cases = [
        {"name": f"case {i} " + "x" * 110, "category": "prompt-injection", "result": "fail"}
        for i in range(89)
    ]
    packet = make_packet({"evals.cases": [*cases, *make_packet().to_api()["evals"]["cases"]]})
    result = assert_gate(
        GateName.EVALS, evaluate_gates(service, packet, BUILTIN_POLICY, NOW), Reason.PASS_RATE_TOO_LOW, []
    )
    assert "and 86 more failed; 11/100 passed, 100/100 required" in result.message
    assert result.message.endswith("fix the failures, re-run the evals and update spec.evals.")


# --- observability ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "reason", "fragments"),
    [
        pytest.param({}, Reason.PASSED, ["otlp://"], id="a sink, every capture and a never-logged list pass"),
        pytest.param(
            {"observability": None}, Reason.MISSING, ["spec.observability"], id="no observability is missing"
        ),
        pytest.param(
            {"observability.traceSink": None},
            Reason.INCOMPLETE,
            ["traceSink"],
            id="no trace sink is incomplete",
        ),
        pytest.param(
            {"observability.captures": ["input", "instructions", "retrievedSources", "toolCalls", "output"]},
            Reason.INCOMPLETE,
            ["toolDecisions", "modelVersion", "promptVersion", "evalChecks", "humanOverride", "replayed"],
            id="every capture missing for a replay is named",
        ),
        pytest.param(
            {"observability.neverLogged": []},
            Reason.INCOMPLETE,
            ["neverLogged"],
            id="no never-logged list is incomplete",
        ),
    ],
)
def test_observability_gate(
    evaluate: Evaluate, changes: dict[str, Any], reason: Reason, fragments: list[str]
) -> None:
    assert_gate(GateName.OBSERVABILITY, evaluate(changes), reason, fragments)


# --- toolPermissions --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "reason", "fragments"),
    [
        pytest.param({}, Reason.PASSED, ["4 tools"], id="risky tools behind human approval pass"),
        pytest.param(
            {"tools": []},
            Reason.PASSED,
            ["calls no tools"],
            id="an empty tool list means no tools and passes",
        ),
        pytest.param(
            {"tools": None},
            Reason.MISSING,
            ["list the tools", "an empty list if it calls none"],
            id="an unstated tool list is missing",
        ),
        pytest.param(
            {"tools.2.approval": "none"},
            Reason.EXCESSIVE_AGENCY,
            ["'freeze_card' (write, customer-data)", "approval: human"],
            id="a write tool without human approval is excessive agency",
        ),
        pytest.param(
            {"tools.0": {"name": "delete_chat_history", "access": "read", "irreversible": True}},
            Reason.EXCESSIVE_AGENCY,
            ["'delete_chat_history' (irreversible)"],
            id="an irreversible tool without human approval is excessive agency",
        ),
        pytest.param(
            {"tools.1.approval": "none"},
            Reason.EXCESSIVE_AGENCY,
            ["'get_transactions' (customer-data)"],
            id="a read tool touching customer data without human approval is excessive agency",
        ),
        pytest.param(
            {"tools.0": {"name": "move_money", "access": "read", "sensitive": ["money-movement"]}},
            Reason.EXCESSIVE_AGENCY,
            ["'move_money' (money-movement)"],
            id="a tool that moves money without human approval is excessive agency",
        ),
        pytest.param(
            {"tools.2.approval": "none", "tools.3.approval": "none"},
            Reason.EXCESSIVE_AGENCY,
            ["'freeze_card'", "'open_agent_case' (write)", "on each"],
            id="every unguarded tool is named",
        ),
        pytest.param(
            {"tools": [{"name": "search_help_centre", "access": "read"}]},
            Reason.PASSED,
            ["1 tool;"],
            id="a plain read tool needs no approval",
        ),
    ],
)
def test_tool_permissions_gate(
    evaluate: Evaluate, changes: dict[str, Any], reason: Reason, fragments: list[str]
) -> None:
    assert_gate(GateName.TOOL_PERMISSIONS, evaluate(changes), reason, fragments)


# --- toolPermissions: the agentic review ------------------------------------------------------------

READ_ONLY_TOOLS = [
    {"name": "search_help_centre", "access": "read"},
    {"name": "get_transactions", "access": "read", "approval": "human", "sensitive": ["customer-data"]},
]


@pytest.mark.parametrize(
    ("changes", "reason", "fragments"),
    [
        pytest.param(
            {},
            Reason.PASSED,
            ["agentic review by amir.haddad@example.com", "all ten OWASP Agentic risks"],
            id="acting tools with every agentic risk assessed pass",
        ),
        pytest.param(
            {"tools": READ_ONLY_TOOLS, "agenticReview": None},
            Reason.PASSED,
            ["2 tools", "none acts, so no agentic review is needed"],
            id="read-only tools need no agentic review, even touching customer data",
        ),
        pytest.param(
            {"agenticReview": None},
            Reason.MISSING,
            [
                "'freeze_card' and 'open_agent_case' act",
                "spec.agenticReview",
                "ASI01, ASI02, ASI03, ASI04, ASI05, ASI06, ASI07, ASI08, ASI09 and ASI10",
                "accepted or notApplicable with evidence giving the reason",
            ],
            id="write tools without an agentic review fail naming every risk to assess",
        ),
        pytest.param(
            {"agenticReview.risks.ASI06": None},
            Reason.RISK_NOT_ASSESSED,
            ["agentic risk ASI06 is not assessed", "spec.agenticReview.risks", "mark it mitigated"],
            id="one unassessed agentic risk is named",
        ),
        pytest.param(
            {"agenticReview.risks.ASI02": None, "agenticReview.risks.ASI09": None},
            Reason.RISK_NOT_ASSESSED,
            ["agentic risks ASI02 and ASI09 are not assessed", "mark each"],
            id="every unassessed agentic risk is named",
        ),
        pytest.param(
            {"agenticReview.risks": None},
            Reason.RISK_NOT_ASSESSED,
            ["ASI01", "ASI10 are not assessed"],
            id="an agentic review without risks names them all",
        ),
        pytest.param(
            {
                "tools": [
                    *READ_ONLY_TOOLS,
                    {
                        "name": "refund_fee",
                        "access": "read",
                        "approval": "human",
                        "sensitive": ["money-movement"],
                    },
                ],
                "agenticReview": None,
            },
            Reason.MISSING,
            ["Tool 'refund_fee' acts", "spec.agenticReview"],
            id="a tool that moves money acts even without write access",
        ),
        pytest.param(
            {
                "tools": [
                    {
                        "name": "rotate_key",
                        "access": "read",
                        "approval": "human",
                        "sensitive": ["credentials"],
                    }
                ],
                "agenticReview": None,
            },
            Reason.MISSING,
            ["Tool 'rotate_key' acts"],
            id="a tool holding credentials acts",
        ),
        pytest.param(
            {
                "tools": [
                    {"name": "purge_cache", "access": "read", "approval": "human", "irreversible": True}
                ],
                "agenticReview": None,
            },
            Reason.MISSING,
            ["Tool 'purge_cache' acts"],
            id="an irreversible tool acts",
        ),
        pytest.param(
            {"agenticReview.reviewer": None},
            Reason.INCOMPLETE,
            ["spec.agenticReview.reviewer"],
            id="an agentic review without a reviewer is incomplete",
        ),
        pytest.param(
            {"agenticReview.reviewedAt": None},
            Reason.INCOMPLETE,
            ["spec.agenticReview.reviewedAt is not set"],
            id="an agentic review without a date is incomplete",
        ),
        pytest.param(
            {"agenticReview.reviewedAt": "2026-08-01T00:00:00Z"},
            Reason.EXPIRED,
            ["The agentic review dates from", "accepts 90 days"],
            id="an agentic review older than the security review's maximum age has expired",
        ),
        pytest.param(
            {"agenticReview.reviewedAt": "2027-01-01T00:00:00Z"},
            Reason.FUTURE_TIMESTAMP,
            ["spec.agenticReview.reviewedAt", "in the future"],
            id="an agentic review dated in the future is not trusted",
        ),
        pytest.param(
            {"tools.3.approval": "none", "agenticReview.risks.ASI03": None},
            Reason.EXCESSIVE_AGENCY,
            ["'open_agent_case' (write)", "agentic risk ASI03 is not assessed"],
            id="an unguarded tool comes first and the unassessed risk is still named",
        ),
    ],
)
def test_tool_permissions_gate_needs_an_agentic_review_when_a_tool_acts(
    evaluate: Evaluate, changes: dict[str, Any], reason: Reason, fragments: list[str]
) -> None:
    assert_gate(GateName.TOOL_PERMISSIONS, evaluate(changes), reason, fragments)


@pytest.mark.parametrize(
    ("risk", "message"),
    [
        pytest.param({"status": "accepted"}, "needs evidence", id="accepted without a reason"),
        pytest.param({"status": "notApplicable", "evidence": ""}, "needs evidence", id="an empty reason"),
        pytest.param({"status": "ignored"}, "Input should be", id="a status outside the vocabulary"),
    ],
)
def test_an_agentic_risk_without_a_reason_is_refused_by_the_api(
    packet_wire: dict[str, Any], risk: dict[str, Any], message: str
) -> None:
    packet_wire["agenticReview"]["risks"]["ASI09"] = risk
    with pytest.raises(ValidationError, match=message):
        ReadinessPacketSpec.model_validate(packet_wire)


def test_an_unknown_agentic_risk_id_is_refused_by_the_api(packet_wire: dict[str, Any]) -> None:
    packet_wire["agenticReview"]["risks"]["ASI11"] = {"status": "mitigated"}
    with pytest.raises(ValidationError, match="ASI11"):
        ReadinessPacketSpec.model_validate(packet_wire)


# --- securityReview ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "reason", "fragments"),
    [
        pytest.param(
            {}, Reason.PASSED, ["amir.haddad@example.com"], id="a recent review of all ten risks passes"
        ),
        pytest.param(
            {"securityReview": None},
            Reason.MISSING,
            ["OWASP", "LLM01 to LLM10"],
            id="no security review is missing",
        ),
        pytest.param(
            {"securityReview.reviewer": None},
            Reason.INCOMPLETE,
            ["reviewer"],
            id="a review without a reviewer is incomplete",
        ),
        pytest.param(
            {"securityReview.reviewedAt": None},
            Reason.INCOMPLETE,
            ["reviewedAt"],
            id="a review without a date is incomplete",
        ),
        pytest.param(
            {"securityReview.reviewedAt": "2026-08-01T00:00:00Z"},
            Reason.EXPIRED,
            ["accepts 90 days"],
            id="a review older than ninety days has expired",
        ),
        pytest.param(
            {"securityReview.reviewedAt": "2027-01-01T00:00:00Z"},
            Reason.FUTURE_TIMESTAMP,
            ["in the future"],
            id="a review dated in the future is not trusted",
        ),
        pytest.param(
            {"securityReview.risks.LLM05": None},
            Reason.RISK_NOT_ASSESSED,
            ["Risk LLM05 is not assessed"],
            id="an unassessed risk is named",
        ),
        pytest.param(
            {"securityReview.risks": None},
            Reason.RISK_NOT_ASSESSED,
            ["LLM01", "LLM05", "LLM10 are not assessed"],
            id="a review without risks names them",
        ),
    ],
)
def test_security_review_gate(
    evaluate: Evaluate, changes: dict[str, Any], reason: Reason, fragments: list[str]
) -> None:
    assert_gate(GateName.SECURITY_REVIEW, evaluate(changes), reason, fragments)


def test_an_accepted_risk_without_evidence_is_refused_by_the_api(packet_wire: dict[str, Any]) -> None:
    packet_wire["securityReview"]["risks"]["LLM07"] = {"status": "accepted"}
    with pytest.raises(ValidationError, match="needs evidence"):
        ReadinessPacketSpec.model_validate(packet_wire)


# --- cost -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "reason", "fragments"),
    [
        pytest.param({}, Reason.PASSED, ["310.00 EUR", "500.00 EUR"], id="an estimate within budget passes"),
        pytest.param({"cost": None}, Reason.MISSING, ["spec.cost"], id="no cost estimate is missing"),
        pytest.param(
            {"cost.currency": None, "cost.requestsPerDay": None},
            Reason.INCOMPLETE,
            ["requestsPerDay", "currency"],
            id="an estimate without a currency or usage is incomplete",
        ),
        pytest.param(
            {"cost.costPerDay": 1250.5, "cost.budgetPerDay": 1000},
            Reason.OVER_BUDGET,
            ["1,250.50 EUR a day", "1,000.00 EUR a day"],
            id="an estimate above budget names both numbers and the currency",
        ),
        pytest.param(
            {"cost.costPerDay": 500},
            Reason.PASSED,
            [],
            id="an estimate exactly at budget passes",
        ),
    ],
)
def test_cost_gate(evaluate: Evaluate, changes: dict[str, Any], reason: Reason, fragments: list[str]) -> None:
    assert_gate(GateName.COST, evaluate(changes), reason, fragments)


# --- ownership --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "reason", "fragments"),
    [
        pytest.param({}, Reason.PASSED, ["jane.doe@example.com"], id="an owner and a support path pass"),
        pytest.param({"ownership": None}, Reason.MISSING, ["spec.ownership"], id="no ownership is missing"),
        pytest.param(
            {"ownership.owner": None}, Reason.INCOMPLETE, ["owner"], id="no named owner is incomplete"
        ),
        pytest.param(
            {"ownership.supportPath": None},
            Reason.INCOMPLETE,
            ["supportPath"],
            id="no support path is incomplete",
        ),
    ],
)
def test_ownership_gate(
    evaluate: Evaluate, changes: dict[str, Any], reason: Reason, fragments: list[str]
) -> None:
    assert_gate(GateName.OWNERSHIP, evaluate(changes), reason, fragments)


# --- rollout ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "reason", "fragments"),
    [
        pytest.param({}, Reason.PASSED, ["4 success criteria"], id="a full plan with a recent drill passes"),
        pytest.param({"rollout": None}, Reason.MISSING, ["spec.rollout"], id="no rollout plan is missing"),
        pytest.param(
            {"rollout.audience": None}, Reason.INCOMPLETE, ["audience"], id="no audience is incomplete"
        ),
        pytest.param(
            {"rollout.successCriteria": []},
            Reason.INCOMPLETE,
            ["successCriteria"],
            id="no success criteria is incomplete",
        ),
        pytest.param(
            {"rollout.rollbackPlan": None},
            Reason.INCOMPLETE,
            ["rollbackPlan"],
            id="no rollback plan is incomplete",
        ),
        pytest.param(
            {"rollout.killSwitchDrillAt": None},
            Reason.INCOMPLETE,
            ["killSwitchDrillAt", "drill the kill switch"],
            id="a kill switch never drilled is incomplete",
        ),
        pytest.param(
            {"rollout.killSwitchDrillAt": "2026-06-01T00:00:00Z"},
            Reason.EXPIRED,
            ["accepts 90 days"],
            id="a drill older than ninety days has expired",
        ),
        pytest.param(
            {"rollout.killSwitchDrillAt": "2026-11-21T00:00:00Z"},
            Reason.FUTURE_TIMESTAMP,
            ["in the future"],
            id="a drill dated tomorrow is not trusted",
        ),
    ],
)
def test_rollout_gate(
    evaluate: Evaluate, changes: dict[str, Any], reason: Reason, fragments: list[str]
) -> None:
    assert_gate(GateName.ROLLOUT, evaluate(changes), reason, fragments)


# --- signoffs ---------------------------------------------------------------------------------------

OTHER_DIGEST = "sha256:" + "0" * 64


@pytest.mark.parametrize(
    ("approvals", "policy", "reason", "fragments"),
    [
        pytest.param(
            ["owner", "security"],
            BUILTIN_POLICY,
            Reason.PASSED,
            ["owner (jane"],
            id="every required role approving passes",
        ),
        pytest.param(
            [],
            BUILTIN_POLICY,
            Reason.NO_APPROVAL,
            ["owner and security have not approved"],
            id="no approvals at all",
        ),
        pytest.param(
            ["owner"],
            BUILTIN_POLICY,
            Reason.NO_APPROVAL,
            ["security has not approved"],
            id="a missing role is named",
        ),
        pytest.param(
            ["owner", "security:stale"],
            BUILTIN_POLICY,
            Reason.STALE_APPROVAL,
            ["security approval by amir.haddad@example.com", OTHER_DIGEST, "content changed since"],
            id="an approval of other content is stale and names role and person",
        ),
        pytest.param(
            ["owner", "security", "legal"],
            BUILTIN_POLICY,
            Reason.PASSED,
            [],
            id="approvals by roles the policy does not require are ignored",
        ),
        pytest.param(
            ["owner", "legal"],
            BUILTIN_POLICY,
            Reason.NO_APPROVAL,
            ["security"],
            id="an extra role does not stand in for a required one",
        ),
        pytest.param(
            ["owner", "security"],
            policy_with(requiredRoles=["owner", "security", "compliance"]),
            Reason.NO_APPROVAL,
            ["compliance"],
            id="a policy may require more roles",
        ),
        pytest.param(
            [],
            policy_with(requiredRoles=[]),
            Reason.PASSED,
            ["requires no sign-offs"],
            id="a policy may require none",
        ),
        pytest.param(
            ["security:stale"],
            BUILTIN_POLICY,
            Reason.NO_APPROVAL,
            ["owner has not approved", "security approval", "changed since"],
            id="missing and stale approvals are both named",
        ),
    ],
)
def test_signoffs_gate(
    evaluate: Evaluate,
    approvals: list[str],
    policy: ReadinessPolicySpec,
    reason: Reason,
    fragments: list[str],
) -> None:
    people = {
        "owner": "jane.doe@example.com",
        "security": "amir.haddad@example.com",
        "legal": "li.wei@example.com",
    }
    content_digest = evaluate({"approvals": []}).digest
    entries = []
    for entry in approvals:
        role, _, stale = entry.partition(":")
        digest = OTHER_DIGEST if stale else content_digest
        entries.append({"role": role, "by": people[role], "at": "2026-11-14T16:20:00Z", "digest": digest})
    report = evaluate({"approvals": entries}, policy=policy, approve_again=False)
    assert_gate(GateName.SIGNOFFS, report, reason, fragments)


# --- no packet, required gates and the report ----------------------------------------------------


def test_without_a_packet_every_gate_fails_naming_the_versions_to_attest(service: AIServiceSpec) -> None:
    report = evaluate_gates(service, None, BUILTIN_POLICY, NOW)
    assert [r.name for r in report.results] == list(GateName)
    for result in report.results:
        assert (result.passed, result.reason) == (False, Reason.NO_PACKET)
        assert "apply a ReadinessPacket" in result.message
        assert "model 'gpt-4o-2024-08-06', prompt 'v14', retrieval 'kb-2026-11-01'" in result.message
    assert (report.digest, report.expires_at, report.summary) == (None, None, "0/11")


def test_the_complete_packet_passes_every_gate(make_packet: PacketFactory, service: AIServiceSpec) -> None:
    report = evaluate_gates(service, make_packet(), BUILTIN_POLICY, NOW)
    assert report.passed
    assert (report.summary, report.blocking, report.blocking_summary()) == ("11/11", (), "")
    assert all(r.reason == Reason.PASSED for r in report.results)


@pytest.mark.parametrize(
    ("policy_gates", "service_gates", "expected"),
    [
        pytest.param(list(GateName), None, tuple(GateName), id="the built-in policy requires every gate"),
        pytest.param(
            ["evals"], None, tuple(GateName), id="a service that names no gates requires every gate"
        ),
        pytest.param(
            ["signoffs", "evals"],
            ["cost"],
            (GateName.EVALS, GateName.COST, GateName.SIGNOFFS),
            id="a service adds gates to the policy's, in gate order",
        ),
        pytest.param(
            list(GateName), ["cost"], tuple(GateName), id="a service cannot drop the policy's gates"
        ),
        pytest.param([], [], (), id="nothing is required when neither requires anything"),
    ],
)
def test_required_gates(
    service: AIServiceSpec,
    policy_gates: list[str],
    service_gates: list[str] | None,
    expected: tuple[GateName, ...],
) -> None:
    spec = service.model_copy(update={"required_gates": service_gates})
    assert required_gates(spec, policy_with(requiredGates=policy_gates)) == expected


def test_a_packet_checked_on_its_own_requires_every_gate() -> None:
    assert required_gates(None, policy_with(requiredGates=["evals"])) == tuple(GateName)


def test_only_required_gates_block_and_count(make_packet: PacketFactory, service: AIServiceSpec) -> None:
    spec = service.model_copy(update={"required_gates": ["evals", "cost"]})
    packet = make_packet({"ownership": None, "cost": None})
    report = evaluate_gates(spec, packet, policy_with(requiredGates=["useCase"]), NOW)
    assert report.required == (GateName.USE_CASE, GateName.EVALS, GateName.COST)
    assert report.blocking == (GateName.COST,)
    assert (report.summary, report.passed) == ("2/3", False)
    assert not report.result(GateName.OWNERSHIP).passed


def test_summary_counts_required_gates_passed(make_packet: PacketFactory, service: AIServiceSpec) -> None:
    packet = make_packet({"evals": None, "securityReview": None, "cost": None, "rollout": None})
    report = evaluate_gates(service, packet, BUILTIN_POLICY, NOW)
    assert report.summary == "7/11"
    assert report.blocking == (GateName.EVALS, GateName.SECURITY_REVIEW, GateName.COST, GateName.ROLLOUT)
    assert report.blocking_summary() == "evals, securityReview, cost, rollout"


@pytest.mark.parametrize(
    ("limit", "expected"),
    [
        pytest.param(256, "evals, securityReview, cost, rollout", id="everything fits in the default limit"),
        pytest.param(
            30, "evals, securityReview, +2 more", id="a short limit names what fits and counts the rest"
        ),
        pytest.param(12, "+4 more", id="a tiny limit only counts"),
    ],
)
def test_blocking_summary_fits_its_limit(
    make_packet: PacketFactory, service: AIServiceSpec, limit: int, expected: str
) -> None:
    packet = make_packet({"evals": None, "securityReview": None, "cost": None, "rollout": None})
    text = evaluate_gates(service, packet, BUILTIN_POLICY, NOW).blocking_summary(limit)
    assert text == expected
    assert len(text) <= limit


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        pytest.param({}, datetime(2026, 12, 12, 9, 30, tzinfo=UTC), id="the evals lapse first"),
        pytest.param(
            {"evals.cases.5.result": "fail"},
            datetime(2027, 2, 3, 14, 0, tzinfo=UTC),
            id="a failing gate's date does not count",
        ),
        pytest.param(
            {"evals": None, "securityReview": None, "rollout.killSwitchDrillAt": "2026-11-01T00:00:00Z"},
            datetime(2027, 1, 30, tzinfo=UTC),
            id="the kill-switch drill lapses too",
        ),
        pytest.param(
            {"evals": None, "securityReview": None, "rollout": None},
            datetime(2027, 2, 3, 15, 0, tzinfo=UTC),
            id="the agentic review of acting tools lapses too",
        ),
        pytest.param(
            {"evals": None, "securityReview": None, "rollout": None, "tools": []},
            None,
            id="no dated evidence, no expiry: an agentic review nothing needs does not lapse",
        ),
    ],
)
def test_expires_at_is_the_earliest_lapse_of_a_passing_gate(
    make_packet: PacketFactory, service: AIServiceSpec, changes: dict[str, Any], expected: datetime | None
) -> None:
    assert evaluate_gates(service, make_packet(changes), BUILTIN_POLICY, NOW).expires_at == expected


def test_at_expires_at_the_gate_fails(make_packet: PacketFactory, service: AIServiceSpec) -> None:
    packet = make_packet()
    expires_at = evaluate_gates(service, packet, BUILTIN_POLICY, NOW).expires_at
    assert expires_at is not None
    before = evaluate_gates(service, packet, BUILTIN_POLICY, expires_at - timedelta(seconds=1))
    at = evaluate_gates(service, packet, BUILTIN_POLICY, expires_at)
    assert before.passed
    assert at.blocking == (GateName.EVALS,)
    assert at.result(GateName.EVALS).reason == Reason.EXPIRED


def test_the_report_carries_the_packet_digest(make_packet: PacketFactory, service: AIServiceSpec) -> None:
    packet = make_packet()
    assert evaluate_gates(service, packet, BUILTIN_POLICY, NOW).digest == packet_digest(packet)


def test_a_naive_now_is_refused(make_packet: PacketFactory, service: AIServiceSpec) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        evaluate_gates(service, make_packet(), BUILTIN_POLICY, datetime(2026, 11, 20))


def test_messages_stay_within_the_limit_with_huge_input(
    make_packet: PacketFactory, service: AIServiceSpec
) -> None:
    tools = [
        {"name": f"tool-{i:03d}-" + "t" * 240, "access": "write", "sensitive": ["money-movement"]}
        for i in range(32)
    ]
    sources = [{"name": f"source-{i:03d}-" + "s" * 240} for i in range(32)]
    report = evaluate_gates(
        service, make_packet({"tools": tools, "data.sources": sources}), BUILTIN_POLICY, NOW
    )
    for result in report.results:
        GateResult.model_validate(result.to_api())
        assert len(result.message) <= 1024
    assert report.result(GateName.TOOL_PERMISSIONS).reason == Reason.EXCESSIVE_AGENCY
    message = report.result(GateName.TOOL_PERMISSIONS).message
    assert "and 30 more" in message
    assert message.endswith("reduce their access.")


def test_effective_policy_is_the_built_in_one_when_there_is_none() -> None:
    custom = policy_with(minPassRate=0.5)
    assert effective_policy(None) == BUILTIN_POLICY
    assert effective_policy(custom) is custom


def test_every_reason_a_gate_gives_is_in_the_vocabulary(
    make_packet: PacketFactory, service: AIServiceSpec
) -> None:
    report = evaluate_gates(service, make_packet({"tools": None, "evals.cases": []}), BUILTIN_POLICY, NOW)
    for result in report.results:
        assert result.reason in set(Reason)
        assert result.reason[0].isupper() and " " not in result.reason
