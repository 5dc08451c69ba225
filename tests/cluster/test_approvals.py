"""Approvals are identities: the admission policies in manifests/admission/approvals.yaml, on the real API
server, with ServiceAccount tokens as the people who approve.

Each person is a ServiceAccount bound to exactly what the case needs: editing packets in the namespace,
plus or minus the shipped ClusterRoles airlock-approver-<role> and airlock-gitops-approvals. The default
identity of the other tests (a cluster admin) is checked to stay unaffected.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT, Cluster

APPROVER_ROLES = ROOT / "manifests" / "rbac" / "approver-roles.yaml"
DIGEST = "sha256:" + "a" * 64
NEW_DIGEST = "sha256:" + "b" * 64
PACKET = "support-assistant-v14"
JANE = "jane.doe@example.com"


@dataclass(frozen=True)
class Person:
    """An identity that is not cluster admin: a ServiceAccount with a TokenRequest token."""

    user: str
    kubeconfig: Path


def make_person(cluster: Cluster, namespace: str, tmp_path: Path, name: str, *cluster_roles: str) -> Person:
    """A ServiceAccount that may edit packets in `namespace` and holds `cluster_roles` there through
    RoleBindings; returns once the authorizer sees every grant."""
    kubeconfig = cluster.token_kubeconfig(namespace, name, tmp_path / f"{name}.kubeconfig")
    user = f"system:serviceaccount:{namespace}:{name}"
    subjects = [{"kind": "ServiceAccount", "name": name, "namespace": namespace}]
    edits = f"{name}-edits-packets"
    objects: list[dict[str, Any]] = [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": edits, "namespace": namespace},
            "rules": [
                {
                    "apiGroups": ["airlock.dev"],
                    "resources": ["readinesspackets"],
                    "verbs": ["get", "list", "create", "patch", "update"],
                }
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": edits, "namespace": namespace},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": edits},
            "subjects": subjects,
        },
    ]
    expected = [{"verb": "patch", "group": "airlock.dev", "resource": "readinesspackets"}]
    for role in cluster_roles:
        objects.append(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": {"name": f"{name}-{role}", "namespace": namespace},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
                "subjects": subjects,
            }
        )
        if role.startswith("airlock-approver-"):
            approval_role = role.removeprefix("airlock-approver-")
            expected.append(
                {
                    "verb": "approve",
                    "group": "governance.airlock.dev",
                    "resource": "approvalroles",
                    "name": approval_role,
                }
            )
        elif role == "airlock-gitops-approvals":
            expected.append(
                {
                    "verb": "impersonate",
                    "group": "governance.airlock.dev",
                    "resource": "approvers",
                    "name": JANE,
                }
            )
    cluster.apply(objects)
    cluster.wait_for(
        lambda: all(cluster.service_account_may(user, namespace, **a) for a in expected),
        timeout=10,
        what=f"RBAC to grant {user} {expected}",
    )
    return Person(user, kubeconfig)


def packet(namespace: str, approvals: list[dict[str, str]] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "service": "support-assistant",
        "versions": {"model": "gpt-4o-2024-08-06", "prompt": "v14"},
        "useCase": {"summary": "Answers card and fee questions in the app chat."},
    }
    if approvals is not None:
        spec["approvals"] = approvals
    return {
        "apiVersion": "airlock.dev/v1alpha1",
        "kind": "ReadinessPacket",
        "metadata": {"name": PACKET, "namespace": namespace},
        "spec": spec,
    }


def approval(role: str, by: str, digest: str = DIGEST) -> dict[str, str]:
    return {"role": role, "by": by, "at": "2026-11-20T10:00:00Z", "digest": digest}


def json_patch(cluster: Cluster, who: Person, namespace: str, ops: list[dict[str, Any]]) -> tuple[bool, str]:
    """`kubectl patch rp --type=json` as `who`; returns (admitted, stderr)."""
    result = cluster.kubectl(
        "patch",
        "rp",
        PACKET,
        "-n",
        namespace,
        "--type=json",
        "-p",
        json.dumps(ops),
        kubeconfig=who.kubeconfig,
        check=False,
    )
    return result.returncode == 0, result.stderr


def approve(cluster: Cluster, who: Person, namespace: str, role: str, by: str) -> tuple[bool, str]:
    """Appends an approval, as `kubectl airlock approve` would (with `by` as given, to test forgeries)."""
    return json_patch(
        cluster, who, namespace, [{"op": "add", "path": "/spec/approvals/-", "value": approval(role, by)}]
    )


def approvals_of(cluster: Cluster, namespace: str) -> dict[str, str]:
    """role -> by, as stored."""
    spec = cluster.get("rp", PACKET, namespace)["spec"]
    return {a["role"]: a["by"] for a in spec.get("approvals", [])}


@pytest.fixture(scope="module", autouse=True)
def approver_roles(cluster: Cluster) -> None:
    cluster.kubectl("apply", "-f", str(APPROVER_ROLES))


@pytest.fixture
def empty_packet(cluster: Cluster, namespace: str) -> str:
    """A packet with an empty approvals list, created by the cluster admin; returns its namespace."""
    cluster.apply(packet(namespace, approvals=[]))
    return namespace


# ---- approving as yourself ---------------------------------------------------------------------------


def test_an_approval_whose_by_is_the_requester_is_accepted(
    cluster: Cluster, empty_packet: str, tmp_path: Path
) -> None:
    alice = make_person(cluster, empty_packet, tmp_path, "alice", "airlock-approver-owner")
    admitted, stderr = approve(cluster, alice, empty_packet, "owner", alice.user)
    assert admitted, stderr
    assert approvals_of(cluster, empty_packet) == {"owner": alice.user}


def test_an_approval_whose_by_names_someone_else_is_denied_naming_both(
    cluster: Cluster, empty_packet: str, tmp_path: Path
) -> None:
    alice = make_person(cluster, empty_packet, tmp_path, "alice", "airlock-approver-owner")
    admitted, stderr = approve(cluster, alice, empty_packet, "owner", JANE)
    assert not admitted
    assert "denied request: Airlock: the owner approval on ReadinessPacket" in stderr, stderr
    assert f"says by: {JANE}, but this request is from {alice.user}" in stderr, stderr
    assert approvals_of(cluster, empty_packet) == {}


def test_approving_for_a_role_rbac_does_not_grant_is_denied_naming_the_cluster_role_that_grants_it(
    cluster: Cluster, empty_packet: str, tmp_path: Path
) -> None:
    editor = make_person(cluster, empty_packet, tmp_path, "editor")
    admitted, stderr = approve(cluster, editor, empty_packet, "security", editor.user)
    assert not admitted
    assert (
        f"Airlock: {editor.user} may not approve ReadinessPacket {empty_packet}/{PACKET} for role security"
        in stderr
    )
    assert f"bind ClusterRole airlock-approver-security to you in namespace {empty_packet}" in stderr, stderr
    assert approvals_of(cluster, empty_packet) == {}


def test_an_owner_approver_may_approve_as_owner_but_not_as_security(
    cluster: Cluster, empty_packet: str, tmp_path: Path
) -> None:
    owner = make_person(cluster, empty_packet, tmp_path, "owner", "airlock-approver-owner")
    admitted, stderr = approve(cluster, owner, empty_packet, "owner", owner.user)
    assert admitted, stderr
    admitted, stderr = approve(cluster, owner, empty_packet, "security", owner.user)
    assert not admitted
    assert "for role security" in stderr and "airlock-approver-security" in stderr, stderr
    assert approvals_of(cluster, empty_packet) == {"owner": owner.user}


def test_an_approver_role_granted_in_another_namespace_does_not_count_here(
    cluster: Cluster, empty_packet: str, namespace: str, tmp_path: Path
) -> None:
    elsewhere = f"{namespace}-other"
    cluster.create_namespace(elsewhere)
    alice = make_person(cluster, empty_packet, tmp_path, "alice")
    cluster.kubectl(
        "create",
        "rolebinding",
        "alice-approves-elsewhere",
        "-n",
        elsewhere,
        "--clusterrole=airlock-approver-security",
        f"--serviceaccount={empty_packet}:alice",
    )
    grant = {
        "verb": "approve",
        "group": "governance.airlock.dev",
        "resource": "approvalroles",
        "name": "security",
    }
    cluster.wait_for(
        lambda: cluster.service_account_may(alice.user, elsewhere, **grant),
        timeout=10,
        what="the grant elsewhere",
    )
    admitted, stderr = approve(cluster, alice, empty_packet, "security", alice.user)
    assert not admitted
    assert "airlock-approver-security" in stderr, stderr


def test_a_packet_created_with_approvals_is_judged_like_an_added_approval(
    cluster: Cluster, namespace: str, tmp_path: Path
) -> None:
    alice = make_person(cluster, namespace, tmp_path, "alice", "airlock-approver-owner")
    body = yaml.safe_dump(
        packet(namespace, approvals=[approval("owner", alice.user), approval("security", JANE)])
    )
    result = cluster.kubectl("apply", "-f", "-", stdin=body, kubeconfig=alice.kubeconfig, check=False)
    assert result.returncode != 0
    assert f"says by: {JANE}, but this request is from {alice.user}" in result.stderr, result.stderr
    body = yaml.safe_dump(packet(namespace, approvals=[approval("owner", alice.user)]))
    cluster.kubectl("apply", "-f", "-", stdin=body, kubeconfig=alice.kubeconfig)
    assert approvals_of(cluster, namespace) == {"owner": alice.user}


# ---- someone else's approval -------------------------------------------------------------------------


@pytest.fixture
def alices_approval(cluster: Cluster, empty_packet: str, tmp_path: Path) -> tuple[Person, Person]:
    """Alice approved as owner; Bob also holds the owner approver role. Returns (alice, bob)."""
    alice = make_person(cluster, empty_packet, tmp_path, "alice", "airlock-approver-owner")
    bob = make_person(cluster, empty_packet, tmp_path, "bob", "airlock-approver-owner")
    admitted, stderr = approve(cluster, alice, empty_packet, "owner", alice.user)
    assert admitted, stderr
    return alice, bob


@pytest.mark.parametrize(
    "ops",
    [
        pytest.param(
            [{"op": "replace", "path": "/spec/approvals/0/digest", "value": NEW_DIGEST}], id="edit-digest"
        ),
        pytest.param(
            [{"op": "replace", "path": "/spec/approvals/0/at", "value": "2026-11-21T00:00:00Z"}], id="edit-at"
        ),
        pytest.param([{"op": "remove", "path": "/spec/approvals/0"}], id="remove"),
        pytest.param([{"op": "replace", "path": "/spec/approvals", "value": []}], id="clear-the-list"),
    ],
)
def test_editing_or_removing_another_users_approval_is_denied(
    cluster: Cluster, empty_packet: str, alices_approval: tuple[Person, Person], ops: list[dict[str, Any]]
) -> None:
    alice, bob = alices_approval
    admitted, stderr = json_patch(cluster, bob, empty_packet, ops)
    assert not admitted
    assert (
        f"the owner approval on ReadinessPacket {empty_packet}/{PACKET} was made by {alice.user}" in stderr
    ), stderr
    assert f"only they may change or remove it (this request is from {bob.user})" in stderr, stderr
    stored = cluster.get("rp", PACKET, empty_packet)["spec"]["approvals"]
    assert stored == [approval("owner", alice.user)]


def test_replacing_another_users_approval_with_your_own_is_denied(
    cluster: Cluster, empty_packet: str, alices_approval: tuple[Person, Person]
) -> None:
    alice, bob = alices_approval
    ops = [{"op": "replace", "path": "/spec/approvals/0", "value": approval("owner", bob.user, NEW_DIGEST)}]
    admitted, stderr = json_patch(cluster, bob, empty_packet, ops)
    assert not admitted
    assert f"was made by {alice.user}" in stderr, stderr
    assert approvals_of(cluster, empty_packet) == {"owner": alice.user}


def test_a_stale_approval_by_someone_else_may_be_replaced_by_another_holder_of_the_role(
    cluster: Cluster, empty_packet: str, alices_approval: tuple[Person, Person]
) -> None:
    _alice, bob = alices_approval
    # The content changed since Alice approved: the operator's digest is no longer the one she signed.
    cluster.kubectl(
        "patch",
        "rp",
        PACKET,
        "-n",
        empty_packet,
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps({"status": {"digest": NEW_DIGEST}}),
    )
    ops = [{"op": "replace", "path": "/spec/approvals/0", "value": approval("owner", bob.user, NEW_DIGEST)}]
    admitted, stderr = json_patch(cluster, bob, empty_packet, ops)
    assert admitted, stderr
    assert approvals_of(cluster, empty_packet) == {"owner": bob.user}


def test_your_own_approval_can_be_withdrawn_and_renewed_by_you(
    cluster: Cluster, empty_packet: str, alices_approval: tuple[Person, Person]
) -> None:
    alice, _ = alices_approval
    admitted, stderr = json_patch(
        cluster,
        alice,
        empty_packet,
        [{"op": "replace", "path": "/spec/approvals/0/digest", "value": NEW_DIGEST}],
    )
    assert admitted, stderr
    admitted, stderr = json_patch(
        cluster, alice, empty_packet, [{"op": "remove", "path": "/spec/approvals/0"}]
    )
    assert admitted, stderr
    assert approvals_of(cluster, empty_packet) == {}


@pytest.mark.usefixtures("alices_approval")
def test_editing_the_packet_leaves_other_peoples_unchanged_approvals_alone(
    cluster: Cluster, empty_packet: str, tmp_path: Path
) -> None:
    # An editor with no approver role at all: unchanged approvals are never judged again.
    editor = make_person(cluster, empty_packet, tmp_path, "editor")
    admitted, stderr = json_patch(
        cluster, editor, empty_packet, [{"op": "replace", "path": "/spec/versions/prompt", "value": "v15"}]
    )
    assert admitted, stderr
    live = cluster.get("rp", PACKET, empty_packet)
    body = yaml.safe_dump({k: live[k] for k in ("apiVersion", "kind", "metadata", "spec")})
    result = cluster.kubectl("replace", "-f", "-", stdin=body, kubeconfig=editor.kubeconfig, check=False)
    assert result.returncode == 0, result.stderr


# ---- GitOps identities and cluster admins --------------------------------------------------------------


@dataclass(frozen=True)
class GitOps:
    namespace: str
    trusted: Person
    unlisted: Person
    listed_without_rbac: Person


def _set_trusted(cluster: Cluster, identities: list[str] | None) -> None:
    patch = {"spec": {"trustedGitOpsIdentities": identities}}
    cluster.kubectl("patch", "readinesspolicy", "default", "--type=merge", "-p", json.dumps(patch))


@pytest.fixture
def gitops(cluster: Cluster, namespace: str, tmp_path: Path) -> Iterator[GitOps]:
    """Three would-be GitOps controllers, and the ReadinessPolicy `default` listing two of them.

    The policy is shared by the whole session, so whatever was there before is put back afterwards.
    """
    trusted = make_person(cluster, namespace, tmp_path, "argocd-trusted", "airlock-gitops-approvals")
    unlisted = make_person(cluster, namespace, tmp_path, "argocd-unlisted", "airlock-gitops-approvals")
    listed_without_rbac = make_person(cluster, namespace, tmp_path, "argocd-without-rbac")
    before = cluster.kubectl("get", "readinesspolicy", "default", "-o", "json", check=False)
    existed = before.returncode == 0
    previous = json.loads(before.stdout)["spec"].get("trustedGitOpsIdentities") if existed else None
    if not existed:
        cluster.apply(
            {
                "apiVersion": "airlock.dev/v1alpha1",
                "kind": "ReadinessPolicy",
                "metadata": {"name": "default"},
                "spec": {},
            }
        )
    _set_trusted(cluster, [trusted.user, listed_without_rbac.user])
    cluster.apply(packet(namespace, approvals=[]))

    # Admission reads the ReadinessPolicy from an informer: wait until a dry run shows it is in force.
    def unlisted_is_refused() -> bool:
        body = yaml.safe_dump(packet(namespace, approvals=[approval("owner", JANE)]))
        r = cluster.kubectl(
            "apply", "--dry-run=server", "-f", "-", stdin=body, kubeconfig=unlisted.kubeconfig, check=False
        )
        return "not a trusted GitOps identity" in r.stderr

    cluster.wait_for(unlisted_is_refused, timeout=10, what="admission to read ReadinessPolicy default")
    try:
        yield GitOps(namespace, trusted, unlisted, listed_without_rbac)
    finally:
        if existed:
            _set_trusted(cluster, previous)
        else:
            cluster.kubectl("delete", "readinesspolicy", "default")


def _apply_from_git(
    cluster: Cluster, who: Person, namespace: str, approvals: list[dict[str, str]]
) -> tuple[bool, str]:
    # What Argo CD does on sync: apply the whole packet as it is in Git.
    body = yaml.safe_dump(packet(namespace, approvals=approvals))
    result = cluster.kubectl("apply", "-f", "-", stdin=body, kubeconfig=who.kubeconfig, check=False)
    return result.returncode == 0, result.stderr


def test_a_trusted_gitops_identity_may_apply_approvals_in_anyones_name(
    cluster: Cluster, gitops: GitOps
) -> None:
    from_git = [approval("owner", JANE), approval("security", "sam.reviewer@example.com")]
    admitted, stderr = _apply_from_git(cluster, gitops.trusted, gitops.namespace, from_git)
    assert admitted, stderr
    assert approvals_of(cluster, gitops.namespace) == {"owner": JANE, "security": "sam.reviewer@example.com"}
    # ...and replace or remove them when Git changes.
    admitted, stderr = _apply_from_git(
        cluster, gitops.trusted, gitops.namespace, [approval("owner", JANE, NEW_DIGEST)]
    )
    assert admitted, stderr
    assert approvals_of(cluster, gitops.namespace) == {"owner": JANE}


def test_a_gitops_identity_not_listed_in_the_readiness_policy_may_not_apply_others_approvals(
    cluster: Cluster, gitops: GitOps
) -> None:
    admitted, stderr = _apply_from_git(cluster, gitops.unlisted, gitops.namespace, [approval("owner", JANE)])
    assert not admitted
    assert f"Airlock: {gitops.unlisted.user} records the owner approval by {JANE}" in stderr, stderr
    assert "add it to spec.trustedGitOpsIdentities of ReadinessPolicy default" in stderr, stderr
    assert approvals_of(cluster, gitops.namespace) == {}


def test_a_listed_gitops_identity_without_the_rbac_grant_may_not_apply_others_approvals(
    cluster: Cluster, gitops: GitOps
) -> None:
    admitted, stderr = _apply_from_git(
        cluster, gitops.listed_without_rbac, gitops.namespace, [approval("owner", JANE)]
    )
    assert not admitted
    assert f"says by: {JANE}, but this request is from {gitops.listed_without_rbac.user}" in stderr, stderr
    assert approvals_of(cluster, gitops.namespace) == {}


def test_a_cluster_admin_may_record_change_and_remove_anyones_approval(
    cluster: Cluster, empty_packet: str, alices_approval: tuple[Person, Person]
) -> None:
    alice, _ = alices_approval
    admin = Person("airlock-admin", cluster.kubeconfig)
    ops: list[dict[str, Any]] = [
        {"op": "replace", "path": "/spec/approvals/0/digest", "value": NEW_DIGEST},
        {"op": "add", "path": "/spec/approvals/-", "value": approval("security", JANE)},
    ]
    admitted, stderr = json_patch(cluster, admin, empty_packet, ops)
    assert admitted, stderr
    assert approvals_of(cluster, empty_packet) == {"owner": alice.user, "security": JANE}
    admitted, stderr = json_patch(
        cluster, admin, empty_packet, [{"op": "replace", "path": "/spec/approvals", "value": []}]
    )
    assert admitted, stderr
    assert approvals_of(cluster, empty_packet) == {}


def test_a_cluster_admin_needs_no_listing_in_the_readiness_policy(cluster: Cluster, gitops: GitOps) -> None:
    admin = Person("airlock-admin", cluster.kubeconfig)
    admitted, stderr = _apply_from_git(cluster, admin, gitops.namespace, [approval("security", JANE)])
    assert admitted, stderr
    assert approvals_of(cluster, gitops.namespace) == {"security": JANE}


# ---- many approvals in one request: admission's CEL cost budget ------------------------------------------


def _many(count: int, by: str | None = None) -> list[dict[str, str]]:
    return [approval(f"role-{i}", by or f"person-{i}@example.com") for i in range(count)]


def test_a_cluster_admin_may_apply_a_packet_with_the_most_approvals_the_schema_allows(
    cluster: Cluster, namespace: str
) -> None:
    cluster.apply(packet(namespace, approvals=_many(16)))
    assert len(approvals_of(cluster, namespace)) == 16


def test_a_trusted_gitops_identity_may_apply_the_most_approvals_the_schema_allows(
    cluster: Cluster, gitops: GitOps
) -> None:
    admitted, stderr = _apply_from_git(cluster, gitops.trusted, gitops.namespace, _many(16))
    assert admitted, stderr
    assert len(approvals_of(cluster, gitops.namespace)) == 16


def test_a_person_may_approve_eight_roles_in_one_request_but_not_nine(
    cluster: Cluster, empty_packet: str, tmp_path: Path
) -> None:
    alice = make_person(cluster, empty_packet, tmp_path, "alice")
    roles = [f"role-{i}" for i in range(9)]
    cluster.apply(
        [
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "Role",
                "metadata": {"name": "nine-roles", "namespace": empty_packet},
                "rules": [
                    {
                        "apiGroups": ["governance.airlock.dev"],
                        "resources": ["approvalroles"],
                        "resourceNames": roles,
                        "verbs": ["approve"],
                    }
                ],
            },
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": {"name": "alice-nine-roles", "namespace": empty_packet},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "nine-roles"},
                "subjects": [{"kind": "ServiceAccount", "name": "alice", "namespace": empty_packet}],
            },
        ]
    )
    grant = {
        "verb": "approve",
        "group": "governance.airlock.dev",
        "resource": "approvalroles",
        "name": "role-8",
    }
    cluster.wait_for(
        lambda: cluster.service_account_may(alice.user, empty_packet, **grant), timeout=10, what="the grant"
    )

    nine = [{"op": "replace", "path": "/spec/approvals", "value": _many(9, by=alice.user)}]
    admitted, stderr = json_patch(cluster, alice, empty_packet, nine)
    assert not admitted
    assert "this request changes 9 approvals" in stderr and "at most 8 at a time" in stderr, stderr

    eight = [{"op": "replace", "path": "/spec/approvals", "value": _many(8, by=alice.user)}]
    admitted, stderr = json_patch(cluster, alice, empty_packet, eight)
    assert admitted, stderr
    assert len(approvals_of(cluster, empty_packet)) == 8
