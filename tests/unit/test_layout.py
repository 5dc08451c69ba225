"""The shape of the project: operator/ is a source root, logic/ is pure, the runtime stands apart from its
tooling (airlock_dev), `python -m airlock` works."""

from __future__ import annotations

import ast
import fnmatch
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
LOGIC = ROOT / "operator" / "airlock" / "logic"
FORBIDDEN = ("kopf", "kubernetes", "airlock.k8s", "airlock.handlers", "airlock.reconciler")


def test_operator_folder_is_a_source_root_not_a_package() -> None:
    assert not (ROOT / "operator" / "__init__.py").exists(), (
        "operator/__init__.py makes a package named `operator`, which shadows the standard library; delete it"
    )


def test_logic_imports_nothing_that_does_io() -> None:
    offenders = []
    for path in sorted(LOGIC.rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [
                f"{path.name}: {n}" for n in names if n.split(".")[0] in FORBIDDEN or n.startswith(FORBIDDEN)
            ]
    assert offenders == [], f"logic/ must stay pure; these imports do I/O: {offenders}"


def test_python_dash_m_airlock_runs_from_the_repository_root() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "airlock", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={"PYTHONPATH": str(ROOT / "operator"), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    assert "validate" in result.stdout and "run" in result.stdout


def _top_level_modules() -> set[str]:
    package = ROOT / "operator" / "airlock"
    names = {p.stem for p in package.glob("*.py") if p.stem != "__init__"}
    names |= {p.parent.name for p in package.glob("*/__init__.py")}
    return {f"airlock.{n}" for n in names}


def _contract(name: str) -> dict[str, Any]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contracts: list[dict[str, Any]] = config["tool"]["importlinter"]["contracts"]
    found = [c for c in contracts if c["name"] == name]
    assert found, f"pyproject.toml has no import-linter contract named {name!r}"
    return found[0]


def test_every_top_level_module_of_the_runtime_is_in_a_layer() -> None:
    layered = {m.strip() for layer in _contract("layers")["layers"] for m in layer.split("|")}
    missing = sorted(_top_level_modules() - layered)
    assert missing == [], (
        f"{missing} are in no import-linter layer, so nothing checks what they import; add each to the "
        "`layers` contract in pyproject.toml"
    )


def test_every_module_but_k8s_is_forbidden_the_kubernetes_client() -> None:
    sources = set(_contract("only airlock.k8s talks to the kubernetes client")["source_modules"])
    missing = sorted(_top_level_modules() - {"airlock.k8s"} - sources)
    assert missing == [], (
        f"{missing} may import the kubernetes client unchecked; add them to source_modules of the contract "
        "'only airlock.k8s talks to the kubernetes client' in pyproject.toml, and keep the client calls in "
        "airlock.k8s"
    )


def test_the_wheel_ships_the_runtime_and_not_the_tooling() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    include = config["tool"]["setuptools"]["packages"]["find"]["include"]
    shipped = [p for p in ("airlock", "airlock.k8s", "airlock_dev", "airlock_dev.x") if _matches(p, include)]
    assert shipped == ["airlock", "airlock.k8s"], f"setuptools would package {shipped} (include={include})"


def _matches(name: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


def test_the_runtime_imports_without_the_development_dependencies() -> None:
    # cryptography is a dev dependency (airlock_dev's CA); the operator and the CLI must start without it.
    code = (
        "import sys; sys.modules['cryptography'] = None; sys.modules['airlock_dev'] = None\n"
        "import airlock.cli.run, airlock.cli.kubectl_plugin, airlock.handlers.operator, airlock.reconciler"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={"PYTHONPATH": str(ROOT / "operator"), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr


# One straight path per decision: the decisions and the controller stay in functions a reader can hold.
SIZE_LIMIT = 60
SIZED = [
    *sorted(LOGIC.glob("*.py")),
    *sorted((ROOT / "operator" / "airlock" / "k8s").glob("*.py")),
    *sorted((ROOT / "operator" / "airlock" / "handlers").glob("*.py")),
    ROOT / "operator" / "airlock" / "reconciler.py",
    ROOT / "operator" / "airlock" / "workqueue.py",
]


def test_no_function_of_the_decisions_or_the_controller_exceeds_sixty_lines() -> None:
    long = []
    for path in SIZED:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > SIZE_LIMIT:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({length} lines)")
    assert long == [], f"split these into named steps of at most {SIZE_LIMIT} lines: {long}"
