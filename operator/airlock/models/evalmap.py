"""The category map a team keeps beside its evals: which Airlock failure-mode category each case probes.

Eval tools know tags, task names and test descriptions, not Airlock's categories. `airlock evals import`
reads this small file to give every imported case exactly one category:

```yaml
names:                      # shell-style patterns over case names (`task/sample` for Inspect AI,
  "support/refund-*": policy-edge-case   # the test description for promptfoo); first match wins
tags:                       # a tag on a case -> its category
  injection: prompt-injection
  stale-kb: stale-retrieval
ignoreTags: [smoke]         # tags that say nothing about the failure mode
default: custom             # optional: the category of a case nothing matches
```

Every tag a case carries must be known (under `tags` or `ignoreTags`), so a new tag is categorized on
purpose instead of falling through to a default.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints, model_validator

from airlock.models.base import ApiModel
from airlock.models.packet import EvalCategory

Tag = Annotated[str, StringConstraints(min_length=1, max_length=256)]
Pattern = Annotated[str, StringConstraints(min_length=1, max_length=512)]


class EvalCategoryMap(ApiModel):
    """Tags and case names of an eval tool's results mapped to Airlock's eval categories."""

    names: dict[Pattern, EvalCategory] = Field(
        default_factory=dict,
        description="Shell-style patterns over case names, each with the category of the cases it "
        "matches; checked in order before tags, the first match wins.",
    )
    tags: dict[Tag, EvalCategory] = Field(
        default_factory=dict, description="A tag a case carries, and the category it gives the case."
    )
    ignore_tags: list[Tag] = Field(
        default_factory=list, description="Tags that carry no category (for example smoke or slow)."
    )
    default: EvalCategory | None = Field(
        default=None,
        description="The category of a case no name or tag places; without it such a case is an error.",
    )

    @model_validator(mode="after")
    def _tags_known_once(self) -> EvalCategoryMap:
        both = sorted(set(self.tags) & set(self.ignore_tags))
        if both:
            raise ValueError(
                f"tag{'s' if len(both) > 1 else ''} {', '.join(both)} listed under both tags and "
                "ignoreTags; keep each in one of them"
            )
        return self
