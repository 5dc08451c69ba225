"""`airlock validate` on arbitrary packets: always an answer (0, 1 or 2), never a crash."""

from __future__ import annotations

import contextlib
import io
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airlock.cli.main import main
from tests.strategies import junk

sections = st.fixed_dictionaries(
    {},
    optional={
        name: junk
        for name in (
            "useCase",
            "data",
            "evals",
            "observability",
            "tools",
            "securityReview",
            "cost",
            "ownership",
            "rollout",
            "approvals",
            "versions",
            "service",
        )
    },
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=sections, with_service=st.booleans())
def test_validate_answers_every_packet_with_an_exit_code_and_no_traceback(
    spec: dict[str, Any], with_service: bool
) -> None:
    docs: list[dict[str, Any]] = [
        {
            "apiVersion": "airlock.dev/v1alpha1",
            "kind": "ReadinessPacket",
            "metadata": {"name": "p", "namespace": "support"},
            "spec": {"service": "support-assistant", "versions": {"model": "m", "prompt": "p"}, **spec},
        }
    ]
    if with_service:
        docs.append(
            yaml.safe_load((Path(__file__).resolve().parents[2] / "examples" / "service.yaml").read_text())
        )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "packet.yaml"
        path.write_text(yaml.safe_dump_all(docs))
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["validate", str(path), "--now", "2026-11-20T00:00:00Z"])
    assert code in (0, 1, 2)
    assert "Traceback" not in out.getvalue() + err.getvalue()
    if code == 2:
        assert "packet.yaml: document 1" in err.getvalue(), err.getvalue()
