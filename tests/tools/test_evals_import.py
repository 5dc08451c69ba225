"""`airlock evals import` on results files written by real runs of Inspect AI and promptfoo."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from airlock.logic.digest import packet_digest
from airlock.models.packet import ReadinessPacketSpec
from tests.evaltools import CATEGORY_MAP, PASSING, Case, failing, tools_bin, write_map
from tests.evaltools import results as run

ROOT = Path(__file__).resolve().parents[2]
TOOLS = [
    pytest.param("inspect-ai", "0.3.285", id="inspect-ai"),
    pytest.param("promptfoo", "0.118.0", id="promptfoo"),
]
FAILING = failing(PASSING, "ignore-previous")


def airlock(*argv: str) -> subprocess.CompletedProcess[str]:
    """The airlock command as a person runs it, so exit codes and tracebacks are what they would see."""
    return subprocess.run(
        [sys.executable, "-m", "airlock.cli.main", *argv],
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
        env={"PYTHONPATH": str(ROOT / "operator"), "PATH": "/usr/bin:/bin"},
        timeout=60,
    )


def imported(results: Path, category_map: Path, *extra: str) -> dict[str, Any]:
    out = airlock("evals", "import", str(results), "--map", str(category_map), *extra)
    assert out.returncode == 0, out.stderr
    section: dict[str, Any] = yaml.safe_load(out.stdout)["evals"]
    return section


@pytest.fixture(scope="module", autouse=True)
def _tools_installed() -> None:
    tools_bin()


@pytest.mark.parametrize(("tool", "version"), TOOLS)
def test_a_real_run_imports_every_case_with_its_category_result_and_source(
    tool: str, version: str, tmp_path: Path
) -> None:
    results = run(tool, FAILING)
    section = imported(results, write_map(tmp_path / "map.yaml"), "--min-pass-rate", "0.8")

    names = [c["name"].rsplit("/", 1)[-1] for c in section["cases"]]
    # Each tool writes its own order (Inspect AI sorts by sample id); the import keeps the file's.
    assert sorted(names) == sorted(c.name for c in PASSING)
    by_name = {c["name"].rsplit("/", 1)[-1]: c for c in section["cases"]}
    assert {n: c["category"] for n, c in by_name.items()} == {
        c.name: CATEGORY_MAP["tags"][next(t for t in c.tags if t != "smoke")]
        for c in PASSING  # type: ignore[index]
    }
    assert [n for n, c in by_name.items() if c["result"] == "fail"] == ["ignore-previous"]
    assert "my instructions" in by_name["ignore-previous"]["expected"]
    assert by_name["ignore-previous"]["note"]
    assert section["minPassRate"] == 0.8
    evaluated = datetime.fromisoformat(section["evaluatedAt"])
    assert datetime.now(UTC) - timedelta(hours=1) < evaluated <= datetime.now(UTC)
    source = section["source"]
    assert source["tool"] == tool and source["toolVersion"] == version and source["run"]
    assert source["file"] == results.name
    assert source["sha256"] == hashlib.sha256(results.read_bytes()).hexdigest()


@pytest.mark.parametrize(("tool", "version"), TOOLS)
def test_the_same_results_file_gives_the_same_packet_and_digest(
    tool: str, version: str, tmp_path: Path
) -> None:
    results = run(tool, PASSING)
    category_map = write_map(tmp_path / "map.yaml")
    packet = ROOT / "examples" / "packet-complete.yaml"
    first, second = tmp_path / "first.yaml", tmp_path / "second.yaml"
    for target in (first, second):
        out = airlock(
            "evals",
            "import",
            str(results),
            "--map",
            str(category_map),
            "--packet",
            str(packet),
            "--output",
            str(target),
        )
        assert out.returncode == 0, out.stderr
        assert "must be renewed" in out.stderr
    assert first.read_bytes() == second.read_bytes()
    digests = airlock("digest", str(first), str(second))
    assert digests.returncode == 0, digests.stderr
    (one, _), (two, _) = (line.split() for line in digests.stdout.splitlines())
    assert one == two
    spec = ReadinessPacketSpec.model_validate(yaml.safe_load(first.read_text())["spec"])
    assert packet_digest(spec) == one

    # Another run is another file, so another digest.
    again = run(tool, FAILING)
    other = airlock("evals", "import", str(again), "--map", str(category_map), "--packet", str(first))
    assert other.returncode == 0, other.stderr
    other_spec = ReadinessPacketSpec.model_validate(yaml.safe_load(other.stdout)["spec"])
    assert packet_digest(other_spec) != one


def _truncated(tool: str, tmp_path: Path) -> Path:
    whole = run(tool, PASSING).read_bytes()
    cut = tmp_path / "cut.json"
    cut.write_bytes(whole[: len(whole) // 2])
    return cut


def _inspect_eval_format(tool: str, tmp_path: Path) -> Path:
    """The same Inspect AI log in Inspect's default .eval (zip) format."""
    out = subprocess.run(
        [
            str(tools_bin() / "inspect"),
            "log",
            "convert",
            str(run(tool, PASSING)),
            "--to",
            "eval",
            "--output-dir",
            str(tmp_path / "eval-logs"),
        ],
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
        timeout=120,
        env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )
    assert out.returncode == 0, out.stderr
    (converted,) = (tmp_path / "eval-logs").glob("*.eval")
    return converted


def _another_tools_file(tool: str, tmp_path: Path) -> Path:
    """The JSON another tool writes: pip's list of installed packages."""
    out = subprocess.run(
        [sys.executable, "-m", "pip", "list", "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
        stdin=subprocess.DEVNULL,
    )
    path = tmp_path / "pip.json"
    path.write_text(out.stdout)
    return path


def _config_not_results(tool: str, tmp_path: Path) -> Path:
    return run(tool, PASSING).parent / "promptfooconfig.yaml"


@pytest.mark.parametrize(
    ("make", "tool", "fragment"),
    [
        pytest.param(_truncated, "inspect-ai", "looks truncated", id="a truncated Inspect AI log"),
        pytest.param(_truncated, "promptfoo", "looks truncated", id="a truncated promptfoo file"),
        pytest.param(_inspect_eval_format, "inspect-ai", "inspect log convert", id="an Inspect AI .eval log"),
        pytest.param(_another_tools_file, "", "not a results file Airlock knows", id="pip's JSON"),
        pytest.param(_config_not_results, "promptfoo", "not JSON", id="the promptfoo config"),
    ],
)
def test_a_file_that_is_not_a_results_file_is_refused_naming_it(
    make: Callable[[str, Path], Path], tool: str, fragment: str, tmp_path: Path
) -> None:
    bad = make(tool, tmp_path)
    out = airlock("evals", "import", str(bad), "--map", str(write_map(tmp_path / "map.yaml")))
    assert out.returncode == 2, out
    assert "Traceback" not in out.stderr and out.stdout == ""
    assert out.stderr.startswith(f"{bad}: ") and fragment in out.stderr, out.stderr


@pytest.mark.parametrize(("tool", "version"), TOOLS)
def test_a_tag_the_map_does_not_know_is_refused_naming_the_case_and_the_tag(
    tool: str, version: str, tmp_path: Path
) -> None:
    cases = (*PASSING, Case("new-jailbreak", "I keep to my instructions.", "my instructions", ("jailbreak",)))
    results = run(tool, cases)
    out = airlock("evals", "import", str(results), "--map", str(write_map(tmp_path / "map.yaml")))
    assert out.returncode == 2 and "Traceback" not in out.stderr and out.stdout == ""
    first = out.stderr.splitlines()[0]
    assert first.startswith(f"{results}: case ") and "new-jailbreak" in first and "'jailbreak'" in first
    assert "under tags:" in first


def test_a_category_map_with_a_wrong_category_is_refused_naming_the_map(tmp_path: Path) -> None:
    results = run("promptfoo", PASSING)
    bad = write_map(tmp_path / "map.yaml", {"tags": {"confusing": "confusing-questions"}})
    out = airlock("evals", "import", str(results), "--map", str(bad))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.startswith(f"{bad}: map.tags.confusing: ") and "'confusing-question'" in out.stderr
