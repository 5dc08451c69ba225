"""Shared model configuration: camelCase on the wire, snake_case in Python, unknown fields refused."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

GROUP = "airlock.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
# The label a platform admin puts on a namespace to have Airlock govern it; the admission policies bind
# only such namespaces, and the operator acts on Deployments only there.
GOVERNED_LABEL = f"{GROUP}/governed"
GOVERNED_VALUE = "true"


class ApiModel(BaseModel):
    """Base of every API model.

    Unknown fields are refused rather than dropped, so a typo in a packet is an error that names the
    field instead of evidence that silently disappears.
    """

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        use_enum_values=False,
        validate_default=True,
    )

    def to_api(self) -> dict[str, Any]:
        """The wire form: camelCase keys, unset optional fields left out, timestamps as RFC 3339."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)
