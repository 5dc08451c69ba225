"""Which ReadinessPacket an AIService is evaluated with."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from airlock.logic.gates import describe_versions, truncate
from airlock.models.packet import ReadinessPacketSpec
from airlock.models.service import AIServiceSpec

# Packets named in a message before "and N more"; a message must stay readable in an event.
MAX_LISTED = 5


@dataclass(frozen=True)
class PacketChoice:
    """The packet chosen for a service (None when there is none) and a sentence saying why."""

    name: str | None
    message: str


def select_packet(
    service_name: str, service: AIServiceSpec, packets: Sequence[tuple[str, ReadinessPacketSpec]]
) -> PacketChoice:
    """Chooses the packet for `service` among `packets` (name, spec) of its namespace.

    Only packets whose spec.service names the service count. spec.packetRef chooses among them;
    otherwise the packets whose spec.service names the service and whose
    versions equal the service's are candidates; of several, the lowest name is taken so every pass makes
    the same choice, and the message says so.
    """
    if service.packet_ref is not None:
        wanted = service.packet_ref.name
        for name, spec in packets:
            if name == wanted and spec.service != service_name:
                # A packet is evidence for the service it names; another's approvals are not ours.
                return PacketChoice(
                    None,
                    f"ReadinessPacket {name}, named by spec.packetRef, is the evidence of AIService "
                    f"'{spec.service}' (its spec.service), not of {service_name}; a packet counts only for "
                    f"the service it names. Apply a packet whose spec.service is {service_name}.",
                )
            if name == wanted:
                return PacketChoice(name, f"Using ReadinessPacket {name}, named by spec.packetRef.")
        return PacketChoice(
            None,
            f"ReadinessPacket {wanted}, named by spec.packetRef, does not exist in this namespace; apply it, "
            "or remove spec.packetRef to use the packet whose spec.service names this service.",
        )

    own = sorted(((n, s) for n, s in packets if s.service == service_name), key=lambda item: item[0])
    matching = [name for name, spec in own if spec.versions == service.versions]
    if len(matching) == 1:
        return PacketChoice(
            matching[0], f"Using ReadinessPacket {matching[0]}, which attests these versions."
        )
    if matching:
        return PacketChoice(
            matching[0],
            truncate(
                f"{len(matching)} packets match ({_listed(matching)}); using {matching[0]} (lowest name); "
                "delete or rename the others."
            ),
        )
    if own:
        listed = [f"{name} ({describe_versions(spec.versions)})" for name, spec in own]
        return PacketChoice(
            None,
            truncate(
                f"No ReadinessPacket for {service_name} attests {describe_versions(service.versions)}; its "
                f"packets are for other versions: {_listed(listed)}. Apply a packet for the running versions."
            ),
        )
    return PacketChoice(
        None,
        f"No ReadinessPacket names {service_name} in spec.service; apply one for "
        f"{describe_versions(service.versions)}.",
    )


def _listed(items: Sequence[str]) -> str:
    shown = ", ".join(items[:MAX_LISTED])
    rest = len(items) - MAX_LISTED
    return f"{shown} and {rest} more" if rest > 0 else shown
