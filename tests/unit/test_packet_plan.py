"""The packet plan: the status a pass writes, its Complete condition, and the Events it announces."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from airlock.logic.packet_plan import (
    Approvals,
    PacketEvent,
    PacketPlan,
    SeenApprovals,
    approval_news,
    plan_packet,
    short_digest,
)
from airlock.models import BUILTIN_POLICY, AIServiceSpec, ReadinessPacketSpec
from airlock.models.packet import ReadinessPacketStatus

NOW = datetime(2026, 11, 20, tzinfo=UTC)
PacketFactory = Callable[..., ReadinessPacketSpec]
OLD = "sha256:" + "a" * 64
NEW = "sha256:" + "b" * 64
# Leaves the use case out: one required gate fails, so the packet is incomplete.
BREAK = {"useCase": None}


def plan(
    spec: ReadinessPacketSpec,
    service: AIServiceSpec | None,
    previous: ReadinessPacketStatus | None = None,
    **kwargs: Any,
) -> PacketPlan:
    return plan_packet(spec, service, BUILTIN_POLICY, NOW, previous=previous, generation=3, **kwargs)


def reasons(events: tuple[PacketEvent, ...]) -> list[tuple[str, str]]:
    return [(e.type, e.reason) for e in events]


SUMMARY = {"useCase.summary": "Answers card questions only."}
Case = tuple[str, Mapping[str, Any] | None, Mapping[str, Any], bool, bool, bool, list[tuple[str, str]]]
# (case, changes before or None for a first pass, changes now, approved again now,
#  complete now, status changed, Events)
CASES: list[Case] = [
    (
        "a first pass over a complete packet writes its status, announcing nothing",
        None,
        {},
        True,
        True,
        True,
        [],
    ),
    ("a first pass over an incomplete packet announces nothing either", None, BREAK, True, False, True, []),
    ("a pass that finds the status it wrote writes nothing", {}, {}, True, True, False, []),
    ("a packet still incomplete is no news", BREAK, BREAK, True, False, False, []),
    (
        "a packet that becomes complete is announced",
        BREAK,
        {},
        True,
        True,
        True,
        [("Normal", "PacketComplete")],
    ),
    (
        "a content change nobody approved again makes the approvals stale and the packet incomplete",
        {},
        SUMMARY,
        False,
        False,
        True,
        [("Warning", "ApprovalsStale"), ("Warning", "PacketIncomplete")],
    ),
    ("a content change everyone approved again is no news", {}, SUMMARY, True, True, True, []),
    (
        "a change that breaks a gate is announced as incomplete, no approval going stale",
        {},
        BREAK,
        True,
        False,
        True,
        [("Warning", "PacketIncomplete")],
    ),
]


@pytest.mark.parametrize(
    ("before", "after", "approve_again", "complete", "changed", "events"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_plan_packet(
    make_packet: PacketFactory,
    service: AIServiceSpec,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any],
    approve_again: bool,
    complete: bool,
    changed: bool,
    events: list[tuple[str, str]],
) -> None:
    previous = None if before is None else plan(make_packet(before), service).status
    result = plan(make_packet(after, approve_again=approve_again), service, previous)
    assert (result.status.complete, result.changed) == (complete, changed)
    assert reasons(result.events) == events


def test_the_status_carries_the_report_and_the_complete_condition(
    make_packet: PacketFactory, service: AIServiceSpec
) -> None:
    result = plan(make_packet(), service)
    (complete,) = result.status.conditions
    assert result.status.complete is True and result.status.observed_generation == 3
    assert result.status.digest is not None and result.status.digest.startswith("sha256:")
    assert (complete.type, complete.status, complete.reason) == ("Complete", "True", "AllGatesPassed")
    passed, required = str(result.status.gates_passed).split("/")
    assert passed == required and complete.message == f"All {required} required gates pass."
    assert complete.observed_generation == 3 and complete.last_transition_time == NOW


def test_the_complete_condition_keeps_its_transition_time_while_it_holds(
    make_packet: PacketFactory, service: AIServiceSpec
) -> None:
    first = plan(make_packet(), service).status
    later = plan_packet(
        make_packet(), service, BUILTIN_POLICY, NOW + timedelta(hours=1), previous=first, generation=3
    )
    assert not later.changed and later.status.conditions[0].last_transition_time == NOW


def test_an_incomplete_packet_says_which_gates_block_and_announces_that_sentence(
    make_packet: PacketFactory, service: AIServiceSpec
) -> None:
    complete = plan(make_packet(), service).status
    result = plan(make_packet(BREAK), service, complete)
    (condition,) = result.status.conditions
    assert (condition.status, condition.reason) == ("False", "GatesBlocking")
    assert condition.message.endswith("required gates pass; blocking: useCase.")
    assert result.events == (PacketEvent("Warning", "PacketIncomplete", condition.message),)


def test_a_packet_without_its_service_is_evaluated_without_it(make_packet: PacketFactory) -> None:
    result = plan(make_packet(), None)
    assert result.status.complete is False and "versions" in result.status.conditions[0].message


def test_the_stale_approvals_event_names_each_role_and_both_digests(
    make_packet: PacketFactory, service: AIServiceSpec
) -> None:
    before = plan(make_packet(), service).status
    spec = make_packet({"useCase.summary": "Answers card questions only."}, approve_again=False)
    result = plan(spec, service, before)
    assert result.events[0] == PacketEvent(
        "Warning",
        "ApprovalsStale",
        f"The packet content changed (digest {short_digest(before.digest)} -> "
        f"{short_digest(result.status.digest)}); these approvals no longer count: "
        "owner by jane.doe@example.com, security by amir.haddad@example.com. "
        "Each role must approve the new digest.",
    )


def test_the_plan_carries_the_approval_news(make_packet: PacketFactory, service: AIServiceSpec) -> None:
    spec = make_packet()
    owner = next(a for a in spec.approvals if a.role == "owner")
    result = plan(spec, service, version="12", seen=SeenApprovals({"owner": (owner.by, OLD)}, "11"))
    assert result.seen is not None and result.seen.version == "12"
    assert set(result.seen.approvals) == {a.role for a in spec.approvals}
    assert [(e.reason, e.detail) for e in result.approval_events] == [
        ("Approved", " role owner"),
        ("Approved", " role security"),
    ]


JANE, SAM = ("jane", OLD), ("sam", OLD)

# (case, current, version, seen, what is remembered or None, Events as (reason, role))
NEWS: list[tuple[str, Approvals, str | None, SeenApprovals | None, SeenApprovals | None, list[str]]] = [
    (
        "on first sight the approvals are remembered and nothing is announced",
        {"owner": JANE},
        "5",
        None,
        SeenApprovals({"owner": JANE}, "5"),
        [],
    ),
    (
        "the same approvals are no news",
        {"owner": JANE},
        "6",
        SeenApprovals({"owner": JANE}, "5"),
        SeenApprovals({"owner": JANE}, "6"),
        [],
    ),
    (
        "a new role's approval is announced",
        {"owner": JANE, "security": SAM},
        "6",
        SeenApprovals({"owner": JANE}, "5"),
        SeenApprovals({"owner": JANE, "security": SAM}, "6"),
        ["Approved security"],
    ),
    (
        "an approval of another digest is announced again",
        {"owner": ("jane", NEW)},
        "6",
        SeenApprovals({"owner": JANE}, "5"),
        SeenApprovals({"owner": ("jane", NEW)}, "6"),
        ["Approved owner"],
    ),
    (
        "an approval by someone else is announced",
        {"owner": ("sam", OLD)},
        "6",
        SeenApprovals({"owner": JANE}, "5"),
        SeenApprovals({"owner": ("sam", OLD)}, "6"),
        ["Approved owner"],
    ),
    (
        "a removed approval is announced after the added ones, each in role order",
        {"security": SAM, "legal": JANE},
        "6",
        SeenApprovals({"owner": JANE, "ops": SAM}, "5"),
        SeenApprovals({"security": SAM, "legal": JANE}, "6"),
        ["Approved legal", "Approved security", "ApprovalRemoved ops", "ApprovalRemoved owner"],
    ),
    (
        "a body older than the one compared changes nothing",
        {},
        "4",
        SeenApprovals({"owner": JANE}, "5"),
        None,
        [],
    ),
    (
        "a body without a resourceVersion keeps the version compared",
        {"owner": JANE},
        None,
        SeenApprovals({"owner": JANE}, "5"),
        SeenApprovals({"owner": JANE}, "5"),
        [],
    ),
    (
        "a version that is not an integer is never older",
        {},
        "abc",
        SeenApprovals({"owner": JANE}, "5"),
        SeenApprovals({}, "abc"),
        ["ApprovalRemoved owner"],
    ),
]


@pytest.mark.parametrize(
    ("current", "version", "seen", "remembered", "events"), [c[1:] for c in NEWS], ids=[c[0] for c in NEWS]
)
def test_approval_news(
    current: Approvals,
    version: str | None,
    seen: SeenApprovals | None,
    remembered: SeenApprovals | None,
    events: list[str],
) -> None:
    remember, announced = approval_news(current, version, seen)
    assert remember == remembered
    assert [e.reason + e.detail.replace(" role", "") for e in announced] == events
    assert all(e.type == "Normal" for e in announced)


def test_approval_messages_name_the_role_the_person_and_the_digest() -> None:
    _, announced = approval_news({"owner": ("jane", NEW)}, "6", SeenApprovals({"ops": ("sam", OLD)}, "5"))
    assert [e.message for e in announced] == [
        "Role owner approved by jane for digest sha256:bbbbbbbbbbbb.",
        "Approval of role ops by sam for digest sha256:aaaaaaaaaaaa was removed.",
    ]


@pytest.mark.parametrize(
    ("digest", "shown"),
    [
        (None, "none"),
        ("", "none"),
        (NEW, "sha256:bbbbbbbbbbbb"),
        ("0123456789abcdef0123456789", "0123456789abcdef012"),
    ],
    ids=["no digest", "an empty digest", "an algorithm and its value", "a bare value"],
)
def test_short_digest(digest: str | None, shown: str) -> None:
    assert short_digest(digest) == shown
