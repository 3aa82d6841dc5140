"""Tariff computation throughput with full traces: the batch path (`assess_many`) against the scalar
reference (`assess_items`), on the same declarations.

Declarations carry 1 to 60 items drawn from every line of tamga's tariff table, in both states, on days
either side of 1 January 2026 (VAT 20 % / 22 % in Russia): ad valorem, specific and combined duties with
their EUR conversion, excisable goods (beer, wine, spirits, cigarettes, cars), preferences, the reduced
VAT rate and the customs fee. Every item gets duty, excise and VAT, each with its trace (rule, source,
base, rate, conversion, result) and the declaration its fee, exactly as an API response would carry them.

items/s = items assessed / CPU seconds of the process (one core), so that the figure does not depend on
what else shares the machine; the wall-clock figure is printed beside it and equals it on an idle machine.
The batch path keeps its rule objects across declarations, as a running service does: a first pass warms
them before timing. ratio = batch items/s / scalar items/s, measured the same way in the same run; the
two paths' assessments are checked equal.

Runnable alone (`python bench/clearance_tariff.py`); `run()` is what `bench/clearance.py` combines.
The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from tamga.clearance.tariff import Assessment, State, TariffItem, assess_items, assess_many
from tamga.clearance.tariff_rules import load_rule_book

DAYS = (date(2025, 6, 16), date(2025, 12, 30), date(2026, 1, 15), date(2026, 11, 27))
EUR = {"RU": (Decimal("91.3241"), Decimal("92.1130")), "BY": (Decimal("3.5218"), Decimal("3.4867"))}
ORIGINS = ("CN", "TR", "DE", "IT", "KR", "US", "AE", "JP")


@dataclass(frozen=True)
class Declaration:
    state: State
    on: date
    rates: dict[str, Decimal]
    items: tuple[TariffItem, ...]


def make_declarations(n: int, rng: random.Random) -> list[Declaration]:
    """Give n clean import declarations over the lines in force on their day."""
    book = load_rule_book()
    preference_lines = [c for c in book.lines if book.preferences["DEV"].goods_eligible(c)]
    declarations = []
    for _ in range(n):
        state: State = rng.choice(("RU", "RU", "BY"))
        on = rng.choice(DAYS)
        codes = [c for c, line in book.lines.items() if line.rate_on(on) is not None]
        reduced = book.reduced_vat[state]
        items = []
        for number in range(1, rng.randint(1, 60) + 1):
            code = rng.choice(codes)
            origin, preference = rng.choice(ORIGINS), None
            if code in preference_lines and rng.random() < 0.2:
                origin, preference = rng.choice((("VN", "DEV"), ("IN", "DEV"), ("BD", "LDC")))
            litres = Decimal(rng.randint(1, 20000))
            quantities = {
                "kg": Decimal(rng.randint(1, 20000)) / 10,
                "l": litres,
                "l_alc": (litres * Decimal(rng.choice(("0.4", "0.12", "0.05")))).quantize(Decimal("0.001")),
                "cm3": Decimal(rng.choice((1598, 1998, 2494, 12000))),
                "1000pcs": Decimal(rng.randint(1, 500)),
                "retail_value": Decimal(rng.randint(100_000, 50_000_000)) / 100,
                "pcs": Decimal(1),
                "pairs": Decimal(rng.randint(1, 5000)),
                "hp": Decimal(rng.choice((88, 110, 149, 190, 249, 340, 560))),
            }
            items.append(
                TariffItem(
                    number=number,
                    hs_code=code,
                    origin=origin,
                    preference=preference,
                    customs_value=Decimal(rng.randint(1_000, 500_000_000)) / 100,
                    quantities=quantities,
                    vat_reduced=reduced.lists(code) and rng.random() < 0.5,
                )
            )
        rate = EUR[state][0 if on.year == 2025 else 1]
        declarations.append(Declaration(state, on, {"EUR": rate}, tuple(items)))
    return declarations


def _time(
    assess: Callable[..., Assessment], declarations: list[Declaration], seconds: float
) -> tuple[float, float, int]:
    """Give CPU seconds, wall seconds and items assessed, going over the declarations until `seconds` pass."""
    items = 0
    cpu0, wall0 = time.process_time(), time.perf_counter()
    while True:
        for d in declarations:
            assess(d.items, state=d.state, direction="import", on=d.on, rates=d.rates)
            items += len(d.items)
        if time.process_time() - cpu0 >= seconds:
            break
    return time.process_time() - cpu0, time.perf_counter() - wall0, items


def run(seconds: float = 5.0, *, declarations: int = 400, seed: int = 1) -> dict[str, float]:
    """Give the figures: batch and scalar items/s with full traces, and their ratio."""
    rng = random.Random(seed)
    decls = make_declarations(declarations, rng)
    for d in decls:  # warm the batch path's rule objects, and check both paths agree
        fast = assess_many(d.items, state=d.state, direction="import", on=d.on, rates=d.rates)
        slow = assess_items(d.items, state=d.state, direction="import", on=d.on, rates=d.rates)
        if fast != slow:
            raise AssertionError("the batch path and the scalar reference disagree")
    fast_cpu, fast_wall, fast_items = _time(assess_many, decls, seconds / 2)
    slow_cpu, slow_wall, slow_items = _time(assess_items, decls, seconds / 2)
    batch = fast_items / fast_cpu
    scalar = slow_items / slow_cpu
    steps = sum(
        len(c.trace)
        for d in decls[:50]
        for i in assess_many(d.items, state=d.state, direction="import", on=d.on, rates=d.rates).items
        for c in (i.duty, i.excise, i.vat)
    )
    items_50 = sum(len(d.items) for d in decls[:50])
    return {
        "tariff_items_per_s": round(batch),
        "tariff_scalar_items_per_s": round(scalar),
        "tariff_batch_vs_scalar": round(batch / scalar, 2),
        "tariff_items_per_wall_s": round(fast_items / fast_wall),
        "tariff_scalar_items_per_wall_s": round(slow_items / slow_wall),
        "tariff_trace_steps_per_item": round(steps / items_50, 2),
        "tariff_items": float(sum(len(d.items) for d in decls)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--seconds", type=float, default=5.0, help="time budget (split between the two paths)"
    )
    parser.add_argument("--declarations", type=int, default=400)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    figures = run(args.seconds, declarations=args.declarations, seed=args.seed)
    print(
        f"tariff, full traces, {int(figures['tariff_items'])} items in {args.declarations} declarations:\n"
        f"  batch (assess_many)    {figures['tariff_items_per_s']:>10,.0f} items/CPU-s"
        f"  ({figures['tariff_items_per_wall_s']:,.0f} items/wall-s)\n"
        f"  scalar (assess_items)  {figures['tariff_scalar_items_per_s']:>10,.0f} items/CPU-s"
        f"  ({figures['tariff_scalar_items_per_wall_s']:,.0f} items/wall-s)\n"
        f"  batch / scalar         {figures['tariff_batch_vs_scalar']:>10.2f}x"
        f"  (target: at least 50,000 items/s with full traces)\n"
        f"  trace steps per item   {figures['tariff_trace_steps_per_item']:>10.2f}"
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
