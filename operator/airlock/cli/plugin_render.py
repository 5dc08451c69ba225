"""What `kubectl airlock` prints: the status table and the explain page, as pure functions of API objects.

Objects come in as the JSON the API server returns and are read leniently: a field this plugin does not
know, or one an older operator never wrote, must never stop someone from seeing what they can at 3 a.m.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TextIO

from airlock.k8s.plugin_client import Workload
from airlock.logic.killswitch import parse_kill_switch, rfc3339
from airlock.models.service import NO_CAP, Stage

JsonObject = Mapping[str, object]

RED = "\033[31m"
GREEN = "\033[32m"
YELLOW = "\033[33m"
CYAN = "\033[36m"
BOLD = "\033[1m"
RESET = "\033[0m"
ELLIPSIS = "…"
COLUMN_GAP = "   "
# The last column is never squeezed below this, even if the line then overflows a very narrow terminal.
MIN_LAST_COLUMN = 8

KILLED, PILOT, PRODUCTION = Stage.KILLED, Stage.PILOT, Stage.PRODUCTION
BUILTIN_STAGES = (PILOT.value, PRODUCTION.value)
# Colours by a stage's place in the ladder, whatever its name: the first, one between, the last.
FIRST, BETWEEN, LAST = "first", "between", "last"
POSITION_COLOURS: dict[str, str] = {FIRST: YELLOW, BETWEEN: CYAN, LAST: GREEN}
# The Ready reasons that say where a service stands when status.stages is absent.
READY_POSITIONS: dict[str, str] = {"Pilot": FIRST, "InStage": BETWEEN, "Production": LAST}
NOT_EVALUATED = "(not yet evaluated by the operator)"


# --- terminal -----------------------------------------------------------------------------------------


def use_colour(stream: TextIO, environ: Mapping[str, str] | None = None) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set to a non-empty value (no-color.org)."""
    env = os.environ if environ is None else environ
    if env.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def terminal_width(stream: TextIO, environ: Mapping[str, str] | None = None) -> int | None:
    """The width to fit output to: COLUMNS when set, else the terminal's; None when writing to a pipe or a
    file, so that `| grep` sees whole lines."""
    env = os.environ if environ is None else environ
    columns = env.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    isatty = getattr(stream, "isatty", None)
    if not (isatty and isatty()):
        return None
    return shutil.get_terminal_size().columns


def paint(text: str, colour: str | None, enabled: bool) -> str:
    """`text` wrapped in an ANSI colour when colour is enabled and one is given."""
    return f"{colour}{text}{RESET}" if enabled and colour else text


def truncate(text: str, width: int) -> str:
    """`text` cut to `width` characters, the last one an ellipsis when anything was cut."""
    if width <= 0:
        return ""
    return text if len(text) <= width else text[: width - 1] + ELLIPSIS


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


# --- the table ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    """One table cell; the colour applies to the text only, never to the padding."""

    text: str
    colour: str | None = None


def render_table(
    headers: Sequence[str], rows: Sequence[Sequence[Cell]], *, width: int | None, colour: bool
) -> str:
    """A left-aligned table like kubectl's; with a width, the last column is cut with an ellipsis so
    every line fits, the other columns are kept whole."""
    columns = len(headers)
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell.text))
    if width is not None:
        used = sum(widths[:-1]) + len(COLUMN_GAP) * (columns - 1)
        widths[-1] = max(min(widths[-1], width - used), min(MIN_LAST_COLUMN, widths[-1]))
    lines = [_line([Cell(h) for h in headers], widths, colour=False)]
    lines += [_line(row, widths, colour=colour) for row in rows]
    return "\n".join(lines)


def _line(cells: Sequence[Cell], widths: Sequence[int], *, colour: bool) -> str:
    parts = []
    last = len(cells) - 1
    for i, cell in enumerate(cells):
        text = truncate(cell.text, widths[i])
        padding = "" if i == last else " " * (widths[i] - len(text))
        parts.append(paint(text, cell.colour, colour) + padding)
    return COLUMN_GAP.join(parts)


# --- reading an AIService -------------------------------------------------------------------------------


def _obj(value: object) -> JsonObject:
    return value if isinstance(value, Mapping) else {}


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _list(value: object) -> list[object]:
    return list(value) if isinstance(value, list) else []


@dataclass(frozen=True)
class GateInfo:
    name: str
    passed: bool
    reason: str
    message: str


@dataclass(frozen=True)
class ConditionInfo:
    type: str
    status: str
    reason: str
    message: str


@dataclass(frozen=True)
class StageInfo:
    """One entry of status.stages: a stage as the operator resolved it for this service."""

    name: str
    allowed: int | None
    gates_pass: bool
    blocking_gates: tuple[str, ...]
    min_soak: str | None
    traffic_weight: int | None


@dataclass(frozen=True)
class KillInfo:
    """status.killSwitch: what the operator did."""

    engaged: bool
    reason: str | None
    since: str | None
    replicas_before: int | None
    engaged_by: str | None = None
    released_by: str | None = None


@dataclass(frozen=True)
class ServiceInfo:
    """An AIService as the plugin shows it: the annotations on-call set and the status the operator wrote."""

    namespace: str
    name: str
    generation: int | None
    workload: str
    owner: str | None
    versions: Mapping[str, str]
    pilot_replicas: int
    max_replicas: int | None
    kill_requested: bool
    kill_request_reason: str | None
    # What whoever engaged the switch recorded in its annotations (kubectl airlock kill does).
    kill_request_by: str | None
    kill_request_since: str | None
    kill_request_replicas_before: int | None
    evaluated: bool
    stage: str | None
    allowed: int | None
    replicas: int | None
    gates_passed: str | None
    blocking_gates: tuple[str, ...]
    blocking: str | None
    gates: tuple[GateInfo, ...]
    packet: str | None
    promoted: bool
    held_replicas: int | None
    kill: KillInfo | None
    conditions: tuple[ConditionInfo, ...]
    observed_generation: int | None
    # spec.workload.kind; the CRD defaults it to Deployment.
    workload_kind: str = "Deployment"
    # What an operator with stages writes; an older one writes none of it.
    reached_stage: str | None = None
    next_stage: str | None = None
    stage_since: str | None = None
    traffic_weight: int | None = None
    stages: tuple[StageInfo, ...] = ()

    @property
    def workload_ref(self) -> str:
        """The workload as a person names it: "Deployment web", "StatefulSet model-server"."""
        return f"{self.workload_kind} {self.workload}"

    @property
    def workload_resource(self) -> str:
        """The workload's resource as kubectl takes it (`kubectl scale statefulset ...`)."""
        return self.workload_kind.lower()

    @classmethod
    def from_api(cls, obj: JsonObject) -> ServiceInfo:
        """Reads an AIService as returned by the API server; missing or odd fields become None or empty."""
        meta, spec, status = _obj(obj.get("metadata")), _obj(obj.get("spec")), _obj(obj.get("status"))
        annotations = {str(k): str(v) for k, v in _obj(meta.get("annotations")).items()}
        switch = parse_kill_switch(annotations)
        kill_raw = status.get("killSwitch")
        kill = None
        if isinstance(kill_raw, Mapping):
            kill = KillInfo(
                engaged=kill_raw.get("engaged") is True,
                reason=_str(kill_raw.get("reason")),
                since=_str(kill_raw.get("since")),
                replicas_before=_int(kill_raw.get("replicasBefore")),
                engaged_by=_str(kill_raw.get("engagedBy")),
                released_by=_str(kill_raw.get("releasedBy")),
            )
        gates = tuple(
            GateInfo(
                name=_str(g.get("name")) or "?",
                passed=g.get("passed") is True,
                reason=_str(g.get("reason")) or "",
                message=_str(g.get("message")) or "",
            )
            for g in map(_obj, _list(status.get("gates")))
        )
        conditions = tuple(
            ConditionInfo(
                type=_str(c.get("type")) or "?",
                status=_str(c.get("status")) or "Unknown",
                reason=_str(c.get("reason")) or "",
                message=_str(c.get("message")) or "",
            )
            for c in map(_obj, _list(status.get("conditions")))
        )
        stages = tuple(
            StageInfo(
                name=_str(st.get("name")) or "?",
                allowed=_int(st.get("allowedReplicas")),
                gates_pass=st.get("gatesPass") is True,
                blocking_gates=tuple(g for g in map(_str, _list(st.get("blockingGates"))) if g),
                min_soak=_str(st.get("minSoak")),
                traffic_weight=_int(st.get("trafficWeight")),
            )
            for st in map(_obj, _list(status.get("stages")))
        )
        pilot = _int(spec.get("pilotReplicas"))
        return cls(
            namespace=_str(meta.get("namespace")) or "",
            name=_str(meta.get("name")) or "",
            generation=_int(meta.get("generation")),
            workload=_str(_obj(spec.get("workload")).get("name")) or "",
            workload_kind=_str(_obj(spec.get("workload")).get("kind")) or "Deployment",
            owner=_str(spec.get("owner")),
            versions={str(k): str(v) for k, v in _obj(spec.get("versions")).items()},
            pilot_replicas=1 if pilot is None else pilot,
            max_replicas=_int(spec.get("maxReplicas")),
            kill_requested=switch.engaged,
            kill_request_reason=switch.reason,
            kill_request_by=switch.by,
            kill_request_since=rfc3339(switch.since) if switch.since else None,
            kill_request_replicas_before=switch.replicas_before,
            evaluated=_str(status.get("stage")) is not None,
            stage=_str(status.get("stage")),
            allowed=_int(status.get("allowedReplicas")),
            replicas=_int(status.get("replicas")),
            gates_passed=_str(status.get("gatesPassed")),
            blocking_gates=tuple(s for s in map(_str, _list(status.get("blockingGates"))) if s),
            blocking=_str(status.get("blocking")),
            gates=gates,
            packet=_str(status.get("packet")),
            promoted=status.get("promoted") is True,
            held_replicas=_int(status.get("heldReplicas")),
            kill=kill,
            conditions=conditions,
            observed_generation=_int(status.get("observedGeneration")),
            reached_stage=_str(status.get("reachedStage")),
            next_stage=_str(status.get("nextStage")),
            stage_since=_str(status.get("stageSince")),
            traffic_weight=_int(status.get("trafficWeight")),
            stages=stages,
        )

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def stale(self) -> bool:
        """The operator's status was computed for an older spec than the one stored now."""
        return (
            self.evaluated
            and self.generation is not None
            and self.observed_generation is not None
            and self.observed_generation < self.generation
        )

    @property
    def killed(self) -> bool:
        return self.stage == KILLED

    @property
    def restore_pending(self) -> bool:
        """The switch was released but the operator has not finished bringing the replicas back."""
        if self.kill_requested:
            return False
        return self.killed or (self.kill is not None and self.kill.replicas_before is not None)

    def condition(self, type_: str) -> ConditionInfo | None:
        return next((c for c in self.conditions if c.type == type_), None)

    @property
    def current_stage(self) -> str | None:
        """The stage the gates and soak have reached, under Killed too (older operators: status.stage)."""
        if self.reached_stage:
            return self.reached_stage
        return None if self.killed else self.stage

    @property
    def current_index(self) -> int | None:
        """The current stage's place in status.stages, or None when the status lists none or not it."""
        names = [s.name for s in self.stages]
        return names.index(self.current_stage) if self.current_stage in names else None

    @property
    def declared_stages(self) -> bool:
        """Whether the service has stages other than the built-in Pilot and Production."""
        return bool(self.stages) and tuple(s.name for s in self.stages) != BUILTIN_STAGES

    @property
    def position(self) -> str | None:
        """FIRST, BETWEEN or LAST: where the current stage is in the ladder, by status.stages, else by the
        built-in names (an older operator), else by the Ready reason; None when nothing says."""
        index = self.current_index
        if index is not None:
            return FIRST if index == 0 else LAST if index == len(self.stages) - 1 else BETWEEN
        builtin = {PILOT.value: FIRST, PRODUCTION.value: LAST}.get(self.current_stage or "")
        if builtin is not None:
            return builtin
        ready = self.condition("Ready")
        if not self.killed and ready is not None and ready.reason in READY_POSITIONS:
            return READY_POSITIONS[ready.reason]
        return None

    @property
    def next_stage_info(self) -> StageInfo | None:
        """The stage after the current one, from status.stages."""
        index = self.current_index
        if index is None or index + 1 >= len(self.stages):
            return None
        return self.stages[index + 1]

    @property
    def soak_running(self) -> bool:
        """status.blocking names a soak rather than gates: the next stage waits on time only."""
        return (self.blocking or "").startswith("soak in ")


def stage_colour(service: ServiceInfo, name: str) -> str | None:
    """The colour of a stage name: red for Killed, else by its place in status.stages (first yellow,
    between cyan, last green), else by where the service stands."""
    if name == KILLED:
        return RED
    names = [s.name for s in service.stages]
    if name in names:
        index = names.index(name)
        position = FIRST if index == 0 else LAST if index == len(names) - 1 else BETWEEN
        return POSITION_COLOURS[position]
    if name == service.current_stage and service.position is not None:
        return POSITION_COLOURS[service.position]
    return None


# --- status ---------------------------------------------------------------------------------------------

STATUS_HEADERS = ("NAME", "STAGE", "NEXT", "GATES", "ALLOWED", "REPLICAS", "KILL-SWITCH", "BY", "BLOCKING")


def allowed_text(allowed: int | None) -> str:
    if allowed is None:
        return "-"
    return "no cap" if allowed == NO_CAP else str(allowed)


def kill_switch_cell(service: ServiceInfo) -> Cell:
    """on / off, with "(pending)" while the annotation and what the operator did disagree."""
    if service.kill_requested:
        return Cell("on" if service.killed else "on (pending)", RED)
    if service.restore_pending:
        return Cell("off (pending)", YELLOW)
    return Cell("off")


def kill_switch_by(service: ServiceInfo) -> str:
    """Who engaged an engaged switch: the annotation (admission checks it against the requester), else
    what the operator recorded; "-" when the switch is off or nobody was named."""
    if not service.kill_requested:
        return "-"
    return service.kill_request_by or (service.kill.engaged_by if service.kill else None) or "-"


def status_row(service: ServiceInfo, workload: Workload | None, *, all_namespaces: bool) -> list[Cell]:
    """One line of `kubectl airlock status`. The Deployment's own spec.replicas is shown when it could be
    read; otherwise the operator's last record of it."""
    if workload is not None and workload.state == "found":
        replicas = workload.replicas
    elif workload is not None and workload.state == "missing":
        replicas = None
    else:
        replicas = service.replicas
    if not service.evaluated:
        blocking = NOT_EVALUATED
    else:
        blocking = service.blocking or ", ".join(service.blocking_gates) or "-"
    stage = service.stage or "-"
    row = [
        Cell(service.name),
        Cell(stage, stage_colour(service, stage)),
        Cell(service.next_stage or "-"),
        Cell(service.gates_passed or "-"),
        Cell(allowed_text(service.allowed)),
        Cell("-" if replicas is None else str(replicas)),
        kill_switch_cell(service),
        Cell(kill_switch_by(service)),
        Cell(blocking),
    ]
    return [Cell(service.namespace), *row] if all_namespaces else row


def render_status(
    services: Sequence[ServiceInfo],
    workloads: Mapping[str, Workload],
    *,
    all_namespaces: bool,
    width: int | None,
    colour: bool,
) -> str:
    """The status table; `workloads` maps "namespace/name" of a service to its Deployment, where known."""
    headers = ("NAMESPACE", *STATUS_HEADERS) if all_namespaces else STATUS_HEADERS
    rows = [status_row(s, workloads.get(s.key), all_namespaces=all_namespaces) for s in services]
    return render_table(headers, rows, width=width, colour=colour)


# --- explain --------------------------------------------------------------------------------------------


def cap_text(service: ServiceInfo) -> str:
    """How many replicas admission allows now, and why."""
    if service.kill_requested:
        return "0 replicas: the kill switch is engaged"
    if not service.evaluated or service.allowed is None:
        return (
            f"{plural(service.pilot_replicas, 'replica')}: spec.pilotReplicas, which admission uses until "
            "the operator writes status.allowedReplicas"
        )
    allowed = service.allowed
    if service.restore_pending:
        return (
            f"{plural(allowed, 'replica')}: the kill switch was released, and the operator has not yet "
            "written the cap that lets the replicas come back"
        )
    if allowed == NO_CAP:
        if service.position in (None, LAST):
            return "no cap: every required gate passes"
        return _with_needs(f"no cap: stage {stage_where(service)} sets none", service)
    # The operator's summary is short ("a, b, +7 more"); the full list is in the gate table.
    blocking = service.blocking or ", ".join(service.blocking_gates) or "none"
    if service.promoted and service.blocking_gates and service.held_replicas is not None:
        return (
            f"{plural(allowed, 'replica')}: promoted earlier, but required gates no longer pass "
            f"({blocking}); held at the replicas it had, and it cannot grow until they pass again"
        )
    position = service.position
    if position == LAST and service.max_replicas is not None and allowed == service.max_replicas:
        return f"{plural(allowed, 'replica')}: spec.maxReplicas, the ceiling even when every gate passes"
    if position == FIRST and not service.declared_stages:
        return (
            f"{plural(allowed, 'replica')}: spec.pilotReplicas, the pilot size while required gates fail "
            f"({blocking})"
        )
    if position == FIRST:
        return _with_needs(
            f"{plural(allowed, 'replica')}: the cap of stage {stage_where(service)}, the first, which is "
            "never above spec.pilotReplicas",
            service,
        )
    if position == BETWEEN:
        return _with_needs(f"{plural(allowed, 'replica')}: the cap of stage {stage_where(service)}", service)
    return plural(allowed, "replica")


def stage_where(service: ServiceInfo) -> str:
    """The current stage with its place, "Limited (2 of 3)", when status.stages says it."""
    name = service.current_stage or "-"
    index = service.current_index
    return name if index is None else f"{name} ({index + 1} of {len(service.stages)})"


def next_needs(service: ServiceInfo) -> str:
    """What the next step needs, as a clause: "Production needs: cost, signoffs", the soak it waits for,
    or the gates the current stage needs again; empty in the last stage with nothing failing."""
    index = service.current_index
    if index is not None and not service.stages[index].gates_pass:
        again = service.blocking or ", ".join(service.stages[index].blocking_gates)
        return f"{service.stages[index].name} needs again: {again}"
    following = service.next_stage or (service.next_stage_info.name if service.next_stage_info else None)
    if not following:
        return ""
    if service.soak_running:
        return f"{following} waits for the {service.blocking}"
    info = service.next_stage_info
    needs = service.blocking or (", ".join(info.blocking_gates) if info is not None else "")
    return f"{following} needs: {needs}" if needs else ""


def _with_needs(text: str, service: ServiceInfo) -> str:
    needs = next_needs(service)
    return f"{text}; {needs}" if needs else text


def blocking_now(service: ServiceInfo) -> tuple[str, ...]:
    """The gates the next step needs: the current stage's when they fail (it is held), else the next
    stage's; without status.stages (an older operator), every failing required gate."""
    index = service.current_index
    if index is None:
        return service.blocking_gates
    current = service.stages[index]
    if not current.gates_pass:
        return current.blocking_gates
    info = service.next_stage_info
    return info.blocking_gates if info is not None else current.blocking_gates


def kill_switch_text(service: ServiceInfo) -> str:
    """The kill switch as on-call set it (the annotation) and as the operator carried it out (status)."""
    kill = service.kill
    if service.kill_requested:
        reason = service.kill_request_reason or (kill.reason if kill else None) or "no reason given"
        by = f" by {service.kill_request_by}" if service.kill_request_by else ""
        if kill is not None and kill.engaged and service.killed:
            had = "unknown" if kill.replicas_before is None else str(kill.replicas_before)
            return f"engaged{by} since {kill.since or 'an unknown time'} ({reason}); replicas before: {had}"
        recorded = ""
        if service.kill_request_since:
            recorded += f" since {service.kill_request_since}"
        if service.kill_request_replicas_before is not None:
            recorded += f"; replicas before: {service.kill_request_replicas_before}"
        return (
            f"requested{by}{recorded} ({reason}), not yet carried out by the operator; admission already "
            "denies every scale-up"
        )
    if service.restore_pending:
        before = kill.replicas_before if kill is not None else None
        what = plural(before, "replica") if before is not None else "the replicas"
        return f"released{_released_by(kill)}; the operator has not yet brought back {what}"
    if kill is not None and kill.released_by:
        return f"not engaged (last released by {kill.released_by})"
    return "not engaged"


def _released_by(kill: KillInfo | None) -> str:
    return f" by {kill.released_by}" if kill is not None and kill.released_by else ""


def next_step(service: ServiceInfo, deployment: Workload | None = None) -> str:
    """The one thing to do next, as a sentence. With the Deployment as read now, the kill switch is said
    to hold it at 0 only when it is at 0."""
    restore = f"`kubectl airlock restore {service.name} -n {service.namespace}`"
    if service.kill_requested:
        at_zero = (
            deployment.replicas == 0
            if deployment is not None and deployment.state == "found" and deployment.replicas is not None
            else service.killed
        )
        if at_zero or (deployment is not None and deployment.state == "missing"):
            return f"The kill switch holds it at 0 replicas; when the incident is over, run {restore}."
        asks = (
            f"still asks for {plural(deployment.replicas, 'replica')}"
            if deployment is not None and deployment.replicas is not None
            else "may still run replicas"
        )
        return (
            f"The kill switch is engaged and admission denies every scale-up, but {service.workload_ref} "
            f"{asks}: the operator is scaling it to 0. If this stays (the operator is "
            "down), scale it down yourself: "
            f"`kubectl scale {service.workload_resource} {service.workload} -n {service.namespace} "
            f"--replicas=0`; when the incident is over, run {restore}."
        )
    if not service.evaluated:
        return (
            "Wait a few seconds for the operator to evaluate it; if this stays, check that the Airlock "
            "operator is running."
        )
    if service.restore_pending:
        return "Wait for the operator to restore the replicas; if this stays, check that it is running."
    workload = service.condition("WorkloadFound")
    if workload is not None and workload.status == "False" and workload.message:
        return workload.message
    needed = blocking_now(service)
    for gate in service.gates:
        if gate.name in needed and not gate.passed:
            return gate.message or f"Make gate {gate.name} pass."
    if needed:
        return f"Make these gates pass: {', '.join(needed)}."
    following = service.next_stage_info
    if service.soak_running and following is not None:
        later = ""
        if service.blocking_gates:
            later = f" After that, these gates still fail: {', '.join(service.blocking_gates)}."
        return f"Nothing blocks {following.name} but time: the {service.blocking}.{later}"
    if service.blocking_gates:
        return f"Make these gates pass: {', '.join(service.blocking_gates)}."
    return "Nothing blocks promotion."


def render_explain(service: ServiceInfo, workload: Workload, *, width: int | None, colour: bool) -> str:
    """Everything `kubectl airlock explain` says about one service, ending with a "Next step:" line."""
    lines: list[str] = [paint(f"AIService {service.key}", BOLD, colour)]

    def label(name: str) -> str:
        return f"  {name + ':':<13}"

    def field(name: str, value: str) -> None:
        lines.extend(_wrap(label(name), value, width))

    if workload.state == "found" and workload.replicas is not None:
        deployment = f"{service.workload} ({plural(workload.replicas, 'replica')})"
    elif workload.state == "missing":
        deployment = f"{service.workload} (not found in namespace {service.namespace})"
    else:
        deployment = service.workload
    field(service.workload_kind, deployment)
    if service.owner:
        field("Owner", service.owner)
    if service.versions:
        field("Versions", ", ".join(f"{k} {v}" for k, v in service.versions.items()))
    stage = service.stage or "-"
    stage_text = paint(stage, stage_colour(service, stage), colour)
    lines.append(label("Stage") + (stage_text if service.evaluated else f"- {NOT_EVALUATED}"))
    if service.evaluated:
        field("Packet", service.packet or "none: no ReadinessPacket matches this service and its versions")
    field("Cap", cap_text(service))
    field("Kill switch", kill_switch_text(service))
    ready = service.condition("Ready")
    if ready is not None:
        field("Ready", f"{ready.status} ({ready.reason}). {ready.message}".strip())
    if service.stale:
        field(
            "Note",
            f"the operator last evaluated generation {service.observed_generation}; the spec is at "
            f"generation {service.generation}, so this may be out of date.",
        )

    if service.stages:
        lines.append("")
        lines.extend(stage_lines(service, width=width, colour=colour))

    if service.gates:
        summary = ""
        if service.gates_passed:
            summary = f"{service.gates_passed} required pass"
            if service.blocking_gates:
                summary += f"; blocking: {', '.join(service.blocking_gates)}"
        lines.append("")
        lines.extend(_wrap("Gates: ", summary, width))
        # A failing gate that blocks nothing is one the policy and spec.requiredGates do not require.
        required = {g.name: g.passed or g.name in service.blocking_gates for g in service.gates}
        reasons = {
            g.name: g.reason if required[g.name] else f"{g.reason} (not required)" for g in service.gates
        }
        name_width = max(len(g.name) for g in service.gates)
        reason_width = max(len(r) for r in reasons.values())
        previous = None
        for gate in service.gates:
            # Without a packet every gate fails with the same message; say it once.
            message = "(same as above)" if previous == (gate.reason, gate.message) else gate.message
            previous = (gate.reason, gate.message)
            verdict = "PASS" if gate.passed else "FAIL"
            verdict_colour = GREEN if gate.passed else (RED if required[gate.name] else YELLOW)
            prefix_plain = f"  {verdict}  {gate.name:<{name_width}}  {reasons[gate.name]:<{reason_width}}  "
            wrapped = _wrap(prefix_plain, message, width)
            # Colour only the verdict, after wrapping, so widths are measured on plain text.
            wrapped[0] = wrapped[0].replace(verdict, paint(verdict, verdict_colour, colour), 1)
            lines.extend(wrapped)
    lines += [""]
    lines.extend(_wrap("Next step: ", next_step(service, workload), width))
    return "\n".join(lines)


def _to_the_second(moment: str) -> str:
    """An RFC 3339 time from the status as the rest of the page shows times: UTC, to the second."""
    try:
        return rfc3339(dt.datetime.fromisoformat(moment))
    except ValueError:
        return moment


def stages_summary(service: ServiceInfo) -> str:
    """The line that heads the stage list: where the service stands, since when, and its traffic share."""
    where = stage_where(service)
    text = f"in {where}" if not service.killed else f"killed; reached {where}"
    if service.stage_since:
        text += f" since {_to_the_second(service.stage_since)}"
    if service.traffic_weight is not None:
        text += f"; traffic weight {service.traffic_weight}%"
    needs = next_needs(service)
    return f"{text}; {needs}" if needs else text


def stage_verdict(service: ServiceInfo, index: int) -> tuple[str, str]:
    """What one stage of status.stages says, and its colour: PASS, with the soak end for the next stage
    while a soak runs, or the gates that block it."""
    stage = service.stages[index]
    current = service.current_index
    if not stage.gates_pass:
        return f"blocked: {', '.join(stage.blocking_gates) or 'its gates fail'}", RED
    if current is not None and index == current + 1 and service.soak_running:
        return f"PASS; waits for the {service.blocking}", YELLOW
    return "PASS", GREEN


def stage_lines(service: ServiceInfo, *, width: int | None, colour: bool) -> list[str]:
    """The per-stage list of `explain`: each stage's cap, soak, traffic weight and verdict, the current
    stage marked with ">"."""
    lines = _wrap("Stages: ", stages_summary(service), width)
    rows = [
        (
            stage.name,
            "no cap" if stage.allowed in (None, NO_CAP) else f"cap {stage.allowed}",
            f"soak {stage.min_soak}" if stage.min_soak else "no soak",
            "traffic -" if stage.traffic_weight is None else f"traffic {stage.traffic_weight}%",
        )
        for stage in service.stages
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    current = service.current_index
    for index, row in enumerate(rows):
        marker = ">" if index == current else " "
        rest = "  ".join(cell.ljust(w) for cell, w in zip(row[1:], widths[1:], strict=True))
        name = row[0].ljust(widths[0])
        prefix = f"  {marker} {name}  {rest}  "
        verdict, verdict_colour = stage_verdict(service, index)
        wrapped = _wrap(prefix, verdict, width)
        # Colour after wrapping, so widths are measured on plain text: the name and the verdict's first word.
        head, _, tail = wrapped[0][len(prefix) :].partition(" ")
        painted_name = paint(row[0], stage_colour(service, row[0]), colour) + name[len(row[0]) :]
        wrapped[0] = f"  {marker} {painted_name}  {rest}  {paint(head, verdict_colour, colour)}" + (
            f" {tail}" if tail else ""
        )
        lines.extend(wrapped)
    return lines


def _wrap(prefix: str, text: str, width: int | None) -> list[str]:
    """`prefix` + `text`, wrapped to `width` with a hanging indent; one line when the width is unknown."""
    if width is None or width - len(prefix) < 20:
        return [(prefix + text).rstrip()]
    wrapped = textwrap.wrap(
        text,
        width=width,
        initial_indent=prefix,
        subsequent_indent=" " * len(prefix),
        break_on_hyphens=False,
        break_long_words=False,
    )
    return wrapped or [prefix.rstrip()]
