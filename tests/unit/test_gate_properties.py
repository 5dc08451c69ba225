"""Properties of the gates and the digest over generated packets, policies and moments."""

from __future__ import annotations

import copy
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from airlock.logic.digest import packet_digest
from airlock.logic.gates import evaluate_gates
from airlock.logic.reasons import Reason
from airlock.models import AIServiceSpec, GateName, ReadinessPacketSpec, ReadinessPolicySpec
from airlock.models.packet import EvalCategory, Sensitivity, ToolAccess, ToolApproval

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
COMPLETE: dict[str, Any] = yaml.safe_load((EXAMPLES / "packet-complete.yaml").read_text())["spec"]
SERVICE = AIServiceSpec.model_validate(yaml.safe_load((EXAMPLES / "service.yaml").read_text())["spec"])

SECTIONS: dict[str, GateName] = {
    "useCase": GateName.USE_CASE,
    "data": GateName.DATA_GOVERNANCE,
    "evals": GateName.EVALS,
    "observability": GateName.OBSERVABILITY,
    "tools": GateName.TOOL_PERMISSIONS,
    "securityReview": GateName.SECURITY_REVIEW,
    "cost": GateName.COST,
    "ownership": GateName.OWNERSHIP,
    "rollout": GateName.ROLLOUT,
}

moments = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2028, 1, 1), timezones=st.just(UTC))

policies = st.builds(
    lambda roles, categories, rate, ages: ReadinessPolicySpec.model_validate(
        {
            "requiredRoles": roles,
            "requiredEvalCategories": categories,
            "minPassRate": rate,
            "maxAgeDays": {"evals": ages[0], "securityReview": ages[1], "killSwitchDrill": ages[2]},
        }
    ),
    st.lists(st.sampled_from(["owner", "security", "compliance"]), unique=True),
    st.lists(st.sampled_from([str(c) for c in EvalCategory]), unique=True),
    st.floats(min_value=0, max_value=1),
    st.tuples(*[st.integers(min_value=1, max_value=400)] * 3),
)

tools = st.lists(
    st.fixed_dictionaries(
        {
            "name": st.text(min_size=1, max_size=256),
            "access": st.sampled_from([str(a) for a in ToolAccess]),
            "approval": st.sampled_from([str(a) for a in ToolApproval]),
            "irreversible": st.booleans(),
            "sensitive": st.lists(st.sampled_from([str(s) for s in Sensitivity]), unique=True),
        }
    ),
    max_size=8,
    unique_by=lambda tool: tool["name"],
)


@st.composite
def packets(draw: st.DrawFn) -> ReadinessPacketSpec:
    """The complete example with sections dropped, cases failed, tools replaced and approvals kept or not."""
    wire = copy.deepcopy(COMPLETE)
    for section in draw(st.sets(st.sampled_from(sorted(SECTIONS)))):
        wire[section] = None
    if wire["evals"] is not None:
        for index in draw(st.sets(st.integers(min_value=0, max_value=len(wire["evals"]["cases"]) - 1))):
            wire["evals"]["cases"][index]["result"] = "fail"
    if wire["tools"] is not None and draw(st.booleans()):
        wire["tools"] = draw(tools)
    if not draw(st.booleans()):
        wire["approvals"] = []
    spec = ReadinessPacketSpec.model_validate(wire)
    if draw(st.booleans()):
        digest = packet_digest(spec)
        spec = spec.model_copy(
            update={"approvals": [a.model_copy(update={"digest": digest}) for a in spec.approvals]}
        )
    return spec


@settings(deadline=None)
@given(packet=packets(), policy=policies, now=moments)
def test_evaluation_is_deterministic(
    packet: ReadinessPacketSpec, policy: ReadinessPolicySpec, now: datetime
) -> None:
    first = evaluate_gates(SERVICE, packet, policy, now)
    again = evaluate_gates(SERVICE, packet, policy, now)
    reparsed = evaluate_gates(SERVICE, ReadinessPacketSpec.model_validate(packet.to_api()), policy, now)
    assert first == again == reparsed


@settings(deadline=None)
@given(packet=packets(), policy=policies, now=moments)
def test_every_report_is_well_formed(
    packet: ReadinessPacketSpec, policy: ReadinessPolicySpec, now: datetime
) -> None:
    report = evaluate_gates(SERVICE, packet, policy, now)
    assert [r.name for r in report.results] == list(GateName)
    for result in report.results:
        assert result.reason in set(Reason)
        assert result.passed == (result.reason == Reason.PASSED)
        assert 0 < len(result.message) <= 1024
    assert set(report.blocking) <= set(report.required)
    assert report.summary == f"{len(report.required) - len(report.blocking)}/{len(report.required)}"
    assert report.expires_at is None or report.expires_at > now


@settings(deadline=None)
@given(packet=packets(), policy=policies, now=moments)
def test_no_gate_passes_when_its_section_is_missing(
    packet: ReadinessPacketSpec, policy: ReadinessPolicySpec, now: datetime
) -> None:
    report = evaluate_gates(SERVICE, packet, policy, now)
    wire = packet.to_api()
    for section, gate in SECTIONS.items():
        if section not in wire:
            assert (report.result(gate).passed, report.result(gate).reason) == (False, Reason.MISSING)
    if not packet.approvals and policy.required_roles:
        assert report.result(GateName.SIGNOFFS).reason == Reason.NO_APPROVAL


@settings(deadline=None)
@given(policy=policies, now=moments)
def test_no_gate_passes_without_a_packet(policy: ReadinessPolicySpec, now: datetime) -> None:
    report = evaluate_gates(SERVICE, None, policy, now)
    assert not any(r.passed for r in report.results)
    assert {r.reason for r in report.results} == {Reason.NO_PACKET}


@settings(deadline=None)
@given(tool_list=tools)
def test_tool_permissions_pass_exactly_when_every_risky_tool_needs_a_human(
    tool_list: list[dict[str, Any]],
) -> None:
    packet = ReadinessPacketSpec.model_validate({**COMPLETE, "tools": tool_list})
    risky_unguarded = [
        t
        for t in tool_list
        if (t["access"] == "write" or t["irreversible"] or t["sensitive"]) and t["approval"] != "human"
    ]
    result = evaluate_gates(
        SERVICE, packet, ReadinessPolicySpec(), datetime(2026, 11, 20, tzinfo=UTC)
    ).result(GateName.TOOL_PERMISSIONS)
    assert result.passed == (not risky_unguarded)
    if risky_unguarded:
        assert result.reason == Reason.EXCESSIVE_AGENCY


approvals = st.lists(
    st.fixed_dictionaries(
        {
            "role": st.from_regex(r"[a-z]{1,20}", fullmatch=True),
            "by": st.text(min_size=1, max_size=50),
            "digest": st.from_regex(r"sha256:[0-9a-f]{64}", fullmatch=True),
        }
    ),
    max_size=5,
    unique_by=lambda a: a["role"],
)


@settings(deadline=None)
@given(packet=packets(), extra=approvals)
def test_the_digest_ignores_approvals(packet: ReadinessPacketSpec, extra: list[dict[str, Any]]) -> None:
    changed = ReadinessPacketSpec.model_validate({**packet.to_api(), "approvals": extra})
    assert packet_digest(changed) == packet_digest(packet)


def shuffled(value: Any, rng: random.Random) -> Any:
    """`value` with every mapping's keys in a random order; lists keep their order."""
    if isinstance(value, dict):
        keys = list(value)
        rng.shuffle(keys)
        return {k: shuffled(value[k], rng) for k in keys}
    if isinstance(value, list):
        return [shuffled(v, rng) for v in value]
    return value


@settings(deadline=None)
@given(packet=packets(), rng=st.randoms(use_true_random=False))
def test_the_digest_ignores_key_order_and_yaml_formatting(
    packet: ReadinessPacketSpec, rng: random.Random
) -> None:
    wire = shuffled(packet.to_api(), rng)
    text = yaml.safe_dump(wire, sort_keys=False, default_flow_style=rng.choice([True, False, None]))
    assert packet_digest(ReadinessPacketSpec.model_validate(yaml.safe_load(text))) == packet_digest(packet)
