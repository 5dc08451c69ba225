"""The Airlock API as pydantic models: the source of crds/."""

from airlock.models.base import API_VERSION, GROUP, VERSION, ApiModel
from airlock.models.common import ALL_GATES, Condition, GateName, GateResult, Versions
from airlock.models.packet import ReadinessPacket, ReadinessPacketSpec, ReadinessPacketStatus
from airlock.models.policy import BUILTIN_POLICY, ReadinessPolicy, ReadinessPolicySpec
from airlock.models.service import AIService, AIServiceSpec, AIServiceStatus, Stage

__all__ = [
    "ALL_GATES",
    "API_VERSION",
    "BUILTIN_POLICY",
    "GROUP",
    "VERSION",
    "AIService",
    "AIServiceSpec",
    "AIServiceStatus",
    "ApiModel",
    "Condition",
    "GateName",
    "GateResult",
    "ReadinessPacket",
    "ReadinessPacketSpec",
    "ReadinessPacketStatus",
    "ReadinessPolicy",
    "ReadinessPolicySpec",
    "Stage",
    "Versions",
]
