"""`airlock validate` and `airlock digest`: the gate evaluation offline, for pull-request checks, with the
stage the passing gates reach when stages are declared (soaks are timed only in the cluster).

Exit codes: 0 when every required gate passes for everything evaluated, 1 when a required gate fails,
2 when the input cannot be read or does not match the schema.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import json
import sys
import types
import typing
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any, Generic, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from airlock.logic import cap as caps
from airlock.logic import stages as stages_
from airlock.logic.digest import packet_digest
from airlock.logic.gates import GateReport, evaluate_gates, format_time, truncate
from airlock.logic.policy import effective_policy
from airlock.logic.reasons import Reason
from airlock.logic.selection import select_packet
from airlock.models.base import API_VERSION, GROUP
from airlock.models.common import GateName, GateResult
from airlock.models.packet import KIND as PACKET_KIND
from airlock.models.packet import ReadinessPacketSpec
from airlock.models.policy import DEFAULT_POLICY_NAME, ReadinessPolicySpec
from airlock.models.policy import KIND as POLICY_KIND
from airlock.models.service import KIND as SERVICE_KIND
from airlock.models.service import NO_CAP, AIServiceSpec

EXIT_PASSED = 0
EXIT_BLOCKED = 1
EXIT_INPUT_ERROR = 2

SPECS: dict[str, type[BaseModel]] = {
    SERVICE_KIND: AIServiceSpec,
    PACKET_KIND: ReadinessPacketSpec,
    POLICY_KIND: ReadinessPolicySpec,
}
TOP_LEVEL_FIELDS = ("apiVersion", "kind", "metadata", "spec", "status")
DEFAULT_NAMESPACE = "default"

SpecT = TypeVar("SpecT", bound=BaseModel)


class InputError(Exception):
    """Input that cannot be evaluated; every message is already a line that names file and document."""

    def __init__(self, messages: Sequence[str]) -> None:
        super().__init__("\n".join(messages))
        self.messages = list(messages)


@dataclass(frozen=True)
class Origin:
    """Where an object came from, for messages: file, 1-based document number, kind and name."""

    source: str
    document: int
    kind: str | None = None
    name: str | None = None

    def __str__(self) -> str:
        what = ""
        if self.kind:
            what = f" ({self.kind}/{self.name})" if self.name else f" ({self.kind})"
        return f"{self.source}: document {self.document}{what}"


@dataclass(frozen=True)
class Parsed(Generic[SpecT]):
    """One Airlock object read from a file."""

    origin: Origin
    namespace: str
    name: str
    spec: SpecT


@dataclass
class Inputs:
    """Everything read from the files, in document order."""

    services: list[Parsed[AIServiceSpec]] = field(default_factory=list)
    packets: list[Parsed[ReadinessPacketSpec]] = field(default_factory=list)
    policies: list[Parsed[ReadinessPolicySpec]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# --- reading --------------------------------------------------------------------------------------


class _StrictLoader(yaml.SafeLoader):
    """A safe loader that refuses duplicate keys, which PyYAML would otherwise resolve silently."""


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Hashable, Any]:
    seen: set[Hashable] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if isinstance(key, Hashable) and key in seen:
            raise yaml.constructor.ConstructorError(
                "while reading a mapping",
                node.start_mark,
                f"found duplicate key {key!r}",
                key_node.start_mark,
            )
        if isinstance(key, Hashable):
            seen.add(key)
    return loader.construct_mapping(node)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def read_documents(source: str, text: str) -> tuple[list[tuple[Origin, Any]], str | None]:
    """The YAML documents of one file, numbered from 1 (empty ones skipped), and the syntax error that
    stopped reading, if any; the documents before it are still returned so their errors can be shown."""
    documents: list[tuple[Origin, Any]] = []
    index = 0
    try:
        for index, document in enumerate(yaml.load_all(text, Loader=_StrictLoader), start=1):
            if document is not None:
                documents.append((Origin(source, index), document))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err)
        return documents, f"{source}: document {index + 1}: invalid YAML{where}: {problem}"
    return documents, None


def read_inputs(files: Sequence[str], stdin: IO[str] | None = None, *, unique: bool = True) -> Inputs:
    """Reads and validates every Airlock object in `files` (`-` is stdin); raises InputError listing
    every problem found. With `unique`, an object defined twice is one of them, as it would be ambiguous
    which one the cluster ends up with."""
    errors: list[str] = []
    inputs = Inputs()
    seen: dict[tuple[str, str, str], Origin] | None = {} if unique else None
    stdin_text: str | None = None
    for path in files:
        if path == "-":
            if stdin_text is None:
                stdin_text = (stdin or sys.stdin).read()
            source, text = "<stdin>", stdin_text
        else:
            source = path
            try:
                with open(path, encoding="utf-8") as handle:
                    text = handle.read()
            except (OSError, UnicodeDecodeError) as err:
                errors.append(f"{path}: cannot read: {getattr(err, 'strerror', None) or err}")
                continue
        documents, syntax_error = read_documents(source, text)
        for origin, document in documents:
            try:
                _add_document(inputs, origin, document, seen)
            except InputError as err:
                errors.extend(err.messages)
        if syntax_error is not None:
            errors.append(syntax_error)
    if errors:
        raise InputError(errors)
    return inputs


def _add_document(
    inputs: Inputs, origin: Origin, document: Any, seen: dict[tuple[str, str, str], Origin] | None
) -> None:
    if not isinstance(document, dict):
        raise InputError([f"{origin}: expected a Kubernetes object (a mapping), got {_type_name(document)}"])
    api_version, kind = document.get("apiVersion"), document.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str):
        raise InputError([f"{origin}: apiVersion and kind are required strings"])
    metadata = document.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    origin = Origin(origin.source, origin.document, kind, name if isinstance(name, str) else None)
    group = api_version.split("/", 1)[0]
    if group != GROUP:
        inputs.notes.append(f"{origin}: ignored: {api_version} {kind} is not an Airlock resource")
        return
    # A misspelt Airlock kind or version would otherwise pass the check by being ignored.
    if api_version != API_VERSION:
        raise InputError([f"{origin}: apiVersion {api_version} is not served; use {API_VERSION}"])
    if kind not in SPECS:
        raise InputError([f"{origin}: unknown kind {kind}; expected one of {', '.join(SPECS)}"])

    problems = [f"{origin}: {key}: unknown field" for key in document if key not in TOP_LEVEL_FIELDS]
    if not isinstance(metadata, dict):
        problems.append(f"{origin}: metadata: required field is missing")
    elif not isinstance(name, str) or not name:
        problems.append(f"{origin}: metadata.name: required field is missing")
    namespace = metadata.get("namespace", DEFAULT_NAMESPACE) if isinstance(metadata, dict) else None
    if kind != POLICY_KIND and not isinstance(namespace, str):
        problems.append(f"{origin}: metadata.namespace: must be a string")
    if kind == POLICY_KIND and isinstance(name, str) and name != DEFAULT_POLICY_NAME:
        problems.append(
            f"{origin}: metadata.name: Airlock reads only the ReadinessPolicy named "
            f"'{DEFAULT_POLICY_NAME}'; rename this one"
        )
    spec: BaseModel | None = None
    if "spec" not in document and kind != POLICY_KIND:
        problems.append(f"{origin}: spec: required field is missing")
    else:
        try:
            spec = SPECS[kind].model_validate(document.get("spec", {}))
        except ValidationError as err:
            problems.extend(
                f"{origin}: {line}" for line in describe_validation_error(SPECS[kind], err, "spec")
            )
    if problems or spec is None:
        raise InputError(problems)

    assert isinstance(name, str)
    scope = "" if kind == POLICY_KIND else str(namespace)
    key = (kind, scope, name)
    if seen is not None:
        if key in seen:
            raise InputError([f"{origin}: defined twice; the first is {seen[key]}"])
        seen[key] = origin
    if isinstance(spec, AIServiceSpec):
        inputs.services.append(Parsed(origin, scope, name, spec))
    elif isinstance(spec, ReadinessPacketSpec):
        inputs.packets.append(Parsed(origin, scope, name, spec))
    elif isinstance(spec, ReadinessPolicySpec):
        inputs.policies.append(Parsed(origin, scope, name, spec))


def _type_name(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    return f"a {type(value).__name__}"


# --- schema errors, in wire names ---------------------------------------------------------------------


def describe_validation_error(model: type[BaseModel], err: ValidationError, root: str) -> list[str]:
    """Each pydantic error as "field.path: message", the path in the camelCase names users type."""
    lines = []
    for item in err.errors(include_url=False):
        path, parent = _wire_path(model, item["loc"], root)
        lines.append(f"{path}: {_error_message(item, parent)}")
    return lines


def _wire_path(
    model: type[BaseModel], loc: Sequence[int | str], root: str
) -> tuple[str, type[BaseModel] | None]:
    """The dotted wire path of a pydantic location, and the model that holds its last field."""
    path = root
    current: type[BaseModel] | None = model
    parent: type[BaseModel] | None = model
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
            continue
        parent = current
        found = _find_field(current, part) if current is not None else None
        if found is None:
            path += f".{part}"
            current = None
        else:
            wire, annotation = found
            path += f".{wire}"
            current = _model_in(annotation)
    return path, parent


def _find_field(model: type[BaseModel], key: str) -> tuple[str, Any] | None:
    for name, info in model.model_fields.items():
        wire = info.alias or name
        if key in (wire, name):
            return wire, info.annotation
    return None


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The model inside an annotation such as `list[Tool] | None`, if there is one."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (list, typing.Union, types.UnionType, typing.Annotated):
        for arg in typing.get_args(annotation):
            found = _model_in(arg)
            if found is not None:
                return found
    return None


def _error_message(item: Any, parent: type[BaseModel] | None) -> str:
    kind, message = item["type"], str(item["msg"])
    if kind == "extra_forbidden":
        typed = str(item["loc"][-1]) if item["loc"] else ""
        known = [info.alias or name for name, info in parent.model_fields.items()] if parent else []
        close = difflib.get_close_matches(typed, known, n=1)
        hint = (
            f"; did you mean {close[0]}?" if close else f"; known fields: {', '.join(known)}" if known else ""
        )
        return f"unknown field{hint}"
    if kind == "missing":
        return "required field is missing"
    message = message.removeprefix("Value error, ")
    value = item.get("input")
    if isinstance(value, str | int | float | bool) and not kind.startswith("value_error"):
        message += f" (got {value!r})"
    return message


# --- evaluation ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StageReach:
    """The stage a service's gates reach offline: the highest whose gates pass. Soaks are left out: they
    run in the cluster."""

    stages: tuple[stages_.ResolvedStage, ...]
    satisfied: int
    passing: frozenset[GateName]

    @property
    def stage(self) -> stages_.ResolvedStage:
        return self.stages[self.satisfied]

    @property
    def next(self) -> stages_.ResolvedStage | None:
        return self.stages[self.satisfied + 1] if self.satisfied + 1 < len(self.stages) else None

    def needs(self, stage: stages_.ResolvedStage) -> list[GateName]:
        """The gates `stage` needs that fail."""
        return [g for g in stage.gates if g not in self.passing]

    @property
    def soaks(self) -> bool:
        """Whether any stage up to the one reached waits on a soak in the cluster."""
        return any(s.soak for s in self.stages[1 : self.satisfied + 1])


@dataclass(frozen=True)
class Evaluation:
    """One evaluated subject: an AIService with its chosen packet, or a packet on its own."""

    kind: str
    namespace: str
    name: str
    packet: str | None
    packet_message: str | None
    report: GateReport
    # Only for an AIService whose policy or spec declares stages.
    reach: StageReach | None = None


def stage_reach(
    spec: AIServiceSpec, policy: ReadinessPolicySpec, report: GateReport
) -> tuple[GateReport, StageReach | None]:
    """The report with every gate any stage needs required (as the operator reports it), and the stage
    the passing gates reach when stages are declared (None when not)."""
    pilot, ceiling = caps.effective_bounds(
        pilot_replicas=spec.pilot_replicas, max_replicas=spec.max_replicas, limits=policy.limits
    )
    stages = stages_.resolve_stages(
        policy.stages, spec.stages, pilot=pilot, ceiling=ceiling, required=report.required
    )
    report = dataclasses.replace(report, required=stages[-1].gates)
    if not stages_.declares_stages(policy.stages, spec.stages):
        return report, None
    passing = frozenset(r.name for r in report.results if r.passed)
    return report, StageReach(stages, stages_.satisfied_stage(stages, passing), passing)


def evaluate_inputs(inputs: Inputs, now: datetime) -> tuple[list[Evaluation], list[str]]:
    """Evaluates every AIService with the packet it would use in the cluster, and every packet whose
    service was not given on its own; returns the evaluations and notes about packets left out."""
    policy = effective_policy(inputs.policies[0].spec if inputs.policies else None)
    evaluations: list[Evaluation] = []
    notes: list[str] = []
    used: set[tuple[str, str]] = set()
    services = {(s.namespace, s.name): s for s in inputs.services}
    for service in sorted(inputs.services, key=lambda s: (s.namespace, s.name)):
        in_namespace = [(p.name, p.spec) for p in inputs.packets if p.namespace == service.namespace]
        choice = select_packet(service.name, service.spec, in_namespace)
        chosen = next((spec for name, spec in in_namespace if name == choice.name), None)
        if choice.name is not None:
            used.add((service.namespace, choice.name))
        report, reach = stage_reach(service.spec, policy, evaluate_gates(service.spec, chosen, policy, now))
        evaluations.append(
            Evaluation(
                SERVICE_KIND, service.namespace, service.name, choice.name, choice.message, report, reach
            )
        )
    for packet in sorted(inputs.packets, key=lambda p: (p.namespace, p.name)):
        if (packet.namespace, packet.name) in used:
            continue
        if (packet.namespace, packet.spec.service) in services:
            notes.append(
                f"{packet.origin}: not evaluated: AIService {packet.namespace}/{packet.spec.service} "
                "does not use it (see its packet message)"
            )
            continue
        report = evaluate_gates(None, packet.spec, policy, now)
        evaluations.append(
            Evaluation(
                PACKET_KIND, packet.namespace, packet.name, packet.name, None, _offline(report, packet)
            )
        )
    return evaluations, notes


def _offline(report: GateReport, packet: Parsed[ReadinessPacketSpec]) -> GateReport:
    """The report of a packet given without its AIService: the versions message says what to pass."""
    message = (
        f"No AIService {packet.namespace}/{packet.spec.service} was given, so the versions cannot be "
        "compared; pass the file that defines it too."
    )
    results = tuple(
        GateResult(name=r.name, passed=False, reason=Reason.SERVICE_NOT_FOUND, message=message)
        if r.name is GateName.VERSIONS and r.reason == Reason.SERVICE_NOT_FOUND
        else r
        for r in report.results
    )
    return GateReport(
        results=results, required=report.required, expires_at=report.expires_at, digest=report.digest
    )


# --- output ---------------------------------------------------------------------------------------


def _subject(evaluation: Evaluation) -> str:
    where = f"{evaluation.namespace}/{evaluation.name}"
    if evaluation.kind == SERVICE_KIND:
        packet = f"ReadinessPacket {evaluation.packet}" if evaluation.packet else "no ReadinessPacket"
        return f"AIService {where} with {packet}"
    return f"ReadinessPacket {where} (its AIService was not given)"


def render_table(evaluations: Sequence[Evaluation]) -> str:
    """A plain table per evaluated subject: GATE, REQUIRED, RESULT, REASON, MESSAGE."""
    blocks = []
    for ev in evaluations:
        report = ev.report
        blocked = "" if report.passed else f"; blocked by {report.blocking_summary()}"
        lines = [f"{_subject(ev)}: {report.summary} required gates pass{blocked}"]
        if ev.packet_message:
            lines.append(ev.packet_message)
        if ev.reach is not None:
            lines.append(stage_line(ev.reach))
        rows = [("GATE", "REQUIRED", "RESULT", "REASON", "MESSAGE")]
        rows += [
            (
                str(r.name),
                "yes" if r.name in report.required else "no",
                "PASS" if r.passed else "FAIL",
                r.reason,
                r.message,
            )
            for r in report.results
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        for row in rows:
            cells = [cell.ljust(width) for cell, width in zip(row[:4], widths, strict=True)]
            lines.append("  ".join([*cells, row[4]]).rstrip())
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def _replicas(cap: int) -> str:
    if cap == NO_CAP:
        return "no cap"
    return "up to 1 replica" if cap == 1 else f"up to {cap} replicas"


def stage_line(reach: StageReach) -> str:
    """The stage the gates reach, what the next one needs, and that soaks are the cluster's to time."""
    stage, count = reach.stage, len(reach.stages)
    where = f"{stage.name} ({reach.satisfied + 1} of {count})"
    if reach.satisfied == 0:
        text = f"Stage: {where}, where every service starts: {_replicas(stage.cap)}"
    else:
        text = f"Stage: the gates of {where} pass: {_replicas(stage.cap)}"
    if stage.note:
        text += f" ({stage.note})"
    following = reach.next
    if following is not None:
        text += f"; {following.name} needs: {', '.join(reach.needs(following))}"
    text += "."
    if reach.soaks:
        text += " Soak times apply in the cluster."
    return text


def _stages_json(reach: StageReach) -> dict[str, Any]:
    """The stage fields of a JSON result, named as in the AIService status."""
    following = reach.next
    return {
        "stage": reach.stage.name,
        "nextStage": following.name if following is not None else None,
        "blocking": [str(g) for g in reach.needs(following)] if following is not None else [],
        "stages": [s.to_api() for s in stages_.stage_statuses(reach.stages, reach.passing)],
    }


def render_json(evaluations: Sequence[Evaluation], policy: str, now: datetime, notes: Sequence[str]) -> str:
    """The evaluations as JSON for machines; wire names as in the AIService status."""
    subjects = []
    for ev in evaluations:
        report = ev.report
        subjects.append(
            {
                "kind": ev.kind,
                "namespace": ev.namespace,
                "name": ev.name,
                "packet": ev.packet,
                "packetMessage": ev.packet_message,
                "digest": report.digest,
                "passed": report.passed,
                "gatesPassed": report.summary,
                "blockingGates": [str(g) for g in report.blocking],
                "expiresAt": format_time(report.expires_at) if report.expires_at else None,
                "gates": [{**r.to_api(), "required": r.name in report.required} for r in report.results],
                **(_stages_json(ev.reach) if ev.reach is not None else {}),
            }
        )
    document = {
        "passed": all(ev.report.passed for ev in evaluations),
        "now": format_time(now),
        "policy": policy,
        "results": subjects,
        "notes": list(notes),
    }
    return json.dumps(document, indent=2) + "\n"


# --- commands -------------------------------------------------------------------------------------


def parse_now(text: str | None) -> datetime:
    """`--now` as an aware datetime; the current time when not given. Raises ValueError when invalid."""
    if text is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise ValueError(
            f"--now: {text!r} is not an RFC 3339 timestamp with a time zone, for example 2026-11-20T00:00:00Z"
        )
    return moment


def validate_main(
    args: argparse.Namespace, stdout: IO[str] | None = None, stderr: IO[str] | None = None
) -> int:
    """`airlock validate FILE...`: evaluates the gates offline.

    Returns 0 when every required gate passes, 1 when one fails, 2 when the input is bad.
    """
    out, err = stdout or sys.stdout, stderr or sys.stderr
    try:
        now = parse_now(args.now)
    except ValueError as exc:
        print(f"airlock validate: {exc}", file=err)
        return EXIT_INPUT_ERROR
    inputs = _read_or_report(args.files, err, "validate")
    if inputs is None:
        return EXIT_INPUT_ERROR
    for note in inputs.notes:
        print(note, file=err)
    if not inputs.services and not inputs.packets:
        print("airlock validate: no AIService or ReadinessPacket found in the files given", file=err)
        return EXIT_INPUT_ERROR
    evaluations, skipped = evaluate_inputs(inputs, now)
    policy = f"{POLICY_KIND}/{DEFAULT_POLICY_NAME}" if inputs.policies else "built-in"
    for note in skipped:
        print(note, file=err)
    notes = [*inputs.notes, *skipped]
    if args.output == "json":
        out.write(render_json(evaluations, policy, now, notes))
    else:
        out.write(render_table(evaluations))
        blocked = [ev for ev in evaluations if not ev.report.passed]
        verdict = (
            "every required gate passes"
            if not blocked
            else f"{len(blocked)} of {len(evaluations)} evaluated objects have failing required gates"
        )
        out.write(f"\nPolicy: {policy}; evaluated as of {format_time(now)}; {verdict}.\n")
    return EXIT_PASSED if all(ev.report.passed for ev in evaluations) else EXIT_BLOCKED


def digest_main(
    args: argparse.Namespace, stdout: IO[str] | None = None, stderr: IO[str] | None = None
) -> int:
    """`airlock digest FILE...`: prints `<digest>  <namespace>/<name>` for each ReadinessPacket."""
    out, err = stdout or sys.stdout, stderr or sys.stderr
    inputs = _read_or_report(args.files, err, "digest")
    if inputs is None:
        return EXIT_INPUT_ERROR
    if not inputs.packets:
        print("airlock digest: no ReadinessPacket found in the files given", file=err)
        return EXIT_INPUT_ERROR
    for packet in inputs.packets:
        out.write(f"{packet_digest(packet.spec)}  {packet.namespace}/{packet.name}\n")
    return EXIT_PASSED


def _read_or_report(files: Sequence[str], err: IO[str], command: str) -> Inputs | None:
    try:
        # One packet per file is how `airlock digest` is used on variants of the same packet.
        return read_inputs(files, unique=command == "validate")
    except InputError as exc:
        for line in exc.messages:
            print(truncate(line, 2048), file=err)
        pronoun = "it" if len(exc.messages) == 1 else "them"
        print(
            f"airlock {command}: {_count(len(exc.messages))} in the input; fix {pronoun} and run again",
            file=err,
        )
        return None


def _count(errors: int) -> str:
    return "1 error" if errors == 1 else f"{errors} errors"
