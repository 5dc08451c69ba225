"""The shape of the project: operator/ is a source root, logic/ is pure, `python -m airlock` works."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

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
