"""`airlock examples redate`: a copy of an example packet whose evidence is current, for a trial."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from airlock.cli.main import main
from airlock.cli.redate import redate_packet
from airlock.logic.digest import packet_digest
from airlock.models import ReadinessPacketSpec

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_a_redated_example_validates_today_with_its_approvals_re_signed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["examples", "redate", str(EXAMPLES / "packet-complete.yaml")]) == 0
    copy = tmp_path / "packet.yaml"
    copy.write_text(capsys.readouterr().out)
    packet = yaml.safe_load(copy.read_text())
    digest = packet_digest(ReadinessPacketSpec.model_validate(packet["spec"]))
    assert {a["digest"] for a in packet["spec"]["approvals"]} == {digest}
    # Evaluated as of now, with no --now: every required gate passes.
    assert main(["validate", str(EXAMPLES / "service.yaml"), str(copy)]) == 0


def test_redating_keeps_the_spacing_of_the_dates() -> None:
    doc = yaml.safe_load((EXAMPLES / "packet-complete.yaml").read_text())
    now = dt.datetime(2031, 5, 1, tzinfo=dt.UTC)
    out = redate_packet(doc, now)
    before = dt.datetime.fromisoformat(doc["spec"]["evals"]["evaluatedAt"].replace("Z", "+00:00"))
    after = dt.datetime.fromisoformat(out["spec"]["evals"]["evaluatedAt"].replace("Z", "+00:00"))
    review_before = dt.datetime.fromisoformat(
        doc["spec"]["securityReview"]["reviewedAt"].replace("Z", "+00:00")
    )
    review_after = dt.datetime.fromisoformat(
        out["spec"]["securityReview"]["reviewedAt"].replace("Z", "+00:00")
    )
    assert after - before == review_after - review_before
    assert after <= now - dt.timedelta(days=1)


def test_a_file_without_a_packet_is_an_input_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["examples", "redate", str(EXAMPLES / "service.yaml")]) == 2
    assert "holds no ReadinessPacket" in capsys.readouterr().err
