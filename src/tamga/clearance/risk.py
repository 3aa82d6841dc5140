"""Risk management, pure: the profile language, the compiled (vectorised) screening of many items at
once, the straightforward rule-by-rule reference, random selection and valuation outliers. No I/O.

A profile is a conjunction of conditions on declaration fields with a lane and a measure. A condition on
an item field (HS code, origin, value per kg...) makes the profile an item profile: it hits each item
whose fields, together with its declaration's, satisfy every condition. A profile whose conditions all
concern the declaration (direction, declarant, route, transit alarms...) hits the declaration as a whole.
The decision takes the highest lane over all hits and the random selection.

Both engines read the same features (`ItemFeatures`, `DeclarationFeatures`: floats computed the same way)
and explain a hit with the same function, so they agree exactly, which the tests check on random profiles.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from tamga.clearance.screening import Lane, ProfileHit, RiskDecision, ScreenedItem, ScreeningFacts
from tamga.kit.errors import FieldError, ValidationFailed

# The monitoring rules a transit movement's alarms can name (tamga.monitoring.domain.Rule).
TRANSIT_ALARM_RULES: Final = (
    "corridor_deviation",
    "unscheduled_stop",
    "seal_opened",
    "signal_lost",
    "late",
    "time_limit_exceeded",
    "border_crossing",
    "implausible_movement",
    "low_battery",
)
_ALARM_BIT = {rule: 1 << i for i, rule in enumerate(TRANSIT_ALARM_RULES)}
_ALL_ALARMS = sum(_ALARM_BIT.values())

HS_DIGITS: Final = 10
_COUNTRY_SLOTS: Final = 26 * 26 + 1  # every ISO alpha-2 shape, and one slot for anything else
_UNKNOWN_COUNTRY: Final = 26 * 26
_ROUTE_WORDS: Final = (_COUNTRY_SLOTS + 63) // 64

# ---------------------------------------------------------------------------------------------------------
# The profile language
# ---------------------------------------------------------------------------------------------------------

ITEM_NUMERIC_FIELDS: Final = (
    "value_per_kg_usd",  # customs_value_usd / net_mass_kg
    "value_per_kg_vs_reference",  # value per kg / the statistical reference USD/kg of the item's HS6
    "customs_value_usd",
    "net_mass_kg",
)
DECLARATION_NUMERIC_FIELDS: Final = ("declarant_declarations", "declarant_refusals")
NUMERIC_OPS: Final = ("<", "<=", ">", ">=")

# field -> (level, allowed operators, a description of the value for error messages)
FIELDS: Final[dict[str, tuple[str, tuple[str, ...], str]]] = {
    "hs_code": ("item", ("starts_with",), "a list of 1 to 10 digit HS code prefixes"),
    "origin": ("item", ("in", "not_in"), "a list of ISO 3166-1 alpha-2 codes"),
    "preference_claimed": ("item", ("eq",), "true or false"),
    **{f: ("item", NUMERIC_OPS, "a non-negative number") for f in ITEM_NUMERIC_FIELDS},
    "direction": ("declaration", ("eq",), '"import" or "export"'),
    "state": ("declaration", ("in",), 'a list of "RU", "BY"'),
    "office": ("declaration", ("in", "not_in"), "a list of customs office codes (5 to 8 digits)"),
    "declarant_aeo": ("declaration", ("eq",), "true or false"),
    **{f: ("declaration", NUMERIC_OPS, "a non-negative number") for f in DECLARATION_NUMERIC_FIELDS},
    "route_countries": ("declaration", ("any_in", "none_in"), "a list of ISO 3166-1 alpha-2 codes"),
    "transit_alarms": (
        "declaration",
        ("any_in", "present"),
        f"a list of monitoring rules ({', '.join(TRANSIT_ALARM_RULES)}) for any_in; true or false for present",
    ),
}
SELECTABLE_LANES: Final = (Lane.BLUE, Lane.YELLOW, Lane.RED)

ConditionValue = tuple[str, ...] | Decimal | bool | str


@dataclass(frozen=True, slots=True)
class Condition:
    """One test on one field; values are normalised (sorted tuples, Decimals, booleans)."""

    field: str
    op: str
    value: ConditionValue

    def as_dict(self) -> dict[str, Any]:
        value: Any = self.value
        if isinstance(value, tuple):
            value = list(value)
        elif isinstance(value, Decimal):
            value = str(value)
        return {"field": self.field, "op": self.op, "value": value}

    @property
    def level(self) -> str:
        return FIELDS[self.field][0]


@dataclass(frozen=True, slots=True)
class Profile:
    """One version of a risk profile: conditions (all must hold), the lane, the measure for the officer."""

    code: str
    version: int
    lane: Lane
    measure: str
    conditions: tuple[Condition, ...]
    random_rate: float | None = None  # when set, a matching declaration is selected only at this rate

    @property
    def item_level(self) -> bool:
        return any(c.level == "item" for c in self.conditions)


def _is_country(code: Any) -> bool:
    return isinstance(code, str) and len(code) == 2 and code.isascii() and code.isalpha() and code.isupper()


def _string_list(
    raw: Any, path: str, errors: list[FieldError], valid: Any, what: str
) -> tuple[str, ...] | None:
    if not isinstance(raw, list) or not raw:
        errors.append(FieldError(path, f"must be a non-empty list of {what}"))
        return None
    bad = [i for i, v in enumerate(raw) if not valid(v)]
    for i in bad[:5]:
        errors.append(FieldError(f"{path}[{i}]", f"{raw[i]!r} is not {what}"))
    return None if bad else tuple(sorted(set(raw)))


def _number(raw: Any, path: str, errors: list[FieldError]) -> Decimal | None:
    if isinstance(raw, bool) or not isinstance(raw, int | float | str | Decimal):
        errors.append(FieldError(path, "must be a number"))
        return None
    try:
        value = Decimal(str(raw))
    except (InvalidOperation, ValueError):  # ValueError: an integer too long to print
        errors.append(FieldError(path, "must be a number"))
        return None
    if not value.is_finite() or value < 0 or value > Decimal("1e15"):
        errors.append(FieldError(path, "must be a finite number between 0 and 1e15"))
        return None
    return Decimal(format(value.normalize(), "f")) if value != 0 else Decimal(0)


def parse_condition(raw: Any, path: str, errors: list[FieldError]) -> Condition | None:
    """Give the condition a client wrote, or add to `errors` naming the part at fault."""
    if not isinstance(raw, Mapping):
        errors.append(FieldError(path, 'must be an object {"field", "op", "value"}'))
        return None
    extra = sorted(set(raw) - {"field", "op", "value"})
    if extra:
        errors.append(FieldError(f"{path}.{extra[0]}", "unknown key; a condition has field, op and value"))
    name = raw.get("field")
    if not isinstance(name, str) or name not in FIELDS:
        errors.append(FieldError(f"{path}.field", f"unknown field {name!r}; known: {', '.join(FIELDS)}"))
        return None
    _, ops, what = FIELDS[name]
    op = raw.get("op")
    if not isinstance(op, str) or op not in ops:
        errors.append(
            FieldError(f"{path}.op", f"{op!r} is not an operator of {name}; allowed: {', '.join(ops)}")
        )
        return None
    vpath = f"{path}.value"
    if "value" not in raw:
        errors.append(FieldError(vpath, f"missing: {what}"))
        return None
    value = raw["value"]
    parsed: ConditionValue | None
    if name == "hs_code":
        parsed = _string_list(
            value,
            vpath,
            errors,
            lambda v: isinstance(v, str) and 1 <= len(v) <= HS_DIGITS and v.isascii() and v.isdigit(),
            "an HS code prefix of 1 to 10 digits",
        )
        if parsed is not None:  # a prefix inside a shorter one of the same list adds nothing
            parsed = tuple(p for p in parsed if not any(q != p and p.startswith(q) for q in parsed))
    elif name in ("origin", "route_countries"):
        parsed = _string_list(value, vpath, errors, _is_country, "an ISO 3166-1 alpha-2 code")
    elif name == "office":
        parsed = _string_list(
            value,
            vpath,
            errors,
            lambda v: isinstance(v, str) and 5 <= len(v) <= 8 and v.isascii() and v.isdigit(),
            "a customs office code of 5 to 8 digits",
        )
    elif name == "state":
        parsed = _string_list(value, vpath, errors, lambda v: v in ("RU", "BY"), '"RU" or "BY"')
    elif name == "direction":
        parsed = value if value in ("import", "export") else None
        if parsed is None:
            errors.append(FieldError(vpath, 'must be "import" or "export"'))
    elif name == "transit_alarms" and op == "any_in":
        parsed = _string_list(
            value,
            vpath,
            errors,
            lambda v: isinstance(v, str) and v in _ALARM_BIT,
            "a monitoring rule (" + ", ".join(_ALARM_BIT) + ")",
        )
    elif name in ("preference_claimed", "declarant_aeo", "transit_alarms"):
        parsed = value if isinstance(value, bool) else None
        if parsed is None:
            errors.append(FieldError(vpath, "must be true or false"))
    else:
        parsed = _number(value, vpath, errors)
    return None if parsed is None else Condition(name, op, parsed)


def parse_conditions(raw: Any, path: str = "body.conditions") -> tuple[Condition, ...]:
    """Give the normalised conditions of a profile, or refuse naming every condition at fault (422)."""
    errors: list[FieldError] = []
    if not isinstance(raw, list) or not raw:
        raise ValidationFailed([FieldError(path, "a profile needs at least one condition")])
    if len(raw) > 20:
        raise ValidationFailed([FieldError(path, "at most 20 conditions")])
    conditions: list[Condition] = []
    seen: dict[tuple[str, str], int] = {}
    for i, item in enumerate(raw):
        cpath = f"{path}[{i}]"
        cond = parse_condition(item, cpath, errors)
        if cond is None:
            continue
        # A field is tested once, except a number, which may have one lower and one upper bound.
        slot = (
            cond.field,
            ("lower" if cond.op in (">", ">=") else "upper") if cond.op in NUMERIC_OPS else "",
        )
        if slot in seen:
            errors.append(
                FieldError(f"{cpath}.field", f"{cond.field} is already tested by condition {seen[slot]}")
            )
            continue
        seen[slot] = i
        conditions.append(cond)
    if errors:
        raise ValidationFailed(errors)
    return tuple(conditions)


def parse_lane(raw: Any, path: str = "body.lane") -> Lane:
    """Give the lane a profile sends to; green is what remains when nothing hits, so it is refused."""
    if raw in {lane.value for lane in SELECTABLE_LANES}:
        return Lane(raw)
    reason = (
        "a profile sends to blue, yellow or red; green is what remains when none hits"
        if raw == Lane.GREEN.value
        else f"{raw!r} is not a lane; allowed: blue, yellow, red"
    )
    raise ValidationFailed([FieldError(path, reason)])


# ---------------------------------------------------------------------------------------------------------
# Features: what both engines compare (the same floats, computed the same way)
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReferenceValues:
    """Statistical reference unit values, USD per kg by HS6 (from a data file)."""

    version: str
    usd_per_kg: Mapping[str, float]


def _float_or_nan(value: Decimal) -> float:
    return float(value) if value.is_finite() else math.nan


@dataclass(slots=True)  # not frozen: made for every hit, and a frozen init costs twice as much
class ItemFeatures:
    number: int
    hs_code: str
    origin: str
    value_per_kg_usd: float  # NaN when the net mass is not positive
    value_per_kg_vs_reference: float  # NaN when there is no reference for the HS6 (or no value per kg)
    customs_value_usd: float
    net_mass_kg: float
    preference_claimed: bool

    def number_of(self, name: str) -> float:
        return float(getattr(self, name))


@dataclass(slots=True)  # not frozen: made for every hit, and a frozen init costs twice as much
class DeclarationFeatures:
    direction: str
    state: str
    office: str
    declarant_aeo: bool
    declarant_declarations: float
    declarant_refusals: float
    route_countries: frozenset[str]
    transit_alarms: frozenset[str]
    items: tuple[ItemFeatures, ...]

    def number_of(self, name: str) -> float:
        return float(getattr(self, name))


def item_features(item: ScreenedItem, references: ReferenceValues) -> ItemFeatures:
    """Give the values screening compares for one item."""
    value = _float_or_nan(item.customs_value_usd)
    mass = _float_or_nan(item.net_mass_kg)
    vpk = value / mass if mass > 0 else math.nan
    ref = references.usd_per_kg.get(item.hs_code[:6])
    return ItemFeatures(
        number=item.number,
        hs_code=item.hs_code,
        origin=item.origin,
        value_per_kg_usd=vpk,
        value_per_kg_vs_reference=vpk / ref if ref else math.nan,
        customs_value_usd=value,
        net_mass_kg=mass,
        preference_claimed=item.preference is not None,
    )


def features(
    facts: ScreeningFacts, references: ReferenceValues, *, with_items: bool = True
) -> DeclarationFeatures:
    """Give the values screening compares, one at a time (the reference engine's way)."""
    return DeclarationFeatures(
        direction=facts.direction,
        state=facts.state,
        office=facts.office,
        declarant_aeo=facts.declarant_aeo,
        declarant_declarations=float(facts.history.declarations),
        declarant_refusals=float(facts.history.refusals),
        route_countries=frozenset(facts.route_countries),
        transit_alarms=frozenset(facts.transit_alarms),
        items=tuple(item_features(i, references) for i in facts.items) if with_items else (),
    )


# ---------------------------------------------------------------------------------------------------------
# Explaining a hit (shared by both engines)
# ---------------------------------------------------------------------------------------------------------


def _show_number(value: float) -> str:
    if math.isnan(value):
        return "unknown"
    return f"{value:.4f}".rstrip("0").rstrip(".") if abs(value) < 1e12 else f"{value:.6g}"


def _show_value(value: ConditionValue) -> str:
    if isinstance(value, tuple):
        return "{" + ", ".join(value) + "}"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# How a condition shows the value it tested: 0 item number, 1 item value, 2 declaration number,
# 3 declaration set, 4 declaration value.
ConditionText = tuple[str, int, str, str]


def condition_texts(profile: Profile) -> tuple[ConditionText, ...]:
    """Give, per condition, the field, how its value is shown, and the fixed text around it."""
    out = []
    for c in profile.conditions:
        if c.level == "item":
            kind = 0 if c.field in ITEM_NUMERIC_FIELDS else 1
        elif c.field in DECLARATION_NUMERIC_FIELDS:
            kind = 2
        elif c.field in ("route_countries", "transit_alarms"):
            kind = 3
        else:
            kind = 4
        out.append((c.field, kind, f"{c.field} ", f" {c.op.replace('_', ' ')} {_show_value(c.value)}"))
    return tuple(out)


def explain(
    profile: Profile,
    decl: DeclarationFeatures,
    item: ItemFeatures | None,
    texts: tuple[ConditionText, ...] | None = None,
) -> str:
    """Give why a profile hit: each field, its value, and the condition it met."""
    parts = []
    for name, kind, head, tail in texts if texts is not None else condition_texts(profile):
        if kind == 0:
            shown = _show_number(getattr(item, name))
        elif kind == 1:
            shown = _show_value(getattr(item, name))
        elif kind == 2:
            shown = _show_number(getattr(decl, name))
        elif kind == 3:
            shown = _show_value(tuple(sorted(getattr(decl, name))))
        else:
            shown = _show_value(getattr(decl, name))
        parts.append(head + shown + tail)
    return "; ".join(parts)


# ---------------------------------------------------------------------------------------------------------
# Random selection: a keyed hash of the declaration and the profile set version
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SelectionRates:
    """The minimum random rate of each lane, apart for authorised economic operators."""

    rates: Mapping[Lane, float]
    aeo_rates: Mapping[Lane, float]

    def for_declarant(self, aeo: bool) -> Mapping[Lane, float]:
        return self.aeo_rates if aeo else self.rates

    def as_dict(self) -> dict[str, dict[str, float]]:
        return {
            "rates": {lane.value: r for lane, r in self.rates.items()},
            "aeo_rates": {lane.value: r for lane, r in self.aeo_rates.items()},
        }


def draw(key: bytes, declaration_ref: str, set_version: str, purpose: str) -> float:
    """Give a number in [0, 1) fixed by the declaration, the profile set version and the purpose."""
    message = f"{declaration_ref}\x1f{set_version}\x1f{purpose}".encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def random_lane(
    key: bytes, declaration_ref: str, set_version: str, rates: Mapping[Lane, float]
) -> Lane | None:
    """Give the lane random selection sends a declaration to, if any: one draw over the lanes' rates."""
    u = draw(key, declaration_ref, set_version, "lane")
    edge = 0.0
    for lane in (Lane.RED, Lane.YELLOW, Lane.BLUE):
        edge += rates.get(lane, 0.0)
        if u < edge:
            return lane
    return None


def profile_selects(key: bytes, declaration_ref: str, set_version: str, profile: Profile) -> bool:
    """Tell whether a profile with a random rate selects this declaration (always without a rate)."""
    if profile.random_rate is None:
        return True
    return draw(key, declaration_ref, set_version, f"profile:{profile.code}") < profile.random_rate


def decide(
    facts: ScreeningFacts,
    hits: Iterable[ProfileHit],
    *,
    key: bytes,
    set_version: str,
    rates: SelectionRates,
) -> RiskDecision:
    """Give the decision: the highest lane over the hits and random selection, with the evidence."""
    ordered = tuple(sorted(hits, key=lambda h: (h.item_number or 0, h.profile_code)))
    by_hits = max((h.lane for h in ordered), key=lambda lane: lane.rank, default=Lane.GREEN)
    drawn = random_lane(key, facts.declaration_ref, set_version, rates.for_declarant(facts.declarant_aeo))
    raised = drawn is not None and drawn.rank > by_hits.rank
    return RiskDecision(
        lane=drawn if raised and drawn is not None else by_hits,
        hits=ordered,
        random_selected=raised,
        random_lane=drawn,
        profile_set_version=set_version,
    )


def profile_set_version(versions: Iterable[tuple[str, int]], *parts: Any) -> str:
    """Give the identity of a set of (profile code, version) (and the settings that shape its decisions)."""
    listed = sorted(versions)
    blob = json.dumps([listed, *parts], sort_keys=True, separators=(",", ":"), default=str)
    return "rs-" + hashlib.sha256(blob.encode()).hexdigest()[:20]


# ---------------------------------------------------------------------------------------------------------
# The straightforward reference: every profile, every condition, every item, one at a time
# ---------------------------------------------------------------------------------------------------------


def _numeric_holds(value: float, op: str, threshold: Decimal) -> bool:
    if math.isnan(value):
        return False
    t = float(threshold)
    if op == "<":
        return value < t
    if op == "<=":
        return value <= t
    if op == ">":
        return value > t
    return value >= t


def condition_holds(c: Condition, decl: DeclarationFeatures, item: ItemFeatures | None) -> bool:
    """Tell whether one condition holds for a declaration (and one of its items, for item fields)."""
    f, op, v = c.field, c.op, c.value
    if c.level == "item":
        assert item is not None
        if f == "hs_code":
            assert isinstance(v, tuple)
            code = item.hs_code
            valid = len(code) == HS_DIGITS and code.isascii() and code.isdigit()
            return valid and any(code.startswith(p) for p in v)
        if f == "origin":
            assert isinstance(v, tuple)
            return (item.origin in v) == (op == "in")
        if f == "preference_claimed":
            return item.preference_claimed is v
        assert isinstance(v, Decimal)
        return _numeric_holds(item.number_of(f), op, v)
    if f == "direction":
        return decl.direction == v
    if f == "state":
        assert isinstance(v, tuple)
        return decl.state in v
    if f == "office":
        assert isinstance(v, tuple)
        return (decl.office in v) == (op == "in")
    if f == "declarant_aeo":
        return decl.declarant_aeo is v
    if f == "route_countries":
        assert isinstance(v, tuple)
        return bool(decl.route_countries.intersection(v)) == (op == "any_in")
    if f == "transit_alarms":
        if op == "present":
            return bool(decl.transit_alarms) is v
        assert isinstance(v, tuple)
        return bool(decl.transit_alarms.intersection(v))
    assert isinstance(v, Decimal)
    return _numeric_holds(decl.number_of(f), op, v)


def screen_straightforward(
    profiles: Sequence[Profile],
    facts: ScreeningFacts,
    *,
    references: ReferenceValues,
    key: bytes,
    set_version: str,
) -> list[ProfileHit]:
    """Give the hits of the profiles on one declaration, rule by rule (the reference for the engine)."""
    decl = features(facts, references)
    hits: list[ProfileHit] = []
    for profile in profiles:
        if not profile_selects(key, facts.declaration_ref, set_version, profile):
            continue
        if not profile.item_level:
            if all(condition_holds(c, decl, None) for c in profile.conditions):
                hits.append(_hit(profile, explain(profile, decl, None), None))
            continue
        for item in decl.items:
            if all(condition_holds(c, decl, item) for c in profile.conditions):
                hits.append(_hit(profile, explain(profile, decl, item), item.number))
    return hits


def _hit(profile: Profile, reason: str, item_number: int | None) -> ProfileHit:
    return ProfileHit(
        profile_code=profile.code,
        profile_version=profile.version,
        lane=profile.lane,
        measure=profile.measure,
        reason=reason,
        item_number=item_number,
    )


# ---------------------------------------------------------------------------------------------------------
# The compiled engine
# ---------------------------------------------------------------------------------------------------------

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
WordArray = npt.NDArray[np.uint64]


def _country_index(code: str) -> int:
    return _COUNTRY_INDEX.get(code, _UNKNOWN_COUNTRY)


_COUNTRY_INDEX: Final = {chr(65 + a) + chr(65 + b): a * 26 + b for a in range(26) for b in range(26)}


def _hs_int(code: str) -> int:
    """Give a 10-digit code as an integer; anything else as -1 (it matches no prefix)."""
    if len(code) == HS_DIGITS and code.isascii() and code.isdigit():
        return int(code)
    return -1


_POWERS = 10 ** np.arange(HS_DIGITS - 1, -1, -1, dtype=np.int64)


def _hs_ints(codes: list[str]) -> IntArray:
    """Give each 10-digit code as an integer (-1 for anything else); one pass when all are well formed."""
    if not codes:
        return np.zeros(0, dtype=np.int64)
    joined = "".join(codes)
    if min(map(len, codes)) == max(map(len, codes)) == HS_DIGITS and joined.isascii() and joined.isdigit():
        digits = np.frombuffer(joined.encode("ascii"), dtype=np.uint8).reshape(len(codes), HS_DIGITS)
        return (digits.astype(np.int64) - 48) @ _POWERS
    return np.fromiter(map(_hs_int, codes), dtype=np.int64, count=len(codes))


def _country_words(codes: Iterable[str]) -> WordArray:
    bits = np.zeros(_ROUTE_WORDS * 64, dtype=np.bool_)
    for code in codes:
        bits[_country_index(code)] = True
    return np.packbits(bits, bitorder="little").view(np.uint64)


def _bounds(conditions: Iterable[Condition], name: str) -> tuple[float, float] | None:
    """Give [lo, hi) equivalent to a field's numeric conditions, or None when the field is not tested."""
    lo, hi, tested = -math.inf, math.inf, False
    for c in conditions:
        if c.field != name:
            continue
        tested = True
        assert isinstance(c.value, Decimal)
        t = float(c.value)
        if c.op == "<":
            hi = t
        elif c.op == "<=":
            hi = math.nextafter(t, math.inf)
        elif c.op == ">":
            lo = math.nextafter(t, math.inf)
        else:
            lo = t
    return (lo, hi) if tested else None


@dataclass(frozen=True, slots=True)
class _Numeric:
    """One numeric field's bounds per profile: lo <= v < hi where tested."""

    name: str
    tested: BoolArray
    lo: FloatArray
    hi: FloatArray


@dataclass(frozen=True, slots=True)
class _PrefixIndex:
    """Profiles by HS prefix of one length: sorted prefix keys, and each key's run in `profiles`."""

    length: int
    keys: IntArray
    starts: IntArray  # len(keys) + 1
    profiles: IntArray


@dataclass(eq=False)
class CompiledProfiles:
    """A profile set compiled into arrays: a prefix index for HS codes, masks, bitsets and bounds."""

    profiles: tuple[Profile, ...]
    references: ReferenceValues
    prefix_index: list[_PrefixIndex]
    wildcard_items: IntArray  # item profiles without an HS or origin-in condition: candidates for every item
    origin_starts: IntArray  # item profiles without an HS condition, by origin: runs in origin_profiles
    origin_profiles: IntArray
    declaration_profiles: IntArray
    origin_mask: BoolArray  # [P, countries]
    origin_tested: BoolArray
    item_numeric: list[_Numeric]
    decl_numeric: list[_Numeric]
    preference: npt.NDArray[np.int8]  # -1 any, 0 none claimed, 1 claimed
    direction: npt.NDArray[np.uint8]  # allowed bits: 1 import, 2 export
    state: npt.NDArray[np.uint8]  # allowed bits: 1 RU, 2 BY
    offices: dict[str, int]
    office_mask: BoolArray  # [P, offices + 1]; the last column is "any other office"
    office_tested: BoolArray
    aeo: npt.NDArray[np.int8]
    route_any: WordArray  # [P, words]
    route_any_tested: BoolArray
    route_none: WordArray
    route_none_tested: BoolArray
    alarm_any: IntArray  # bits of TRANSIT_ALARM_RULES; 0 = not tested
    alarm_forbid: IntArray
    random_rate: FloatArray  # NaN = no random rate
    texts: list[tuple[ConditionText, ...]]  # per profile, for the reasons of its hits
    tests_declaration: BoolArray  # the profile has a condition on a declaration field
    ref_hs6: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    ref_value: FloatArray = field(default_factory=lambda: np.zeros(0, dtype=np.float64))


def compile_profiles(profiles: Sequence[Profile], references: ReferenceValues) -> CompiledProfiles:
    """Give the profile set as arrays for screening many items at once."""
    ps = tuple(profiles)
    n = len(ps)
    origin_mask = np.ones((n, _COUNTRY_SLOTS), dtype=np.bool_)
    origin_tested = np.zeros(n, dtype=np.bool_)
    preference = np.full(n, -1, dtype=np.int8)
    direction = np.full(n, 3, dtype=np.uint8)
    state = np.full(n, 3, dtype=np.uint8)
    aeo = np.full(n, -1, dtype=np.int8)
    route_any = np.zeros((n, _ROUTE_WORDS), dtype=np.uint64)
    route_none = np.zeros((n, _ROUTE_WORDS), dtype=np.uint64)
    route_any_tested = np.zeros(n, dtype=np.bool_)
    route_none_tested = np.zeros(n, dtype=np.bool_)
    alarm_any = np.zeros(n, dtype=np.int64)
    alarm_forbid = np.zeros(n, dtype=np.int64)
    random_rate = np.array(
        [math.nan if p.random_rate is None else p.random_rate for p in ps], dtype=np.float64
    )
    office_codes = sorted(
        {
            o
            for p in ps
            for c in p.conditions
            if c.field == "office" and isinstance(c.value, tuple)
            for o in c.value
        }
    )
    offices = {code: i for i, code in enumerate(office_codes)}
    office_mask = np.ones((n, len(offices) + 1), dtype=np.bool_)
    office_tested = np.zeros(n, dtype=np.bool_)
    prefixes: dict[int, list[tuple[int, int]]] = {}
    wildcard: list[int] = []
    by_origin: list[tuple[int, int]] = []  # item profiles without an HS condition but with origin "in"
    decl_level: list[int] = []

    for i, p in enumerate(ps):
        if not p.item_level:
            decl_level.append(i)
        elif not any(c.field == "hs_code" for c in p.conditions):
            origins = [c.value for c in p.conditions if c.field == "origin" and c.op == "in"]
            if origins and isinstance(origins[0], tuple):
                by_origin.extend((_country_index(x), i) for x in origins[0])
            else:
                wildcard.append(i)
        for c in p.conditions:
            v = c.value
            if c.field == "hs_code":
                assert isinstance(v, tuple)
                for prefix in v:
                    prefixes.setdefault(len(prefix), []).append((int(prefix), i))
            elif c.field == "origin":
                assert isinstance(v, tuple)
                listed = np.zeros(_COUNTRY_SLOTS, dtype=np.bool_)
                listed[[_country_index(x) for x in v]] = True
                origin_mask[i] = listed if c.op == "in" else ~listed
                origin_tested[i] = True
            elif c.field == "preference_claimed":
                preference[i] = 1 if v else 0
            elif c.field == "direction":
                direction[i] = 1 if v == "import" else 2
            elif c.field == "state":
                assert isinstance(v, tuple)
                state[i] = (1 if "RU" in v else 0) | (2 if "BY" in v else 0)
            elif c.field == "office":
                assert isinstance(v, tuple)
                listed = np.zeros(len(offices) + 1, dtype=np.bool_)
                listed[[offices[x] for x in v]] = True
                office_mask[i] = listed if c.op == "in" else ~listed
                office_tested[i] = True
            elif c.field == "declarant_aeo":
                aeo[i] = 1 if v else 0
            elif c.field == "route_countries":
                assert isinstance(v, tuple)
                if c.op == "any_in":
                    route_any[i], route_any_tested[i] = _country_words(v), True
                else:
                    route_none[i], route_none_tested[i] = _country_words(v), True
            elif c.field == "transit_alarms":
                if c.op == "present":
                    if v:
                        alarm_any[i] = _ALL_ALARMS
                    else:
                        alarm_forbid[i] = _ALL_ALARMS
                else:
                    assert isinstance(v, tuple)
                    alarm_any[i] = sum(_ALARM_BIT[r] for r in v)

    def numeric(names: Sequence[str]) -> list[_Numeric]:
        out = []
        for name in names:
            bounds = [_bounds(p.conditions, name) for p in ps]
            tested = np.array([b is not None for b in bounds], dtype=np.bool_)
            if not tested.any():
                continue  # no profile tests this field: the engine skips it entirely
            lo = np.array([b[0] if b else -math.inf for b in bounds], dtype=np.float64)
            hi = np.array([b[1] if b else math.inf for b in bounds], dtype=np.float64)
            out.append(_Numeric(name, tested, lo, hi))
        return out

    index = []
    for length, entries in sorted(prefixes.items()):
        entries.sort()
        keys_all = np.array([k for k, _ in entries], dtype=np.int64)
        keys, starts = np.unique(keys_all, return_index=True)
        index.append(
            _PrefixIndex(
                length=length,
                keys=keys.astype(np.int64),
                starts=np.append(starts, len(entries)).astype(np.int64),
                profiles=np.array([i for _, i in entries], dtype=np.int64),
            )
        )
    by_origin.sort()
    slots = np.array([slot for slot, _ in by_origin], dtype=np.int64)
    origin_starts = np.searchsorted(slots, np.arange(_COUNTRY_SLOTS + 1)).astype(np.int64)
    ref_items = sorted((int(k), v) for k, v in references.usd_per_kg.items() if len(k) == 6 and k.isdigit())
    return CompiledProfiles(
        profiles=ps,
        references=references,
        prefix_index=index,
        wildcard_items=np.array(wildcard, dtype=np.int64),
        origin_starts=origin_starts,
        origin_profiles=np.array([i for _, i in by_origin], dtype=np.int64),
        declaration_profiles=np.array(decl_level, dtype=np.int64),
        origin_mask=origin_mask,
        origin_tested=origin_tested,
        item_numeric=numeric(ITEM_NUMERIC_FIELDS),
        decl_numeric=numeric(DECLARATION_NUMERIC_FIELDS),
        preference=preference,
        direction=direction,
        state=state,
        offices=offices,
        office_mask=office_mask,
        office_tested=office_tested,
        aeo=aeo,
        route_any=route_any,
        route_any_tested=route_any_tested,
        route_none=route_none,
        route_none_tested=route_none_tested,
        alarm_any=alarm_any,
        alarm_forbid=alarm_forbid,
        random_rate=random_rate,
        texts=[condition_texts(p) for p in ps],
        tests_declaration=np.array(
            [any(c.level == "declaration" for c in p.conditions) for p in ps], dtype=np.bool_
        ),
        ref_hs6=np.array([k for k, _ in ref_items], dtype=np.int64),
        ref_value=np.array([v for _, v in ref_items], dtype=np.float64),
    )


@dataclass(frozen=True, slots=True)
class _Batch:
    """Declarations and their items as columns."""

    decl_of: IntArray  # item -> declaration
    item_pos: IntArray  # item -> position within its declaration
    hs: IntArray
    origin: IntArray
    item_numbers: dict[str, FloatArray]
    preference: BoolArray
    direction: npt.NDArray[np.uint8]
    state: npt.NDArray[np.uint8]
    office: IntArray
    aeo: BoolArray
    decl_numbers: dict[str, FloatArray]
    route: WordArray  # [D, words]
    alarms: IntArray


def _encode(compiled: CompiledProfiles, batch: Sequence[ScreeningFacts]) -> _Batch:
    counts = [len(f.items) for f in batch]
    n = sum(counts)
    decl_of = np.repeat(np.arange(len(batch), dtype=np.int64), counts)
    starts = np.cumsum([0, *counts[:-1]]) if counts else np.zeros(0, dtype=np.int64)
    item_pos = np.arange(n, dtype=np.int64) - np.repeat(np.asarray(starts, dtype=np.int64), counts)
    flat = [i for f in batch for i in f.items]
    hs_codes = [i.hs_code for i in flat]
    hs = _hs_ints(hs_codes)
    index = _COUNTRY_INDEX.get
    origin = np.fromiter((index(i.origin, _UNKNOWN_COUNTRY) for i in flat), dtype=np.int64, count=n)
    value = np.array([float(i.customs_value_usd) for i in flat], dtype=np.float64)
    mass = np.array([float(i.net_mass_kg) for i in flat], dtype=np.float64)
    value[~np.isfinite(value)] = math.nan  # as _float_or_nan
    mass[~np.isfinite(mass)] = math.nan
    preference = np.array([i.preference is not None for i in flat], dtype=np.bool_)
    numbers: dict[str, FloatArray] = {"customs_value_usd": value, "net_mass_kg": mass}
    positive = mass > 0
    vpk = np.full(n, math.nan)
    np.divide(value, mass, out=vpk, where=positive)
    numbers["value_per_kg_usd"] = vpk
    ratio = np.full(n, math.nan)
    refs = compiled.ref_hs6
    if len(refs) and n:
        hs6 = np.where(hs >= 0, hs // 10_000, -1)
        pos = np.minimum(np.searchsorted(refs, hs6), len(refs) - 1)
        found = (refs[pos] == hs6) & (hs6 >= 0)
        ref = np.where(found, compiled.ref_value[pos], math.nan)
        # The 6-digit key of a code that is not 10 digits comes from the text, as the reference does.
        for j in np.flatnonzero(hs < 0):
            r = compiled.references.usd_per_kg.get(hs_codes[j][:6])
            ref[j] = r if r else math.nan
        np.divide(vpk, ref, out=ratio, where=~np.isnan(ref) & (ref != 0))
    numbers["value_per_kg_vs_reference"] = ratio
    office_index = compiled.offices
    other = len(office_index)
    route = np.zeros((len(batch), _ROUTE_WORDS), dtype=np.uint64)
    if any(compiled.route_any_tested) or any(compiled.route_none_tested):
        for d, f in enumerate(batch):
            if f.route_countries:
                route[d] = _country_words(f.route_countries)
    return _Batch(
        decl_of=decl_of,
        item_pos=item_pos,
        hs=hs,
        origin=origin,
        item_numbers=numbers,
        preference=preference,
        direction=np.array([1 if f.direction == "import" else 2 for f in batch], dtype=np.uint8),
        state=np.array(
            [1 if f.state == "RU" else 2 if f.state == "BY" else 0 for f in batch], dtype=np.uint8
        ),
        office=np.array([office_index.get(f.office, other) for f in batch], dtype=np.int64),
        aeo=np.array([f.declarant_aeo for f in batch], dtype=np.bool_),
        decl_numbers={
            "declarant_declarations": np.array([float(f.history.declarations) for f in batch]),
            "declarant_refusals": np.array([float(f.history.refusals) for f in batch]),
        },
        route=route,
        alarms=np.array(
            [sum(_ALARM_BIT.get(a, 0) for a in set(f.transit_alarms)) for f in batch], dtype=np.int64
        ),
    )


def _expand(
    items: IntArray,
    keys: IntArray,
    starts: IntArray,
    profiles: IntArray,
    items_out: list[IntArray],
    profiles_out: list[IntArray],
) -> None:
    """Append (item, profile) for every profile in the run of each item's key (CSR runs)."""
    lo = starts[keys]
    counts = starts[keys + 1] - lo
    total = int(counts.sum())
    if not total:
        return
    items_out.append(np.repeat(items, counts))
    run_start = np.repeat(lo - np.cumsum(counts) + counts, counts)
    profiles_out.append(profiles[run_start + np.arange(total, dtype=np.int64)])


def _candidates(compiled: CompiledProfiles, hs: IntArray, origin: IntArray) -> tuple[IntArray, IntArray]:
    """Give (item, profile) pairs whose HS condition holds, plus every item with the wildcard profiles."""
    items_out: list[IntArray] = []
    profiles_out: list[IntArray] = []
    valid = hs >= 0
    for idx in compiled.prefix_index:
        key = np.where(valid, hs // 10 ** (HS_DIGITS - idx.length), -1)
        pos = np.searchsorted(idx.keys, key)
        pos_c = np.minimum(pos, len(idx.keys) - 1)
        found = np.flatnonzero((idx.keys[pos_c] == key) & valid)
        if not len(found):
            continue
        _expand(found, pos_c[found], idx.starts, idx.profiles, items_out, profiles_out)
    if len(compiled.origin_profiles):
        _expand(
            np.arange(len(origin), dtype=np.int64),
            origin,
            compiled.origin_starts,
            compiled.origin_profiles,
            items_out,
            profiles_out,
        )
    if len(compiled.wildcard_items):
        n, w = len(hs), len(compiled.wildcard_items)
        items_out.append(np.repeat(np.arange(n, dtype=np.int64), w))
        profiles_out.append(np.tile(compiled.wildcard_items, n))
    if not items_out:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    return np.concatenate(items_out), np.concatenate(profiles_out)


def _declaration_ok(
    compiled: CompiledProfiles, b: _Batch, d: IntArray, p: IntArray, ok: BoolArray
) -> BoolArray:
    """Narrow `ok` over (declaration, profile) pairs by the declaration-level conditions."""
    ok &= (compiled.direction[p] == 3) | ((compiled.direction[p] & b.direction[d]) != 0)
    ok &= (compiled.state[p] == 3) | ((compiled.state[p] & b.state[d]) != 0)
    want = compiled.aeo[p]
    ok &= (want < 0) | ((want == 1) == b.aeo[d])
    tested = np.flatnonzero(compiled.office_tested[p] & ok)
    if len(tested):
        ok[tested] = compiled.office_mask[p[tested], b.office[d[tested]]]
    for num in compiled.decl_numeric:
        sel = np.flatnonzero(num.tested[p] & ok)
        if len(sel):
            v = b.decl_numbers[num.name][d[sel]]
            ok[sel] = (num.lo[p[sel]] <= v) & (v < num.hi[p[sel]])
    sel = np.flatnonzero(compiled.route_any_tested[p] & ok)
    if len(sel):
        ok[sel] = ((b.route[d[sel]] & compiled.route_any[p[sel]]) != 0).any(axis=1)
    sel = np.flatnonzero(compiled.route_none_tested[p] & ok)
    if len(sel):
        ok[sel] = ~((b.route[d[sel]] & compiled.route_none[p[sel]]) != 0).any(axis=1)
    any_mask = compiled.alarm_any[p]
    ok &= (any_mask == 0) | ((b.alarms[d] & any_mask) != 0)
    ok &= (b.alarms[d] & compiled.alarm_forbid[p]) == 0
    return ok


def _random_ok(
    compiled: CompiledProfiles,
    batch: Sequence[ScreeningFacts],
    d: IntArray,
    p: IntArray,
    ok: BoolArray,
    key: bytes,
    set_version: str,
) -> None:
    """Drop the pairs whose profile has a random rate that does not select the declaration."""
    sel = np.flatnonzero(ok & ~np.isnan(compiled.random_rate[p]))
    drawn: dict[tuple[int, int], bool] = {}
    for j in sel:
        dd, pp = int(d[j]), int(p[j])
        if (dd, pp) not in drawn:
            drawn[dd, pp] = profile_selects(
                key, batch[dd].declaration_ref, set_version, compiled.profiles[pp]
            )
        ok[j] = drawn[dd, pp]


def screen_compiled(
    compiled: CompiledProfiles,
    batch: Sequence[ScreeningFacts],
    *,
    key: bytes,
    set_version: str,
) -> list[list[ProfileHit]]:
    """Give the hits of the compiled profiles on each declaration of the batch, all items at once."""
    b = _encode(compiled, batch)
    out: list[list[ProfileHit]] = [[] for _ in batch]
    # Item profiles: candidates from the HS prefix index, then each field's test on the pairs still standing
    # whose profile tests it, as array operations.
    ci, cp = _candidates(compiled, b.hs, b.origin)
    if len(ci):
        ok = np.ones(len(ci), dtype=np.bool_)
        sel = np.flatnonzero(compiled.origin_tested[cp])
        if len(sel):
            ok[sel] = compiled.origin_mask[cp[sel], b.origin[ci[sel]]]
        pref = compiled.preference[cp]
        ok &= (pref < 0) | ((pref == 1) == b.preference[ci])
        ci, cp = ci[ok], cp[ok]
        ok = np.ones(len(ci), dtype=np.bool_)
        for num in compiled.item_numeric:
            sel = np.flatnonzero(num.tested[cp] & ok)
            if len(sel):
                v = b.item_numbers[num.name][ci[sel]]
                ok[sel] = (num.lo[cp[sel]] <= v) & (v < num.hi[cp[sel]])
        ci, cp = ci[ok], cp[ok]
        cd = b.decl_of[ci]
        ok = np.ones(len(ci), dtype=np.bool_)
        sel = np.flatnonzero(compiled.tests_declaration[cp])
        if len(sel):
            ok[sel] = _declaration_ok(compiled, b, cd[sel], cp[sel], np.ones(len(sel), dtype=np.bool_))
        _random_ok(compiled, batch, cd, cp, ok, key, set_version)
        _collect(compiled, batch, b, out, cd[ok], cp[ok], ci[ok])
    # Declaration profiles: every declaration with each of them.
    if len(compiled.declaration_profiles) and batch:
        nd, w = len(batch), len(compiled.declaration_profiles)
        dd = np.repeat(np.arange(nd, dtype=np.int64), w)
        dp = np.tile(compiled.declaration_profiles, nd)
        ok = _declaration_ok(compiled, b, dd, dp, np.ones(len(dd), dtype=np.bool_))
        _random_ok(compiled, batch, dd, dp, ok, key, set_version)
        _collect(compiled, batch, b, out, dd[ok], dp[ok], None)
    return out


def _collect(
    compiled: CompiledProfiles,
    batch: Sequence[ScreeningFacts],
    b: _Batch,
    out: list[list[ProfileHit]],
    d: IntArray,
    p: IntArray,
    items: IntArray | None,
) -> None:
    """Turn matched pairs into hits with their reasons (Python only for the hits)."""
    decls: dict[int, DeclarationFeatures] = {}
    seen: dict[int, ItemFeatures] = {}
    profiles, texts = compiled.profiles, compiled.texts
    numbers = b.item_numbers
    vpk, ratio = numbers["value_per_kg_usd"], numbers["value_per_kg_vs_reference"]
    value, mass = numbers["customs_value_usd"], numbers["net_mass_kg"]
    item_list = items.tolist() if items is not None else None
    for j, (dd, pp) in enumerate(zip(d.tolist(), p.tolist(), strict=True)):
        feats = decls.get(dd)
        if feats is None:
            feats = decls[dd] = features(batch[dd], compiled.references, with_items=False)
        profile = profiles[pp]
        if item_list is None:
            out[dd].append(_hit(profile, explain(profile, feats, None, texts[pp]), None))
            continue
        i = item_list[j]
        item = seen.get(i)
        if item is None:
            # The same floats the reference computes one at a time (IEEE division is the same in numpy).
            src = batch[dd].items[int(b.item_pos[i])]
            item = seen[i] = ItemFeatures(
                number=src.number,
                hs_code=src.hs_code,
                origin=src.origin,
                value_per_kg_usd=float(vpk[i]),
                value_per_kg_vs_reference=float(ratio[i]),
                customs_value_usd=float(value[i]),
                net_mass_kg=float(mass[i]),
                preference_claimed=bool(b.preference[i]),
            )
        out[dd].append(_hit(profile, explain(profile, feats, item, texts[pp]), item.number))


# ---------------------------------------------------------------------------------------------------------
# Valuation outliers
# ---------------------------------------------------------------------------------------------------------

VALUATION_PROFILE_CODE: Final = "VAL-OUTLIER"


@dataclass(frozen=True, slots=True)
class ValuationRule:
    """When an item's unit value is an outlier below the recent values of its HS6 and origin."""

    version: int
    window_days: int
    min_observations: int
    percentile: float  # the unit value must be below this percentile of the sample...
    robust_z: float  # ...and its modified z-score (log scale) below minus this
    mad_floor: float  # the least spread assumed, in natural log units, so identical samples do not flag noise
    lane: Lane
    measure: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "window_days": self.window_days,
            "min_observations": self.min_observations,
            "percentile": self.percentile,
            "robust_z": self.robust_z,
            "mad_floor": self.mad_floor,
            "lane": self.lane.value,
        }


def valuation_outlier(value_per_kg: float, sample: Sequence[float], rule: ValuationRule) -> str | None:
    """Give why a unit value is an outlier below its sample, or None when it is not (or cannot be told).

    The modified z-score of Iglewicz and Hoaglin: 0.6745 (x - median) / MAD, on the logarithm of the
    unit value (unit values are spread multiplicatively).
    """
    if not value_per_kg > 0 or len(sample) < rule.min_observations:
        return None
    values = np.asarray(sample, dtype=np.float64)
    values = values[values > 0]
    if len(values) < rule.min_observations:
        return None
    cut = float(np.percentile(values, rule.percentile))
    if not value_per_kg < cut:
        return None
    logs = np.log(values)
    median = float(np.median(logs))
    mad = max(float(np.median(np.abs(logs - median))), rule.mad_floor)
    z = 0.6745 * (math.log(value_per_kg) - median) / mad
    if z >= -rule.robust_z:
        return None
    return (
        f"value_per_kg_usd {_show_number(value_per_kg)} below the {rule.percentile:g}th percentile "
        f"{_show_number(cut)} of {len(values)} declarations in the last {rule.window_days} days "
        f"(median {_show_number(math.exp(median))}, robust z {z:.1f} < -{rule.robust_z:g})"
    )
