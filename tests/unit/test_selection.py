"""Packet selection: packetRef first, else the packet for the service's exact versions, deterministically."""

from __future__ import annotations

import itertools

import pytest

from airlock.logic.selection import select_packet
from airlock.models import AIServiceSpec, ReadinessPacketSpec

SERVICE = "support-assistant"


def service_spec(packet_ref: str | None = None, prompt: str = "v14") -> AIServiceSpec:
    return AIServiceSpec.model_validate(
        {
            "workload": {"name": SERVICE},
            "owner": "jane.doe@example.com",
            "versions": {"model": "gpt-4o-2024-08-06", "prompt": prompt, "retrieval": "kb-2026-11-01"},
            **({"packetRef": {"name": packet_ref}} if packet_ref else {}),
        }
    )


def packet(
    prompt: str = "v14", service: str = SERVICE, retrieval: str | None = "kb-2026-11-01"
) -> ReadinessPacketSpec:
    versions = {"model": "gpt-4o-2024-08-06", "prompt": prompt, "retrieval": retrieval}
    return ReadinessPacketSpec.model_validate({"service": service, "versions": versions})


@pytest.mark.parametrize(
    ("ref", "packets", "chosen", "fragments"),
    [
        pytest.param(
            None,
            [("support-assistant-v14", packet())],
            "support-assistant-v14",
            ["attests these versions"],
            id="the one packet for the running versions is used",
        ),
        pytest.param(
            None,
            [("b-v14", packet()), ("a-v14", packet()), ("c-v13", packet("v13"))],
            "a-v14",
            ["2 packets match", "using a-v14 (lowest name)", "delete or rename the others"],
            id="of several matching packets the lowest name is used and the message says so",
        ),
        pytest.param(
            None,
            [
                ("support-assistant-v13", packet("v13")),
                ("support-assistant-v12", packet("v12", retrieval=None)),
            ],
            None,
            [
                "support-assistant-v12 (model 'gpt-4o-2024-08-06', prompt 'v12', no retrieval)",
                "support-assistant-v13 (model 'gpt-4o-2024-08-06', prompt 'v13', retrieval 'kb-2026-11-01')",
                "Apply a packet for the running versions",
            ],
            id="packets only for other versions are listed with their versions",
        ),
        pytest.param(
            None,
            [("other-v14", packet(service="other-assistant"))],
            None,
            ["No ReadinessPacket names support-assistant", "prompt 'v14'"],
            id="a packet for another service is not used even with the same versions",
        ),
        pytest.param(
            None,
            [("support-assistant-v14", packet(retrieval=None))],
            None,
            ["no retrieval"],
            id="a packet without retrieval does not match a service with retrieval",
        ),
        pytest.param(
            "pinned",
            [("pinned", packet("v13")), ("support-assistant-v14", packet())],
            "pinned",
            ["named by spec.packetRef"],
            id="packetRef wins over version matching",
        ),
        pytest.param(
            "pinned",
            [("pinned", packet(service="other-assistant"))],
            None,
            ["evidence of AIService 'other-assistant'", "counts only for the service it names"],
            id="a packetRef to another service's packet chooses nothing: packets cannot be borrowed",
        ),
        pytest.param(
            "missing",
            [("support-assistant-v14", packet())],
            None,
            ["missing, named by spec.packetRef, does not exist"],
            id="a packetRef to a packet that does not exist chooses nothing",
        ),
    ],
)
def test_select_packet(
    ref: str | None,
    packets: list[tuple[str, ReadinessPacketSpec]],
    chosen: str | None,
    fragments: list[str],
) -> None:
    choice = select_packet(SERVICE, service_spec(packet_ref=ref), packets)
    assert choice.name == chosen
    for fragment in fragments:
        assert fragment in choice.message


def test_the_choice_does_not_depend_on_the_order_packets_are_listed() -> None:
    packets = [("c", packet()), ("a", packet()), ("b", packet()), ("d", packet("v13"))]
    choices = {select_packet(SERVICE, service_spec(), list(p)) for p in itertools.permutations(packets)}
    assert len(choices) == 1
    assert next(iter(choices)).name == "a"


def test_a_long_list_of_other_packets_is_cut_short() -> None:
    packets = [(f"support-assistant-v{i}", packet(f"v{i}")) for i in range(100)]
    message = select_packet(SERVICE, service_spec(prompt="v999"), packets).message
    assert "and 95 more" in message
    assert len(message) <= 1024
