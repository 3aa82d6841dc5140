"""The shared conformance vectors (tests/data/conformance), read for the ingest tests."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

VECTORS = Path(__file__).resolve().parents[1] / "data" / "conformance" / "telematics-vectors.jsonl"


def vectors(protocol: str) -> list[dict[str, Any]]:
    """Every vector of `protocol`, in file order."""
    with VECTORS.open(encoding="utf-8") as lines:
        return [entry for line in lines if (entry := json.loads(line))["protocol"] == protocol]


def vector_id(entry: dict[str, Any]) -> str:
    return str(entry["packet"])[:24]


def tolerance(expected: float) -> float:
    """1e-6, or the last decimal place given when the expectation was written with fewer decimals.

    Some sources assert their values to five decimals (55.74338 for 55.743375): a decoded value within
    one unit of the last written place agrees with them.
    """
    text = repr(expected)
    decimals = len(text.split(".")[1]) if "." in text else 0
    return max(1e-6, 10.0**-decimals)


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
