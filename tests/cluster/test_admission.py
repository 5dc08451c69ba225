"""The admission policy and airlock.logic.cap are one definition: one table runs through both.

Each case is a governed Deployment at `old` replicas whose AIService has a given kill switch, status and
pilot size; the test scales it to `new` through the /scale subresource on the real API server and
compares the server's answer with `admits(new, old, enforced_cap(...))`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from airlock.logic.cap import admits, enforced_cap
from airlock_dev.admission_probe import wait_until_enforced
from tests.cluster.helpers import aiservice, deployment
from tests.conftest import Cluster


@dataclass(frozen=True)
class Case:
    name: str
    killed: bool
    status_allowed: int | None
    pilot: int
    old: int | None  # None: the write is a create
    new: int


CASES = [
    Case("pilot-up", False, 1, 1, 1, 3),
    Case("pilot-down", False, 1, 1, 3, 1),
    Case("pilot-decrease-above-cap", False, 1, 1, 5, 4),
    Case("no-status-yet", False, None, 2, 1, 2),
    Case("no-status-yet-above", False, None, 2, 1, 3),
    Case("uncapped", False, -1, 1, 1, 40),
    Case("capped-at-max", False, 20, 1, 5, 21),
    Case("killed-status-says-uncapped", True, -1, 1, 0, 1),
    Case("killed-to-zero", True, 0, 1, 3, 0),
    Case("held", False, 6, 1, 6, 7),
    Case("create-above", False, 1, 1, None, 2),
    Case("create-at-cap", False, 1, 1, None, 1),
    Case("zero-pilot", False, 0, 0, 0, 1),
    # A pilot size the team wrote, not yet evaluated, counts only up to the built-in limit.
    Case("no-status-huge-pilot-at-limit", False, None, 100, 1, 3),
    Case("no-status-huge-pilot-above-limit", False, None, 100, 1, 4),
]


def expected(case: Case) -> bool:
    cap = enforced_cap(killed=case.killed, status_allowed=case.status_allowed, pilot_replicas=case.pilot)
    return admits(case.new, case.old, cap)


@pytest.fixture(scope="module")
def outcomes(cluster: Cluster) -> dict[str, tuple[bool, str]]:
    ns = "admission-table"
    cluster.create_namespace(ns)
    # Deployments first, while nothing governs them, at their `old` size.
    cluster.apply([deployment(c.name, ns, c.old) for c in CASES if c.old is not None])
    for c in CASES:
        annotations = {"airlock.dev/kill-switch": "true"} if c.killed else {}
        cluster.apply(aiservice(c.name, ns, pilot=c.pilot, annotations=annotations))
        if c.status_allowed is not None:
            cluster.kubectl(
                "patch",
                "ais",
                c.name,
                "-n",
                ns,
                "--subresource=status",
                "--type=merge",
                "-p",
                json.dumps({"status": {"allowedReplicas": c.status_allowed}}),
            )
    wait_until_enforced(cluster.local)  # a barrier: admission has seen every AIService write above
    results = {}
    for c in CASES:
        if c.old is None:
            r = cluster.apply(deployment(c.name, ns, c.new), check=False)
        else:
            r = cluster.kubectl("scale", "deployment", c.name, "-n", ns, f"--replicas={c.new}", check=False)
        results[c.name] = (r.returncode == 0, r.stderr)
    return results


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_the_api_server_and_the_operator_agree_on_the_cap(
    case: Case, outcomes: dict[str, tuple[bool, str]]
) -> None:
    admitted, stderr = outcomes[case.name]
    assert admitted is expected(case), stderr
    if not admitted:
        cap = enforced_cap(killed=case.killed, status_allowed=case.status_allowed, pilot_replicas=case.pilot)
        assert f"Airlock: Deployment {case.name} may run at most {cap} replicas" in stderr, stderr
