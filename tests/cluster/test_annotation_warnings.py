"""Near misses in an AIService's annotations: kubectl prints admission's warning as the write is made, and
the operator says the same in the AnnotationsRecognized condition. One table runs through both."""

from __future__ import annotations

import pytest

from airlock.logic.annotations import near_misses
from airlock.models.service import KNOWN_ANNOTATIONS
from tests.cluster.helpers import aiservice
from tests.conftest import ADMISSION, Cluster, OperatorProcess

LONG = "INC-1 line one\nline two " + "x" * 200

CASES = [
    pytest.param({"airlock.dev/killswitch": "true"}, id="a misspelt key suggests the canonical one"),
    pytest.param({"airlock.dev/Kill_Switch-Reason": "INC-1"}, id="case and underscores are ignored"),
    pytest.param({"airlock.dev/pause": "true"}, id="a key with no near spelling lists the known keys"),
    pytest.param({"airlock.dev/kill-switch": "False"}, id="False keeps the switch engaged"),
    pytest.param({"airlock.dev/kill-switch": "yes"}, id="yes is not a canonical value"),
    pytest.param({"airlock.dev/kill-switch": LONG}, id="a long multi-line value is cut and kept on one line"),
]


PREFIX = (
    "Warning: Validation failed for ValidatingAdmissionPolicy 'airlock-annotation-warnings' with binding "
    "'airlock-annotation-warnings': "
)


def warnings_of(stderr: str) -> list[str]:
    """Airlock's warnings as kubectl prints them, without the API server's prefix."""
    lines = [line for line in stderr.splitlines() if line.startswith("Warning: ")]
    assert all(line.startswith(PREFIX) for line in lines), lines
    return [line.removeprefix(PREFIX) for line in lines]


@pytest.mark.parametrize("annotations", CASES)
def test_kubectl_prints_a_warning_for_a_near_miss_and_the_write_goes_through(
    cluster: Cluster, namespace: str, annotations: dict[str, str]
) -> None:
    cluster.apply(aiservice("bot", namespace))
    args = [f"{k}={v}" for k, v in annotations.items()]

    result = cluster.kubectl("annotate", "aiservice", "bot", "-n", namespace, *args, "--overwrite")

    expected = [f"Airlock: AIService {namespace}/bot: {sentence}" for sentence in near_misses(annotations)]
    assert len(expected) == 1
    assert warnings_of(result.stderr) == expected, result.stderr
    assert "\n" not in expected[0] and len(expected[0]) < 400
    stored = cluster.get("aiservice", "bot", namespace)["metadata"]["annotations"]
    assert all(stored[k] == v for k, v in annotations.items())


def test_canonical_annotations_get_no_warning(cluster: Cluster, namespace: str) -> None:
    cluster.apply(aiservice("bot", namespace))
    result = cluster.kubectl(
        "annotate", "aiservice", "bot", "-n", namespace,
        "airlock.dev/kill-switch=true", "airlock.dev/kill-switch-reason=INC-1", "example.com/note=x",
    )  # fmt: skip
    assert warnings_of(result.stderr) == [], result.stderr
    released = cluster.kubectl(
        "annotate", "aiservice", "bot", "-n", namespace, "airlock.dev/kill-switch=false", "--overwrite"
    )
    assert warnings_of(released.stderr) == [], released.stderr


def test_the_operator_reports_a_near_miss_in_a_condition(
    cluster: Cluster, namespace: str, operator: OperatorProcess
) -> None:
    annotations = {"airlock.dev/killswitch": "true"}
    cluster.apply(aiservice("bot", namespace, annotations=annotations))

    def condition() -> dict[str, str] | None:
        status = cluster.get("aiservice", "bot", namespace).get("status") or {}
        return next((c for c in status.get("conditions", []) if c["type"] == "AnnotationsRecognized"), None)

    found = cluster.wait_for(condition, what="the AnnotationsRecognized condition")
    assert (found["status"], found["reason"]) == ("False", "NearMiss")
    assert found["message"] == " ".join(near_misses(annotations))

    cluster.kubectl("annotate", "aiservice", "bot", "-n", namespace, "airlock.dev/killswitch-")
    cleared = cluster.wait_for(
        lambda: (c := condition()) is not None and c["status"] == "True" and c, what="the condition to clear"
    )
    assert cleared["reason"] == "Recognized"


def test_the_policy_knows_the_same_keys_as_the_operator() -> None:
    text = (ADMISSION / "annotation-warnings.yaml").read_text()
    listed = text.split("- name: known", 1)[1].split("- name:", 1)[0]
    keys = [part.strip().strip("'") for part in listed.split("[", 1)[1].split("]", 1)[0].split(",")]
    assert keys == list(KNOWN_ANNOTATIONS), (
        "manifests/admission/annotation-warnings.yaml lists other keys than "
        "airlock.models.service.KNOWN_ANNOTATIONS; make them equal"
    )
