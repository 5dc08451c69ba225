"""`kubectl airlock`: status, explain, kill, restore and approve, for people at 3 a.m.

Installed as the `kubectl-airlock` executable, so kubectl runs it as `kubectl airlock ...`. It uses the
current kubeconfig and context like kubectl does (KUBECONFIG, --kubeconfig, --context, -n).

Exit codes: 0 done; 1 the cluster said no, an object is missing, or a wait ran out (the message says what
state things are in); 2 bad usage or no usable kubeconfig.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TypeVar

from airlock.cli.plugin_render import (
    ServiceInfo,
    plural,
    render_explain,
    render_status,
    terminal_width,
    use_colour,
)
from airlock.k8s.plugin_client import EXIT_USAGE, Api, ConflictError, PluginError, Workload
from airlock.logic.killswitch import ENGAGED_VALUE, RELEASED_VALUE, recorded_replicas
from airlock.logic.killswitch import rfc3339 as rfc3339_of
from airlock.models.service import (
    KILL_SWITCH_ANNOTATION,
    KILL_SWITCH_ANNOTATIONS,
    KILL_SWITCH_BY_ANNOTATION,
    KILL_SWITCH_REASON_ANNOTATION,
    KILL_SWITCH_REPLICAS_BEFORE_ANNOTATION,
    KILL_SWITCH_SINCE_ANNOTATION,
    NO_CAP,
)

DEFAULT_TIMEOUT = 10.0
POLL_INTERVAL = 0.25
APPROVE_ATTEMPTS = 3
EXIT_OK = 0

T = TypeVar("T")


def _common(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    # Accepted before and after the command (`kubectl airlock -n x status` and `... status -n x`); the
    # copy on each command has no default, so it cannot overwrite a value given before the command.
    default = argparse.SUPPRESS if suppress else None
    parser.add_argument(
        "--kubeconfig", default=default, metavar="FILE", help="kubeconfig file (default: KUBECONFIG)"
    )
    parser.add_argument(
        "--context", default=default, metavar="NAME", help="kubeconfig context (default: current)"
    )
    parser.add_argument(
        "-n",
        "--namespace",
        default=default,
        metavar="NS",
        help="namespace (default: the context's, else default)",
    )


def _wait_options(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"how long to wait for the operator to {what} (default {DEFAULT_TIMEOUT:g})",
    )
    parser.add_argument("--no-wait", action="store_true", help="set the annotation and return at once")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `kubectl airlock`."""
    parser = argparse.ArgumentParser(
        prog="kubectl airlock",
        description="Why is my AI service capped, and stop it now: Airlock from kubectl.",
        epilog="Exit codes: 0 done, 1 refused / not found / timed out, 2 bad usage or no kubeconfig.",
    )
    _common(parser, suppress=False)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    status = sub.add_parser("status", help="stage, next stage, gates, cap and kill switch of AI services")
    status.add_argument(
        "name", nargs="?", metavar="NAME", help="one AIService (default: all in the namespace)"
    )
    status.add_argument("-A", "--all-namespaces", action="store_true", help="AIServices in every namespace")

    explain = sub.add_parser("explain", help="why a service is capped, gate by gate, and what to do next")
    explain.add_argument("name", metavar="NAME", help="the AIService")

    kill = sub.add_parser("kill", help="engage the kill switch: scale to zero and deny every scale-up")
    kill.add_argument("name", metavar="NAME", help="the AIService")
    kill.add_argument(
        "--reason", required=True, help="why, for the people who come after you (an incident id)"
    )
    _wait_options(kill, "scale the Deployment to zero")

    restore = sub.add_parser("restore", help="release the kill switch and bring back the replicas")
    restore.add_argument("name", metavar="NAME", help="the AIService")
    _wait_options(restore, "restore the replicas")

    approve = sub.add_parser("approve", help="sign off a ReadinessPacket for a role, as yourself")
    approve.add_argument("packet", metavar="PACKET", help="the ReadinessPacket")
    approve.add_argument(
        "--role", required=True, help="the role you approve for, for example owner or security"
    )
    approve.add_argument(
        "--digest",
        default=None,
        metavar="SHA256",
        help="refuse unless the packet's content still has this digest (the one you reviewed)",
    )

    report = sub.add_parser(
        "report", help="the readiness record of a service, in Markdown or as one HTML page, for auditors"
    )
    report.add_argument("name", metavar="NAME", help="the AIService")
    report.add_argument(
        "--format",
        "-f",
        choices=["markdown", "html"],
        default=None,
        help="default: from -o's suffix, else markdown",
    )
    report.add_argument("--output", "-o", metavar="FILE", help="write here instead of standard output")

    for command in (status, explain, kill, restore, approve, report):
        _common(command, suppress=True)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs one `kubectl airlock` command and returns its exit code."""
    args = build_parser().parse_args(argv)
    try:
        _check_usage(args)
        return _run(args)
    except PluginError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `kubectl airlock status | head`: the reader left, which is not an error.
        sys.stderr.close()
        return EXIT_OK


def _check_usage(args: argparse.Namespace) -> None:
    # Checked before connecting: a bad flag should not wait on the network.
    if args.command == "status" and args.name and args.all_namespaces:
        raise PluginError(
            "a name and --all-namespaces do not go together; give -n NAMESPACE instead.", EXIT_USAGE
        )
    if args.command == "kill" and not args.reason.strip():
        raise PluginError(
            f"--reason is empty; say why you stop {args.name}, for the people who come after you "
            "(for example --reason 'INC-4711 refunds promised').",
            EXIT_USAGE,
        )
    if args.command == "approve" and not args.role.strip():
        raise PluginError(
            "--role is empty; name the role you approve for, for example --role owner.", EXIT_USAGE
        )
    if args.command in ("kill", "restore") and args.timeout < 0:
        raise PluginError("--timeout must be zero or more seconds.", EXIT_USAGE)


def _run(args: argparse.Namespace) -> int:
    api = Api(args.kubeconfig, args.context)
    try:
        namespace: str = args.namespace or api.default_namespace
        command: Callable[[Api, str, argparse.Namespace], int] = COMMANDS[args.command]
        return command(api, namespace, args)
    finally:
        api.close()


# --- status and explain --------------------------------------------------------------------------------


def status_command(api: Api, namespace: str, args: argparse.Namespace) -> int:
    """A table of AI services: stage, next stage, gates, cap, replicas, kill switch and what blocks them."""
    if args.name:
        objects = [api.get_service(namespace, args.name)]
    else:
        objects = api.list_services(None if args.all_namespaces else namespace)
    if not objects:
        where = "in any namespace" if args.all_namespaces else f"in namespace {namespace}"
        print(f"No AIServices found {where}.")
        return EXIT_OK
    services = [ServiceInfo.from_api(o) for o in objects]
    workloads: dict[str, Workload] = {}
    for ns in sorted({s.namespace for s in services}):
        replicas = api.deployment_replicas(ns)
        for s in services:
            if s.namespace == ns and s.workload_kind != "Deployment":
                workloads[s.key] = api.read_workload(ns, s.workload, s.workload_kind)
        if replicas is None:
            continue
        for s in services:
            if s.namespace == ns and s.workload_kind == "Deployment":
                found = s.workload in replicas
                workloads[s.key] = Workload(
                    s.workload, "found" if found else "missing", replicas.get(s.workload)
                )
    print(
        render_status(
            services,
            workloads,
            all_namespaces=args.all_namespaces,
            width=terminal_width(sys.stdout),
            colour=use_colour(sys.stdout),
        )
    )
    return EXIT_OK


def explain_command(api: Api, namespace: str, args: argparse.Namespace) -> int:
    """Why one service is capped: every stage, every gate, the packet, the cap, the kill switch, and the
    next step."""
    service = ServiceInfo.from_api(api.get_service(namespace, args.name))
    workload = (
        api.read_workload(namespace, service.workload, service.workload_kind)
        if service.workload
        else Workload("", "missing")
    )
    print(render_explain(service, workload, width=terminal_width(sys.stdout), colour=use_colour(sys.stdout)))
    return EXIT_OK


# --- kill and restore -----------------------------------------------------------------------------------


def _poll(timeout: float, observe: Callable[[], T], done: Callable[[T], bool]) -> tuple[bool, T]:
    """Observes until `done` holds or `timeout` seconds pass; returns whether it held, and the last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = observe()
        if done(value):
            return True, value
        if time.monotonic() >= deadline:
            return False, value
        time.sleep(POLL_INTERVAL)


def kill_command(api: Api, namespace: str, args: argparse.Namespace) -> int:
    """Sets the kill-switch annotations and waits until the operator has scaled the Deployment to zero."""
    reason: str = args.reason.strip()
    before = ServiceInfo.from_api(api.get_service(namespace, args.name))
    workload_before = api.read_scale(namespace, before.workload, before.workload_kind)
    api.patch_service_annotations(
        namespace,
        args.name,
        kill_annotations(before, workload_before, reason, _username(api), datetime.now(UTC)),
        doing=f"engage the kill switch of AIService {before.key}",
    )
    deployment = before.workload_ref
    if args.no_wait:
        print(
            f"{before.key}: kill switch engaged ({reason}); admission denies every scale-up from now on, "
            f"and the operator scales {deployment} to 0."
        )
        return EXIT_OK

    def observe() -> tuple[ServiceInfo, Workload]:
        service = ServiceInfo.from_api(api.get_service(namespace, args.name))
        return service, api.read_workload(namespace, service.workload, service.workload_kind)

    def scaled_to_zero(seen: tuple[ServiceInfo, Workload]) -> bool:
        service, workload = seen
        if not service.killed:
            return False
        if workload.state == "found":
            return workload.replicas == 0
        return workload.state == "missing" or service.replicas == 0

    done, (service, workload) = _poll(args.timeout, observe, scaled_to_zero)
    if not done:
        if workload.replicas is not None:
            asks = f"it still asks for {plural(workload.replicas, 'replica')}"
        else:
            asks = "it was not found" if workload.state == "missing" else "its replicas could not be read"
        raise PluginError(
            f"{before.key}: the kill switch is set, but within {args.timeout:g}s the operator did not scale "
            f"{deployment} to 0 ({asks}; status.stage is {service.stage or 'not written'}).\n"
            "Admission still denies every scale-up: the switch is enforced by the API server even when the "
            "operator is down. The operator will scale it to zero when it is back.\n"
            "To stop the pods now, scale it down yourself (decreases are always allowed): "
            f"kubectl scale {before.workload_resource} {before.workload} -n {namespace} --replicas=0"
            + (
                f"\nThe replicas it had ({workload_before.replicas}) are recorded on the AIService "
                f"({KILL_SWITCH_REPLICAS_BEFORE_ANNOTATION}), so the restore brings them back."
                if workload_before.replicas is not None and not before.kill_requested
                else ""
            )
        )
    had = service.kill.replicas_before if service.kill else None
    if had is None:
        had = workload_before.replicas
    had_text = "?" if had is None else str(had)
    if before.kill_requested and before.killed:
        print(
            f"{before.key}: kill switch was already engaged; reason now {reason!r}; {deployment} at 0 "
            f"replicas (had {had_text} before)."
        )
    elif workload.state == "missing":
        print(f"{before.key}: kill switch engaged; {deployment} does not exist, so nothing was scaled.")
    else:
        print(f"{before.key}: kill switch engaged; {deployment} scaled {had_text} -> 0")
    print(f"Release it with: kubectl airlock restore {args.name} -n {namespace}")
    return EXIT_OK


def _username(api: Api) -> str | None:
    # Who engaged the switch is worth recording, but never worth failing a kill over.
    try:
        return api.whoami()
    except PluginError:
        return None


def kill_annotations(
    before: ServiceInfo, workload: Workload, reason: str, user: str | None, now: datetime
) -> dict[str, str | None]:
    """The annotations one merge patch sets to engage the switch: with the replicas the Deployment has
    now, when the switch was engaged and by whom, so an operator that is down can still restore them
    later. A switch already engaged only gets the new reason: what it recorded first stays."""
    if before.kill_requested:
        return {KILL_SWITCH_ANNOTATION: ENGAGED_VALUE, KILL_SWITCH_REASON_ANNOTATION: reason}
    replicas = workload.replicas if workload.state == "found" else None
    return {
        KILL_SWITCH_ANNOTATION: ENGAGED_VALUE,
        KILL_SWITCH_REASON_ANNOTATION: reason,
        KILL_SWITCH_BY_ANNOTATION: user,
        KILL_SWITCH_REPLICAS_BEFORE_ANNOTATION: None if replicas is None else str(replicas),
        KILL_SWITCH_SINCE_ANNOTATION: rfc3339_of(now),
    }


def release_annotations(present: Sequence[str], user: str | None) -> dict[str, str | None]:
    """The merge patch that releases the switch: "false" with the releaser's own name in
    airlock.dev/kill-switch-by (admission refuses any other name, so the operator records it as who
    released it), and every other kill-switch annotation removed, so a later kill is not reported with
    this one's reason. Without a name to give, the annotations just go."""
    patch: dict[str, str | None] = dict.fromkeys(present)
    if user:
        patch[KILL_SWITCH_ANNOTATION] = RELEASED_VALUE
        patch[KILL_SWITCH_BY_ANNOTATION] = user
    return patch


def restore_target(recorded: int, service: ServiceInfo) -> int:
    """The replicas to bring back: what was recorded, within the cap admission applies once released."""
    if service.evaluated and service.allowed is not None:
        return recorded if service.allowed == NO_CAP else min(recorded, service.allowed)
    return min(recorded, service.pilot_replicas)


def restore_command(api: Api, namespace: str, args: argparse.Namespace) -> int:
    """Releases the kill switch in your name and waits until the operator has brought the replicas back."""
    raw = api.get_service(namespace, args.name)
    before = ServiceInfo.from_api(raw)
    metadata = raw.get("metadata")
    annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
    if not isinstance(annotations, dict):
        annotations = {}
    present = sorted(set(KILL_SWITCH_ANNOTATIONS) & annotations.keys())
    if not before.kill_requested:
        # Already released: "false" and who released it stay; only what the kill left behind goes.
        present = [k for k in present if k not in (KILL_SWITCH_ANNOTATION, KILL_SWITCH_BY_ANNOTATION)]
    if not present and not before.restore_pending:
        print(f"{before.key}: the kill switch is not engaged; nothing to restore.")
        return EXIT_OK
    raw_before = annotations.get(KILL_SWITCH_REPLICAS_BEFORE_ANNOTATION)
    recorded = recorded_replicas(raw_before) if isinstance(raw_before, str) else None
    if present:
        api.patch_service_annotations(
            namespace,
            args.name,
            release_annotations(present, _username(api) if before.kill_requested else None),
            doing=f"release the kill switch of AIService {before.key}",
        )
    deployment = before.workload_ref
    had = before.kill.replicas_before if before.kill else None
    if not before.killed and had is None:
        # The operator never carried the switch out, so it brings nothing back: say what is left to do.
        return _released_before_the_operator_acted(api, namespace, before, recorded)
    if args.no_wait:
        print(f"{before.key}: kill switch released; the operator brings back the replicas of {deployment}.")
        return EXIT_OK

    def observe() -> ServiceInfo:
        return ServiceInfo.from_api(api.get_service(namespace, args.name))

    def restored(service: ServiceInfo) -> bool:
        return not service.kill_requested and not service.restore_pending

    done, service = _poll(args.timeout, observe, restored)
    if not done:
        if service.allowed == 0:
            until = (
                "admission keeps it at 0 until then, because the cap the operator wrote while the switch was "
                "engaged still stands"
            )
        else:
            until = "admission already allows scaling it up again"
        what = "the replicas" if had is None else plural(had, "replica")
        raise PluginError(
            f"{before.key}: the kill switch is released, but within {args.timeout:g}s the operator did not "
            f"restore {deployment} (status.stage is {service.stage or 'not written'}). The operator brings "
            f"back {what} when it runs; {until}."
        )
    workload = api.read_workload(namespace, service.workload, service.workload_kind)
    replicas = workload.replicas if workload.state == "found" else service.replicas
    count = "?" if replicas is None else plural(replicas, "replica")
    detail = "replicas before the kill switch unknown" if had is None else f"had {had} before the kill switch"
    if had is not None and replicas is not None and replicas < had and service.allowed not in (None, NO_CAP):
        detail += f"; the cap is {service.allowed} while {service.blocking or 'required gates fail'}"
    print(f"{before.key}: kill switch released; {deployment} restored to {count} ({detail}).")
    return EXIT_OK


def _released_before_the_operator_acted(
    api: Api, namespace: str, before: ServiceInfo, recorded: int | None
) -> int:
    deployment = before.workload_ref
    workload = api.read_workload(namespace, before.workload, before.workload_kind)
    prefix = f"{before.key}: kill switch released before the operator acted on it"
    if workload.state != "found" or workload.replicas is None:
        print(f"{prefix}; {deployment} was not scaled.")
        return EXIT_OK
    at = plural(workload.replicas, "replica")
    if recorded is None:
        if workload.replicas > 0:
            print(f"{prefix}; {deployment} is at {at}.")
            return EXIT_OK
        raise PluginError(
            f"{prefix}; {deployment} is at 0 replicas, and the replicas it had before were not recorded "
            "(the switch was set without kubectl airlock kill). Nothing brings them back by itself; scale "
            f"it back yourself: kubectl scale {before.workload_resource} {before.workload} -n {namespace} "
            "--replicas=<the replicas it ran before>"
        )
    target = restore_target(recorded, before)
    if workload.replicas >= target:
        print(f"{prefix}; {deployment} is at {at} (had {recorded} when the switch was engaged).")
        return EXIT_OK
    raise PluginError(
        f"{prefix}; {deployment} is at {at} and had {plural(recorded, 'replica')} when the switch was "
        "engaged. Nothing brings them back by itself; scale it back yourself: "
        f"kubectl scale {before.workload_resource} {before.workload} -n {namespace} --replicas={target}"
    )


# --- approve --------------------------------------------------------------------------------------------


def rfc3339_now() -> str:
    """Now in UTC, to the second, with a Z, as approvals record it."""
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def approve_command(api: Api, namespace: str, args: argparse.Namespace) -> int:
    """Adds or replaces the approval for a role, as the identity the API server authenticates."""
    role: str = args.role.strip()
    user = api.whoami()
    key = f"{namespace}/{args.packet}"
    for attempt in range(1, APPROVE_ATTEMPTS + 1):
        packet = api.get_packet(namespace, args.packet)
        body, digest = with_approval(packet, key, role=role, user=user, expected_digest=args.digest)
        try:
            # The body carries metadata.resourceVersion, so a change made since the read is a 409, not lost.
            api.replace_packet(namespace, args.packet, body)
        except ConflictError:
            if attempt < APPROVE_ATTEMPTS:
                continue
            raise PluginError(
                f"ReadinessPacket {key} changed {APPROVE_ATTEMPTS} times while approving; run approve again."
            ) from None
        print(f"approved {key} as {role} ({user}) at digest {digest}")
        return EXIT_OK
    raise AssertionError("unreachable: the last attempt returns or raises")


def with_approval(
    packet: Mapping[str, object], key: str, *, role: str, user: str, expected_digest: str | None
) -> tuple[dict[str, object], str]:
    """The packet with `role`'s approval set to `user` at the packet's current digest, and that digest.

    The digest is status.digest, the content the operator evaluated; when the operator has not written
    one yet, the same digest computed here. A status digest that differs from the content refuses: the
    approval would bind to something nobody evaluated.
    """
    from pydantic import ValidationError

    from airlock.logic.digest import packet_digest
    from airlock.models.packet import ReadinessPacketSpec

    spec_raw = packet.get("spec")
    spec_wire: dict[str, object] = dict(spec_raw) if isinstance(spec_raw, dict) else {}
    try:
        local = packet_digest(ReadinessPacketSpec.model_validate(spec_wire))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise PluginError(
            f"ReadinessPacket {key} has a spec this plugin cannot read (spec.{where}: {first['msg']}); "
            "fix the packet, or upgrade kubectl-airlock if the packet uses newer fields."
        ) from exc
    status = packet.get("status")
    recorded = status.get("digest") if isinstance(status, dict) else None
    if isinstance(recorded, str) and recorded and recorded != local:
        raise PluginError(
            f"ReadinessPacket {key} changed since the operator last evaluated it: status.digest is "
            f"{recorded}, but the content now has {local}. Wait a few seconds for the operator to evaluate "
            "the new content and run approve again."
        )
    if expected_digest and expected_digest != local:
        raise PluginError(
            f"ReadinessPacket {key} has digest {local}, not the {expected_digest} you gave: its content "
            "changed since you reviewed it. Review it again and approve the new digest."
        )
    entry = {"role": role, "by": user, "at": rfc3339_now(), "digest": local}
    approvals_raw = spec_wire.get("approvals")
    approvals = [a for a in approvals_raw if isinstance(a, dict)] if isinstance(approvals_raw, list) else []
    index = next((i for i, a in enumerate(approvals) if a.get("role") == role), None)
    if index is None:
        approvals.append(entry)
    else:
        approvals[index] = entry
    body = {k: v for k, v in packet.items() if k != "status"}
    body["spec"] = {**spec_wire, "approvals": approvals}
    return body, local


def report_command(api: Api, namespace: str, args: argparse.Namespace) -> int:
    """The readiness record: gates with evidence and expiry, approvals, kill switch, transitions."""
    from pathlib import Path

    from airlock.cli.report_render import build_report, load_crosswalk, render_html, render_markdown
    from airlock.models.policy import ReadinessPolicySpec

    service = api.get_service(namespace, args.name)
    status = service.get("status")
    packet_name = status.get("packet") if isinstance(status, dict) else None
    packet = api.get_packet(namespace, str(packet_name)) if packet_name else None
    events = api.list_events(namespace, "AIService", args.name)
    if events is None:
        print(f"warning: you may not list Events in {namespace}; the report has no history.", file=sys.stderr)
        events = []
    if packet_name:
        events += api.list_events(namespace, "ReadinessPacket", str(packet_name)) or []
    policy_object = api.get_policy()
    policy = ReadinessPolicySpec.model_validate((policy_object or {}).get("spec") or {})
    record = build_report(service, packet, events, policy, datetime.now(UTC), load_crosswalk())
    fmt = args.format or ("html" if args.output and args.output.endswith((".html", ".htm")) else "markdown")
    text = render_html(record) if fmt == "html" else render_markdown(record)
    if args.output:
        Path(args.output).write_text(text)
        print(f"wrote the readiness record of {namespace}/{args.name} to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return EXIT_OK


COMMANDS: dict[str, Callable[[Api, str, argparse.Namespace], int]] = {
    "status": status_command,
    "explain": explain_command,
    "kill": kill_command,
    "restore": restore_command,
    "approve": approve_command,
    "report": report_command,
}


if __name__ == "__main__":
    sys.exit(main())
