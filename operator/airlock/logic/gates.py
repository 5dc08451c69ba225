"""The readiness gates: an ordered chain of small pure checks over a service, its packet and the policy.

Each check takes a frozen GateInput and returns a GateResult whose reason comes from `Reason`. A check
collects every problem it finds, so one read of the message tells the user everything to fix; the reason
is the first problem's, in the order the checks look (presence, then currency, then content).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property

from airlock.logic.digest import packet_digest
from airlock.logic.labels import WORKLOAD_VERSION_KEYS
from airlock.logic.reasons import Reason
from airlock.models.common import GateName, GateResult, Versions
from airlock.models.packet import (
    AgenticReview,
    AgenticRisks,
    Capture,
    EvalCase,
    EvalResult,
    ReadinessPacketSpec,
    Risks,
    SecurityReview,
    Sensitivity,
    Tool,
    ToolAccess,
    ToolApproval,
)
from airlock.models.policy import ReadinessPolicySpec
from airlock.models.service import AIServiceSpec

# Evidence stamped a little ahead of our clock is clock skew, not a lie about the future.
CLOCK_SKEW = timedelta(minutes=5)
MAX_MESSAGE = 1024
# Lists in messages name at most this many items, each at most MAX_NAME characters and together at most
# NAMES_BUDGET, then "and N more".
MAX_NAMED = 5
MAX_NAME = 160
NAMES_BUDGET = 480
RISK_KEYS: tuple[str, ...] = tuple(Risks.model_fields)
AGENTIC_RISK_KEYS: tuple[str, ...] = tuple(AgenticRisks.model_fields)
# What a tool touches that makes it act on the world even when it only reads: it moves money, or it holds
# credentials that act as someone.
ACTING_SENSITIVITIES = frozenset({Sensitivity.MONEY_MOVEMENT, Sensitivity.CREDENTIALS})


@dataclass(frozen=True)
class GateInput:
    """Everything a gate may look at. `policy` is the effective policy; `now` must be timezone-aware."""

    service: AIServiceSpec | None
    packet: ReadinessPacketSpec | None
    policy: ReadinessPolicySpec
    now: datetime
    # Versions the workload's pod template declares it runs (field -> value), when it declares any.
    workload_versions: Mapping[str, str] | None = None

    @cached_property
    def digest(self) -> str | None:
        """The packet digest, computed once per evaluation."""
        return None if self.packet is None else packet_digest(self.packet)


Check = Callable[[GateInput], GateResult]


@dataclass(frozen=True)
class _Problem:
    reason: Reason
    text: str


_Outcome = list[_Problem] | str
"""A check body's answer: the problems it found, or, when there are none, the message of a pass."""


def _gate(name: GateName) -> Callable[[Callable[[GateInput, ReadinessPacketSpec], _Outcome]], Check]:
    """Turns a check body over a packet into a Check: no packet fails with NoPacket, and the outcome
    becomes a GateResult with a bounded message."""

    def wrap(body: Callable[[GateInput, ReadinessPacketSpec], _Outcome]) -> Check:
        def check(inp: GateInput) -> GateResult:
            if inp.packet is None:
                return _result(name, Reason.NO_PACKET, _no_packet_message(inp.service))
            outcome = body(inp, inp.packet)
            if isinstance(outcome, str):
                return _result(name, Reason.PASSED, outcome)
            if not outcome:
                raise AssertionError(f"gate {name} failed without a problem")
            return _result(name, outcome[0].reason, " ".join(p.text for p in outcome))

        check.__name__ = body.__name__.lstrip("_")
        check.__doc__ = body.__doc__
        return check

    return wrap


def _result(name: GateName, reason: Reason, message: str) -> GateResult:
    return GateResult(name=name, passed=reason is Reason.PASSED, reason=reason, message=truncate(message))


def truncate(text: str, limit: int = MAX_MESSAGE) -> str:
    """`text` cut to at most `limit` characters, at a word boundary when one is near, ending in '…'."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit * 3 // 4:
        cut = cut[:space]
    return cut.rstrip(" ,;") + "…"


def _names(items: Sequence[str], quote: bool = True, limit: int = MAX_NAMED) -> str:
    """'a', 'b' and 'c': as many as fit NAMES_BUDGET characters (at least one, at most `limit`), then
    'and N more', so the advice after a list always survives in a bounded message."""
    shown: list[str] = []
    used = 0
    for item in items[:limit]:
        text = f"'{truncate(item, MAX_NAME)}'" if quote else item
        if shown and used + len(text) > NAMES_BUDGET:
            break
        shown.append(text)
        used += len(text) + 2
    rest = len(items) - len(shown)
    if rest:
        return ", ".join(shown) + f" and {rest} more"
    if len(shown) <= 1:
        return "".join(shown)
    return ", ".join(shown[:-1]) + " and " + shown[-1]


def _every(words: Sequence[str]) -> str:
    """Short vocabulary words (captures, risk keys, roles), each named unless the budget runs out."""
    return _names(words, quote=False, limit=len(words))


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC, to the second, as messages and status show timestamps."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def describe_versions(versions: Versions) -> str:
    """The versions as "model 'm', prompt 'p', retrieval 'r'" (or "no retrieval"), for messages."""
    retrieval = f"retrieval '{versions.retrieval}'" if versions.retrieval is not None else "no retrieval"
    return f"model '{versions.model}', prompt '{versions.prompt}', {retrieval}"


def _no_packet_message(service: AIServiceSpec | None) -> str:
    if service is None:
        return "No ReadinessPacket was given; apply one whose spec.service names this AIService."
    return (
        f"No ReadinessPacket attests {describe_versions(service.versions)}; apply a ReadinessPacket whose "
        "spec.service names this AIService and whose spec.versions are exactly these."
    )


def _currency_problems(
    moment: datetime | None, *, max_days: int, now: datetime, field: str, what: str, redo: str
) -> list[_Problem]:
    """The problems with a piece of dated evidence: unset, dated in the future, or too old."""
    if moment is None:
        return [_Problem(Reason.INCOMPLETE, f"{field} is not set; {redo} and record when.")]
    if moment > now + CLOCK_SKEW:
        return [
            _Problem(
                Reason.FUTURE_TIMESTAMP,
                f"{field} ({format_time(moment)}) is in the future, so it cannot be trusted; "
                f"record when {what} actually happened.",
            )
        ]
    if now >= _lapse(moment, max_days):
        age = (now - moment).days
        return [
            _Problem(
                Reason.EXPIRED,
                f"{what[0].upper()}{what[1:]} dates from {format_time(moment)}, {_plural(age, 'day')} ago, "
                f"and the policy accepts {_plural(max_days, 'day')}; {redo} and update {field}.",
            )
        ]
    return []


def _lapse(moment: datetime, max_days: int) -> datetime:
    return moment + timedelta(days=max_days)


def _expiry(inp: GateInput) -> dict[GateName, datetime]:
    """When each time-bound gate's evidence lapses, for the gates that carry a timestamp."""
    packet, ages = inp.packet, inp.policy.max_age_days
    found: dict[GateName, datetime] = {}
    if packet is None:
        return found
    if packet.evals is not None and packet.evals.evaluated_at is not None:
        found[GateName.EVALS] = _lapse(packet.evals.evaluated_at, ages.evals)
    if packet.security_review is not None and packet.security_review.reviewed_at is not None:
        found[GateName.SECURITY_REVIEW] = _lapse(packet.security_review.reviewed_at, ages.security_review)
    review = packet.agentic_review
    if review is not None and review.reviewed_at is not None and acting_tools(packet):
        found[GateName.TOOL_PERMISSIONS] = _lapse(review.reviewed_at, ages.security_review)
    if packet.rollout is not None and packet.rollout.kill_switch_drill_at is not None:
        found[GateName.ROLLOUT] = _lapse(packet.rollout.kill_switch_drill_at, ages.kill_switch_drill)
    return found


# --- the checks, in GateName order ------------------------------------------------------------------


@_gate(GateName.USE_CASE)
def _check_use_case(inp: GateInput, packet: ReadinessPacketSpec) -> _Outcome:
    """A summary and at least one non-use case."""
    use_case = packet.use_case
    if use_case is None:
        return [
            _Problem(
                Reason.MISSING,
                "The packet has no useCase; add spec.useCase with a summary of what the service does and "
                "at least one non-use case it must refuse.",
            )
        ]
    problems = []
    if not (use_case.summary or "").strip():
        problems.append(
            _Problem(
                Reason.INCOMPLETE, "spec.useCase.summary is empty; say what the service does and for whom."
            )
        )
    if not use_case.non_use_cases:
        problems.append(
            _Problem(
                Reason.INCOMPLETE,
                "spec.useCase.nonUseCases is empty; list at least one use the service must refuse.",
            )
        )
    return problems or f"Use case summarised; {_plural(len(use_case.non_use_cases), 'non-use case')} listed."


@_gate(GateName.DATA_GOVERNANCE)
def _check_data_governance(inp: GateInput, packet: ReadinessPacketSpec) -> _Outcome:
    """Sources named with a classification, and a non-empty list of forbidden data."""
    data = packet.data
    if data is None:
        return [
            _Problem(
                Reason.MISSING,
                "The packet has no data section; add spec.data with every source the service reads, each "
                "with a classification, and the data it must never use.",
            )
        ]
    problems = []
    if not data.sources:
        problems.append(
            _Problem(
                Reason.INCOMPLETE,
                "spec.data.sources is empty; name every source the service reads, with its classification.",
            )
        )
    unclassified = [s.name for s in data.sources if not (s.classification or "").strip()]
    if unclassified:
        problems.append(
            _Problem(
                Reason.INCOMPLETE,
                f"Data source {_names(unclassified)} {'has' if len(unclassified) == 1 else 'have'} no "
                "classification; set one on each (for example public, internal, confidential).",
            )
        )
    if not data.forbidden:
        problems.append(
            _Problem(
                Reason.INCOMPLETE,
                "spec.data.forbidden is empty; list the data the service must never use or see.",
            )
        )
    return problems or (
        f"{_plural(len(data.sources), 'data source')}, all classified; "
        f"{_plural(len(data.forbidden), 'forbidden item')} listed."
    )


@_gate(GateName.VERSIONS)
def _check_versions(inp: GateInput, packet: ReadinessPacketSpec) -> _Outcome:
    """The packet attests exactly the versions the AIService runs."""
    service = inp.service
    if service is None:
        return [
            _Problem(
                Reason.SERVICE_NOT_FOUND,
                f"The AIService '{packet.service}' named in spec.service was not found, so the versions "
                "cannot be compared; create it, or correct spec.service.",
            )
        ]
    differences = []
    for field in Versions.model_fields:
        attested, running = getattr(packet.versions, field), getattr(service.versions, field)
        if attested != running:
            differences.append(
                f"{field}: the packet attests {_version(attested)} but the AIService runs {_version(running)}"
            )
    if differences:
        return [
            _Problem(
                Reason.VERSION_MISMATCH,
                "; ".join(differences) + ". Apply a packet for the running versions, or roll the AIService "
                "back to the attested ones.",
            )
        ]
    declared = inp.workload_versions or {}
    drift = [
        f"{field}: the pod template declares {_version(value)} ({WORKLOAD_VERSION_KEYS[field]}) but the "
        f"packet attests {_version(getattr(packet.versions, field))}"
        for field, value in sorted(declared.items())
        if field in WORKLOAD_VERSION_KEYS and value != getattr(packet.versions, field)
    ]
    if drift:
        return [
            _Problem(
                Reason.WORKLOAD_VERSION_MISMATCH,
                "; ".join(drift) + ". The workload runs versions nobody signed off: set the AIService's "
                "spec.versions and a packet for them, or roll the workload back.",
            )
        ]
    return f"The packet attests the versions the AIService runs: {describe_versions(service.versions)}."


def _version(value: str | None) -> str:
    return "none" if value is None else f"'{value}'"


@_gate(GateName.EVALS)
def _check_evals(inp: GateInput, packet: ReadinessPacketSpec) -> _Outcome:
    """Required categories covered, pass rate high enough, evaluated recently enough."""
    evals, policy = packet.evals, inp.policy
    required_categories = [str(c) for c in policy.required_eval_categories]
    if evals is None:
        wanted = f" (covering {_every(required_categories)})" if required_categories else ""
        return [
            _Problem(
                Reason.MISSING,
                f"The packet has no evals; run eval cases drawn from real failure modes{wanted} and record "
                "the results in spec.evals.",
            )
        ]
    problems = _currency_problems(
        evals.evaluated_at,
        max_days=policy.max_age_days.evals,
        now=inp.now,
        field="spec.evals.evaluatedAt",
        what="the eval run",
        redo="re-run the evals",
    )
    if not evals.cases:
        problems.insert(
            0,
            _Problem(
                Reason.INCOMPLETE,
                "spec.evals.cases is empty; record the eval cases and their results.",
            ),
        )
    covered = {c.category for c in evals.cases}
    uncovered = [str(c) for c in policy.required_eval_categories if c not in covered]
    if uncovered:
        problems.append(
            _Problem(
                Reason.CATEGORY_NOT_COVERED,
                f"No eval case covers {_every(uncovered)}; add at least one case for each.",
            )
        )
    if evals.cases:
        # A packet may demand more than the policy, never less.
        passed, needed, too_few = _pass_rate(
            evals.cases, max(policy.min_pass_rate, evals.min_pass_rate or 0.0)
        )
        problems += too_few
        if not problems:
            return (
                f"{passed}/{len(evals.cases)} eval cases passed ({needed} required), covering every required "
                f"category; evaluated {format_time(evals.evaluated_at or inp.now)}."
            )
    return problems


def _pass_rate(cases: Sequence[EvalCase], threshold: float) -> tuple[int, int, list[_Problem]]:
    """How many of `cases` passed, how many `threshold` needs, and the problem when too few did."""
    total = len(cases)
    passed = sum(1 for c in cases if c.result is EvalResult.PASS)
    # The epsilon keeps 0.7 * 10 from rounding up to 8.
    needed = max(0, math.ceil(threshold * total - 1e-9))
    if passed >= needed:
        return passed, needed, []
    failed = [f"'{truncate(c.name, MAX_NAME)}' ({c.category})" for c in cases if c.result is EvalResult.FAIL]
    problem = _Problem(
        Reason.PASS_RATE_TOO_LOW,
        f"Eval case{'s' if len(failed) != 1 else ''} {_names(failed, quote=False)} failed; "
        f"{passed}/{total} passed, {needed}/{total} required; fix the failures, re-run the "
        "evals and update spec.evals.",
    )
    return passed, needed, [problem]


@_gate(GateName.OBSERVABILITY)
def _check_observability(inp: GateInput, packet: ReadinessPacketSpec) -> _Outcome:
    """A trace sink, every capture needed to replay a run, and a never-logged list."""
    obs = packet.observability
    if obs is None:
        return [
            _Problem(
                Reason.MISSING,
                "The packet has no observability section; add spec.observability with a traceSink, captures "
                f"of {_every([str(c) for c in Capture])}, and a neverLogged list.",
            )
        ]
    problems = []
    if not (obs.trace_sink or "").strip():
        problems.append(
            _Problem(
                Reason.INCOMPLETE,
                "spec.observability.traceSink is not set; name where traces go, for example an OTLP "
                "endpoint.",
            )
        )
    missing = [str(c) for c in Capture if c not in obs.captures]
    if missing:
        problems.append(
            _Problem(
                Reason.INCOMPLETE,
                f"Traces do not capture {_every(missing)}, so a run cannot be replayed; add "
                f"{'it' if len(missing) == 1 else 'them'} to spec.observability.captures.",
            )
        )
    if not obs.never_logged:
        problems.append(
            _Problem(
                Reason.INCOMPLETE,
                "spec.observability.neverLogged is empty; list the data that must never appear in logs or "
                "traces.",
            )
        )
    return problems or (
        f"Traces go to {obs.trace_sink} and capture everything needed to replay a run; "
        f"{_plural(len(obs.never_logged), 'never-logged item')} listed."
    )


def tool_acts(tool: Tool) -> bool:
    """Whether a tool acts on the world: it writes, its effect cannot be undone, or it touches money
    movement or credentials. A service with such a tool needs the agentic review."""
    return (
        tool.access is ToolAccess.WRITE
        or tool.irreversible
        or any(s in ACTING_SENSITIVITIES for s in tool.sensitive)
    )


def acting_tools(packet: ReadinessPacketSpec) -> list[Tool]:
    """The packet's tools that act, in the order listed."""
    return [t for t in packet.tools or [] if tool_acts(t)]


@_gate(GateName.TOOL_PERMISSIONS)
def _check_tool_permissions(inp: GateInput, packet: ReadinessPacketSpec) -> _Outcome:
    """Every write, irreversible or sensitive tool sits behind human approval, and when a tool acts,
    every OWASP Top 10 for Agentic Applications risk is assessed."""
    tools = packet.tools
    if tools is None:
        return [
            _Problem(
                Reason.MISSING,
                "spec.tools is not set; list the tools the service can call, or an empty list if it calls "
                "none.",
            )
        ]
    if not tools:
        return "The service calls no tools."
    unguarded = []
    for tool in tools:
        risky = []
        if tool.access is ToolAccess.WRITE:
            risky.append("write")
        if tool.irreversible:
            risky.append("irreversible")
        risky.extend(str(s) for s in tool.sensitive)
        if risky and tool.approval is not ToolApproval.HUMAN:
            unguarded.append(f"'{truncate(tool.name, MAX_NAME)}' ({', '.join(risky)})")
    problems = []
    if unguarded:
        one = len(unguarded) == 1
        problems.append(
            _Problem(
                Reason.EXCESSIVE_AGENCY,
                f"Tool{'' if one else 's'} {_names(unguarded, quote=False)} can run without human approval; "
                f"set approval: human on {'it' if one else 'each'}, or reduce "
                f"{'its' if one else 'their'} access.",
            )
        )
    acting = acting_tools(packet)
    if acting:
        problems += _agentic_review_problems(inp, packet, [t.name for t in acting])
    if problems:
        return problems
    passed = f"{_plural(len(tools), 'tool')}; every write, irreversible or sensitive one needs human approval"
    if not acting:
        return passed + "; none acts, so no agentic review is needed."
    review = packet.agentic_review
    assert review is not None
    return (
        f"{passed}; the agentic review by {review.reviewer} on {format_time(review.reviewed_at or inp.now)} "
        "assesses all ten OWASP Agentic risks."
    )


def _agentic_review_problems(
    inp: GateInput, packet: ReadinessPacketSpec, acting: list[str]
) -> list[_Problem]:
    """What the agentic review lacks, for a service whose tools (named in `acting`) act."""
    one = len(acting) == 1
    why = f"Tool{'' if one else 's'} {_names(acting, limit=3)} {'acts' if one else 'act'}"
    return _review_problems(
        inp,
        packet.agentic_review,
        field="agenticReview",
        keys=AGENTIC_RISK_KEYS,
        who="the service's agentic risks",
        what="the agentic review",
        absent=f"{why}, so the packet needs spec.agenticReview: review the service against the OWASP Top "
        f"10 for Agentic Applications and under spec.agenticReview.risks mark each of "
        f"{_every(AGENTIC_RISK_KEYS)} mitigated, or accepted or notApplicable with evidence giving "
        "the reason; name the reviewer and reviewedAt.",
        risks_lead=f"{why}, and agentic risk",
    )


def _review_problems(
    inp: GateInput,
    review: SecurityReview | AgenticReview | None,
    *,
    field: str,
    keys: Sequence[str],
    who: str,
    what: str,
    absent: str,
    risks_lead: str,
) -> list[_Problem]:
    """What a review (spec.`field`) lacks: itself (`absent` says what to do), a named reviewer (of `who`),
    a current date, or an assessment of each risk in `keys` (`risks_lead` begins that message)."""
    if review is None:
        return [_Problem(Reason.MISSING, absent)]
    problems = []
    if not (review.reviewer or "").strip():
        problems.append(
            _Problem(Reason.INCOMPLETE, f"spec.{field}.reviewer is not set; name who reviewed {who}.")
        )
    problems += _currency_problems(
        review.reviewed_at,
        max_days=inp.policy.max_age_days.security_review,
        now=inp.now,
        field=f"spec.{field}.reviewedAt",
        what=what,
        redo=f"review {who} again",
    )
    missing = [k for k in keys if review.risks is None or getattr(review.risks, k) is None]
    if missing:
        one = len(missing) == 1
        problems.append(
            _Problem(
                Reason.RISK_NOT_ASSESSED,
                f"{risks_lead}{'' if one else 's'} {_every(missing)} {'is' if one else 'are'} not "
                f"assessed; under spec.{field}.risks mark {'it' if one else 'each'} mitigated, or "
                "accepted or notApplicable with evidence giving the reason.",
            )
        )
    return problems


@_gate(GateName.SECURITY_REVIEW)
def _check_security_review(inp: GateInput, packet: ReadinessPacketSpec) -> _Outcome:
    """A named reviewer, a recent review date, and all ten OWASP LLM risks assessed."""
    review = packet.security_review
    problems = _review_problems(
        inp,
        review,
        field="securityReview",
        keys=RISK_KEYS,
        who="the service",
        what="the security review",
        absent="The packet has no securityReview; review the service against the OWASP Top 10 for LLM "
        "Applications (LLM01 to LLM10) and record it in spec.securityReview.",
        risks_lead="Risk",
    )
    if problems or review is None:
        return problems
    return (
        f"Reviewed by {review.reviewer} on {format_time(review.reviewed_at or inp.now)}; all ten OWASP LLM "
        "risks assessed."
    )


@_gate(GateName.COST)
def _check_cost(inp: GateInput, packet: ReadinessPacketSpec) -> _Outcome:
    """A complete estimate at realistic usage, within budget."""
    cost = packet.cost
    if cost is None:
        return [
            _Problem(
                Reason.MISSING,
                "The packet has no cost estimate; add spec.cost with requestsPerDay, tokensPerRequest, "
                "costPerDay, budgetPerDay and currency.",
            )
        ]
    fields = {
        "requestsPerDay": cost.requests_per_day,
        "tokensPerRequest": cost.tokens_per_request,
        "costPerDay": cost.cost_per_day,
        "budgetPerDay": cost.budget_per_day,
        "currency": cost.currency,
    }
    missing = [k for k, v in fields.items() if v is None]
    if missing:
        return [
            _Problem(
                Reason.INCOMPLETE,
                f"spec.cost lacks {_every(missing)}; estimate the cost at realistic usage.",
            )
        ]
    assert cost.cost_per_day is not None and cost.budget_per_day is not None
    if cost.cost_per_day > cost.budget_per_day:
        return [
            _Problem(
                Reason.OVER_BUDGET,
                f"The estimated cost of {_money(cost.cost_per_day)} {cost.currency} a day exceeds the budget "
                f"of {_money(cost.budget_per_day)} {cost.currency} a day; reduce requests or tokens per "
                "request, or agree a larger budget and update spec.cost.",
            )
        ]
    return (
        f"Estimated {_money(cost.cost_per_day)} {cost.currency} a day, within the budget of "
        f"{_money(cost.budget_per_day)} {cost.currency} a day."
    )


def _money(amount: float) -> str:
    return f"{amount:,.2f}"


@_gate(GateName.OWNERSHIP)
def _check_ownership(inp: GateInput, packet: ReadinessPacketSpec) -> _Outcome:
    """A named owner and a support path for bad answers."""
    ownership = packet.ownership
    if ownership is None:
        return [
            _Problem(
                Reason.MISSING,
                "The packet has no ownership section; add spec.ownership with a named owner and the support "
                "path where bad answers are reported.",
            )
        ]
    problems = []
    if not (ownership.owner or "").strip():
        problems.append(
            _Problem(
                Reason.INCOMPLETE,
                "spec.ownership.owner is not set; name the person or team who owns wrong answers.",
            )
        )
    if not (ownership.support_path or "").strip():
        problems.append(
            _Problem(
                Reason.INCOMPLETE,
                "spec.ownership.supportPath is not set; say where users report bad answers.",
            )
        )
    return problems or f"Owned by {ownership.owner}; bad answers go to {ownership.support_path}."


@_gate(GateName.ROLLOUT)
def _check_rollout(inp: GateInput, packet: ReadinessPacketSpec) -> _Outcome:
    """A limited audience, success criteria, a rollback plan and a recent kill-switch drill."""
    rollout = packet.rollout
    if rollout is None:
        return [
            _Problem(
                Reason.MISSING,
                "The packet has no rollout plan; add spec.rollout with the first audience, success criteria, "
                "a rollback plan and when the kill switch was last drilled.",
            )
        ]
    problems = []
    if not (rollout.audience or "").strip():
        problems.append(
            _Problem(
                Reason.INCOMPLETE,
                "spec.rollout.audience is not set; name the limited audience of the first release.",
            )
        )
    if not rollout.success_criteria:
        problems.append(
            _Problem(
                Reason.INCOMPLETE,
                "spec.rollout.successCriteria is empty; say measurably what success means.",
            )
        )
    if not (rollout.rollback_plan or "").strip():
        problems.append(
            _Problem(
                Reason.INCOMPLETE,
                "spec.rollout.rollbackPlan is not set; say how to return to the previous versions.",
            )
        )
    problems += _currency_problems(
        rollout.kill_switch_drill_at,
        max_days=inp.policy.max_age_days.kill_switch_drill,
        now=inp.now,
        field="spec.rollout.killSwitchDrillAt",
        what="the kill-switch drill",
        redo="drill the kill switch (annotate the AIService with airlock.dev/kill-switch=true, then "
        "remove it)",
    )
    return problems or (
        f"Audience, {len(rollout.success_criteria)} success "
        f"{'criterion' if len(rollout.success_criteria) == 1 else 'criteria'} and a rollback plan given; "
        f"kill switch drilled {format_time(rollout.kill_switch_drill_at or inp.now)}."
    )


@_gate(GateName.SIGNOFFS)
def _check_signoffs(inp: GateInput, packet: ReadinessPacketSpec) -> _Outcome:
    """Every required role approved this exact content (digest)."""
    digest = inp.digest
    roles = inp.policy.required_roles
    if not roles:
        return "The policy requires no sign-offs."
    by_role = {a.role: a for a in packet.approvals}
    missing = [r for r in roles if r not in by_role]
    stale = [by_role[r] for r in roles if r in by_role and by_role[r].digest != digest]
    problems = []
    if missing:
        one = len(missing) == 1
        problems.append(
            _Problem(
                Reason.NO_APPROVAL,
                f"Role{'' if one else 's'} {_every(missing)} {'has' if one else 'have'} not "
                f"approved this packet; ask someone who holds {'it' if one else 'each'} to approve digest "
                f"{digest} (kubectl airlock approve PACKET --role ROLE).",
            )
        )
    for approval in stale:
        when = f" on {format_time(approval.at)}" if approval.at is not None else ""
        problems.append(
            _Problem(
                Reason.STALE_APPROVAL,
                f"The {approval.role} approval by {approval.by}{when} was for {approval.digest}, but the "
                f"content changed since (now {digest}); the {approval.role} role must review the change and "
                "approve again.",
            )
        )
    if problems:
        return problems
    who = ", ".join(f"{r} ({by_role[r].by})" for r in roles)
    return f"Approved by {who} for {digest}."


CHECKS: tuple[tuple[GateName, Check], ...] = (
    (GateName.USE_CASE, _check_use_case),
    (GateName.DATA_GOVERNANCE, _check_data_governance),
    (GateName.VERSIONS, _check_versions),
    (GateName.EVALS, _check_evals),
    (GateName.OBSERVABILITY, _check_observability),
    (GateName.TOOL_PERMISSIONS, _check_tool_permissions),
    (GateName.SECURITY_REVIEW, _check_security_review),
    (GateName.COST, _check_cost),
    (GateName.OWNERSHIP, _check_ownership),
    (GateName.ROLLOUT, _check_rollout),
    (GateName.SIGNOFFS, _check_signoffs),
)
"""The chain, one check per gate, in GateName order."""


# --- the report -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GateReport:
    """Every gate's result for one service and packet, with what the operator and CLI need from it."""

    results: tuple[GateResult, ...]
    required: tuple[GateName, ...]
    expires_at: datetime | None
    digest: str | None

    @property
    def passed(self) -> bool:
        """Whether every required gate passed."""
        return not self.blocking

    @property
    def blocking(self) -> tuple[GateName, ...]:
        """Required gates that fail, in GateName order."""
        failed = {r.name for r in self.results if not r.passed}
        return tuple(g for g in self.required if g in failed)

    @property
    def summary(self) -> str:
        """Required gates passed over required gates, for example "7/11"."""
        return f"{len(self.required) - len(self.blocking)}/{len(self.required)}"

    def result(self, gate: GateName) -> GateResult:
        """The result of one gate."""
        for r in self.results:
            if r.name == gate:
                return r
        raise KeyError(gate)

    def blocking_summary(self, limit: int = 256) -> str:
        """The blocking gates as "evals, securityReview", within `limit` characters.

        When they do not all fit, as many as fit are named followed by ", +N more"; "" when nothing blocks.
        """
        names = [str(g) for g in self.blocking]
        for shown in range(len(names), -1, -1):
            rest = len(names) - shown
            parts = names[:shown] + ([f"+{rest} more"] if rest else [])
            text = ", ".join(parts)
            if len(text) <= limit:
                return text
        return f"+{len(names)} more"[:limit]


def required_gates(service: AIServiceSpec | None, policy: ReadinessPolicySpec) -> tuple[GateName, ...]:
    """The gates that must pass: the policy's, plus the service's own list, or every gate when it has none.

    A service may add gates to the policy's mandatory ones, never drop them.
    """
    wanted = set(policy.required_gates)
    if service is None or service.required_gates is None:
        wanted.update(GateName)
    else:
        wanted.update(service.required_gates)
    return tuple(g for g in GateName if g in wanted)


def evaluate_gates(
    service: AIServiceSpec | None,
    packet: ReadinessPacketSpec | None,
    policy: ReadinessPolicySpec,
    now: datetime,
    workload_versions: Mapping[str, str] | None = None,
) -> GateReport:
    """Runs every gate for `service` with `packet` under `policy`, as of `now` (timezone-aware).

    Pure and deterministic: the same inputs give the same report. Without a packet every gate fails with
    NoPacket; without a service (a packet checked on its own) the versions gate fails with ServiceNotFound.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    inp = GateInput(
        service=service, packet=packet, policy=policy, now=now, workload_versions=workload_versions
    )
    results = tuple(check(inp) for _, check in CHECKS)
    lapses = _expiry(inp)
    passing = [lapses[r.name] for r in results if r.passed and r.name in lapses]
    return GateReport(
        results=results,
        required=required_gates(service, policy),
        expires_at=min(passing) if passing else None,
        digest=inp.digest,
    )
