"""A service's pass with stages declared: its stage, cap, conditions, Events, requeue and metrics."""

from __future__ import annotations

import datetime as dt

from airlock.logic.conditions import ConditionType, find
from airlock.logic.reconcile import Plan, ServiceView, Workload, plan_service
from airlock.metrics import Metrics
from airlock.models.packet import ReadinessPacketSpec
from airlock.models.policy import ReadinessPolicySpec
from airlock.models.service import AIServiceSpec, AIServiceStatus, StageStatus

NOW = dt.datetime(2026, 12, 2, 12, 0, tzinfo=dt.UTC)
# Limited needs the use case; Production also data governance, after ten minutes in Limited.
POLICY = ReadinessPolicySpec.model_validate(
    {
        "requiredGates": ["useCase", "dataGovernance"],
        "stages": [
            {"name": "Pilot"},
            {"name": "Limited", "replicas": 4, "requiredGates": ["useCase"], "trafficWeight": 25},
            {"name": "Production", "minSoak": "10m"},
        ],
    }
)
SPEC = AIServiceSpec.model_validate(
    {
        "workload": {"name": "bot"},
        "owner": "jane",
        "versions": {"model": "m1", "prompt": "p1"},
        "maxReplicas": 10,
        "requiredGates": ["useCase", "dataGovernance"],
    }
)
USE_CASE = {"summary": "Answers card questions.", "nonUseCases": ["Credit decisions"]}
BASE = {"service": "bot", "versions": {"model": "m1", "prompt": "p1"}, "useCase": USE_CASE}
LIMITED_PACKET = ReadinessPacketSpec.model_validate(BASE)


def plan(
    status: AIServiceStatus | None, replicas: int, packet: ReadinessPacketSpec | None, now: dt.datetime = NOW
) -> Plan:
    view = ServiceView("bot", "ns", 1, {}, SPEC, status)
    packets = [("bot-v1", packet)] if packet is not None else []
    return plan_service(view, Workload(replicas=replicas), packets, POLICY, now)


def ready(p: Plan) -> tuple[str, str, str]:
    cond = find(p.status.conditions, ConditionType.READY)
    assert cond is not None
    return cond.status, cond.reason, cond.message


def test_the_first_pass_names_the_next_stage_and_what_it_needs() -> None:
    p = plan(None, 1, None)
    assert (p.status.stage, p.status.next_stage, p.status.allowed_replicas) == ("Pilot", "Limited", 1)
    assert p.status.blocking == "useCase"
    assert ready(p) == (
        "False",
        "Pilot",
        "Pilot (stage 1 of 3): capped at 1 replicas; Limited needs: useCase.",
    )
    assert [e.reason for e in p.events] == []


def test_a_stage_promotion_is_announced_with_its_cap_and_traffic() -> None:
    first = plan(None, 1, None)
    p = plan(first.status, 1, LIMITED_PACKET)
    assert (p.status.stage, p.status.allowed_replicas, p.status.traffic_weight) == ("Limited", 4, 25)
    promoted = next(e for e in p.events if e.reason == "Promoted")
    assert promoted.message == (
        "bot is promoted from Pilot to Limited: every gate Limited needs passes; up to 4 replicas."
    )
    status, reason, message = ready(p)
    assert (status, reason) == ("False", "InStage")
    assert message == "Limited (stage 2 of 3): capped at 4 replicas; Production needs: dataGovernance."
    assert p.metadata is not None and p.metadata["labels"]["airlock.dev/stage"] == "Limited"


def test_the_soak_is_what_the_next_stage_needs_and_the_pass_is_requeued_for_its_end() -> None:
    limited = plan(plan(None, 1, None).status, 1, LIMITED_PACKET).status
    complete = ReadinessPacketSpec.model_validate(
        BASE
        | {"data": {"sources": [{"name": "help centre", "classification": "public"}], "forbidden": ["PINs"]}}
    )
    p = plan(limited, 1, complete, now=NOW + dt.timedelta(minutes=4))
    assert p.status.stage == "Limited"
    assert p.status.blocking == "soak in Limited until 2026-12-02T12:10:00Z"
    assert p.requeue_at == NOW + dt.timedelta(minutes=10)
    later = plan(p.status, 1, complete, now=NOW + dt.timedelta(minutes=10))
    assert (later.status.stage, later.status.allowed_replicas, later.status.next_stage) == (
        "Production",
        10,
        None,
    )
    assert ready(later)[:2] == ("True", "Production")
    [promoted] = [e for e in later.events if e.reason == "Promoted"]
    assert promoted.message == (
        "bot is promoted from Limited to Production: every gate Production needs passes and it served 10m "
        "in Limited; up to 10 replicas."
    )


def test_metrics_carry_the_policys_stage_names_and_drop_those_that_are_gone() -> None:
    metrics = Metrics()
    view = ServiceView("bot", "ns", 1, {}, SPEC, None)
    p = plan(plan(None, 1, None).status, 1, LIMITED_PACKET)
    metrics.observe_service(view, p)

    def stage(name: str) -> float | None:
        return metrics.registry.get_sample_value(
            "airlock_service_stage", {"namespace": "ns", "service": "bot", "stage": name}
        )

    assert (stage("Pilot"), stage("Limited"), stage("Production"), stage("Killed")) == (0, 1, 0, 0)
    metrics.observe_service(
        view,
        Plan(
            status=AIServiceStatus(
                stage="Pilot",
                stages=[
                    StageStatus(name=n, allowed_replicas=1, gates_pass=True) for n in ("Pilot", "Production")
                ],
            )
        ),
    )
    assert stage("Limited") is None and stage("Pilot") == 1
    metrics.forget_service("ns", "bot")
    assert stage("Pilot") is None and stage("Killed") is None


def test_eight_policy_stages_and_eight_of_the_service_fit_in_the_status() -> None:
    policy = ReadinessPolicySpec.model_validate(
        {"stages": [{"name": "Pilot"}, *({"name": f"P{i}"} for i in range(1, 7)), {"name": "Production"}]}
    )
    own = [{"name": "Pilot"}, *({"name": f"S{i}"} for i in range(1, 8))]
    spec = AIServiceSpec.model_validate(SPEC.to_api() | {"stages": own})
    view = ServiceView("bot", "ns", 1, {}, spec, None)
    p = plan_service(view, Workload(replicas=1), [], policy, NOW)
    assert len(p.status.stages) == 15
    AIServiceStatus.model_validate(p.status.to_api())


def test_the_ready_message_says_when_the_first_stage_is_given_gates() -> None:
    own = [{"name": "Pilot", "requiredGates": ["evals"]}]
    spec = AIServiceSpec.model_validate(SPEC.to_api() | {"stages": own})
    p = plan_service(ServiceView("bot", "ns", 1, {}, spec, None), Workload(replicas=1), [], POLICY, NOW)
    assert "stage Pilot is the first" in ready(p)[2]
