"""Reconciliation of 0 % claims with confirmations: the numpy engine against the same match in PostgreSQL SQL.

    .venv/bin/python bench/tax.py                    # 10,000,000 claims against 10,000,000 confirmations
    .venv/bin/python bench/tax.py --rows 1000000     # smaller, for development
    .venv/bin/python bench/tax.py --no-postgres      # the engine alone

1. **Data.** `tamga.taxation.synthetic.trade_arrays` makes `--rows` claims and as many confirmations with
   the documented mix (1.5 % mismatched amounts, 5 % within tolerance, 2.5 % without confirmation, 3 %
   without claim, 1 % wrong invoice date or number, 0.5 % duplicate claims), seeded; it also says what a
   correct reconciliation must find, and both engines are checked against that.
2. **The engine.** `tamga.taxation.reconcile.reconcile` in this process, timed by wall clock; the peak
   memory it adds is sampled from /proc/self/statm every 5 ms. `tax_gap` by region pair is timed too.
3. **The baseline: PostgreSQL.** A throwaway database is created on `--postgres-url` (default
   `$TAMGA_BENCH_POSTGRES_URL`, else `postgresql://postgres@127.0.0.1:5432/test`) and dropped at the end.
   Both sides are loaded with binary COPY (built with numpy) into UNLOGGED tables and analysed: that is the
   load time, reported apart. Then one query applies the same rule (key, the two-pass duplicate rule with
   window functions and FULL OUTER JOINs, the same integer tolerance) and returns the counts and
   checksums; only that query is timed (`postgres_s`), with `work_mem` at `--work-mem` and PostgreSQL's
   own parallelism. Both must give the same counts, sums of differences and sums of paired positions.

ratio = postgres_s / reconcile_s. The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import numpy as np

from tamga.taxation.reconcile import (
    DEFAULT_TOLERANCE_MINOR,
    DEFAULT_TOLERANCE_RATIO,
    Claims,
    Confirmations,
    Documents,
    Reconciliation,
    reconcile,
    tax_gap,
    tolerance_ppm,
)
from tamga.taxation.synthetic import trade_arrays

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"
COPY_CHUNK = 500_000
PAGE = os.sysconf("SC_PAGE_SIZE")

COPY_DTYPE = np.dtype(
    [
        ("fields", ">i2"),
        ("len_i", ">i4"), ("i", ">i8"),
        ("len_seller", ">i4"), ("seller", ">i8"),
        ("len_buyer", ">i4"), ("buyer", ">i8"),
        ("len_inv", ">i4"), ("inv", ">i8"),
        ("len_day", ">i4"), ("day", ">i4"),
        ("len_amount", ">i4"), ("amount", ">i8"),
    ]
)  # fmt: skip
COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
COPY_TRAILER = (-1).to_bytes(2, "big", signed=True)

TABLE = """CREATE UNLOGGED TABLE {name} (
    i bigint NOT NULL, seller bigint NOT NULL, buyer bigint NOT NULL, inv bigint NOT NULL,
    day integer NOT NULL, amount bigint NOT NULL)"""

# The rule of tamga.taxation.reconcile, in SQL: pass 1 pairs equal amounts of a key by row order; pass 2
# pairs what is left of each key by (amount, row); a pair is matched within max($1, floor(fa * $2 / 10^6)).
MATCH = """
WITH c AS (
    SELECT i, seller, buyer, inv, day, amount,
           row_number() OVER (PARTITION BY seller, buyer, inv, day, amount ORDER BY i) AS k
    FROM claims),
f AS (
    SELECT i, seller, buyer, inv, day, amount,
           row_number() OVER (PARTITION BY seller, buyer, inv, day, amount ORDER BY i) AS k
    FROM confirmations),
p1 AS MATERIALIZED (
    SELECT c.i AS ci, f.i AS fi,
           coalesce(c.seller, f.seller) AS seller, coalesce(c.buyer, f.buyer) AS buyer,
           coalesce(c.inv, f.inv) AS inv, coalesce(c.day, f.day) AS day,
           c.amount AS ca, f.amount AS fa
    FROM c FULL JOIN f
      ON c.seller = f.seller AND c.buyer = f.buyer AND c.inv = f.inv AND c.day = f.day
     AND c.amount = f.amount AND c.k = f.k),
lc AS (
    SELECT ci, seller, buyer, inv, day, ca,
           row_number() OVER (PARTITION BY seller, buyer, inv, day ORDER BY ca, ci) AS r
    FROM p1 WHERE fi IS NULL),
lf AS (
    SELECT fi, seller, buyer, inv, day, fa,
           row_number() OVER (PARTITION BY seller, buyer, inv, day ORDER BY fa, fi) AS r
    FROM p1 WHERE ci IS NULL),
outcome AS (
    SELECT ci, fi, ca, fa FROM p1 WHERE ci IS NOT NULL AND fi IS NOT NULL
    UNION ALL
    SELECT lc.ci, lf.fi, lc.ca, lf.fa
    FROM lc FULL JOIN lf
      ON lc.seller = lf.seller AND lc.buyer = lf.buyer AND lc.inv = lf.inv AND lc.day = lf.day
     AND lc.r = lf.r),
judged AS (
    SELECT ci, fi, ca, fa,
           ci IS NOT NULL AND fi IS NOT NULL AS paired,
           abs(ca - fa) <= greatest($1::bigint, (fa / 1000000) * $2::bigint + (fa % 1000000) * $2::bigint / 1000000)
               AS within
    FROM outcome)
SELECT count(*) FILTER (WHERE paired AND within) AS matched,
       count(*) FILTER (WHERE paired AND NOT within) AS mismatched,
       count(*) FILTER (WHERE fi IS NULL) AS unconfirmed,
       count(*) FILTER (WHERE ci IS NULL) AS unclaimed,
       coalesce(sum(ca - fa) FILTER (WHERE paired AND NOT within), 0) AS mismatched_difference,
       coalesce(sum(ci) FILTER (WHERE paired AND within), 0) AS matched_claim_sum,
       coalesce(sum(fi) FILTER (WHERE paired AND within), 0) AS matched_confirmation_sum,
       coalesce(sum(fi) FILTER (WHERE paired AND NOT within), 0) AS mismatched_confirmation_sum,
       coalesce(sum(ci) FILTER (WHERE fi IS NULL), 0) AS unconfirmed_sum,
       coalesce(sum(fi) FILTER (WHERE ci IS NULL), 0) AS unclaimed_sum
FROM judged
"""


def figures(result: Reconciliation) -> dict[str, int]:
    """Give the counts and checksums that the SQL query also gives."""
    return {
        **result.counts(),
        "mismatched_difference": int(result.mismatched_difference.sum()),
        "matched_claim_sum": int(result.matched_claims.sum()),
        "matched_confirmation_sum": int(result.matched_confirmations.sum()),
        "mismatched_confirmation_sum": int(result.mismatched_confirmations.sum()),
        "unconfirmed_sum": int(result.unconfirmed_claims.sum()),
        "unclaimed_sum": int(result.unclaimed_confirmations.sum()),
    }


def rss_bytes() -> int:
    return int(Path("/proc/self/statm").read_text(encoding="ascii").split()[1]) * PAGE


class PeakMemory:
    """Sample this process's resident memory every 5 ms while in the block; `extra` is the peak above start."""

    def __enter__(self) -> PeakMemory:
        self.start = self.peak = rss_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, rss_bytes())

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes())

    @property
    def extra(self) -> int:
        return self.peak - self.start


def copy_chunks(documents: Documents) -> AsyncIterator[bytes]:
    """Give the documents as PostgreSQL binary COPY data, a chunk at a time."""

    async def chunks() -> AsyncIterator[bytes]:
        n = len(documents)
        yield COPY_HEADER
        for start in range(0, n, COPY_CHUNK):
            stop = min(n, start + COPY_CHUNK)
            block = np.empty(stop - start, dtype=COPY_DTYPE)
            block["fields"] = 6
            for name in ("i", "seller", "buyer", "inv", "amount"):
                block[f"len_{name}"] = 8
            block["len_day"] = 4
            block["i"] = np.arange(start, stop)
            block["seller"] = documents.seller_id[start:stop]
            block["buyer"] = documents.buyer_id[start:stop]
            block["inv"] = documents.invoice_no[start:stop]
            block["day"] = documents.invoice_day[start:stop]
            block["amount"] = documents.amount_minor[start:stop]
            yield block.tobytes()
        yield COPY_TRAILER

    return chunks()


def asyncpg_url(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def postgres_match(
    url: str, claims: Claims, confirmations: Confirmations, work_mem: str, say: Any
) -> tuple[dict[str, int], float, float, str]:
    """Load both sides into a throwaway database, run the match query; give its figures and timings."""
    name = f"tamga_bench_tax_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(asyncpg_url(url))
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        base = asyncpg_url(url).rsplit("/", 1)[0]
        conn = await asyncpg.connect(f"{base}/{name}")
        try:
            version = str(await conn.fetchval("SHOW server_version"))
            t0 = time.perf_counter()
            for table, documents in (("claims", claims), ("confirmations", confirmations)):
                await conn.execute(TABLE.format(name=table))
                await conn.copy_to_table(table, source=copy_chunks(documents), format="binary")
            await conn.execute("ANALYZE claims")
            await conn.execute("ANALYZE confirmations")
            load_s = time.perf_counter() - t0
            say(
                f"postgres: loaded {len(claims):,} + {len(confirmations):,} rows in {load_s:.1f} s (COPY + ANALYZE)"
            )
            await conn.execute(f"SET work_mem = '{work_mem}'")
            ppm = tolerance_ppm(DEFAULT_TOLERANCE_RATIO)
            t0 = time.perf_counter()
            row = await conn.fetchrow(MATCH, DEFAULT_TOLERANCE_MINOR, ppm)
            match_s = time.perf_counter() - t0
            assert row is not None
            return {k: int(v) for k, v in dict(row).items()}, load_s, match_s, version
        finally:
            await conn.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000, help="claims, and as many confirmations")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("TAMGA_BENCH_POSTGRES_URL", DEFAULT_URL),
        help="server to use",
    )
    parser.add_argument("--no-postgres", action="store_true", help="measure the engine alone")
    parser.add_argument("--work-mem", default="512MB", help="PostgreSQL work_mem for the match query")
    args = parser.parse_args()

    def say(line: str) -> None:
        print(line, flush=True)

    out: dict[str, Any] = {"rows_per_side": args.rows, "seed": args.seed}
    t0 = time.perf_counter()
    trade = trade_arrays(args.rows, seed=args.seed)
    out["generate_s"] = round(time.perf_counter() - t0, 3)
    say(f"synthetic trade: {args.rows:,} claims and {args.rows:,} confirmations in {out['generate_s']:.1f} s")

    with PeakMemory() as memory:
        t0 = time.perf_counter()
        result = reconcile(trade.claims, trade.confirmations)
        reconcile_s = time.perf_counter() - t0
    numpy_figures = figures(result)
    t0 = time.perf_counter()
    table = tax_gap(result, trade.claims, trade.confirmations, by="region_pair")
    gap_s = time.perf_counter() - t0
    out.update(
        reconcile_s=round(reconcile_s, 3),
        reconcile_rows_per_s=round(2 * args.rows / reconcile_s),
        reconcile_peak_extra_mb=round(memory.extra / 2**20),
        tax_gap_region_pair_s=round(gap_s, 3),
        region_pairs=len(table),
        **{f"{k}": v for k, v in result.counts().items()},
    )
    say(
        f"numpy: reconciled in {reconcile_s:.2f} s ({out['reconcile_rows_per_s']:,} rows/s), "
        f"peak +{out['reconcile_peak_extra_mb']:,} MB; tax gap by region pair ({len(table)} pairs) in {gap_s:.2f} s"
    )
    say("        " + ", ".join(f"{k} {v:,}" for k, v in result.counts().items()))
    out["matches_expected"] = result.counts() == trade.expected
    if not out["matches_expected"]:
        say(f"numpy result differs from the synthetic plan: {trade.expected}")

    status = 0 if out["matches_expected"] else 1
    if args.no_postgres:
        out["postgres_s"] = None
    else:
        try:
            sql_figures, load_s, match_s, version = asyncio.run(
                postgres_match(args.postgres_url, trade.claims, trade.confirmations, args.work_mem, say)
            )
        except (OSError, asyncpg.PostgresError) as error:
            say(f"postgres unreachable at {args.postgres_url}: {error}")
            print(json.dumps({"error": "postgres unreachable", **out}), flush=True)
            return 2
        same = sql_figures == numpy_figures
        out.update(
            postgres_s=round(match_s, 3),
            postgres_load_s=round(load_s, 3),
            postgres_version=version,
            postgres_work_mem=args.work_mem,
            same_result=same,
            ratio=round(match_s / reconcile_s, 1),
        )
        say(f"postgres {version}: matched in {match_s:.2f} s (work_mem {args.work_mem})")
        say(f"ratio: PostgreSQL / numpy = {match_s / reconcile_s:.1f}x; same result: {same}")
        if not same:
            say(f"  numpy    {numpy_figures}\n  postgres {sql_figures}")
            status = 1
    out["target_met"] = reconcile_s < 30.0
    out["max_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps(out), flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
