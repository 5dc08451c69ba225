"""The shipped examples/, made current: evidence dates moved close to `now`, approvals re-signed.

The demo and the end-to-end tests use these so that they pass on any date, while examples/ stays a fixed,
readable document that `airlock validate --now ...` checks as it is.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import yaml

from airlock.cli.redate import redate_packet
from airlock_dev import REPO_ROOT

EXAMPLES = REPO_ROOT / "examples"


def load(name: str) -> dict[str, Any]:
    """One shipped example document, by file name."""
    doc: dict[str, Any] = yaml.safe_load((EXAMPLES / name).read_text())
    return doc


def current_packet(doc: dict[str, Any], now: dt.datetime, *, namespace: str | None = None) -> dict[str, Any]:
    """The packet with its dates shifted so the newest past evidence is a day old, approvals re-signed."""
    return redate_packet(doc, now, namespace=namespace)
