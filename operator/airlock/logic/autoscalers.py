"""What the kill switch does to a KEDA ScaledObject that scales a governed workload: pause it at 0 replicas,
and on release unpause only what Airlock paused.

An HPA needs nothing: it does not scale a workload at 0 replicas, so scaling the workload to 0 stops it
and the restore lets it scale again. KEDA would scale a workload at 0 back up on its next trigger
(activation), so the ScaledObject is paused with KEDA's own annotation, and marked as paused by Airlock so
a restore never unpauses what a person paused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

PAUSED_REPLICAS_ANNOTATION = "autoscaling.keda.sh/paused-replicas"
# Which AIService paused the ScaledObject: the restore removes the pause only where this names it.
PAUSED_BY_ANNOTATION = "airlock.dev/paused-by"


@dataclass(frozen=True)
class ScaledObjectView:
    """A ScaledObject as the pause decision sees it: its target and its annotations."""

    name: str
    target_kind: str
    target_name: str
    annotations: Mapping[str, str] = field(default_factory=dict)


def pause_patches(
    service: str,
    killed: bool,
    workload_kind: str,
    workload_name: str,
    scaled_objects: Sequence[ScaledObjectView],
) -> list[tuple[str, dict[str, str | None]]]:
    """The annotation patches, by ScaledObject name, that make the ScaledObjects scaling the workload
    agree with the kill switch; empty when they already do."""
    patches: list[tuple[str, dict[str, str | None]]] = []
    for so in sorted(scaled_objects, key=lambda s: s.name):
        if so.target_kind != workload_kind or so.target_name != workload_name:
            continue
        ours = so.annotations.get(PAUSED_BY_ANNOTATION) == service
        if killed and PAUSED_REPLICAS_ANNOTATION not in so.annotations:
            patches.append((so.name, {PAUSED_REPLICAS_ANNOTATION: "0", PAUSED_BY_ANNOTATION: service}))
        elif killed and ours and so.annotations.get(PAUSED_REPLICAS_ANNOTATION) != "0":
            patches.append((so.name, {PAUSED_REPLICAS_ANNOTATION: "0"}))
        elif not killed and ours:
            patches.append((so.name, {PAUSED_REPLICAS_ANNOTATION: None, PAUSED_BY_ANNOTATION: None}))
    return patches
