"""The category a case gets from the team's map, and the message when it gets none (pure)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from airlock.logic.evalimport import EvalImportError, ToolCase, categorize, read_results
from airlock.models.evalmap import EvalCategoryMap
from airlock.models.packet import EvalCategory, EvalResult

MAP = EvalCategoryMap.model_validate(
    {
        "names": {"support/refund-*": "policy-edge-case", "support/*-injection": "prompt-injection"},
        "tags": {"injection": "prompt-injection", "stale-kb": "stale-retrieval", "tools": "tool-call"},
        "ignoreTags": ["smoke"],
    }
)


@pytest.mark.parametrize(
    ("case", "category_map", "wanted"),
    [
        pytest.param(
            ToolCase("support/a", ("stale-kb",), True), MAP, EvalCategory.STALE_RETRIEVAL, id="a tag"
        ),
        pytest.param(
            ToolCase("support/a", ("smoke", "tools"), True),
            MAP,
            EvalCategory.TOOL_CALL,
            id="ignored tags skipped",
        ),
        pytest.param(
            ToolCase("support/refund-14-months", ("tools",), True),
            MAP,
            EvalCategory.POLICY_EDGE_CASE,
            id="a name pattern wins over tags",
        ),
        pytest.param(
            ToolCase("support/a", ("injection", "injection"), True),
            MAP,
            EvalCategory.PROMPT_INJECTION,
            id="a tag given twice is one category",
        ),
        pytest.param(
            ToolCase("support/a", ("smoke",), True),
            MAP.model_copy(update={"default": EvalCategory.CUSTOM}),
            EvalCategory.CUSTOM,
            id="the default places what nothing else does",
        ),
    ],
)
def test_a_case_gets_one_category_from_the_map(
    case: ToolCase, category_map: EvalCategoryMap, wanted: EvalCategory
) -> None:
    (out,) = categorize([case], category_map, "results.json", "map.yaml")
    assert out.category is wanted
    assert out.name == case.name and out.result is EvalResult.PASS


@pytest.mark.parametrize(
    ("case", "fragments"),
    [
        pytest.param(
            ToolCase("support/a", ("injection", "jailbreak"), True),
            ["results.json", "'support/a'", "'jailbreak' not in map.yaml", "under tags:", "ignoreTags:"],
            id="an unknown tag",
        ),
        pytest.param(
            ToolCase("support/a", ("injection", "stale-kb"), True),
            ["2 categories", "prompt-injection, stale-retrieval", "under names:"],
            id="tags that disagree",
        ),
        pytest.param(
            ToolCase("support/a", (), True),
            ["carries no tag", "set default:"],
            id="nothing places it and there is no default",
        ),
    ],
)
def test_a_case_the_map_cannot_place_is_an_error_saying_what_to_add(
    case: ToolCase, fragments: list[str]
) -> None:
    with pytest.raises(EvalImportError) as caught:
        categorize([case, ToolCase("support/b", ("tools",), True)], MAP, "results.json", "map.yaml")
    (message,) = caught.value.messages
    for fragment in fragments:
        assert fragment in message


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        pytest.param({"tags": {"x": "confusing"}}, "confusing-question", id="not a category"),
        pytest.param({"tags": {"x": "custom"}, "ignoreTags": ["x"]}, "both tags and ignoreTags", id="twice"),
        pytest.param({"tag": {}}, "tag", id="a misspelt key"),
    ],
)
def test_a_map_that_is_wrong_is_refused(raw: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ValidationError, match=fragment):
        EvalCategoryMap.model_validate(raw)


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        pytest.param(b"PK\x03\x04rest", "--log-format json", id="a zip such as an Inspect .eval log"),
        pytest.param(b"name: x\n", "not JSON", id="YAML"),
        pytest.param(b'{"eval": {"task": "x"', "looks truncated", id="truncated"),
        pytest.param(b'[{"name": "pip"}]', "JSON list, not an object", id="a list"),
        pytest.param(
            b'{"apiVersion": "v1", "items": []}', "keys apiVersion, items", id="another tool's object"
        ),
        pytest.param(b"\xff\xfe", "not UTF-8", id="binary"),
    ],
)
def test_a_file_that_is_no_results_file_is_named_with_what_to_do(data: bytes, fragment: str) -> None:
    with pytest.raises(EvalImportError) as caught:
        read_results(data, "results.json")
    (message,) = caught.value.messages
    assert message.startswith("results.json: ") and fragment in message
