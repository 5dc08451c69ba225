"""The chart's copies and generated files against their sources, its values against its README, and its
alert rules against the operator's metrics and against promtool (built from Go modules, as helm is).
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from prometheus_client import generate_latest

from airlock.metrics import Metrics

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "airlock"
ALERTS = CHART / "files" / "alerts.yaml"
BUILD_HELM = ROOT / "hack" / "build-helm.sh"
BUILD_PROMTOOL = ROOT / "hack" / "build-promtool.sh"
SYNC = "python hack/sync_chart_crds.py"

ALERT_NAMES = {
    "AirlockKillSwitchEngagedTooLong",
    "AirlockServiceRegressed",
    "AirlockEvidenceExpiringSoon",
    "AirlockOperatorDown",
}


def _load_hack(name: str) -> ModuleType:
    # hack/ holds scripts, not a package: load the generator itself so the test and the script agree.
    spec = importlib.util.spec_from_file_location(name, ROOT / "hack" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _built(script: Path, binary: str) -> Path:
    result = subprocess.run(["bash", str(script)], stdout=subprocess.PIPE, text=True, check=False)
    assert result.returncode == 0, f"{script} failed with exit code {result.returncode}; see its stderr"
    return Path(result.stdout.strip().splitlines()[-1]) / binary


@pytest.fixture(scope="module")
def helm() -> Path:
    """helm built from Go modules by hack/build-helm.sh (cached; instant when already built)."""
    return _built(BUILD_HELM, "helm")


@pytest.fixture(scope="module")
def promtool() -> Path:
    """promtool built from Go modules by hack/build-promtool.sh (cached; instant when already built)."""
    return _built(BUILD_PROMTOOL, "promtool")


class _UniqueKeyLoader(yaml.SafeLoader):
    """A loader that refuses a mapping with a repeated key, which PyYAML would otherwise take silently
    and kubectl refuses."""


def _construct_unique(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"repeated key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique)


def render(helm: Path, *values: str) -> list[dict[str, Any]]:
    args = [str(helm), "template", "airlock", str(CHART), "--namespace", "airlock-system", "--include-crds"]
    for value in values:
        args += ["--set", value]
    result = subprocess.run(args, capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"helm template failed: {result.stderr}"
    return [d for d in yaml.load_all(result.stdout, Loader=_UniqueKeyLoader) if d]


def one(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


# ---- copies and generated files ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "copy"),
    [
        pytest.param(ROOT / "crds", CHART / "crds", id="crds"),
        pytest.param(
            ROOT / "manifests" / "admission", CHART / "files" / "admission", id="admission-policies"
        ),
    ],
)
def test_chart_copies_are_byte_equal_to_their_sources(source: Path, copy: Path) -> None:
    sources = {p.name: p.read_bytes() for p in source.glob("*.yaml")}
    copies = {p.name: p.read_bytes() for p in copy.glob("*.yaml")}
    assert sources, f"{source} holds no YAML files"
    differ = sorted(n for n in sources.keys() | copies.keys() if sources.get(n) != copies.get(n))
    assert not differ, (
        f"{copy.relative_to(ROOT)} is not a byte copy of {source.relative_to(ROOT)} ({', '.join(differ)}); "
        f"run `{SYNC}` (make chart-crds), then `python hack/gen_manifests.py`"
    )


def test_manifests_base_is_what_the_chart_renders(helm: Path) -> None:
    gen = _load_hack("gen_manifests")
    expected: dict[str, str] = gen.render(helm)
    stale: list[str] = gen.stale_files(expected)
    assert not stale, (
        f"manifests/base is not the chart's render; stale: {', '.join(stale)}. "
        "Run `python hack/gen_manifests.py`"
    )
    assert all(text.startswith(gen.HEADER) for text in expected.values())


@pytest.mark.parametrize(
    "values",
    [
        pytest.param((), id="default-values"),
        pytest.param(
            (
                "serviceMonitor.enabled=true",
                "prometheusRule.enabled=true",
                "operator.watchNamespaces={a,b}",
                "namespace.create=true",
                "rbac.gitopsApprovals.approvers={jane@example.com}",
            ),
            id="every-option-on",
        ),
    ],
)
def test_rendered_documents_have_no_repeated_keys(helm: Path, values: tuple[str, ...]) -> None:
    # The loader raises on a repeated key; kubectl would refuse such a document.
    assert render(helm, *values)


def test_people_roles_are_the_cluster_roles_of_manifests_rbac(helm: Path) -> None:
    chart = {
        d["metadata"]["name"]: d["rules"]
        for d in render(helm)
        if d["kind"] == "ClusterRole" and d["metadata"]["labels"].get("app.kubernetes.io/component") == "rbac"
    }
    plain = {
        d["metadata"]["name"]: d["rules"]
        for path in sorted((ROOT / "manifests" / "rbac").glob("*.yaml"))
        for d in yaml.safe_load_all(path.read_text())
        if d and d["kind"] == "ClusterRole"
    }
    assert chart == plain, (
        "charts/airlock/templates/rbac-people.yaml and manifests/rbac/ disagree; make the chart's default "
        "render grant what manifests/rbac grants"
    )


def test_operator_image_and_command_are_the_documented_defaults(helm: Path) -> None:
    container = one(render(helm), "Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "airlock:0.1.0"
    assert container["command"] == ["python", "-m", "airlock", "run"]
    assert {"name": "AIRLOCK_METRICS_PORT", "value": "8080"} in container["env"]
    for probe in ("livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"] == {"path": "/metrics", "port": "metrics"}
    assert {"name": "metrics", "containerPort": 8080, "protocol": "TCP"} in container["ports"]


def test_service_monitor_selects_the_metrics_service_by_its_port_name(helm: Path) -> None:
    docs = render(helm, "serviceMonitor.enabled=true")
    monitor, service = one(docs, "ServiceMonitor"), one(docs, "Service")
    labels = service["metadata"]["labels"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert monitor["spec"]["endpoints"][0]["port"] in {p["name"] for p in service["spec"]["ports"]}
    # The metrics' own namespace/service labels must survive the scrape for the alerts to group by them.
    assert monitor["spec"]["endpoints"][0]["honorLabels"] is True


def test_prometheus_rule_carries_the_alerts_file(helm: Path) -> None:
    rule = one(render(helm, "prometheusRule.enabled=true"), "PrometheusRule")
    assert rule["spec"] == yaml.safe_load(ALERTS.read_text())


def test_monitoring_objects_are_off_by_default(helm: Path) -> None:
    kinds = {d["kind"] for d in render(helm)}
    assert not kinds & {"ServiceMonitor", "PrometheusRule"}


# ---- values and README ---------------------------------------------------------------------------------


def _values_paths() -> tuple[set[str], set[str]]:
    """(every key path in values.yaml, the paths whose key has a `# --` comment right above it)."""
    lines = (CHART / "values.yaml").read_text().splitlines()
    stack: list[tuple[int, str]] = []
    paths: set[str] = set()
    documented: set[str] = set()
    for i, line in enumerate(lines):
        match = re.match(r"^(\s*)([A-Za-z][\w.-]*):", line)
        if not match:
            continue
        indent = len(match.group(1))
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, match.group(2)))
        path = ".".join(key for _, key in stack)
        paths.add(path)
        j = i - 1
        while j >= 0 and lines[j].strip().startswith("#") and lines[j].startswith(" " * indent + "#"):
            if lines[j].strip().startswith("# --"):
                documented.add(path)
                break
            j -= 1
    return paths, documented


def test_every_value_is_documented_in_values_and_readme() -> None:
    paths, documented = _values_paths()
    # A value is documented by its own comment, or (for maps like resources) by its parent's.
    undocumented = sorted(
        p
        for p in paths
        if not any(p == d or p.startswith(d + ".") for d in documented) and not _is_group(p, paths)
    )
    assert not undocumented, f"values.yaml keys without a `# --` comment: {undocumented}"
    readme = (CHART / "README.md").read_text()
    missing = sorted(d for d in documented if f"`{d}`" not in readme)
    assert not missing, f"charts/airlock/README.md lacks a row for: {missing}"


def _is_group(path: str, paths: set[str]) -> bool:
    # A key whose children are themselves documented one by one (image, rbac, ...).
    return any(p.startswith(path + ".") for p in paths)


# ---- alerts --------------------------------------------------------------------------------------------


def _rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def _operator_metric_names() -> set[str]:
    exposition = generate_latest(Metrics().registry).decode()
    names = set()
    for match in re.finditer(r"^# TYPE (\S+) (\S+)$", exposition, re.MULTILINE):
        name, kind = match.groups()
        names.add(name)
        if kind == "counter":
            names.add(name + "_total")
    return names


def test_alerts_file_has_the_four_alerts() -> None:
    rules = _rules()
    assert {r["alert"] for r in rules} == ALERT_NAMES
    by_name = {r["alert"]: r for r in rules}
    assert by_name["AirlockKillSwitchEngagedTooLong"]["for"] == "4h"
    assert by_name["AirlockServiceRegressed"]["for"] == "15m"
    assert by_name["AirlockOperatorDown"]["for"] == "5m"
    assert "7 * 86400" in by_name["AirlockEvidenceExpiringSoon"]["expr"]
    assert 'absent(up{job=~".*airlock.*"} == 1)' in by_name["AirlockOperatorDown"]["expr"]
    for rule in rules:
        assert rule["labels"]["severity"] in ("info", "warning", "critical")
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]


def test_every_alert_expression_names_a_metric_the_operator_exports() -> None:
    known = _operator_metric_names()
    assert "airlock_kill_switch_engaged" in known  # the parse above found the operator's metrics
    for rule in _rules():
        used = set(re.findall(r"\bairlock_\w+", rule["expr"]))
        if rule["alert"] == "AirlockOperatorDown":
            assert "up{" in rule["expr"]  # the scrape target's health, not an operator metric
            continue
        assert used, f"{rule['alert']} names no airlock_ metric: {rule['expr']}"
        assert used <= known, f"{rule['alert']} names metrics the operator does not export: {used - known}"


def test_alerts_file_passes_promtool_check_rules(promtool: Path) -> None:
    result = subprocess.run(
        [str(promtool), "check", "rules", str(ALERTS)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 4 rules found" in result.stdout


def _series(name: str, labels: dict[str, str], values: str) -> dict[str, str]:
    inner = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return {"series": f"{name}{{{inner}}}", "values": values}


def _replica(service: str, pod: str, namespace: str = "support") -> dict[str, str]:
    return {"namespace": namespace, "service": service, "pod": pod}


# Minutes of data, one sample a minute; "AxN" is A repeated N+1 times.
PROMTOOL_TESTS: list[dict[str, Any]] = [
    {
        "name": "a kill switch engaged on two replicas alerts once, after 4 hours",
        "interval": "1m",
        "input_series": [
            _series("airlock_kill_switch_engaged", _replica("assistant", "a"), "1x300"),
            _series("airlock_kill_switch_engaged", _replica("assistant", "b"), "1x300"),
            _series("airlock_kill_switch_engaged", _replica("quiet", "a"), "0x300"),
        ],
        "alert_rule_test": [
            {"eval_time": "3h59m", "alertname": "AirlockKillSwitchEngagedTooLong", "exp_alerts": []},
            {
                "eval_time": "4h5m",
                "alertname": "AirlockKillSwitchEngagedTooLong",
                "exp_alerts": [
                    {"exp_labels": {"severity": "warning", "namespace": "support", "service": "assistant"}}
                ],
            },
        ],
    },
    {
        "name": "a regressed service alerts after 15 minutes",
        "interval": "1m",
        "input_series": [_series("airlock_service_regressed", _replica("assistant", "a"), "1x30")],
        "alert_rule_test": [
            {"eval_time": "14m", "alertname": "AirlockServiceRegressed", "exp_alerts": []},
            {
                "eval_time": "16m",
                "alertname": "AirlockServiceRegressed",
                "exp_alerts": [
                    {"exp_labels": {"severity": "warning", "namespace": "support", "service": "assistant"}}
                ],
            },
        ],
    },
    {
        # time() is 0 at the start of a promtool test: the timestamps below are seconds from then.
        "name": "only evidence expiring within 7 days alerts; none recorded (0) does not",
        "interval": "1m",
        "input_series": [
            _series("airlock_evidence_expires_timestamp_seconds", _replica("soon", "a"), "432000x10"),
            _series("airlock_evidence_expires_timestamp_seconds", _replica("later", "a"), "2592000x10"),
            _series("airlock_evidence_expires_timestamp_seconds", _replica("none", "a"), "0x10"),
        ],
        "alert_rule_test": [
            {
                "eval_time": "5m",
                "alertname": "AirlockEvidenceExpiringSoon",
                "exp_alerts": [
                    {"exp_labels": {"severity": "info", "namespace": "support", "service": "soon"}}
                ],
            }
        ],
    },
    {
        "name": "the operator down for 5 minutes alerts",
        "interval": "1m",
        "input_series": [_series("up", {"job": "airlock-metrics", "instance": "10.0.0.7:8080"}, "1 1 0x10")],
        "alert_rule_test": [
            {"eval_time": "5m", "alertname": "AirlockOperatorDown", "exp_alerts": []},
            {
                "eval_time": "9m",
                "alertname": "AirlockOperatorDown",
                "exp_alerts": [{"exp_labels": {"severity": "critical"}}],
            },
        ],
    },
    {
        "name": "an operator that is up does not alert",
        "interval": "1m",
        "input_series": [_series("up", {"job": "airlock-metrics", "instance": "10.0.0.7:8080"}, "1x20")],
        "alert_rule_test": [{"eval_time": "15m", "alertname": "AirlockOperatorDown", "exp_alerts": []}],
    },
]


def test_alerts_fire_when_and_only_when_documented(promtool: Path, tmp_path: Path) -> None:
    # promtool compares annotations too; these cases are about expressions and durations, so the rules
    # are tested without their annotations (their templates are checked by `promtool check rules`).
    rules = yaml.safe_load(ALERTS.read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            rule.pop("annotations", None)
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rules))
    suite = {"rule_files": ["rules.yaml"], "evaluation_interval": "1m", "tests": PROMTOOL_TESTS}
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump(suite, sort_keys=False))
    result = subprocess.run(
        [str(promtool), "test", "rules", "tests.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# ---- RBAC per workload kind ------------------------------------------------------------------------------


def _operator_rules(docs: list[dict[str, Any]]) -> dict[str, set[str]]:
    """The operator ClusterRole's resources by API group."""
    role = next(d for d in docs if d["kind"] == "ClusterRole" and d["metadata"]["name"].endswith("-operator"))
    out: dict[str, set[str]] = {}
    for rule in role["rules"]:
        for group in rule["apiGroups"]:
            out.setdefault(group, set()).update(rule["resources"])
    return out


def _env(docs: list[dict[str, Any]]) -> dict[str, str]:
    container = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e.get("value", "") for e in container["env"]}


def test_by_default_the_operator_may_touch_deployments_and_statefulsets_read_hpas_and_nothing_else(
    helm: Path,
) -> None:
    docs = render(helm)
    rules = _operator_rules(docs)
    assert {"deployments", "deployments/scale", "statefulsets", "statefulsets/scale"} <= rules["apps"]
    assert "argoproj.io" not in rules and "keda.sh" not in rules
    assert rules["autoscaling"] == {"horizontalpodautoscalers"}
    role = next(d for d in docs if d["kind"] == "ClusterRole" and d["metadata"]["name"].endswith("-operator"))
    hpa_verbs = {v for r in role["rules"] if "autoscaling" in r["apiGroups"] for v in r["verbs"]}
    assert hpa_verbs == {"get", "list", "watch"}, "the operator never writes an HPA"
    env = _env(docs)
    assert (
        env["AIRLOCK_WORKLOAD_KINDS"] == "Deployment,StatefulSet" and env["AIRLOCK_SCALED_OBJECTS"] == "false"
    )
    assert env["AIRLOCK_HPAS"] == "true"


def test_each_kind_s_switch_grants_exactly_that_kind(helm: Path) -> None:
    docs = render(
        helm,
        "workloads.statefulSets=false",
        "workloads.rollouts=true",
        "autoscalers.scaledObjects=true",
        "autoscalers.horizontalPodAutoscalers=false",
    )
    rules = _operator_rules(docs)
    assert not {"statefulsets", "statefulsets/scale"} & rules["apps"]
    assert rules["argoproj.io"] == {"rollouts", "rollouts/scale"}
    assert rules["keda.sh"] == {"scaledobjects"} and "autoscaling" not in rules
    env = _env(docs)
    assert env["AIRLOCK_WORKLOAD_KINDS"] == "Deployment,Rollout" and env["AIRLOCK_SCALED_OBJECTS"] == "true"
