"""Benchmark: converting a 1,999-item declaration's values at the rates in force.

    .venv/bin/python bench/rates_lookup.py [--items 1999] [--repeat 5]

Baseline: one `rate_on` query per item (the scalar path). Batch: one `rate_table` query for the
declaration, then `RateTable.convert` per item. Both on a fresh SQLite database with the bundled
samples, both converting the same items, and the results are checked equal. Prints the ratio
(baseline time / batch time) and ends with one line of JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from tamga.kit.db import Database, commit
from tamga.kit.migrate import upgrade_async
from tamga.rates.service import convert, load_samples, rate_on, rate_table

CODES = ["USD", "EUR", "CNY", "JPY", "KZT", "TRY", "PLN", "GBP", "CHF", "BYN", "RUB"]


async def run(items: int, repeat: int) -> dict[str, float | int]:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        await upgrade_async(url)
        db = Database(url)
        async with db.session() as session:
            await load_samples(session)
            await commit(session)
        rng = random.Random(7)
        lines = [(Decimal(rng.randint(1, 10**7)) / 100, rng.choice(CODES)) for _ in range(items)]
        days = [date(2026, 1, 1) + timedelta(days=rng.randint(0, 300)) for _ in range(repeat)]
        scalar_s = batch_s = 0.0
        async with db.session() as session:
            for day in days:
                start = time.perf_counter()
                scalar = [
                    convert(amount, await rate_on(session, authority="CBR", currency=code, day=day))
                    for amount, code in lines
                ]
                scalar_s += time.perf_counter() - start
                start = time.perf_counter()
                table = await rate_table(session, authority="CBR", day=day, currencies={c for _, c in lines})
                batch = [table.convert(amount, code) for amount, code in lines]
                batch_s += time.perf_counter() - start
                assert batch == scalar
        await db.dispose()
    return {
        "items": items,
        "declarations": repeat,
        "scalar_ms_per_declaration": round(scalar_s / repeat * 1000, 2),
        "batch_ms_per_declaration": round(batch_s / repeat * 1000, 2),
        "ratio": round(scalar_s / batch_s, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1999)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    figures = asyncio.run(run(args.items, args.repeat))
    print(
        f"{figures['items']} items: one query per item {figures['scalar_ms_per_declaration']} ms, "
        f"one query per declaration {figures['batch_ms_per_declaration']} ms: {figures['ratio']}x faster"
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
