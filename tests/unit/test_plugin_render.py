"""What `kubectl airlock` prints, from AIService objects as the API server returns them."""

from __future__ import annotations

import io
from typing import Any

import pytest

from airlock.cli.plugin_render import (
    CYAN,
    ELLIPSIS,
    GREEN,
    NOT_EVALUATED,
    RED,
    RESET,
    YELLOW,
    Cell,
    ServiceInfo,
    cap_text,
    kill_switch_cell,
    next_step,
    render_explain,
    render_status,
    render_table,
    terminal_width,
    truncate,
    use_colour,
)
from airlock.k8s.plugin_client import Workload


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def gate(name: str, passed: bool, message: str, reason: str | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "passed": passed,
        "reason": reason or ("Passed" if passed else "Missing"),
        "message": message,
    }


def service(
    *,
    name: str = "support-assistant",
    annotations: dict[str, str] | None = None,
    status: dict[str, Any] | None = None,
    generation: int = 1,
    **spec: Any,
) -> ServiceInfo:
    return ServiceInfo.from_api(
        {
            "metadata": {
                "name": name,
                "namespace": "support",
                "generation": generation,
                "annotations": annotations or {},
            },
            "spec": {
                "workload": {"name": name},
                "owner": "jane.doe@example.com",
                "versions": {"model": "gpt-4o-2024-08-06", "prompt": "v14"},
                "pilotReplicas": 1,
                **spec,
            },
            **({"status": status} if status is not None else {}),
        }
    )


PILOT_STATUS: dict[str, Any] = {
    "stage": "Pilot",
    "allowedReplicas": 1,
    "replicas": 1,
    "gatesPassed": "9/11",
    "blockingGates": ["evals", "signoffs"],
    "blocking": "evals, signoffs",
    "gates": [
        gate("useCase", True, "Use case summarised."),
        gate("evals", False, "Add eval cases for prompt-injection.", "CategoryNotCovered"),
        gate("cost", False, "Give a cost estimate.", "Missing"),
        gate("signoffs", False, "Ask the owner to approve.", "NoApproval"),
    ],
    "packet": "support-assistant-v14",
    "killSwitch": {"engaged": False},
    "conditions": [
        {"type": "Ready", "status": "False", "reason": "Pilot", "message": "Pilot: capped at 1 replicas."},
    ],
    "observedGeneration": 1,
}
PRODUCTION_STATUS: dict[str, Any] = {
    **PILOT_STATUS,
    "stage": "Production",
    "allowedReplicas": -1,
    "blockingGates": [],
    "blocking": "",
}
KILLED = {"airlock.dev/kill-switch": "true"}


# --- the table ------------------------------------------------------------------------------------------


def test_a_long_last_column_is_cut_with_an_ellipsis_so_every_line_fits_the_terminal() -> None:
    rows = [
        [Cell("support-assistant"), Cell("Pilot"), Cell("evals, observability, securityReview, signoffs")]
    ]
    table = render_table(("NAME", "STAGE", "BLOCKING"), rows, width=40, colour=False)
    lines = table.splitlines()
    assert all(len(line) <= 40 for line in lines), table
    assert lines[1].endswith(ELLIPSIS)
    assert lines[1].startswith("support-assistant   Pilot   evals")


def test_columns_other_than_the_last_are_never_cut() -> None:
    rows = [[Cell("a-very-long-service-name-indeed"), Cell("Production"), Cell("-")]]
    table = render_table(("NAME", "STAGE", "BLOCKING"), rows, width=20, colour=False)
    assert "a-very-long-service-name-indeed" in table and "Production" in table


def test_without_a_known_width_nothing_is_cut() -> None:
    blocking = "evals, observability, securityReview, signoffs, rollout, cost"
    table = render_table(("NAME", "BLOCKING"), [[Cell("x"), Cell(blocking)]], width=None, colour=False)
    assert table.splitlines()[1].endswith(blocking)


def test_a_line_that_already_fits_is_left_whole() -> None:
    table = render_table(("NAME", "BLOCKING"), [[Cell("x"), Cell("evals")]], width=200, colour=False)
    assert ELLIPSIS not in table


def test_truncate_keeps_short_text_and_marks_cut_text() -> None:
    assert truncate("evals", 5) == "evals"
    assert truncate("evals, cost", 6) == "evals" + ELLIPSIS


def test_colour_wraps_only_the_text_so_columns_stay_aligned() -> None:
    rows = [[Cell("a"), Cell("Killed", RED), Cell("x")], [Cell("b"), Cell("Production"), Cell("y")]]
    plain = render_table(("NAME", "STAGE", "LAST"), rows, width=None, colour=False).splitlines()
    painted = render_table(("NAME", "STAGE", "LAST"), rows, width=None, colour=True).splitlines()
    assert painted[1] == plain[1].replace("Killed", f"{RED}Killed{RESET}")
    assert painted[2] == plain[2]


# --- colour and width from the environment ----------------------------------------------------------------


def test_colour_is_off_when_output_is_not_a_terminal() -> None:
    assert use_colour(io.StringIO(), environ={}) is False


def test_colour_is_on_for_a_terminal() -> None:
    assert use_colour(FakeTerminal(), environ={}) is True


def test_no_color_turns_colour_off_even_on_a_terminal() -> None:
    assert use_colour(FakeTerminal(), environ={"NO_COLOR": "1"}) is False


def test_an_empty_no_color_does_not_count_as_set() -> None:
    assert use_colour(FakeTerminal(), environ={"NO_COLOR": ""}) is True


def test_a_pipe_has_no_width_so_lines_stay_whole_for_grep() -> None:
    assert terminal_width(io.StringIO(), environ={}) is None


def test_columns_sets_the_width_even_for_a_pipe() -> None:
    assert terminal_width(io.StringIO(), environ={"COLUMNS": "72"}) == 72


def test_status_output_to_a_pipe_has_no_escape_codes() -> None:
    killed = service(annotations=KILLED, status={**PILOT_STATUS, "stage": "Killed"})
    out = render_status([killed], {}, all_namespaces=False, width=None, colour=use_colour(io.StringIO(), {}))
    assert "\033[" not in out
    assert "Killed" in out


# --- status rows --------------------------------------------------------------------------------------------


def test_a_service_without_status_shows_dashes_and_says_it_is_not_evaluated() -> None:
    out = render_status([service()], {}, all_namespaces=False, width=None, colour=False)
    row = out.splitlines()[1]
    assert row.split()[:5] == ["support-assistant", "-", "-", "-", "-"]
    assert row.endswith(NOT_EVALUATED)


def test_all_namespaces_adds_the_namespace_as_the_first_column() -> None:
    out = render_status([service(status=PILOT_STATUS)], {}, all_namespaces=True, width=None, colour=False)
    header, row = out.splitlines()
    assert header.split()[:2] == ["NAMESPACE", "NAME"]
    assert row.split()[:3] == ["support", "support-assistant", "Pilot"]


def test_the_deployments_own_replicas_win_over_the_operators_record() -> None:
    workloads = {"support/support-assistant": Workload("support-assistant", "found", 3)}
    out = render_status(
        [service(status=PILOT_STATUS)], workloads, all_namespaces=False, width=None, colour=False
    )
    assert out.splitlines()[1].split()[5] == "3"


def test_a_missing_deployment_shows_no_replicas() -> None:
    workloads = {"support/support-assistant": Workload("support-assistant", "missing")}
    out = render_status(
        [service(status=PILOT_STATUS)], workloads, all_namespaces=False, width=None, colour=False
    )
    assert out.splitlines()[1].split()[5] == "-"


def test_no_cap_is_shown_in_words() -> None:
    production = PRODUCTION_STATUS
    out = render_status([service(status=production)], {}, all_namespaces=False, width=None, colour=False)
    assert "no cap" in out.splitlines()[1]


@pytest.mark.parametrize(
    ("annotations", "stage", "kill_status", "expected"),
    [
        ({"airlock.dev/kill-switch": "true"}, "Killed", {"engaged": True}, "on"),
        ({"airlock.dev/kill-switch": "true"}, "Pilot", {"engaged": False}, "on (pending)"),
        ({"airlock.dev/kill-switch": "yes"}, "Pilot", {"engaged": False}, "on (pending)"),
        ({}, "Killed", {"engaged": True, "replicasBefore": 4}, "off (pending)"),
        ({}, "Pilot", {"engaged": False, "replicasBefore": 4}, "off (pending)"),
        ({"airlock.dev/kill-switch": "false"}, "Pilot", {"engaged": False}, "off"),
        ({}, "Pilot", {"engaged": False}, "off"),
    ],
    ids=[
        "engaged-and-carried-out",
        "engaged-but-operator-has-not-acted",
        "any-value-but-false-engages",
        "released-but-still-killed",
        "released-restore-not-finished",
        "false-releases",
        "never-engaged",
    ],
)
def test_the_kill_switch_column_says_when_the_annotation_and_the_operator_disagree(
    annotations: dict[str, str], stage: str, kill_status: dict[str, Any], expected: str
) -> None:
    info = service(
        annotations=annotations, status={**PILOT_STATUS, "stage": stage, "killSwitch": kill_status}
    )
    assert kill_switch_cell(info).text == expected


def test_fields_an_older_or_newer_operator_writes_differently_do_not_break_reading() -> None:
    info = ServiceInfo.from_api(
        {
            "metadata": {"name": "x", "namespace": "y", "annotations": None},
            "spec": {"workload": "not-an-object", "pilotReplicas": "two"},
            "status": {"stage": "Pilot", "gates": ["odd", {"name": "evals"}], "somethingNew": {"a": 1}},
        }
    )
    assert info.stage == "Pilot"
    assert info.pilot_replicas == 1
    assert [g.name for g in info.gates] == ["?", "evals"]


# --- explain ------------------------------------------------------------------------------------------------


def test_the_next_step_is_the_first_blocking_gates_message() -> None:
    assert next_step(service(status=PILOT_STATUS)) == "Add eval cases for prompt-injection."


def test_a_failing_gate_that_is_not_required_is_not_the_next_step() -> None:
    status = {**PILOT_STATUS, "blockingGates": ["signoffs"], "blocking": "signoffs"}
    assert next_step(service(status=status)) == "Ask the owner to approve."


def test_nothing_blocks_promotion_when_no_gate_blocks() -> None:
    status = PRODUCTION_STATUS
    assert next_step(service(status=status)) == "Nothing blocks promotion."


def test_a_killed_service_is_told_how_to_restore_it() -> None:
    info = service(annotations=KILLED, status={**PILOT_STATUS, "stage": "Killed"})
    assert "kubectl airlock restore support-assistant -n support" in next_step(info)


def test_a_missing_deployment_is_the_next_step_before_any_gate() -> None:
    status = {
        **PILOT_STATUS,
        "conditions": [
            {
                "type": "WorkloadFound",
                "status": "False",
                "reason": "WorkloadNotFound",
                "message": "Deployment support-assistant not found; create it.",
            },
        ],
    }
    assert next_step(service(status=status)) == "Deployment support-assistant not found; create it."


@pytest.mark.parametrize(
    ("annotations", "status", "spec", "expected"),
    [
        ({}, PILOT_STATUS, {}, "1 replica: spec.pilotReplicas"),
        ({}, PRODUCTION_STATUS, {}, "no cap"),
        (
            {},
            {**PRODUCTION_STATUS, "allowedReplicas": 20},
            {"maxReplicas": 20},
            "20 replicas: spec.maxReplicas",
        ),
        (
            {},
            {
                **PILOT_STATUS,
                "stage": "Production",
                "allowedReplicas": 6,
                "promoted": True,
                "heldReplicas": 6,
            },
            {},
            "6 replicas: promoted earlier, but required gates no longer pass",
        ),
        (KILLED, PILOT_STATUS, {}, "0 replicas: the kill switch is engaged"),
        ({}, None, {"pilotReplicas": 2}, "2 replicas: spec.pilotReplicas, which admission uses until"),
    ],
    ids=["pilot", "uncapped", "ceiling", "held-after-regression", "killed", "not-evaluated"],
)
def test_the_cap_says_how_many_replicas_and_why(
    annotations: dict[str, str], status: dict[str, Any] | None, spec: dict[str, Any], expected: str
) -> None:
    assert cap_text(service(annotations=annotations, status=status, **spec)).startswith(expected)


def test_explain_lists_every_gate_with_its_verdict_and_ends_with_the_next_step() -> None:
    out = render_explain(
        service(status=PILOT_STATUS), Workload("support-assistant", "found", 1), width=None, colour=False
    )
    lines = out.splitlines()
    assert any(line.startswith("  PASS  useCase") and line.endswith("Use case summarised.") for line in lines)
    assert any(line.startswith("  FAIL  evals") and "CategoryNotCovered" in line for line in lines)
    assert any(line.startswith("  FAIL  cost") and "Missing (not required)" in line for line in lines)
    assert "  Packet:      support-assistant-v14" in lines
    assert lines[-1] == "Next step: Add eval cases for prompt-injection."


def test_explain_wraps_long_messages_to_the_width_with_a_hanging_indent() -> None:
    long = "Re-run the evals; " * 10
    status = {
        **PILOT_STATUS,
        "gates": [gate("evals", False, long.strip(), "Expired")],
        "blockingGates": ["evals"],
    }
    out = render_explain(
        service(status=status), Workload("support-assistant", "found", 1), width=60, colour=False
    )
    lines = out.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("  FAIL  evals"))
    last = lines.index("", first)
    gate_lines = lines[first:last]
    indent = gate_lines[0].index("Re-run")
    assert len(gate_lines) > 1
    assert all(len(line) <= 60 for line in gate_lines)
    assert all(line[:indent] == " " * indent and line[indent] != " " for line in gate_lines[1:])
    assert " ".join(line.strip() for line in gate_lines).endswith(long.strip())


def test_explain_says_a_message_shared_by_consecutive_gates_once() -> None:
    no_packet = "No ReadinessPacket attests these versions; apply one."
    status = {
        **PILOT_STATUS,
        "gates": [gate(name, False, no_packet, "NoPacket") for name in ("useCase", "evals", "cost")],
        "blockingGates": ["useCase", "evals", "cost"],
    }
    out = render_explain(service(status=status), Workload("x", "found", 1), width=None, colour=False)
    assert out.count(no_packet) == 2, "once in the gate table, once as the next step"
    assert out.count("(same as above)") == 2


def test_explain_says_when_the_status_is_older_than_the_spec() -> None:
    out = render_explain(
        service(status=PILOT_STATUS, generation=3), Workload("x", "found", 1), width=None, colour=False
    )
    assert "last evaluated generation 1; the spec is at generation 3" in out


def test_explain_of_a_service_without_status_says_it_is_not_evaluated() -> None:
    out = render_explain(service(), Workload("support-assistant", "missing"), width=None, colour=False)
    assert NOT_EVALUATED in out
    assert "not found in namespace support" in out
    assert out.splitlines()[-1].startswith("Next step: Wait a few seconds for the operator")


@pytest.mark.parametrize(
    ("deployment", "holds"),
    [
        pytest.param(Workload("support-assistant", "found", 0), True, id="at 0 it holds it at 0"),
        pytest.param(Workload("support-assistant", "found", 4), False, id="still at 4 it is scaling to 0"),
        pytest.param(Workload("support-assistant", "missing"), True, id="no Deployment runs nothing"),
    ],
)
def test_explain_says_the_switch_holds_it_at_zero_only_when_it_is_at_zero(
    deployment: Workload, holds: bool
) -> None:
    # The operator is down: the annotation is set, the status still says Production.
    info = service(annotations=KILLED, status=PRODUCTION_STATUS)
    text = next_step(info, deployment)
    assert ("holds it at 0 replicas" in text) is holds
    if not holds:
        assert "still asks for 4 replicas" in text
        assert "kubectl scale deployment support-assistant -n support --replicas=0" in text
    assert "kubectl airlock restore support-assistant -n support" in text


def test_explain_shows_what_the_person_who_engaged_the_switch_recorded() -> None:
    annotations = {
        **KILLED,
        "airlock.dev/kill-switch-by": "oncall@example.com",
        "airlock.dev/kill-switch-since": "2026-11-20T11:30:00Z",
        "airlock.dev/kill-switch-replicas-before": "4",
    }
    text = render_explain(
        service(annotations=annotations, status=PRODUCTION_STATUS),
        Workload("support-assistant", "found", 4),
        width=None,
        colour=False,
    )
    assert "requested by oncall@example.com since 2026-11-20T11:30:00Z; replicas before: 4" in text


# --- stages ----------------------------------------------------------------------------------------------


def three_stages(
    reached: str = "Limited", *, limited_needs: list[str] | None = None, **status: Any
) -> dict[str, Any]:
    """A status as an operator with three declared stages writes it: Canary, Limited and Production."""
    limited_blocking = limited_needs or []
    production_blocking = sorted({*limited_blocking, "signoffs"}, key=["evals", "cost", "signoffs"].index)
    names = ["Canary", "Limited", "Production"]
    following = names[names.index(reached) + 1] if reached != "Production" else None
    base: dict[str, Any] = {
        **PILOT_STATUS,
        "stage": reached,
        "reachedStage": reached,
        "peakStage": reached,
        "nextStage": following,
        "stageSince": "2026-11-20T09:00:00Z",
        "trafficWeight": {"Canary": 5, "Limited": 25, "Production": 100}[reached],
        "allowedReplicas": {"Canary": 1, "Limited": 5, "Production": -1}[reached],
        "blockingGates": production_blocking,
        "blocking": ", ".join(limited_blocking if reached == "Canary" else production_blocking),
        "stages": [
            {
                "name": "Canary",
                "allowedReplicas": 1,
                "gatesPass": True,
                "blockingGates": [],
                "trafficWeight": 5,
            },
            {
                "name": "Limited",
                "allowedReplicas": 5,
                "gatesPass": not limited_blocking,
                "blockingGates": limited_blocking,
                "minSoak": "1h",
                "trafficWeight": 25,
            },
            {
                "name": "Production",
                "allowedReplicas": -1,
                "gatesPass": False,
                "blockingGates": production_blocking,
                "minSoak": "24h",
                "trafficWeight": 100,
            },
        ],
        "conditions": [
            {
                "type": "Ready",
                "status": "False",
                "reason": "InStage" if reached == "Limited" else "Pilot",
                "message": f"{reached}: capped.",
            }
        ],
    }
    return {**base, **status}


def stage_rows(out: str) -> dict[str, str]:
    """The lines of explain's stage list, by stage name (the current one keeps its "> " marker)."""
    rows = {}
    for line in out.splitlines():
        words = line.split()
        if len(words) > 1 and line.startswith("  ") and words[0] in (">", "Canary", "Limited", "Production"):
            rows[words[1] if words[0] == ">" else words[0]] = line
    return rows


def test_explain_lists_each_stage_with_cap_soak_traffic_and_what_blocks_it_marking_the_current_one() -> None:
    out = render_explain(
        service(status=three_stages()), Workload("support-assistant", "found", 5), width=None, colour=False
    )
    rows = stage_rows(out)
    assert rows["Canary"].split() == ["Canary", "cap", "1", "no", "soak", "traffic", "5%", "PASS"]
    assert rows["Limited"].split() == [">", "Limited", "cap", "5", "soak", "1h", "traffic", "25%", "PASS"]
    assert rows["Production"].split() == [
        "Production", "no", "cap", "soak", "24h", "traffic", "100%", "blocked:", "signoffs",
    ]  # fmt: skip
    assert (
        "Stages: in Limited (2 of 3) since 2026-11-20T09:00:00Z; traffic weight 25%; "
        "Production needs: signoffs" in out.splitlines()
    )


def test_explain_shows_when_the_soak_before_the_next_stage_ends() -> None:
    soaking = three_stages("Canary", blocking="soak in Canary until 2026-11-20T10:00:00Z")
    info = service(status=soaking)
    out = render_explain(info, Workload("support-assistant", "found", 1), width=None, colour=False)
    rows = stage_rows(out)
    assert rows["Limited"].endswith("PASS; waits for the soak in Canary until 2026-11-20T10:00:00Z")
    assert rows["Canary"].startswith("  > Canary")
    assert next_step(info).startswith(
        "Nothing blocks Limited but time: the soak in Canary until 2026-11-20T10:00:00Z."
    )


def test_explain_of_a_status_without_stages_has_no_stage_list() -> None:
    out = render_explain(
        service(status=PILOT_STATUS), Workload("support-assistant", "found", 1), width=None, colour=False
    )
    assert "Stages:" not in out
    assert stage_rows(out) == {}


def test_the_next_step_is_what_the_next_stage_needs_not_a_later_one() -> None:
    # evals blocks only Production; signoffs blocks Limited, the next stage.
    status = three_stages("Canary", limited_needs=["signoffs"], blockingGates=["evals", "signoffs"])
    info = service(status=status)
    assert next_step(info) == "Ask the owner to approve."


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (
            three_stages("Canary", limited_needs=["evals"]),
            "1 replica: the cap of stage Canary (1 of 3), the first",
        ),
        (
            three_stages("Limited"),
            "5 replicas: the cap of stage Limited (2 of 3); Production needs: signoffs",
        ),
        (
            three_stages(
                "Limited",
                allowedReplicas=-1,
                stages=[
                    {**s, "allowedReplicas": -1} if s["name"] == "Limited" else s
                    for s in three_stages()["stages"]
                ],
            ),
            "no cap: stage Limited (2 of 3) sets none; Production needs: signoffs",
        ),
    ],
    ids=["custom-first-stage", "between", "no-cap-between"],
)
def test_the_cap_of_a_custom_stage_names_it_and_what_the_next_needs(
    status: dict[str, Any], expected: str
) -> None:
    assert cap_text(service(status=status)).startswith(expected)


def test_stage_colours_follow_the_place_in_the_ladder_whatever_the_names() -> None:
    services = [
        service(name=f"svc-{stage.lower()}", status=three_stages(stage))
        for stage in ("Canary", "Limited", "Production")
    ]
    services.append(
        service(name="svc-killed", annotations=KILLED, status=three_stages("Limited", stage="Killed"))
    )
    out = render_status(services, {}, all_namespaces=False, width=None, colour=True)
    rows = out.splitlines()[1:]
    assert f"{YELLOW}Canary{RESET}" in rows[0]
    assert f"{CYAN}Limited{RESET}" in rows[1]
    assert f"{GREEN}Production{RESET}" in rows[2]
    assert f"{RED}Killed{RESET}" in rows[3]


def test_the_status_table_shows_the_next_stage() -> None:
    out = render_status(
        [service(status=three_stages("Canary"))], {}, all_namespaces=False, width=None, colour=False
    )
    header, row = out.splitlines()
    assert header.split()[:3] == ["NAME", "STAGE", "NEXT"]
    assert row.split()[:3] == ["support-assistant", "Canary", "Limited"]


def test_explain_of_a_killed_service_marks_the_stage_it_had_reached() -> None:
    killed = service(annotations=KILLED, status=three_stages("Limited", stage="Killed", trafficWeight=0))
    out = render_explain(killed, Workload("support-assistant", "found", 0), width=None, colour=False)
    assert any(line.startswith("Stages: killed; reached Limited (2 of 3)") for line in out.splitlines())
    assert stage_rows(out)["Limited"].startswith("  > Limited")
    assert "traffic weight 0%" in out
