"""The benchmark's baseline, the match in PostgreSQL SQL, applies the same rule as the engine (duplicates,
tolerance edges) on inputs full of duplicates."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from tamga.taxation.reconcile import Claims, Confirmations, reconcile

POSTGRES_URL = os.environ.get("TAMGA_TEST_POSTGRES_URL")
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not POSTGRES_URL, reason="needs TAMGA_TEST_POSTGRES_URL"),
]


def bench_module() -> ModuleType:
    path = Path(__file__).parents[2] / "bench" / "tax.py"
    spec = importlib.util.spec_from_file_location("bench_tax", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def side(kind: type[Any], id_column: str, n: int, rng: np.random.Generator) -> Any:
    k = rng.integers(0, n // 3, n)
    return kind(
        **{
            id_column: np.arange(n),
            "seller_id": k % 7,
            "buyer_id": k % 5,
            "invoice_no": k,
            "invoice_day": (k % 3).astype(np.int32),
            "amount_minor": rng.choice([0, 99, 100, 101, 9_899, 9_900, 10_000, 10_100, 10_101, 12_345], n),
            "seller_region": np.zeros(n, np.int16),
            "buyer_region": np.zeros(n, np.int16),
            "month": np.zeros(n, np.int32),
            "hs_section": np.ones(n, np.int8),
        }
    )


async def test_sql_baseline_gives_the_engines_outcome() -> None:
    assert POSTGRES_URL
    bench = bench_module()
    rng = np.random.default_rng(11)
    claims = side(Claims, "claim_id", 6_000, rng)
    confirmations = side(Confirmations, "confirmation_id", 5_000, rng)
    result = reconcile(claims, confirmations)
    assert min(result.counts().values()) > 500
    figures, _, _, _ = await bench.postgres_match(POSTGRES_URL, claims, confirmations, "16MB", lambda _: None)
    assert figures == bench.figures(result)
