"""`airlock evals import`: an eval tool's results file as a packet's `evals` section."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import IO, Any

import yaml
from pydantic import ValidationError

from airlock.cli.validate import describe_validation_error
from airlock.logic.digest import packet_digest
from airlock.logic.evalimport import EvalImportError, import_evals
from airlock.models.base import API_VERSION
from airlock.models.evalmap import EvalCategoryMap
from airlock.models.packet import KIND as PACKET_KIND
from airlock.models.packet import EvalResult, ReadinessPacketSpec

EXIT_OK = 0
EXIT_INPUT_ERROR = 2


def add_parser(sub: Any) -> None:
    """Adds `evals import` to the `airlock` command."""
    evals = sub.add_parser("evals", help="bring eval results into a packet")
    evals_sub = evals.add_subparsers(dest="evals_command", required=True, metavar="COMMAND")
    imp = evals_sub.add_parser(
        "import",
        help="turn an Inspect AI eval log (JSON) or promptfoo JSON output into a packet's evals section",
        description="Reads an eval tool's results file and prints the packet's evals section as YAML, or, "
        "with --packet, the packet with its evals section replaced. Exit 2 when the input is bad.",
    )
    imp.add_argument("results", metavar="RESULTS", help="the results file the eval tool wrote")
    imp.add_argument(
        "--map",
        "-m",
        required=True,
        metavar="FILE",
        help="YAML mapping tags and case names to Airlock's eval categories, kept beside the evals",
    )
    imp.add_argument("--packet", "-p", metavar="FILE", help="a ReadinessPacket YAML whose evals to replace")
    imp.add_argument(
        "--output", "-o", metavar="FILE", help="write here instead of standard output (may be --packet)"
    )
    imp.add_argument(
        "--min-pass-rate", type=float, default=None, metavar="RATE", help="record this minPassRate (0 to 1)"
    )


def evals_main(args: argparse.Namespace, stdout: IO[str] | None = None, stderr: IO[str] | None = None) -> int:
    """Runs `airlock evals import`; returns 0, or 2 after printing what is wrong with the input."""
    out, err = stdout or sys.stdout, stderr or sys.stderr
    try:
        text, summary = _import(args)
    except EvalImportError as exc:
        for line in exc.messages:
            print(line, file=err)
        print("airlock evals import: nothing written; fix the input above and run again", file=err)
        return EXIT_INPUT_ERROR
    if args.output:
        Path(args.output).write_text(text)
    else:
        out.write(text)
    print(summary, file=err)
    return EXIT_OK


def _import(args: argparse.Namespace) -> tuple[str, str]:
    rate = args.min_pass_rate
    if rate is not None and not 0 <= rate <= 1:
        raise EvalImportError([f"--min-pass-rate: {rate} is not between 0 and 1; give a rate such as 0.95"])
    category_map = _read_map(args.map)
    data = _read_bytes(args.results, "results file")
    evals = import_evals(data, args.results, category_map, map_name=args.map, min_pass_rate=rate)
    passed = sum(1 for c in evals.cases if c.result is EvalResult.PASS)
    source = evals.source
    assert source is not None
    summary = (
        f"imported {len(evals.cases)} cases ({passed} passed) from {args.results}: {source.tool} "
        f"{source.tool_version or '(version not recorded)'}, sha256 {source.sha256}"
    )
    section = evals.to_api()
    if not args.packet:
        return yaml.safe_dump({"evals": section}, sort_keys=False, allow_unicode=True, width=110), summary
    document = _read_packet(args.packet)
    before = document["spec"].get("approvals") or []
    document["spec"]["evals"] = section
    try:
        spec = ReadinessPacketSpec.model_validate(document["spec"])
    except ValidationError as exc:
        raise EvalImportError(
            [f"{args.packet}: {line}" for line in describe_validation_error(ReadinessPacketSpec, exc, "spec")]
        ) from None
    digest = packet_digest(spec)
    summary += f"; packet digest {digest}"
    stale = sorted({a.get("role", "?") for a in before if isinstance(a, dict) and a.get("digest") != digest})
    if stale:
        summary += (
            f"; the approvals of {', '.join(stale)} are for other content and must be renewed for {digest}"
        )
    text = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=110)
    return text, summary


def _read_bytes(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise EvalImportError([f"{path}: cannot read the {what}: {exc.strerror}; check the path"]) from None


def _read_map(path: str) -> EvalCategoryMap:
    try:
        raw = yaml.safe_load(_read_bytes(path, "category map"))
    except yaml.YAMLError as exc:
        raise EvalImportError(
            [f"{path}: not valid YAML ({_yaml_problem(exc)}); fix the category map"]
        ) from None
    if not isinstance(raw, dict):
        raise EvalImportError(
            [f"{path}: a category map is a YAML mapping with names:, tags:, ignoreTags: and default:"]
        )
    try:
        return EvalCategoryMap.model_validate(raw)
    except ValidationError as exc:
        raise EvalImportError(
            [f"{path}: {line}" for line in describe_validation_error(EvalCategoryMap, exc, "map")]
        ) from None


def _read_packet(path: str) -> dict[str, Any]:
    try:
        documents = [d for d in yaml.safe_load_all(_read_bytes(path, "packet")) if d is not None]
    except yaml.YAMLError as exc:
        raise EvalImportError([f"{path}: not valid YAML ({_yaml_problem(exc)}); fix the packet"]) from None
    if (
        len(documents) != 1
        or not isinstance(documents[0], dict)
        or documents[0].get("kind") != PACKET_KIND
        or not isinstance(documents[0].get("spec"), dict)
    ):
        raise EvalImportError(
            [
                f"{path}: --packet takes a file holding one {PACKET_KIND} ({API_VERSION}) with a spec; "
                "pass that file, or leave --packet out to print the evals section alone"
            ]
        )
    document: dict[str, Any] = documents[0]
    return document


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or "unreadable"
    return f"{problem} at line {mark.line + 1}" if mark is not None else str(problem)
