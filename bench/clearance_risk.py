"""Risk screening throughput: the compiled engine against the straightforward rule-by-rule evaluation of
the same 1,000 active profiles, on the same declarations.

Profiles are shaped like the default set, at scale: most test an HS prefix (mostly 4 or 6 digits) with an
origin set and often a value per kg threshold, some the declarant's history, AEO status, route or transit
alarms; a few test every item (value per kg against the statistical reference). Declarations carry 1 to
20 items with HS codes from every HS 2022 subheading, 70 % of them from 300 popular ones (as trade
concentrates), which the profiles also aim at.

items/s = items screened / CPU seconds of the process (one core; numpy runs these operations on one
thread), from the facts to the decision (encoding, screening, reasons, random selection), so that the
figure does not depend on what else shares the machine; the wall-clock figures are printed beside it and
equal it on an idle machine. The profile set is compiled before timing, as the service caches it per
version. ratio = compiled items/s / straightforward items/s, measured the same way in the same run. The two engines' hits are
checked equal on the declarations both screened.

Runnable alone (`python bench/clearance_risk.py`); `run()` is what `bench/clearance.py` combines.
The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from datetime import UTC, datetime
from decimal import Decimal
from importlib.resources import files
from typing import Any

from tamga.clearance import risk
from tamga.clearance.screening import DeclarantHistory, Lane, ScreenedItem, ScreeningFacts

KEY = b"bench-selection-key-000000000000"
COUNTRIES = ["CN", "TR", "VN", "IN", "DE", "IT", "PL", "KZ", "UZ", "AE", "KR", "JP", "US", "BY", "RU", "TH"]
ALARMS = ["corridor_deviation", "unscheduled_stop", "seal_opened", "signal_lost", "late"]
OFFICES = ["10013010", "10113110", "10113090", "06611", "09131", "16133", "07290"]


def _hs6() -> list[str]:
    doc = json.loads((files("tamga") / "reference" / "data" / "hs_codes.json").read_text(encoding="utf-8"))
    return [entry["code"] for entry in doc["hs6"]]


HS6 = _hs6()  # every HS 2022 subheading


def _traded(rng: random.Random, popular: list[str]) -> str:
    """Give an HS6 as trade spreads: most lines fall in a few hundred popular subheadings."""
    return rng.choice(popular) if rng.random() < 0.7 else rng.choice(HS6)


def make_profiles(n: int, rng: random.Random, popular: list[str]) -> list[risk.Profile]:
    """Give n profiles of the shapes customs risk units write, aimed mostly at traded goods."""
    profiles = []
    for i in range(n):
        shape = rng.random()
        conditions: list[dict[str, Any]] = []
        if shape < 0.9:
            by_origin, by_value = rng.random() < 0.8, rng.random() < 0.6
            # Goods targeted for themselves (weapons, drugs precursors) are rarely traded ones.
            hs6 = _traded(rng, popular) if by_origin or by_value else rng.choice(HS6)
            length = rng.choices([2, 4, 6, 8], weights=[3 if by_origin and by_value else 0, 60, 30, 7])[0]
            prefix = (hs6 + f"{rng.randrange(100):02d}")[:length]
            conditions.append({"field": "hs_code", "op": "starts_with", "value": [prefix]})
            if by_origin:
                conditions.append(
                    {"field": "origin", "op": "in", "value": rng.sample(COUNTRIES, rng.randint(1, 3))}
                )
            if by_value:
                conditions.append(
                    {
                        "field": "value_per_kg_usd",
                        "op": "<",
                        "value": f"{_typical(hs6) * rng.choice([0.2, 0.3, 0.5]):.2f}",
                    }
                )
            if rng.random() < 0.2:
                conditions.append({"field": "declarant_aeo", "op": "eq", "value": False})
            if rng.random() < 0.15:
                conditions.append(
                    {"field": "direction", "op": "eq", "value": rng.choice(["import", "export"])}
                )
        elif shape < 0.93:
            conditions.append(
                {"field": "value_per_kg_vs_reference", "op": "<", "value": str(rng.choice([0.2, 0.3]))}
            )
            conditions.append({"field": "origin", "op": "in", "value": rng.sample(COUNTRIES, 2)})
        elif shape < 0.96:
            conditions.append({"field": "declarant_declarations", "op": "<", "value": str(rng.randint(1, 5))})
            conditions.append({"field": "declarant_aeo", "op": "eq", "value": False})
            conditions.append({"field": "office", "op": "in", "value": rng.sample(OFFICES, 2)})
        elif shape < 0.98:
            conditions.append({"field": "transit_alarms", "op": "any_in", "value": rng.sample(ALARMS, 2)})
        else:
            conditions.append({"field": "route_countries", "op": "any_in", "value": rng.sample(COUNTRIES, 1)})
            conditions.append({"field": "declarant_refusals", "op": ">=", "value": "2"})
        profiles.append(
            risk.Profile(
                code=f"BENCH-{i:04d}",
                version=1,
                lane=rng.choice([Lane.BLUE, Lane.YELLOW, Lane.YELLOW, Lane.RED]),
                measure="benchmark measure",
                conditions=risk.parse_conditions(conditions),
                random_rate=0.5 if rng.random() < 0.05 else None,
            )
        )
    return profiles


def make_declarations(n: int, rng: random.Random, popular: list[str]) -> list[ScreeningFacts]:
    out = []
    for d in range(n):
        items = []
        for k in range(rng.randint(1, 20)):
            hs6 = _traded(rng, popular)
            mass = Decimal(rng.randint(1, 20_000)) / 10
            usd = (mass * Decimal(_typical(hs6) * rng.lognormvariate(0, 0.8))).quantize(Decimal("0.01"))
            items.append(
                ScreenedItem(
                    number=k + 1,
                    hs_code=hs6 + f"{rng.randrange(10_000):04d}",
                    origin=rng.choice(COUNTRIES),
                    net_mass_kg=mass,
                    customs_value=usd * 80,
                    currency="RUB",
                    customs_value_usd=usd,
                    preference="GSP" if rng.random() < 0.1 else None,
                )
            )
        out.append(
            ScreeningFacts(
                declaration_ref=f"10013010/271126/{d:07d}",
                direction="import" if rng.random() < 0.8 else "export",
                state=rng.choice(["RU", "BY"]),
                office=rng.choice(OFFICES),
                declarant_tax_id="7707083893",
                declarant_aeo=rng.random() < 0.3,
                history=DeclarantHistory(rng.randint(0, 200), rng.choice([0, 0, 0, 1, 2]), None),
                route_countries=tuple(rng.sample(COUNTRIES, rng.randint(1, 3))),
                transit_mrn=None,
                transit_alarms=tuple(rng.sample(ALARMS, 1)) if rng.random() < 0.05 else (),
                registered_at=datetime(2026, 11, 27, tzinfo=UTC),
                items=tuple(items),
            )
        )
    return out


def _typical(hs6: str) -> float:
    """Give a made-up typical USD per kg of a subheading (0.5 to 2,000, fixed by the code)."""
    return float(0.5 * 1.09 ** (int(hs6) % 97))


REFERENCES = risk.ReferenceValues("bench", {code: _typical(code) for code in HS6[::3]})
RATES = risk.SelectionRates(
    rates={Lane.RED: 0.005, Lane.YELLOW: 0.01, Lane.BLUE: 0.02}, aeo_rates={Lane.BLUE: 0.01}
)


def run(seconds: float = 5.0, *, profiles: int = 1000, batch: int = 1000, seed: int = 1) -> dict[str, float]:
    """Give the figures: compiled and straightforward items/s, their ratio, and a one-declaration latency."""
    rng = random.Random(seed)
    popular = rng.sample(HS6, 300)
    ps = make_profiles(profiles, rng, popular)
    set_version = risk.profile_set_version([(p.code, p.version) for p in ps])
    compiled = risk.compile_profiles(ps, REFERENCES)
    decls = make_declarations(batch, rng, popular)
    n_items = sum(len(f.items) for f in decls)

    def compiled_pass() -> list[risk.RiskDecision]:
        hits = risk.screen_compiled(compiled, decls, key=KEY, set_version=set_version)
        return [
            risk.decide(f, h, key=KEY, set_version=set_version, rates=RATES)
            for f, h in zip(decls, hits, strict=True)
        ]

    fast_decisions = compiled_pass()  # warm up
    passes, wall, cpu = 0, time.perf_counter(), time.process_time()
    while True:
        compiled_pass()
        passes += 1
        if time.perf_counter() - wall >= seconds * 0.45:
            break
    fast_wall = passes * n_items / (time.perf_counter() - wall)
    fast_cpu = passes * n_items / (time.process_time() - cpu)

    done_items, done, wall, cpu = 0, 0, time.perf_counter(), time.process_time()
    while done < len(decls):
        f = decls[done]
        hits = risk.screen_straightforward(ps, f, references=REFERENCES, key=KEY, set_version=set_version)
        slow = risk.decide(f, hits, key=KEY, set_version=set_version, rates=RATES)
        if slow != fast_decisions[done]:
            raise AssertionError(f"engines disagree on declaration {f.declaration_ref}")
        done_items += len(f.items)
        done += 1
        if time.perf_counter() - wall >= seconds * 0.45:
            break
    slow_wall = done_items / (time.perf_counter() - wall)
    slow_cpu = done_items / (time.process_time() - cpu)

    one, cpu = decls[:200], time.process_time()
    for f in one:
        hits = risk.screen_compiled(compiled, [f], key=KEY, set_version=set_version)[0]
        risk.decide(f, hits, key=KEY, set_version=set_version, rates=RATES)
    single_ms = (time.process_time() - cpu) / len(one) * 1000

    hits_per_item = sum(len(d.hits) for d in fast_decisions) / n_items
    return {
        "risk_items_per_s": round(fast_cpu),
        "risk_straightforward_items_per_s": round(slow_cpu),
        "risk_vs_straightforward": round(fast_cpu / slow_cpu, 1),
        "risk_items_per_wall_s": round(fast_wall),
        "risk_vs_straightforward_wall": round(fast_wall / slow_wall, 1),
        "risk_profiles": float(len(ps)),
        "risk_hits_per_item": round(hits_per_item, 3),
        "risk_one_declaration_ms": round(single_ms, 3),
        "risk_checked_declarations": float(done),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--profiles", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=1000, help="declarations per compiled batch")
    args = parser.parse_args()
    figures = run(args.seconds, profiles=args.profiles, batch=args.batch)
    print(
        f"compiled: {figures['risk_items_per_s']:,.0f} items/s; straightforward: "
        f"{figures['risk_straightforward_items_per_s']:,.0f} items/s "
        f"(baseline, same run); ratio {figures['risk_vs_straightforward']}x; "
        f"{figures['risk_profiles']:.0f} profiles, {figures['risk_hits_per_item']} hits per item; "
        f"one declaration {figures['risk_one_declaration_ms']} ms; wall clock: "
        f"{figures['risk_items_per_wall_s']:,.0f} items/s, ratio {figures['risk_vs_straightforward_wall']}x"
    )
    print(json.dumps({"benchmark": "clearance_risk", **figures}))


if __name__ == "__main__":
    main()
