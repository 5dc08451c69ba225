"""Processes the benchmark runs next to the operator, each with its own connection to the API server.

    python -m airlock_dev.bench_agents watch  --server URL --certs DIR     # Deployment replicas, timestamped
    python -m airlock_dev.bench_agents floor  --server URL --certs DIR     # the bare kill-switch client
    python -m airlock_dev.bench_agents churn  --server URL --certs DIR --rate 20 --targets FILE

They are separate processes so that their timestamps are not delayed by the driver's GIL. Timestamps are
CLOCK_MONOTONIC in nanoseconds, which on Linux is one clock for every process on the machine. The HTTP
client is urllib3 with the admin client certificate: the thinnest client there is, so that the floor
measures the API server, not a client library.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import urllib3

from airlock.k8s.denials import retry_denials
from airlock_dev.localcluster import die_with_parent

KILL_SWITCH = "airlock.dev/kill-switch"
MERGE_PATCH = "application/merge-patch+json"


class ApiError(RuntimeError):
    """The API server answered a request with an error status."""

    def __init__(self, method: str, path: str, status: int, body: bytes) -> None:
        super().__init__(f"{method} {path} answered {status}: {body[:300]!r}")
        self.status = status


class Api:
    """A minimal HTTPS client for kube-apiserver, authenticated with the admin client certificate."""

    def __init__(self, server: str, certs: Path, pool_size: int = 16) -> None:
        parts = urlsplit(server)
        common: dict[str, Any] = {
            "host": parts.hostname,
            "port": parts.port,
            "ca_certs": str(certs / "ca.crt"),
            "cert_file": str(certs / "admin.crt"),
            "key_file": str(certs / "admin.key"),
            "cert_reqs": "CERT_REQUIRED",
        }
        self._pool = urllib3.HTTPSConnectionPool(
            maxsize=pool_size,
            block=True,
            timeout=urllib3.Timeout(connect=10, read=60),
            retries=False,
            **common,
        )
        self._watch_common = common

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        params: dict[str, str] | None = None,
        content_type: str = "application/json",
    ) -> Any:
        """One call; returns the decoded JSON answer and raises ApiError on a status of 400 or more."""
        url = path + ("?" + urlencode(params) if params else "")
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = content_type
        resp = self._pool.request(method, url, body=data, headers=headers)
        if resp.status >= 400:
            raise ApiError(method, path, resp.status, resp.data)
        return json.loads(resp.data) if resp.data else None

    def watch(self, path: str, resource_version: str) -> Iterator[tuple[int, dict[str, Any]]]:
        """(arrival time in ns, watch event) for every event of a collection from a resourceVersion."""
        pool = urllib3.HTTPSConnectionPool(
            maxsize=1, timeout=urllib3.Timeout(connect=10, read=None), retries=False, **self._watch_common
        )
        params = {"watch": "true", "resourceVersion": resource_version, "timeoutSeconds": "86400"}
        resp = pool.request("GET", f"{path}?{urlencode(params)}", preload_content=False)
        if resp.status >= 400:
            raise ApiError("WATCH", path, resp.status, resp.read())
        pending = b""
        # Chunked reads return each chunk as it arrives; the API server flushes one per event.
        for chunk in resp.stream(65536):
            arrived = time.monotonic_ns()
            pending += chunk
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                if line.strip():
                    yield arrived, json.loads(line)


def _emit(*fields: object) -> None:
    print(" ".join(str(f) for f in fields), flush=True)


def run_watch(api: Api) -> None:
    """Prints `DEP <ns> <name> <replicas> <ns-timestamp>` whenever a Deployment's spec.replicas changes."""
    listing = api.request("GET", "/apis/apps/v1/deployments")
    known = {
        (d["metadata"]["namespace"], d["metadata"]["name"]): d["spec"].get("replicas")
        for d in listing["items"]
    }
    _emit("READY", len(known))
    for arrived, event in api.watch("/apis/apps/v1/deployments", listing["metadata"]["resourceVersion"]):
        obj = event.get("object") or {}
        if event.get("type") not in ("ADDED", "MODIFIED"):
            continue
        key = (obj["metadata"]["namespace"], obj["metadata"]["name"])
        replicas = obj.get("spec", {}).get("replicas")
        if known.get(key) != replicas:
            known[key] = replicas
            _emit("DEP", key[0], key[1], replicas, arrived)


def _engaged(obj: dict[str, Any]) -> bool:
    value = (obj.get("metadata", {}).get("annotations") or {}).get(KILL_SWITCH)
    return value is not None and value != "false"


def run_floor(api: Api, sequence: bool = False) -> None:
    """The least any kill-switch client can do: one scale PATCH per kill-switch transition seen.

    With `sequence`, it makes the calls the operator makes instead: read the Deployment, then one PATCH
    of the Deployment itself that sets the replicas and the record of what to restore (the status and
    the Event follow the scale, so they are not on the path measured).
    """
    path = "/apis/airlock.dev/v1alpha1/aiservices"
    listing = api.request("GET", path)
    state = {(o["metadata"]["namespace"], o["metadata"]["name"]): _engaged(o) for o in listing["items"]}
    _emit("READY", len(state))
    for _, event in api.watch(path, listing["metadata"]["resourceVersion"]):
        obj = event.get("object") or {}
        if event.get("type") not in ("ADDED", "MODIFIED"):
            continue
        meta = obj["metadata"]
        key = (meta["namespace"], meta["name"])
        engaged = _engaged(obj)
        if state.get(key) == engaged:
            continue
        state[key] = engaged
        workload = obj["spec"]["workload"]["name"]
        deployment = f"/apis/apps/v1/namespaces/{key[0]}/deployments/{workload}"
        replicas = 0 if engaged else 1
        if sequence:
            try:
                api.request("GET", deployment)
            except ApiError as exc:
                print(f"floor: reading {deployment} failed: {exc}", file=sys.stderr, flush=True)
            record = {"airlock.dev/kill-switch-replicas-before": "1" if engaged else None}
            body = {"metadata": {"annotations": record}, "spec": {"replicas": replicas}}
            _patch_retrying(api, deployment, body)
        else:
            _patch_retrying(api, f"{deployment}/scale", {"spec": {"replicas": replicas}})


def _patch_retrying(api: Api, path: str, body: dict[str, Any], retry_for: float = 5.0) -> None:
    # Admission reads the AIService from the API server's informer: right after a release it may still
    # see the switch engaged and refuse the restore. Retry briefly, as the operator does.
    try:
        retry_denials(
            lambda: api.request("PATCH", path, body, content_type=MERGE_PATCH),
            lambda exc: isinstance(exc, ApiError) and exc.status in (403, 422),
            retry_for,
        )
    except ApiError as exc:
        print(f"floor: patching {path} failed: {exc}", file=sys.stderr, flush=True)


def run_churn(api: Api, rate: float, targets: list[str]) -> None:
    """About `rate` merge patches a second, round-robin over `targets` (API paths), each changing a label
    or an annotation, until terminated. Prints `CHURN <count>` every 100 writes."""
    interval = 1.0 / rate
    next_at = time.monotonic()
    count = 0
    while True:
        path = targets[count % len(targets)]
        field = "annotations" if "/configmaps/" in path else "labels"
        body = {"metadata": {field: {"bench.airlock.dev/churn": str(count)}}}
        try:
            api.request("PATCH", path, body, content_type=MERGE_PATCH)
        except ApiError as exc:
            print(f"churn: {exc}", file=sys.stderr, flush=True)
        count += 1
        if count % 100 == 0:
            _emit("CHURN", count)
        next_at += interval
        delay = next_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        else:  # behind schedule: do not try to catch up with a burst
            next_at = time.monotonic()


def main(argv: list[str] | None = None) -> int:
    """Runs one agent until it is terminated (or its parent dies)."""
    parser = argparse.ArgumentParser(prog="python -m airlock_dev.bench_agents", description=__doc__)
    parser.add_argument("role", choices=["watch", "floor", "churn"])
    parser.add_argument("--server", required=True, help="https://127.0.0.1:<port> of kube-apiserver")
    parser.add_argument("--certs", type=Path, required=True, help="directory with ca.crt, admin.crt/.key")
    parser.add_argument("--rate", type=float, default=20.0, help="churn: writes per second")
    parser.add_argument("--targets", type=Path, help="churn: file with one API path per line")
    parser.add_argument("--sequence", action="store_true", help="floor: the operator's calls before scaling")
    args = parser.parse_args(argv)
    die_with_parent()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    api = Api(args.server, args.certs)
    try:
        if args.role == "watch":
            run_watch(api)
        elif args.role == "floor":
            run_floor(api, args.sequence)
        else:
            if args.targets is None:
                parser.error("churn needs --targets")
            run_churn(api, args.rate, args.targets.read_text().split())
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
