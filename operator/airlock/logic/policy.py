"""The policy in force: the cluster's ReadinessPolicy `default`, or the built-in one."""

from __future__ import annotations

from airlock.models.policy import BUILTIN_POLICY, ReadinessPolicySpec


def effective_policy(policy: ReadinessPolicySpec | None) -> ReadinessPolicySpec:
    """The policy to evaluate with; None (no ReadinessPolicy in the cluster) means the built-in one."""
    return BUILTIN_POLICY if policy is None else policy
