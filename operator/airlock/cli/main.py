"""`airlock`: run the operator, or check packets offline for a pull request."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="airlock",
        description="Keeps an AI service in its pilot until its readiness evidence is complete.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run the operator against the current kubeconfig or in-cluster config")
    run.add_argument(
        "--namespace",
        "-n",
        action="append",
        default=None,
        help="watch only this namespace (repeatable); default: AIRLOCK_NAMESPACES or all",
    )
    run.add_argument(
        "--metrics-port", type=int, default=None, help="port for /metrics (default 8080; 0 = off)"
    )
    run.add_argument("--log-format", choices=["text", "json"], default=None, help="log format (default text)")
    run.add_argument("--verbose", "-v", action="store_true", help="debug logging")

    validate = sub.add_parser(
        "validate",
        help="evaluate services, packets and a policy from YAML files offline; "
        "exit 1 when a required gate fails",
    )
    validate.add_argument("files", nargs="+", metavar="FILE", help="YAML files (multi-document); - for stdin")
    validate.add_argument("--now", default=None, help="evaluate as of this RFC 3339 time (default: now)")
    validate.add_argument("--output", "-o", choices=["table", "json"], default="table")

    digest = sub.add_parser("digest", help="print a packet's content digest, for approvals made in Git")
    digest.add_argument("files", nargs="+", metavar="FILE", help="YAML files holding ReadinessPackets")

    report = sub.add_parser(
        "report",
        help="the readiness record of one AI service from the cluster (as `kubectl airlock report`)",
        add_help=False,
    )
    report.add_argument("args", nargs=argparse.REMAINDER, help="as `kubectl airlock report --help`")

    from airlock.cli.evals import add_parser as add_evals

    add_evals(sub)
    examples = sub.add_parser("examples", help="work with the shipped examples")
    examples_sub = examples.add_subparsers(dest="examples_command", required=True, metavar="COMMAND")
    redate = examples_sub.add_parser(
        "redate",
        help="print a copy of example packets with current evidence dates and re-signed approvals, "
        "for a trial (the examples' evals lapse 30 days after their evaluatedAt)",
    )
    redate.add_argument("files", nargs="+", metavar="FILE", help="YAML files holding ReadinessPackets")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    given = list(sys.argv[1:] if argv is None else argv)
    if given[:1] == ["report"]:
        # The same command as `kubectl airlock report`, flags in any order.
        from airlock.cli import kubectl_plugin

        return kubectl_plugin.main(given)
    args = build_parser().parse_args(given)
    if args.command == "run":
        from airlock.cli.run import run_main

        return run_main(args)
    if args.command == "validate":
        from airlock.cli.validate import validate_main

        return validate_main(args)
    if args.command == "evals":
        from airlock.cli.evals import evals_main

        return evals_main(args)
    if args.command == "examples":
        from airlock.cli.redate import redate_main

        return redate_main(args)
    from airlock.cli.validate import digest_main

    return digest_main(args)


if __name__ == "__main__":
    sys.exit(main())
