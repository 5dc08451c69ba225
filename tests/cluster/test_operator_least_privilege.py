"""The operator's end-to-end suite again, with the operator running as the chart's ServiceAccount.

The identity is a real ServiceAccount bound to exactly the chart's ClusterRole, authenticated with a
TokenRequest token: not cluster-admin. Every behaviour test of tests/cluster/test_operator.py that uses
the `operator` fixture runs here under it, and the operator's log must show no permission error.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cluster import test_operator as suite
from tests.cluster.chart_helpers import Identity, install_operator_identity
from tests.conftest import Cluster, OperatorProcess, start_operator


@pytest.fixture(scope="module")
def chart_identity(cluster: Cluster, helm: Path, tmp_path_factory: pytest.TempPathFactory) -> Identity:
    return install_operator_identity(cluster, helm, tmp_path_factory.mktemp("least-privilege"))


@pytest.fixture
def operator(cluster: Cluster, chart_identity: Identity, tmp_path: Path) -> Iterator[OperatorProcess]:
    op = start_operator(cluster, tmp_path, kubeconfig=chart_identity.kubeconfig)
    try:
        yield op
    finally:
        op.stop()
    # RBAC's refusal names the user ("... cannot patch resource ..."); kopf says "Not enough permissions".
    # A bare 403 is not enough to tell: admission denials are 403s too, and the restore retries through one.
    denied = re.findall(r'.*(?:system:serviceaccount:[^"]*" cannot|Not enough permissions).*', op.log())
    assert not denied, f"the operator hit permission errors as {chart_identity.service_account}: {denied[:5]}"


test_first_status = suite.test_the_operator_writes_a_first_status_that_explains_the_pilot
test_backstop = suite.test_a_pilot_above_its_cap_is_scaled_down_by_the_backstop
test_promotion = suite.test_a_complete_packet_promotes_and_kubectl_wait_returns
test_kill_switch_and_restore = suite.test_the_kill_switch_scales_to_zero_and_restore_brings_the_replicas_back
test_version_labels = suite.test_version_labels_go_on_the_deployment_metadata_never_the_pod_template
test_regression_hold = suite.test_a_version_bump_without_a_packet_holds_a_promoted_service
