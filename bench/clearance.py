"""Customs clearance throughput: risk screening and the tariff engine, each against its plain reference.

One run measures both parts of issue 4's benchmark:

- risk screening of declaration items against 1,000 active profiles, the compiled engine against the
  rule-by-rule evaluation of the same profiles (`bench/clearance_risk.py`);
- tariff computation with full traces, the batch path against the scalar reference
  (`bench/clearance_tariff.py`).

Each part can also run alone. The last line printed is one JSON object with at least
`risk_items_per_s`, `risk_vs_straightforward` and `tariff_items_per_s`.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent


def _part(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, HERE / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="time budget of each measured phase")
    args = parser.parse_args()
    figures: dict[str, float] = {}
    print("== risk screening (bench/clearance_risk.py)")
    figures.update(_part("clearance_risk").run(args.seconds))
    print(
        f"risk: {figures['risk_items_per_s']:,.0f} items/s against {figures['risk_profiles']:,.0f} profiles "
        f"(straightforward {figures['risk_straightforward_items_per_s']:,.0f}/s): "
        f"{figures['risk_vs_straightforward']:.1f}x; wall {figures['risk_items_per_wall_s']:,.0f} items/s"
    )
    print("== tariff engine (bench/clearance_tariff.py)")
    figures.update(_part("clearance_tariff").run(args.seconds))
    print(
        f"tariff: {figures['tariff_items_per_s']:,.0f} items/s with full traces "
        f"(scalar reference {figures['tariff_scalar_items_per_s']:,.0f}/s): "
        f"{figures['tariff_batch_vs_scalar']:.2f}x; wall {figures['tariff_items_per_wall_s']:,.0f} items/s"
    )
    print(json.dumps(figures, sort_keys=True))


if __name__ == "__main__":
    main()
