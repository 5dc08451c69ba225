"""The documented vocabulary of gate reasons: the `reason` of every GateResult is one of these."""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    """Why a readiness gate passed or failed, in PascalCase as Kubernetes reasons are."""

    #: The gate's evidence is complete and current.
    PASSED = "Passed"
    #: No ReadinessPacket attests the versions the AIService runs, so no packet gate can pass.
    NO_PACKET = "NoPacket"
    #: The packet section this gate reads is absent.
    MISSING = "Missing"
    #: The section is present but a field the gate needs is empty.
    INCOMPLETE = "Incomplete"
    #: The evidence is older than the policy's maximum age (maxAgeDays).
    EXPIRED = "Expired"
    #: The evidence is dated in the future beyond allowed clock skew, so it cannot be trusted.
    FUTURE_TIMESTAMP = "FutureTimestamp"
    #: The AIService the packet names was not found (or, offline, was not given).
    SERVICE_NOT_FOUND = "ServiceNotFound"
    #: The packet attests versions other than those the AIService runs.
    VERSION_MISMATCH = "VersionMismatch"
    #: The workload's pod template declares versions other than those the packet attests.
    WORKLOAD_VERSION_MISMATCH = "WorkloadVersionMismatch"
    #: A failure-mode category the policy requires has no eval case.
    CATEGORY_NOT_COVERED = "CategoryNotCovered"
    #: Fewer eval cases pass than the required pass rate demands.
    PASS_RATE_TOO_LOW = "PassRateTooLow"
    #: A write, irreversible or sensitive tool can run without human approval.
    EXCESSIVE_AGENCY = "ExcessiveAgency"
    #: One or more OWASP Top 10 for LLM Applications risks have no assessment, or, for a service whose
    #: tools act, OWASP Top 10 for Agentic Applications risks.
    RISK_NOT_ASSESSED = "RiskNotAssessed"
    #: The estimated cost a day exceeds the budget a day.
    OVER_BUDGET = "OverBudget"
    #: A role the policy requires has not approved the packet.
    NO_APPROVAL = "NoApproval"
    #: A required role approved different packet content: the packet changed since.
    STALE_APPROVAL = "StaleApproval"
