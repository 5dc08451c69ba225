"""The readiness record of one AI service, as an auditor reads it: Markdown, or one self-contained HTML page.

Pure: the AIService, its packet and the Events the operator recorded go in, text comes out. The record
says which gates pass with what evidence and until when, who approved which digest and when, the kill
switch's state, drill and history, and every stage and cap transition.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from airlock.logic.gates import acting_tools
from airlock.models.packet import AgenticRisks, EvalResult, ReadinessPacketSpec, Risks
from airlock.models.policy import ReadinessPolicySpec
from airlock.models.service import KILL_SWITCH_BY_ANNOTATION, NO_CAP

# Events about the service's size and stage, as opposed to the gates and approvals behind them.
TRANSITIONS = (
    "Promoted",
    "ReturnedToPilot",
    "SteppedDown",
    "GatesRegressed",
    "CapChanged",
    "ScaledToCap",
    "Stage",
)


@dataclass(frozen=True)
class Row:
    cells: tuple[str, ...]
    ok: bool | None = None


@dataclass(frozen=True)
class Section:
    title: str
    headers: tuple[str, ...] = ()
    rows: tuple[Row, ...] = ()
    facts: tuple[tuple[str, str], ...] = ()
    empty: str = "None recorded."


@dataclass(frozen=True)
class Report:
    title: str
    summary: str
    ready: bool
    sections: tuple[Section, ...] = field(default_factory=tuple)
    generated: str = ""


def _get(obj: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


def _s(value: Any) -> str:
    return "" if value is None else str(value)


def _event_time(event: Mapping[str, Any]) -> str:
    return _s(event.get("lastTimestamp") or event.get("eventTime") or event.get("firstTimestamp"))


def _day(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _evidence(name: str, spec: ReadinessPacketSpec | None, policy: ReadinessPolicySpec) -> tuple[str, str]:
    """The evidence a gate rests on, and when it lapses (for time-bound evidence)."""
    if spec is None:
        return "", ""
    ages = policy.max_age_days
    if name == "evals" and spec.evals is not None:
        ev = spec.evals
        passed = sum(1 for c in ev.cases if c.result is EvalResult.PASS)
        text = f"{passed}/{len(ev.cases)} cases passed"
        if ev.source is not None:
            text += f"; from {ev.source.tool} {_s(ev.source.tool_version)} run {_s(ev.source.run)}".rstrip()
            text += f", file {_s(ev.source.file)} sha256 {ev.source.sha256}"
        lapse = _day(ev.evaluated_at + timedelta(days=ages.evals)) if ev.evaluated_at else ""
        return text, lapse
    if name == "securityReview" and spec.security_review is not None:
        review = spec.security_review
        text = f"reviewed by {_s(review.reviewer) or '?'}"
        lapse = _day(review.reviewed_at + timedelta(days=ages.security_review)) if review.reviewed_at else ""
        return text, lapse
    if name == "rollout" and spec.rollout is not None:
        drill = spec.rollout.kill_switch_drill_at
        text = f"kill-switch drill {_day(drill)}" if drill else "no kill-switch drill recorded"
        return text, _day(drill + timedelta(days=ages.kill_switch_drill)) if drill else ""
    if name == "ownership" and spec.ownership is not None:
        return f"owner {_s(spec.ownership.owner)}, support {_s(spec.ownership.support_path)}", ""
    if name == "cost" and spec.cost is not None:
        c = spec.cost
        return f"{_s(c.cost_per_day)} of {_s(c.budget_per_day)} {_s(c.currency)} a day", ""
    if name == "toolPermissions" and spec.tools is not None:
        text = f"{len(spec.tools)} tools reviewed"
        acting = acting_tools(spec)
        if not acting:
            return text + "; none acts", ""
        text += f"; {len(acting)} act ({', '.join(t.name for t in acting)})"
        agentic = spec.agentic_review
        if agentic is None:
            return text + "; no agentic review", ""
        text += f"; agentic review by {_s(agentic.reviewer) or '?'}"
        when = agentic.reviewed_at
        return text, _day(when + timedelta(days=ages.security_review)) if when else ""
    return "", ""


def _risk_rows(spec: ReadinessPacketSpec | None) -> tuple[Row, ...]:
    """Each risk of the OWASP LLM Top 10 review and, when a tool acts or one was made, of the agentic
    review: its status and the evidence given, or that it is not assessed."""
    if spec is None:
        return ()
    reviews: list[tuple[str, type[Risks] | type[AgenticRisks], Risks | AgenticRisks | None]] = []
    if spec.security_review is not None:
        reviews.append(("OWASP LLM Top 10 (2025)", Risks, spec.security_review.risks))
    if spec.agentic_review is not None or acting_tools(spec):
        risks = spec.agentic_review.risks if spec.agentic_review is not None else None
        reviews.append(("OWASP Agentic Top 10 (2026)", AgenticRisks, risks))
    rows = []
    for title, model, assessed in reviews:
        for key, info in model.model_fields.items():
            risk = getattr(assessed, key) if assessed is not None else None
            name = _s(info.description).rstrip(".")
            if risk is None:
                rows.append(Row((title, key, name, "not assessed", ""), ok=False))
            else:
                rows.append(Row((title, key, name, str(risk.status), _s(risk.evidence)), ok=True))
    return tuple(rows)


def _stage_facts(status: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """Where the service stands among its stages, for an operator that writes status.stages."""
    if not status.get("stages"):
        return ()
    weight = status.get("trafficWeight")
    return (
        ("Stage since", _s(status.get("stageSince"))),
        ("Next stage", _s(status.get("nextStage")) or "none: this is the last"),
        ("Next stage needs", _s(status.get("blocking")) or "nothing"),
        ("Traffic weight", "not stated" if weight is None else f"{weight}%"),
    )


def _stages_section(status: Mapping[str, Any]) -> tuple[Section, ...]:
    """Every stage with its cap, soak, traffic weight and what it still needs; none for an older status."""
    stages = [s for s in status.get("stages") or [] if isinstance(s, Mapping)]
    if not stages:
        return ()
    current = _s(status.get("reachedStage") or status.get("stage"))
    rows = tuple(
        Row(
            (
                _s(s.get("name")),
                "yes" if _s(s.get("name")) == current else "",
                "no cap" if s.get("allowedReplicas") == NO_CAP else _s(s.get("allowedReplicas")),
                _s(s.get("minSoak")) or "none",
                "" if s.get("trafficWeight") is None else f"{s.get('trafficWeight')}%",
                "pass" if s.get("gatesPass") else "blocked",
                ", ".join(_s(g) for g in s.get("blockingGates") or []),
            ),
            ok=bool(s.get("gatesPass")),
        )
        for s in stages
    )
    headers = ("stage", "current", "allowed replicas", "min soak", "traffic weight", "gates", "blocking")
    return (Section("Stages", headers, rows),)


def load_crosswalk() -> dict[str, Any]:
    """The crosswalk shipped with Airlock (airlock/data/crosswalk.yaml): gates to framework references."""
    from importlib.resources import files

    import yaml

    loaded: dict[str, Any] = yaml.safe_load((files("airlock") / "data" / "crosswalk.yaml").read_text())
    return loaded


def _frameworks(crosswalk: Mapping[str, Any]) -> Section:
    sources = crosswalk.get("sources") or {}
    rows = tuple(
        Row(
            (
                subject,
                _s(_get(sources, _s(ref.get("source")), "title")) or _s(ref.get("source")),
                _s(ref.get("id")),
                _s(ref.get("about")),
            )
        )
        for subject, refs in (crosswalk.get("crosswalk") or {}).items()
        for ref in refs or []
        if isinstance(ref, Mapping)
    )
    return Section(
        "Frameworks this evidence speaks to",
        ("gate or section", "framework", "reference", "about"),
        rows,
        empty="No crosswalk given.",
    )


def build_report(
    service: Mapping[str, Any],
    packet: Mapping[str, Any] | None,
    events: Sequence[Mapping[str, Any]],
    policy: ReadinessPolicySpec,
    now: datetime,
    crosswalk: Mapping[str, Any] | None = None,
) -> Report:
    """The record of `service`, with its packet (None when it has none) and Events, as of `now`; with a
    crosswalk, the framework references of each gate and section too."""
    meta, spec, status = service.get("metadata") or {}, service.get("spec") or {}, service.get("status") or {}
    name, namespace = _s(meta.get("name")), _s(meta.get("namespace"))
    packet_spec = ReadinessPacketSpec.model_validate(packet["spec"]) if packet else None
    packet_status = (packet or {}).get("status") or {}
    ready: Mapping[str, Any] = next((c for c in status.get("conditions", []) if c.get("type") == "Ready"), {})
    versions = spec.get("versions") or {}
    cap = status.get("allowedReplicas")
    facts = (
        ("Stage", _s(status.get("stage")) or "not yet evaluated"),
        (
            "Ready",
            f"{_s(ready.get('status')) or '?'} ({_s(ready.get('reason'))}): {_s(ready.get('message'))}",
        ),
        *_stage_facts(status),
        ("Allowed replicas", "no cap" if cap == NO_CAP else _s(cap)),
        ("Gates passed", _s(status.get("gatesPassed"))),
        ("Owner", _s(spec.get("owner"))),
        ("Workload", _s(_get(spec, "workload", "name"))),
        ("Versions", ", ".join(f"{k} {v}" for k, v in versions.items())),
        ("Packet", _s(status.get("packet")) or "none"),
        ("Packet digest", _s(packet_status.get("digest"))),
        (
            "Evidence expires",
            _s(packet_status.get("expiresAt") or status.get("expiresAt")) or "no dated evidence",
        ),
    )
    required = set(spec.get("requiredGates") or []) or None
    gate_rows = []
    for gate in status.get("gates", []):
        evidence, lapse = _evidence(gate.get("name", ""), packet_spec, policy)
        needed = "yes" if required is None or gate.get("name") in required else "no"
        gate_rows.append(
            Row(
                (
                    _s(gate.get("name")),
                    needed,
                    "pass" if gate.get("passed") else "FAIL",
                    _s(gate.get("reason")),
                    _s(gate.get("message")),
                    evidence,
                    lapse,
                ),
                ok=bool(gate.get("passed")),
            )
        )
    digest = _s(packet_status.get("digest"))
    approvals = tuple(
        Row(
            (
                a.role,
                a.by,
                _day(a.at) if a.at else "",
                a.digest,
                "current" if a.digest == digest else "stale",
            ),
            ok=a.digest == digest,
        )
        for a in (packet_spec.approvals if packet_spec else [])
    )
    kill = status.get("killSwitch") or {}
    annotations = meta.get("annotations") or {}
    drill = packet_spec.rollout.kill_switch_drill_at if packet_spec and packet_spec.rollout else None
    kill_facts = (
        ("Engaged", "yes" if kill.get("engaged") else "no"),
        ("Reason", _s(kill.get("reason"))),
        ("Since", _s(kill.get("since"))),
        ("Engaged by", _s(annotations.get(KILL_SWITCH_BY_ANNOTATION))),
        ("Replicas before", _s(kill.get("replicasBefore"))),
        ("Last drill", _day(drill) if drill else "none recorded"),
    )
    ordered = sorted(events, key=_event_time)

    def rows(chosen: list[Mapping[str, Any]]) -> tuple[Row, ...]:
        return tuple(
            Row(
                (
                    _event_time(e),
                    f"{_s(_get(e, 'involvedObject', 'kind'))}/{_s(_get(e, 'involvedObject', 'name'))}",
                    _s(e.get("reason")),
                    _s(e.get("message")),
                ),
                ok=e.get("type") != "Warning",
            )
            for e in chosen
        )

    kill_events = [e for e in ordered if "kill" in _s(e.get("reason")).lower()]
    transitions = [e for e in ordered if _s(e.get("reason")).startswith(TRANSITIONS)]
    others = [e for e in ordered if e not in kill_events and e not in transitions]
    event_headers = ("time", "object", "reason", "message")
    sections = (
        Section("Service", facts=facts),
        *_stages_section(status),
        Section(
            "Gates",
            ("gate", "required", "result", "reason", "message", "evidence", "evidence lapses"),
            tuple(gate_rows),
            empty="The operator has not evaluated the gates yet.",
        ),
        Section(
            "Risk reviews",
            ("review", "risk", "name", "status", "evidence"),
            _risk_rows(packet_spec),
            empty="No risk review recorded.",
        ),
        Section("Approvals", ("role", "by", "at", "digest", "for the current content"), approvals),
        Section("Kill switch", facts=kill_facts),
        Section("Kill-switch history", event_headers, rows(kill_events)),
        Section("Stage and cap transitions", event_headers, rows(transitions)),
        Section("Gate, packet and approval events", event_headers, rows(others)),
        *((_frameworks(crosswalk),) if crosswalk is not None else ()),
    )
    passed = ready.get("status") == "True"
    summary = (
        f"AIService {namespace}/{name} is {_s(status.get('stage')) or 'not yet evaluated'}: "
        f"{_s(status.get('gatesPassed')) or '?'} gates pass"
        + (
            f"; blocking: {', '.join(status.get('blockingGates') or [])}"
            if status.get("blockingGates")
            else ""
        )
        + "."
    )
    return Report(f"Readiness record: {namespace}/{name}", summary, passed, sections, _day(now))


def _md(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def render_markdown(report: Report) -> str:
    """The record as Markdown."""
    out = [
        f"# {report.title}",
        "",
        report.summary,
        "",
        f"Generated {report.generated} by `airlock report`.",
        "",
    ]
    for section in report.sections:
        out += [f"## {section.title}", ""]
        if section.facts:
            out += ["| | |", "|---|---|"]
            out += [f"| {_md(k)} | {_md(v)} |" for k, v in section.facts]
        elif section.rows:
            out += ["| " + " | ".join(section.headers) + " |", "|" + "---|" * len(section.headers)]
            out += ["| " + " | ".join(_md(c) for c in row.cells) + " |" for row in section.rows]
        else:
            out.append(section.empty)
        out.append("")
    return "\n".join(out)


STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:80rem;color:#1b1f24;
background:#fff;padding:0 1rem}
h1{font-size:1.6rem;border-bottom:3px solid #1b1f24;padding-bottom:.4rem}
h2{font-size:1.2rem;margin-top:2rem}
.summary{font-size:1.1rem;padding:.8rem 1rem;border-radius:6px}
.ready{background:#dff5e1;border-left:6px solid #1a7f37}
.blocked{background:#fde2e1;border-left:6px solid #cf222e}
table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{border:1px solid #d0d7de;padding:.35rem .5rem;text-align:left;vertical-align:top;overflow-wrap:anywhere}
th{background:#f3f4f6}
tr.ok td:first-child{border-left:5px solid #1a7f37}tr.bad td:first-child{border-left:5px solid #cf222e}
td.fact{font-weight:600;width:12rem;background:#f6f8fa}
code,.digest{font-family:ui-monospace,monospace;font-size:.8rem;word-break:break-all}
footer{margin-top:2rem;color:#57606a;font-size:.8rem}
"""


def render_html(report: Report) -> str:
    """The record as one HTML page: inline style, no scripts, no external assets."""
    e = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{e(report.title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{e(report.title)}</h1>",
        f'<p class="summary {"ready" if report.ready else "blocked"}">{e(report.summary)}</p>',
    ]
    for section in report.sections:
        parts.append(f"<section><h2>{e(section.title)}</h2>")
        if section.facts:
            parts.append("<table>")
            parts += [f'<tr><td class="fact">{e(k)}</td><td>{e(v)}</td></tr>' for k, v in section.facts]
            parts.append("</table>")
        elif section.rows:
            parts.append("<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in section.headers) + "</tr>")
            for row in section.rows:
                css = "" if row.ok is None else (' class="ok"' if row.ok else ' class="bad"')
                parts.append(f"<tr{css}>" + "".join(f"<td>{e(c)}</td>" for c in row.cells) + "</tr>")
            parts.append("</table>")
        else:
            parts.append(f"<p>{e(section.empty)}</p>")
        parts.append("</section>")
    parts.append(f"<footer>Generated {e(report.generated)} by airlock report.</footer></body></html>")
    return "\n".join(parts) + "\n"
