"""The ReadinessPacket: the production-readiness evidence for one set of versions of one service.

Every section is optional on the API so a team can apply a packet as it fills it in; a missing section
fails its gate with a message saying what to add, instead of the API refusing the whole packet.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import AwareDatetime, Field, StringConstraints, model_validator

from airlock.models.base import ApiModel
from airlock.models.common import (
    Condition,
    GateName,
    GateResult,
    Name,
    ShortText,
    Text,
    Versions,
)

KIND = "ReadinessPacket"
PLURAL = "readinesspackets"

MAX_ITEMS = 32
MAX_EVAL_CASES = 100
# An eval case's name, and its expected behaviour or note: the tool's results file has the rest.
MAX_CASE_NAME = 120
MAX_CASE_TEXT = 240
Item = Annotated[str, StringConstraints(min_length=1, max_length=256)]
CaseText = Annotated[str, StringConstraints(max_length=MAX_CASE_TEXT)]
# One risk's evidence: a paragraph, with links to the rest.
Paragraph = Annotated[str, StringConstraints(max_length=1024)]
Digest = Annotated[str, StringConstraints(pattern=r"^sha256:[0-9a-f]{64}$", max_length=71)]


class EvalCategory(StrEnum):
    CONFUSING_QUESTION = "confusing-question"
    STALE_RETRIEVAL = "stale-retrieval"
    POLICY_EDGE_CASE = "policy-edge-case"
    PROMPT_INJECTION = "prompt-injection"
    TOOL_CALL = "tool-call"
    REGULATED_PHRASE = "regulated-phrase"
    CUSTOM = "custom"


class EvalResult(StrEnum):
    PASS = "pass"
    FAIL = "fail"


class Capture(StrEnum):
    INPUT = "input"
    INSTRUCTIONS = "instructions"
    RETRIEVED_SOURCES = "retrievedSources"
    TOOL_CALLS = "toolCalls"
    TOOL_DECISIONS = "toolDecisions"
    MODEL_VERSION = "modelVersion"
    PROMPT_VERSION = "promptVersion"
    OUTPUT = "output"
    EVAL_CHECKS = "evalChecks"
    HUMAN_OVERRIDE = "humanOverride"


class ToolAccess(StrEnum):
    READ = "read"
    WRITE = "write"


class ToolApproval(StrEnum):
    NONE = "none"
    HUMAN = "human"


class Sensitivity(StrEnum):
    CUSTOMER_DATA = "customer-data"
    MONEY_MOVEMENT = "money-movement"
    CREDENTIALS = "credentials"
    REGULATED_RECORDS = "regulated-records"


class RiskStatus(StrEnum):
    MITIGATED = "mitigated"
    ACCEPTED = "accepted"
    NOT_APPLICABLE = "notApplicable"


class UseCase(ApiModel):
    """What the service is for, and what it must not be used for."""

    summary: Text | None = Field(
        default=None, description="What the service does, for whom, in a sentence or two."
    )
    non_use_cases: list[Item] = Field(
        default_factory=list,
        max_length=MAX_ITEMS,
        description="Uses that are out of scope and must be refused.",
    )


class DataSource(ApiModel):
    """A data source the service reads, with its classification."""

    name: ShortText = Field(description="The source, for example a knowledge base or a table.")
    classification: ShortText | None = Field(
        default=None, description="Its data classification, for example public, internal, confidential."
    )


class DataRules(ApiModel):
    """What data the service may use and what it must never use."""

    sources: list[DataSource] = Field(
        default_factory=list, max_length=MAX_ITEMS, description="Data sources the service reads."
    )
    forbidden: list[Item] = Field(
        default_factory=list, max_length=MAX_ITEMS, description="Data the service must never use or see."
    )


class EvalCase(ApiModel):
    """One eval case drawn from a real failure mode."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=MAX_CASE_NAME)] = Field(
        description="The case."
    )
    category: EvalCategory = Field(description="The failure mode it probes.")
    expected: CaseText | None = Field(default=None, description="The behaviour that counts as a pass.")
    result: EvalResult = Field(description="pass or fail, from the last run.")
    note: CaseText | None = Field(default=None, description="Anything a reviewer should know.")


Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$", max_length=64)]


class EvalSource(ApiModel):
    """The eval tool's run these results were imported from (`airlock evals import`), so a reviewer can
    find the run and check that its results file is the one the cases were taken from."""

    tool: ShortText = Field(description="The eval tool, for example inspect-ai or promptfoo.")
    tool_version: ShortText | None = Field(
        default=None, description="The tool's version that wrote the file."
    )
    file: ShortText | None = Field(default=None, description="The results file's name.")
    sha256: Sha256 = Field(
        description="The SHA-256 of the results file's bytes, in hex as `sha256sum` prints it."
    )
    run: ShortText | None = Field(
        default=None,
        description="The tool's identifier of the run (Inspect AI's eval id, promptfoo's evalId).",
    )


class Evals(ApiModel):
    """Eval results for these exact versions."""

    min_pass_rate: float | None = Field(
        default=None, ge=0, le=1, description="Pass rate required, 0 to 1; the policy's value when omitted."
    )
    evaluated_at: AwareDatetime | None = Field(
        default=None, description="When the evals were run (RFC 3339)."
    )
    cases: list[EvalCase] = Field(
        default_factory=list, max_length=MAX_EVAL_CASES, description="The eval cases and results."
    )
    source: EvalSource | None = Field(
        default=None, description="The eval tool's run the cases were imported from, when they were."
    )


class Observability(ApiModel):
    """How a single run can be replayed, and what is never logged."""

    trace_sink: ShortText | None = Field(
        default=None, description="Where traces go, for example an OTLP endpoint."
    )
    captures: list[Capture] = Field(
        default_factory=list,
        max_length=len(Capture),
        description="What each trace captures.",
        json_schema_extra={"x-kubernetes-list-type": "set"},
    )
    never_logged: list[Item] = Field(
        default_factory=list,
        max_length=MAX_ITEMS,
        description="Data that must never appear in logs or traces.",
    )


class Tool(ApiModel):
    """A tool the service may call, and the human gate in front of it."""

    name: ShortText = Field(description="The tool.")
    access: ToolAccess = Field(description="read or write.")
    scope: Item | None = Field(default=None, description="What the tool can reach.")
    approval: ToolApproval = Field(default=ToolApproval.NONE, description="none or human.")
    irreversible: bool = Field(default=False, description="Whether its effect cannot be undone.")
    sensitive: list[Sensitivity] = Field(
        default_factory=list,
        max_length=len(Sensitivity),
        description="Sensitive things it touches.",
        json_schema_extra={"x-kubernetes-list-type": "set"},
    )


class Risk(ApiModel):
    """The assessment of one OWASP Top 10 risk (for LLM Applications, or for Agentic Applications)."""

    model_config = ApiModel.model_config | {
        "json_schema_extra": {
            "x-kubernetes-validations": [
                {
                    "rule": "self.status == 'mitigated' || (has(self.evidence) && size(self.evidence) > 0)",
                    "message": "a risk that is accepted or notApplicable needs evidence giving the reason",
                }
            ]
        }
    }

    status: RiskStatus = Field(description="mitigated, accepted or notApplicable.")
    evidence: Paragraph | None = Field(
        default=None, description="How it is mitigated, or why it is accepted or not applicable."
    )

    @model_validator(mode="after")
    def _reason_for_accepting(self) -> Risk:
        if self.status is not RiskStatus.MITIGATED and not self.evidence:
            raise ValueError("a risk that is accepted or notApplicable needs evidence giving the reason")
        return self


class Risks(ApiModel):
    """OWASP Top 10 for LLM Applications (2025), LLM01 to LLM10."""

    model_config = ApiModel.model_config | {"alias_generator": None}

    LLM01: Risk | None = Field(default=None, description="Prompt injection.")
    LLM02: Risk | None = Field(default=None, description="Sensitive information disclosure.")
    LLM03: Risk | None = Field(default=None, description="Supply chain.")
    LLM04: Risk | None = Field(default=None, description="Data and model poisoning.")
    LLM05: Risk | None = Field(default=None, description="Improper output handling.")
    LLM06: Risk | None = Field(default=None, description="Excessive agency.")
    LLM07: Risk | None = Field(default=None, description="System prompt leakage.")
    LLM08: Risk | None = Field(default=None, description="Vector and embedding weaknesses.")
    LLM09: Risk | None = Field(default=None, description="Misinformation.")
    LLM10: Risk | None = Field(default=None, description="Unbounded consumption.")


class AgenticRisks(ApiModel):
    """OWASP Top 10 for Agentic Applications (2026), ASI01 to ASI10."""

    model_config = ApiModel.model_config | {"alias_generator": None}

    ASI01: Risk | None = Field(default=None, description="Agent goal hijack.")
    ASI02: Risk | None = Field(default=None, description="Tool misuse and exploitation.")
    ASI03: Risk | None = Field(default=None, description="Identity and privilege abuse.")
    ASI04: Risk | None = Field(default=None, description="Agentic supply chain vulnerabilities.")
    ASI05: Risk | None = Field(default=None, description="Unexpected code execution.")
    ASI06: Risk | None = Field(default=None, description="Memory and context poisoning.")
    ASI07: Risk | None = Field(default=None, description="Insecure inter-agent communication.")
    ASI08: Risk | None = Field(default=None, description="Cascading failures.")
    ASI09: Risk | None = Field(default=None, description="Human-agent trust exploitation.")
    ASI10: Risk | None = Field(default=None, description="Rogue agents.")


class AgenticReview(ApiModel):
    """The review against the OWASP Top 10 for Agentic Applications, for a service whose tools act."""

    reviewer: ShortText | None = Field(default=None, description="Who reviewed.")
    reviewed_at: AwareDatetime | None = Field(default=None, description="When (RFC 3339).")
    risks: AgenticRisks | None = Field(default=None, description="Each risk's status and evidence.")


class SecurityReview(ApiModel):
    """The security review against the OWASP Top 10 for LLM Applications."""

    reviewer: ShortText | None = Field(default=None, description="Who reviewed.")
    reviewed_at: AwareDatetime | None = Field(default=None, description="When (RFC 3339).")
    risks: Risks | None = Field(default=None, description="Each risk's status and evidence.")


class Cost(ApiModel):
    """A cost estimate at realistic usage."""

    requests_per_day: int | None = Field(default=None, ge=0, description="Expected requests a day.")
    tokens_per_request: int | None = Field(default=None, ge=0, description="Expected tokens a request.")
    cost_per_day: float | None = Field(default=None, ge=0, description="Estimated cost a day.")
    budget_per_day: float | None = Field(default=None, ge=0, description="Budget a day.")
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$", max_length=3)] | None = Field(
        default=None, description="ISO 4217 currency code, for example EUR."
    )


class Ownership(ApiModel):
    """Who answers for the service."""

    owner: ShortText | None = Field(default=None, description="A named owner.")
    support_path: ShortText | None = Field(default=None, description="Where bad answers are reported.")
    on_call: ShortText | None = Field(default=None, description="The on-call rotation.")
    runbook: ShortText | None = Field(default=None, description="Where the runbook is.")


class Rollout(ApiModel):
    """How the service reaches users, and how it is rolled back and stopped."""

    audience: Text | None = Field(default=None, description="The limited audience of the first release.")
    success_criteria: list[Item] = Field(
        default_factory=list, max_length=MAX_ITEMS, description="What success means, measurably."
    )
    human_review_sample_rate: float | None = Field(
        default=None, ge=0, le=1, description="Share of answers a human reviews, 0 to 1."
    )
    rollback_plan: Text | None = Field(default=None, description="How to roll back to the previous versions.")
    kill_switch_drill_at: AwareDatetime | None = Field(
        default=None, description="When the kill switch was last drilled (RFC 3339)."
    )
    post_launch_review_at: AwareDatetime | None = Field(
        default=None, description="When the post-launch review is scheduled (RFC 3339)."
    )


class Approval(ApiModel):
    """A sign-off of this exact packet content by one role."""

    role: Annotated[str, StringConstraints(min_length=1, max_length=63)] = Field(
        description="The role approving."
    )
    by: ShortText = Field(description="Who approved (taken from the request's identity).")
    at: AwareDatetime | None = Field(default=None, description="When (RFC 3339).")
    digest: Digest = Field(description="The packet digest approved, from status.digest or `airlock digest`.")


class ReadinessPacketSpec(ApiModel):
    """The evidence for one set of versions of one AI service."""

    service: Name = Field(description="The AIService, in the same namespace, this packet is for.")
    versions: Versions = Field(description="The exact versions this packet attests.")
    use_case: UseCase | None = Field(default=None, description="Use case and non-use cases (gate useCase).")
    data: DataRules | None = Field(default=None, description="Data rules (gate dataGovernance).")
    evals: Evals | None = Field(default=None, description="Evals from real failure modes (gate evals).")
    observability: Observability | None = Field(
        default=None, description="The observability trail (gate observability)."
    )
    tools: list[Tool] | None = Field(
        default=None,
        max_length=MAX_ITEMS,
        description="Tool permissions (gate toolPermissions); an empty list means the service calls "
        "no tools.",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    security_review: SecurityReview | None = Field(
        default=None, description="OWASP LLM Top 10 review (gate securityReview)."
    )
    agentic_review: AgenticReview | None = Field(
        default=None,
        description="OWASP Top 10 for Agentic Applications review (gate toolPermissions); required when "
        "a tool acts: write access, irreversible, or touching money movement or credentials.",
    )
    cost: Cost | None = Field(default=None, description="Cost estimate (gate cost).")
    ownership: Ownership | None = Field(default=None, description="Ownership (gate ownership).")
    rollout: Rollout | None = Field(
        default=None, description="Rollout, rollback and kill-switch plan (gate rollout)."
    )
    approvals: list[Approval] = Field(
        default_factory=list,
        max_length=16,
        description="Sign-offs, each bound to the packet digest (gate signoffs).",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["role"]},
    )

    @model_validator(mode="after")
    def _unique_keys(self) -> ReadinessPacketSpec:
        _refuse_duplicates("tools", [t.name for t in self.tools or []])
        _refuse_duplicates("approvals", [a.role for a in self.approvals])
        return self


def _refuse_duplicates(field: str, keys: list[str]) -> None:
    seen: set[str] = set()
    for key in keys:
        if key in seen:
            raise ValueError(f"{field} lists {key!r} twice; each may appear once")
        seen.add(key)


class ReadinessPacketStatus(ApiModel):
    """Observed state, written by the operator only."""

    gates: list[GateResult] = Field(
        default_factory=list,
        max_length=len(GateName),
        description="Every gate's result for this packet.",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    gates_passed: Annotated[str, StringConstraints(max_length=16)] | None = Field(
        default=None, description="Required gates passed, as passed/required."
    )
    digest: Digest | None = Field(default=None, description="sha256 over the spec without approvals.")
    complete: bool | None = Field(default=None, description="Whether every required gate passes.")
    expires_at: AwareDatetime | None = Field(default=None, description="When the earliest evidence lapses.")
    conditions: list[Condition] = Field(
        default_factory=list,
        max_length=16,
        description="Complete.",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )
    observed_generation: int | None = Field(default=None, ge=0, description="Generation evaluated.")


class ReadinessPacket(ApiModel):
    """Production-readiness evidence for one set of versions of one AI service."""

    spec: ReadinessPacketSpec
    status: ReadinessPacketStatus | None = None
