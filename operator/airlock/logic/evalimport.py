"""Eval tools' results files turned into a packet's `evals` section.

Pure: bytes and a category map in, an `Evals` out. The same file gives the same section, so the same
packet digest: cases keep the tool's order, times are UTC to the second, and the section records the
file's SHA-256, the tool and its version, and the tool's run id, so a reviewer can find the run.

Supported: Inspect AI eval logs written with `--log-format json`, and promptfoo's JSON output
(`promptfoo eval -o out.json`).
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from airlock.models.evalmap import EvalCategoryMap
from airlock.models.packet import (
    MAX_CASE_NAME,
    MAX_CASE_TEXT,
    MAX_EVAL_CASES,
    EvalCase,
    EvalCategory,
    EvalResult,
    Evals,
    EvalSource,
)

INSPECT_AI = "inspect-ai"
PROMPTFOO = "promptfoo"
TOOLS = (INSPECT_AI, PROMPTFOO)

MAX_NAME = MAX_CASE_NAME
MAX_TEXT = MAX_CASE_TEXT
_SUPPORTED = "an Inspect AI eval log written with --log-format json, or promptfoo's JSON output (-o out.json)"


class EvalImportError(Exception):
    """Input that cannot be imported; each message names the file, what is wrong and what to do."""

    def __init__(self, messages: Sequence[str]) -> None:
        super().__init__("; ".join(messages))
        self.messages = list(messages)


@dataclass(frozen=True)
class ToolCase:
    """One case as the tool reported it, before it has an Airlock category."""

    name: str
    tags: tuple[str, ...]
    passed: bool
    expected: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class ToolRun:
    """A results file, read: which tool wrote it, when the run finished, and its cases in order."""

    tool: str
    tool_version: str | None
    run: str | None
    evaluated_at: datetime
    cases: tuple[ToolCase, ...]


def import_evals(
    data: bytes,
    file_name: str,
    category_map: EvalCategoryMap,
    *,
    map_name: str = "the category map",
    min_pass_rate: float | None = None,
) -> Evals:
    """The `evals` section for a results file; raises EvalImportError naming `file_name` when it cannot."""
    run = read_results(data, file_name)
    cases = categorize(run.cases, category_map, file_name, map_name)
    if len(cases) > MAX_EVAL_CASES:
        raise EvalImportError(
            [
                f"{file_name}: {len(cases)} cases; a packet holds at most {MAX_EVAL_CASES}. Import a "
                "smaller selection of the suite (for example one task or a tag filter)."
            ]
        )
    source = EvalSource(
        tool=run.tool,
        tool_version=run.tool_version,
        file=_clip(file_name.replace("\\", "/").rsplit("/", 1)[-1], 256),
        sha256=hashlib.sha256(data).hexdigest(),
        run=run.run,
    )
    return Evals(min_pass_rate=min_pass_rate, evaluated_at=run.evaluated_at, cases=cases, source=source)


def read_results(data: bytes, file_name: str) -> ToolRun:
    """Reads a results file of any supported tool, recognized by its content."""
    if data.startswith(b"PK\x03\x04"):
        raise EvalImportError(
            [
                f"{file_name}: this is a zip archive, such as an Inspect AI .eval log; Airlock reads the "
                "JSON form: re-run with `inspect eval ... --log-format json`, or convert it with "
                "`inspect log convert FILE --to json --output-dir DIR` and import the .json file"
            ]
        )
    try:
        document = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise EvalImportError(
            [f"{file_name}: not UTF-8 text, so not {_SUPPORTED}; pass the results file the tool wrote"]
        ) from None
    except json.JSONDecodeError as err:
        text = data.strip()
        if not text.startswith((b"{", b"[")):
            raise EvalImportError(
                [f"{file_name}: not JSON, so not {_SUPPORTED}; pass the results file the tool wrote"]
            ) from None
        cut = "" if text.endswith((b"}", b"]")) else "; it ends mid-document, so it looks truncated"
        raise EvalImportError(
            [
                f"{file_name}: not valid JSON ({err.msg} at line {err.lineno} column {err.colno}){cut}; "
                "pass the complete results file the eval tool wrote, or re-run the eval"
            ]
        ) from None
    if isinstance(document, dict) and isinstance(document.get("eval"), dict) and "samples" in document:
        return parse_inspect_log(document, file_name)
    if isinstance(document, dict) and isinstance(document.get("results"), dict) and "evalId" in document:
        return parse_promptfoo_output(document, file_name)
    raise EvalImportError(
        [f"{file_name}: not a results file Airlock knows; it reads {_SUPPORTED}. {_describe(document)}"]
    )


def _describe(document: Any) -> str:
    if isinstance(document, dict):
        keys = ", ".join(sorted(str(k) for k in document)[:8])
        return f"This file is a JSON object with keys {keys}." if keys else "This file is an empty object."
    return f"This file holds a JSON {type(document).__name__}, not an object."


# --- Inspect AI -----------------------------------------------------------------------------------------

# Inspect AI's letter scores: CORRECT, INCORRECT, PARTIAL, NOANSWER. Only CORRECT is a pass.
_INSPECT_LETTERS = {"C": True, "I": False, "P": False, "N": False}


def parse_inspect_log(doc: dict[str, Any], file_name: str) -> ToolRun:
    """An Inspect AI eval log (log format version 2, JSON)."""
    where = f"{file_name} (Inspect AI eval log)"
    spec: dict[str, Any] = doc["eval"]
    status = doc.get("status")
    if status != "success":
        raise EvalImportError(
            [
                f"{where}: the run's status is {status!r}, not 'success', so its results are not the "
                "whole suite; fix what stopped it (see `inspect view`) and re-run the eval"
            ]
        )
    samples = doc.get("samples")
    if not isinstance(samples, list) or not samples:
        raise EvalImportError(
            [
                f"{where}: the log has no samples; re-run without --no-log-samples so each case's result "
                "is in the log"
            ]
        )
    task = _text(spec.get("task")) or "task"
    run_tags = _strings(spec.get("tags"))
    epochs = {s.get("epoch") for s in samples if isinstance(s, dict)}
    cases = []
    problems = []
    for index, sample in enumerate(samples):
        if not isinstance(sample, dict):
            problems.append(
                f"{where}: samples[{index}] is not an object; the log is damaged; re-run the eval"
            )
            continue
        name = f"{task}/{sample.get('id', index + 1)}"
        if len(epochs) > 1:
            name += f" (epoch {sample.get('epoch')})"
        metadata = _object(sample.get("metadata"))
        tags = (*run_tags, *_strings(metadata.get("tags")), *_strings(metadata.get("category")))
        error = sample.get("error")
        if error:
            message = error.get("message") if isinstance(error, dict) else error
            cases.append(ToolCase(name, tags, False, _target(sample), _clip(f"error: {message}", MAX_TEXT)))
            continue
        case = _inspect_scored(where, name, tags, sample, problems)
        if case is not None:
            cases.append(case)
    if problems:
        raise EvalImportError(problems)
    packages = _object(spec.get("packages"))
    stats = _object(doc.get("stats"))
    finished = _time(stats.get("completed_at") or spec.get("created"), where, "stats.completed_at")
    return ToolRun(
        tool=INSPECT_AI,
        tool_version=_text(packages.get("inspect_ai")),
        run=_text(spec.get("eval_id")),
        evaluated_at=finished,
        cases=tuple(cases),
    )


def _inspect_scored(
    where: str, name: str, tags: tuple[str, ...], sample: dict[str, Any], problems: list[str]
) -> ToolCase | None:
    """The case of a sample that ran, passed when every scorer passed it; what cannot be read is added to
    `problems` (None when no scorer's verdict could be)."""
    scores = sample.get("scores")
    if not isinstance(scores, dict) or not scores:
        problems.append(f"{where}: sample {name} has no score; give the task a scorer and re-run the eval")
        return None
    verdicts = []
    notes = []
    for scorer, score in sorted(scores.items()):
        value = score.get("value") if isinstance(score, dict) else None
        passed = _inspect_pass(value)
        if passed is None:
            problems.append(
                f"{where}: sample {name}: scorer {scorer} gave {value!r}, which is neither a letter "
                "score (C, I, P, N), a boolean nor a number; use a scorer with one of those"
            )
            continue
        verdicts.append(passed)
        if not passed:
            explanation = _text(score.get("explanation") or score.get("answer"))
            notes.append(f"{scorer}: {value}" + (f" ({explanation})" if explanation else ""))
    if not verdicts:
        return None
    note = _clip("; ".join(notes), MAX_TEXT) if notes else None
    return ToolCase(name, tags, all(verdicts), _target(sample), note)


def _inspect_pass(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return _INSPECT_LETTERS.get(value.upper())
    if isinstance(value, int | float) and math.isfinite(value):
        return value >= 1
    if isinstance(value, dict) and value:
        parts = [_inspect_pass(v) for v in value.values()]
        return None if None in parts else all(parts)
    return None


def _target(sample: dict[str, Any]) -> str | None:
    target = sample.get("target")
    if isinstance(target, list):
        target = " or ".join(str(t) for t in target)
    return _clip(str(target), MAX_TEXT) if target not in (None, "") else None


# --- promptfoo ------------------------------------------------------------------------------------------


def parse_promptfoo_output(doc: dict[str, Any], file_name: str) -> ToolRun:
    """promptfoo's JSON output (`promptfoo eval -o out.json`, results format version 3 and later)."""
    where = f"{file_name} (promptfoo output)"
    body: dict[str, Any] = doc["results"]
    rows = body.get("results")
    if not isinstance(rows, list) or not rows:
        raise EvalImportError(
            [f"{where}: results.results has no test results; check the config's tests and re-run the eval"]
        )
    prompts = {_promptfoo_label(r.get("prompt"), "prompt") for r in rows if isinstance(r, dict)}
    providers = {_promptfoo_label(r.get("provider"), "provider") for r in rows if isinstance(r, dict)}
    keyed = []
    problems = []
    for index, row in enumerate(rows):
        if not isinstance(row, dict) or not isinstance(row.get("testCase"), dict):
            problems.append(
                f"{where}: results.results[{index}] has no testCase; the file is damaged, re-run the eval"
            )
            continue
        test: dict[str, Any] = row["testCase"]
        name = _text(test.get("description")) or f"test {row.get('testIdx', index)}"
        # One test runs once per prompt and provider; the case names say which when there are several.
        suffix = [
            label
            for label, several in (
                (_promptfoo_label(row.get("prompt"), "prompt"), len(prompts) > 1),
                (_promptfoo_label(row.get("provider"), "provider"), len(providers) > 1),
            )
            if several
        ]
        if suffix:
            name += f" [{', '.join(suffix)}]"
        metadata = _object(test.get("metadata"))
        tags = (*_strings(metadata.get("tags")), *_strings(metadata.get("category")))
        passed = row.get("success")
        if not isinstance(passed, bool):
            problems.append(f"{where}: test {name} has no success flag; the file is damaged, re-run the eval")
            continue
        note = None
        if not passed:
            grading = _object(row.get("gradingResult"))
            note = _clip(_text(grading.get("reason")) or _text(row.get("error")) or "failed", MAX_TEXT)
        case = ToolCase(name, tags, passed, _promptfoo_expected(test), note)
        keyed.append(((_int(row.get("testIdx"), index), _int(row.get("promptIdx"), 0), index), case))
    if problems:
        raise EvalImportError(problems)
    metadata = _object(doc.get("metadata"))
    version = _text(metadata.get("promptfooVersion")) or _text(doc.get("version"))
    return ToolRun(
        tool=PROMPTFOO,
        tool_version=version,
        run=_text(doc.get("evalId")),
        evaluated_at=_time(body.get("timestamp"), where, "results.timestamp"),
        cases=tuple(case for _, case in sorted(keyed, key=lambda kc: kc[0])),
    )


def _promptfoo_label(value: Any, what: str) -> str:
    if isinstance(value, dict):
        return _text(value.get("label")) or _text(value.get("id")) or _text(value.get("raw")) or what
    return _text(value) or what


def _promptfoo_expected(test: dict[str, Any]) -> str | None:
    asserts = test.get("assert")
    if not isinstance(asserts, list):
        return None
    parts = []
    for item in asserts:
        if isinstance(item, dict) and item.get("type"):
            value = item.get("value")
            shown = "" if value is None else f" {json.dumps(value, ensure_ascii=False, sort_keys=True)}"
            parts.append(f"{item['type']}{shown}")
    return _clip("; ".join(parts), MAX_TEXT) if parts else None


# --- categories -----------------------------------------------------------------------------------------


def categorize(
    cases: Sequence[ToolCase], category_map: EvalCategoryMap, file_name: str, map_name: str
) -> list[EvalCase]:
    """Each case with its one category: the first name pattern that matches, else its tags' category,
    else the map's default. Every problem is reported at once, naming the case and what to add."""
    out = []
    problems = []
    for case in cases:
        found = _category(case, category_map, map_name)
        if not isinstance(found, EvalCategory):
            problems.append(f"{file_name}: case {case.name!r}: {found}")
            continue
        out.append(
            EvalCase(
                name=_clip(case.name, MAX_NAME),
                category=found,
                expected=case.expected,
                result=EvalResult.PASS if case.passed else EvalResult.FAIL,
                note=case.note,
            )
        )
    if problems:
        raise EvalImportError(problems)
    return out


def _category(case: ToolCase, category_map: EvalCategoryMap, map_name: str) -> EvalCategory | str:
    """The case's category, or a message saying why it has none."""
    unknown = sorted(
        {t for t in case.tags if t not in category_map.tags and t not in category_map.ignore_tags}
    )
    if unknown:
        return (
            f"tag{'s' if len(unknown) > 1 else ''} {', '.join(repr(t) for t in unknown)} not in {map_name}; "
            "add each under tags: with its category, or under ignoreTags: if it says nothing about the "
            f"failure mode (categories: {', '.join(c.value for c in EvalCategory)})"
        )
    for pattern, category in category_map.names.items():
        if fnmatch.fnmatchcase(case.name, pattern):
            return category
    from_tags = sorted({category_map.tags[t] for t in case.tags if t in category_map.tags})
    if len(from_tags) == 1:
        return from_tags[0]
    if len(from_tags) > 1:
        return (
            f"its tags give it {len(from_tags)} categories ({', '.join(from_tags)}); give it one with "
            f"a pattern under names: in {map_name}"
        )
    if category_map.default is not None:
        return category_map.default
    tags = f"its tags ({', '.join(case.tags)})" if case.tags else "it carries no tag, and"
    return (
        f"{tags} no pattern under names: in {map_name} places it; tag it in the eval, add a pattern, or "
        "set default: in the map"
    )


# --- small readers --------------------------------------------------------------------------------------


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    text = " ".join(str(value).split())
    return _clip(text, 256) if text else None


def _strings(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,) if value else ()
    if isinstance(value, list):
        return tuple(str(v) for v in value if isinstance(v, str | int) and str(v))
    return ()


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _int(value: Any, fallback: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else fallback


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _time(value: Any, where: str, field: str) -> datetime:
    moment = None
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            moment = None
    if moment is None or moment.tzinfo is None:
        raise EvalImportError(
            [
                f"{where}: {field} is {value!r}, not a time with a time zone, so the run's date is "
                "unknown; re-run the eval with a current version of the tool"
            ]
        )
    return moment.astimezone(UTC).replace(microsecond=0)
