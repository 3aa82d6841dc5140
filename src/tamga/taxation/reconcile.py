"""Reconciliation of exporters' 0 % claims with the other state's confirmed applications, and the tax gap.

    result = reconcile(claims, confirmations)                  # column-shaped, vectorised (numpy), no I/O
    table = tax_gap(result, claims, confirmations, by="region_pair")
    cell = drill_down(result, claims, confirmations, by="region_pair", key=(3, 45), category="unconfirmed")
    ids = outcome_ids(result, claims, confirmations)           # positions back to claim / confirmation ids
    plain = reconcile_reference(claims.rows(), confirmations.rows())   # the same rule, one row at a time

The rule, the same in `reconcile` and `reconcile_reference`:

- **The key** of a document is (seller, buyer, invoice number, invoice date). A claim and a confirmation can
  pair only when their keys are equal.
- **Duplicates** (several documents of one key on either side) pair deterministically, in two passes within
  each key. First, documents of equal amount: the k-th claim of an amount (in row order) pairs with the k-th
  confirmation of that amount. Then what is left on each side is ordered by (amount, row) and the k-th
  claim pairs with the k-th confirmation. The surplus of the longer side stays unpaired. A claim filed twice
  for one confirmed invoice therefore gives one matched pair and one claim without confirmation.
- **Tolerance.** A pair is *matched* when |claim amount - confirmed amount| <= max(`tolerance_minor`,
  floor(confirmed amount x `tolerance_ratio`)), else *mismatched*. The defaults, 100 kopecks (1 rouble)
  and 1 %, absorb the rounding of two central banks' conversions of one invoice; they are tamga's policy
  values, not figures from the EAEU Treaty (Annex 18 names no tolerance). The ratio is taken to a
  millionth (`tolerance_ppm`) so that the comparison is exact integer arithmetic, without a float edge.
- Every claim ends in exactly one of matched, mismatched or without confirmation ("unconfirmed"); every
  confirmation in matched, mismatched or without claim ("unclaimed").

Amounts are integers of minor units (kopecks) of one agreed currency, 0 <= amount <= `MAX_AMOUNT_MINOR`,
so that no difference or tolerance product leaves int64.

How it is fast: each document's key is hashed (odd multipliers, then the splitmix64 finaliser, all numpy);
the hash's top bits and the row position are packed into one uint64 per document, and both sides are
sorted together once (a plain sort of integers, several times faster than an argsort); the row bits give
the permutation, and runs of equal hash bits are groups. The key and amount columns are gathered once in
that order. A group of one claim and one confirmation (nearly all of them) pairs at once; a single
document is unpaired. The rest (duplicates, and every hash collision, which is found by comparing the full
keys of neighbours: the hash is never trusted) is sorted again on the full key and paired by the two-pass
rule with ragged ranges, still without a Python loop. 10,000,000 claims against 10,000,000 confirmations
take about 6 s on this 2-core machine and 2 GB above the inputs (see `bench/tax.py`).

`tax_gap` sums amounts exactly (24-bit limbs through `np.bincount`); a total must fit in int64
(about 9 x 10^16 roubles).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Final, Literal, Self, TypeAlias

import numpy as np
import numpy.typing as npt

Int64s: TypeAlias = npt.NDArray[np.int64]
Ints: TypeAlias = npt.NDArray[np.integer]
GapKey: TypeAlias = Literal["region_pair", "month", "hs_section"]
Category: TypeAlias = Literal["matched", "mismatched", "unconfirmed", "unclaimed"]

DEFAULT_TOLERANCE_MINOR: Final = 100
"""One rouble (100 kopecks): tamga's policy value, see the module docstring."""
DEFAULT_TOLERANCE_RATIO: Final = 0.01
"""One per cent of the confirmed amount: tamga's policy value, see the module docstring."""
MAX_AMOUNT_MINOR: Final = 10**17
"""The largest amount accepted (10^15 roubles): keeps every difference and tolerance product in int64."""
PPM: Final = 1_000_000
CATEGORIES: Final[tuple[Category, ...]] = ("matched", "mismatched", "unconfirmed", "unclaimed")

DOCUMENT_DTYPES: Final[dict[str, type[np.integer]]] = {
    "seller_id": np.int64,
    "buyer_id": np.int64,
    "invoice_no": np.int64,
    "invoice_day": np.int32,
    "amount_minor": np.int64,
    "seller_region": np.int16,
    "buyer_region": np.int16,
    "month": np.int32,
    "hs_section": np.int8,
}
"""The columns both sides share, with their dtypes (see `reconcile_rows` for how each is keyed)."""

KEY_COLUMNS: Final = ("seller_id", "buyer_id", "invoice_no", "invoice_day")


def _column(owner: str, name: str, value: object, dtype: type[np.integer]) -> npt.NDArray[np.integer]:
    array = np.asarray(value)
    if array.ndim != 1:
        raise ValueError(f"{owner}.{name} must be one-dimensional")
    if array.dtype == dtype:
        return array
    if array.size == 0:
        return np.zeros(0, dtype=dtype)
    if array.dtype.kind not in "iub":
        raise TypeError(f"{owner}.{name} must hold integers, not {array.dtype}")
    limits = np.iinfo(dtype)
    if int(array.min()) < limits.min or int(array.max()) > limits.max:
        raise ValueError(f"{owner}.{name} does not fit {np.dtype(dtype).name}")
    return array.astype(dtype)


@dataclass(frozen=True, eq=False)
class Documents:
    """Columns shared by claims and confirmations; one row per document."""

    seller_id: Int64s
    buyer_id: Int64s
    invoice_no: Int64s
    invoice_day: npt.NDArray[np.int32]
    amount_minor: Int64s
    seller_region: npt.NDArray[np.int16]
    buyer_region: npt.NDArray[np.int16]
    month: npt.NDArray[np.int32]
    hs_section: npt.NDArray[np.int8]

    _id_column = ""

    def __post_init__(self) -> None:
        owner = type(self).__name__
        dtypes: dict[str, type[np.integer]] = {self._id_column: np.int64, **DOCUMENT_DTYPES}
        size = None
        for name, dtype in dtypes.items():
            array = _column(owner, name, getattr(self, name), dtype)
            object.__setattr__(self, name, array)
            if size is None:
                size = array.size
            elif array.size != size:
                raise ValueError(f"{owner}: column {name} has {array.size} rows, not {size}")
        amounts = self.amount_minor
        if amounts.size and (int(amounts.min()) < 0 or int(amounts.max()) > MAX_AMOUNT_MINOR):
            raise ValueError(f"{owner}.amount_minor must lie in [0, {MAX_AMOUNT_MINOR}]")

    def __len__(self) -> int:
        return int(self.amount_minor.size)

    @property
    def ids(self) -> Int64s:
        """Give the documents' ids (`claim_id` or `confirmation_id`)."""
        ids: Int64s = getattr(self, self._id_column)
        return ids

    def take(self, rows: Ints) -> Self:
        """Give the documents at the given row positions, in that order."""
        return type(self)(**{f.name: getattr(self, f.name)[rows] for f in fields(self)})

    def rows(self) -> list[dict[str, int]]:
        """Give one dict of Python ints per document (for tests, the reference and small exports)."""
        columns = {f.name: getattr(self, f.name).tolist() for f in fields(self)}
        return [dict(zip(columns, values, strict=True)) for values in zip(*columns.values(), strict=True)]

    @classmethod
    def empty(cls) -> Self:
        columns: dict[str, Any] = {f.name: np.zeros(0, np.int64) for f in fields(cls)}
        return cls(**columns)


@dataclass(frozen=True, eq=False)
class Claims(Documents):
    """The exporters' 0 % claims, one row each."""

    claim_id: Int64s
    _id_column = "claim_id"


@dataclass(frozen=True, eq=False)
class Confirmations(Documents):
    """The confirmed applications received from the other state's tax authority, one row each."""

    confirmation_id: Int64s
    _id_column = "confirmation_id"


@dataclass(frozen=True, eq=False)
class Reconciliation:
    """The outcome of `reconcile`, as row positions into the claims and confirmations it was given.

    Pairs are ordered by claim position; `mismatched_difference` is claim amount - confirmed amount.
    """

    matched_claims: Int64s
    matched_confirmations: Int64s
    mismatched_claims: Int64s
    mismatched_confirmations: Int64s
    mismatched_difference: Int64s
    unconfirmed_claims: Int64s
    unclaimed_confirmations: Int64s
    tolerance_minor: int
    tolerance_ppm: int

    def counts(self) -> dict[str, int]:
        """Give the number of pairs or documents in each category."""
        return {
            "matched": int(self.matched_claims.size),
            "mismatched": int(self.mismatched_claims.size),
            "unconfirmed": int(self.unconfirmed_claims.size),
            "unclaimed": int(self.unclaimed_confirmations.size),
        }


def tolerance_ppm(tolerance_ratio: float) -> int:
    """Give the tolerance ratio in millionths (0.01 -> 10,000), the unit the comparison uses."""
    if not 0 <= tolerance_ratio <= 1:
        raise ValueError("tolerance_ratio must lie in [0, 1]")
    return round(tolerance_ratio * PPM)


def allowed_difference(confirmed: Int64s, tolerance_minor: int, ppm: int) -> Int64s:
    """Give max(tolerance_minor, floor(confirmed x ppm / 10^6)) per amount, exactly, in int64."""
    share: Int64s = (confirmed // PPM) * ppm + (confirmed % PPM) * ppm // PPM
    allowed: Int64s = np.maximum(share, np.int64(tolerance_minor))
    return allowed


# -- the vectorised engine

_MIX1: Final = np.uint64(0xBF58476D1CE4E5B9)
_MIX2: Final = np.uint64(0x94D049BB133111EB)
_FACTORS: Final = (
    np.uint64(0x9E3779B97F4A7C15),
    np.uint64(0xC2B2AE3D27D4EB4F),
    np.uint64(0x165667B19E3779F9),
    np.uint64(0xD6E8FEB86659FD93),
)
_RECORD: Final = (*KEY_COLUMNS, "amount_minor")
_HASH_BITS = 64
"""At most this many bits of the hash are sorted on (the tests lower it to force collisions)."""


def _key_hash(documents: Documents, out: npt.NDArray[np.uint64]) -> None:
    """Write a 64-bit hash of each document's key into out: odd multipliers, then the splitmix64 finaliser."""
    scratch = np.empty_like(out)
    for i, (name, factor) in enumerate(zip(KEY_COLUMNS, _FACTORS, strict=True)):
        column = getattr(documents, name)
        target = out if i == 0 else scratch
        np.multiply(column.astype(np.int64, copy=False).view(np.uint64), factor, out=target)
        if i:
            out += scratch
    out ^= out >> np.uint64(30)
    out *= _MIX1
    out ^= out >> np.uint64(27)
    out *= _MIX2
    out ^= out >> np.uint64(31)


def _sorted_columns(claims: Claims, confirmations: Confirmations, order: Int64s) -> list[Ints]:
    """Give the key columns and the amount of claims + confirmations, permuted by order (one gather each)."""
    return [np.concatenate((getattr(claims, c), getattr(confirmations, c)))[order] for c in _RECORD]


def _ragged_pairs(starts: Int64s, claim_counts: Int64s, sizes: Int64s) -> tuple[Int64s, Int64s]:
    """Pair the k-th claim with the k-th confirmation of each group laid out claims first.

    Group g occupies positions starts[g] .. starts[g] + sizes[g] - 1, its claim_counts[g] claims first; give
    the positions of the claims and of the confirmations of every pair.
    """
    pairs = np.minimum(claim_counts, sizes - claim_counts)
    total = int(pairs.sum())
    offsets = np.cumsum(pairs) - pairs
    k = np.arange(total, dtype=np.int64) - np.repeat(offsets, pairs)
    claim_pos = np.repeat(starts, pairs) + k
    conf_pos = np.repeat(starts + claim_counts, pairs) + k
    return claim_pos, conf_pos


def _run_starts(changes: npt.NDArray[np.bool_]) -> tuple[Int64s, Int64s]:
    """Give the starts and sizes of runs, `changes[i]` saying whether position i + 1 starts a new run."""
    n = changes.size + 1
    starts = np.flatnonzero(np.concatenate(([True], changes))).astype(np.int64)
    sizes = np.diff(np.append(starts, n))
    return starts, sizes


def _pair_by_rule(rows: Int64s, is_conf: npt.NDArray[np.bool_], records: Int64s) -> tuple[Int64s, Int64s]:
    """Pair documents by the full two-pass rule.

    `rows` are positions in claims + confirmations, `is_conf` their sides, `records` their (key, amount)
    rows. Give the paired (claim row, confirmation row) in those positions.
    """
    if rows.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    side = is_conf.astype(np.int64)
    k = [records[:, j] for j in range(len(KEY_COLUMNS))]
    a = records[:, len(KEY_COLUMNS)]
    sort_keys: list[npt.NDArray[np.integer]] = [rows, side, a, *reversed(k)]
    order = np.lexsort(sort_keys)
    rows, side, a = rows[order], side[order], a[order]
    k = [column[order] for column in k]
    key_change = np.zeros(rows.size - 1, dtype=np.bool_)
    for column in k:
        key_change |= column[1:] != column[:-1]
    # pass 1: equal amounts within a key; runs are sorted claims first, then by row
    starts, sizes = _run_starts(key_change | (a[1:] != a[:-1]))
    claim_pos1, conf_pos1 = _ragged_pairs(starts, np.add.reduceat(1 - side, starts), sizes)
    left = np.ones(rows.size, dtype=np.bool_)
    left[claim_pos1] = False
    left[conf_pos1] = False
    # pass 2: what is left of each key, ordered by side, then amount, then row
    group = np.concatenate(([0], np.cumsum(key_change))).astype(np.int64)
    rest = np.flatnonzero(left)
    claim_rows = [rows[claim_pos1]]
    conf_rows = [rows[conf_pos1]]
    if rest.size:
        rest = rest[np.lexsort((rows[rest], a[rest], side[rest], group[rest]))]
        starts2, sizes2 = _run_starts(group[rest][1:] != group[rest][:-1])
        claim_pos2, conf_pos2 = _ragged_pairs(starts2, np.add.reduceat(1 - side[rest], starts2), sizes2)
        claim_rows.append(rows[rest[claim_pos2]])
        conf_rows.append(rows[rest[conf_pos2]])
    return np.concatenate(claim_rows), np.concatenate(conf_rows)


def _pair(claims: Claims, confirmations: Confirmations) -> tuple[Int64s, Int64s, Int64s, Int64s]:
    """Give the paired claim and confirmation positions and their amounts, in no particular order.

    The hash's top bits and the row position are packed into one uint64 and sorted (a plain sort, much
    faster than an argsort); the row bits come back out as the permutation.
    """
    nc, nf = len(claims), len(confirmations)
    n = nc + nf
    if nc == 0 or nf == 0:
        empty = np.zeros(0, np.int64)
        return empty, empty, empty, empty
    row_bits = max(1, (n - 1).bit_length(), 64 - _HASH_BITS)
    packed = np.empty(n, dtype=np.uint64)
    _key_hash(claims, packed[:nc])
    _key_hash(confirmations, packed[nc:])
    packed >>= np.uint64(row_bits)
    packed <<= np.uint64(row_bits)
    packed |= np.arange(n, dtype=np.uint64)
    packed.sort()
    order = (packed & np.uint64((1 << row_bits) - 1)).astype(np.int64)
    packed >>= np.uint64(row_bits)
    same = packed[1:] == packed[:-1]
    del packed
    starts, sizes = _run_starts(~same)
    # equal hash bits do not prove equal keys: compare the full key of neighbours in each run
    columns = _sorted_columns(claims, confirmations, order)
    amount = columns[-1]
    differs = np.zeros(n - 1, dtype=np.bool_)
    for column in columns[: len(KEY_COLUMNS)]:
        differs |= column[1:] != column[:-1]
    messy = np.zeros(starts.size, dtype=np.bool_)
    messy[np.searchsorted(starts, np.flatnonzero(same & differs), side="right") - 1] = True
    del same, differs
    # runs of exactly one claim and one confirmation pair at once
    is_conf = order >= nc
    twos = starts[(sizes == 2) & ~messy]
    one_each = is_conf[twos] != is_conf[twos + 1]
    twos_paired = twos[one_each]
    claim_first = ~is_conf[twos_paired]
    claim_at = np.where(claim_first, twos_paired, twos_paired + 1)
    conf_at = np.where(claim_first, twos_paired + 1, twos_paired)
    claim_rows, conf_rows = [order[claim_at]], [order[conf_at] - nc]
    claimed, confirmed = [amount[claim_at]], [amount[conf_at]]
    # everything else with more than one document goes through the full rule
    done = np.zeros(n, dtype=np.bool_)
    done[twos_paired] = True
    general = np.repeat((sizes > 1), sizes) & ~done
    general[twos_paired + 1] = False
    positions = np.flatnonzero(general)
    if positions.size:
        records = np.stack([column[positions] for column in columns], axis=1).astype(np.int64)
        at_claim, at_conf = _pair_by_rule(positions, is_conf[positions], records)
        claim_rows.append(order[at_claim])
        conf_rows.append(order[at_conf] - nc)
        claimed.append(amount[at_claim])
        confirmed.append(amount[at_conf])
    return (
        np.concatenate(claim_rows),
        np.concatenate(conf_rows),
        np.concatenate(claimed),
        np.concatenate(confirmed),
    )


def reconcile(
    claims: Claims,
    confirmations: Confirmations,
    *,
    tolerance_minor: int = DEFAULT_TOLERANCE_MINOR,
    tolerance_ratio: float = DEFAULT_TOLERANCE_RATIO,
) -> Reconciliation:
    """Give the matched and mismatched pairs and the unpaired documents of both sides (the module's rule)."""
    if tolerance_minor < 0:
        raise ValueError("tolerance_minor must not be negative")
    ppm = tolerance_ppm(tolerance_ratio)
    claim_rows, conf_rows, claimed, confirmed = _pair(claims, confirmations)
    nc, nf = len(claims), len(confirmations)
    partner = np.full(nc, -1, dtype=np.int64)
    partner[claim_rows] = conf_rows
    difference = np.zeros(nc, dtype=np.int64)
    difference[claim_rows] = claimed - confirmed
    within = np.zeros(nc, dtype=np.bool_)
    within[claim_rows] = np.abs(claimed - confirmed) <= allowed_difference(confirmed, tolerance_minor, ppm)
    paired = partner >= 0
    matched = np.flatnonzero(within)
    mismatched = np.flatnonzero(paired & ~within)
    has_claim = np.zeros(nf, dtype=np.bool_)
    has_claim[conf_rows] = True
    return Reconciliation(
        matched_claims=matched,
        matched_confirmations=partner[matched],
        mismatched_claims=mismatched,
        mismatched_confirmations=partner[mismatched],
        mismatched_difference=difference[mismatched],
        unconfirmed_claims=np.flatnonzero(~paired),
        unclaimed_confirmations=np.flatnonzero(~has_claim),
        tolerance_minor=tolerance_minor,
        tolerance_ppm=ppm,
    )


# -- the tax gap


@dataclass(frozen=True, eq=False)
class GapTable:
    """Totals of each category per key, one row per key value that any document has; amounts in kopecks.

    Keys: `region_pair` gives (seller_region, buyer_region), `month` and `hs_section` one column. Matched,
    mismatched and unconfirmed rows are keyed by the claim, unclaimed ones by the confirmation.
    `unsupported_amount` is what was claimed at 0 % without a confirmation behind it: the unconfirmed claims
    plus, for each mismatched pair, the part of the claim above the confirmed amount.
    """

    by: GapKey
    key_names: tuple[str, ...]
    keys: tuple[Int64s, ...]
    matched_count: Int64s
    matched_claimed: Int64s
    matched_confirmed: Int64s
    mismatched_count: Int64s
    mismatched_claimed: Int64s
    mismatched_confirmed: Int64s
    unconfirmed_count: Int64s
    unconfirmed_amount: Int64s
    unclaimed_count: Int64s
    unclaimed_amount: Int64s
    unsupported_amount: Int64s

    MEASURES: ClassVar[tuple[str, ...]] = (
        "matched_count",
        "matched_claimed",
        "matched_confirmed",
        "mismatched_count",
        "mismatched_claimed",
        "mismatched_confirmed",
        "unconfirmed_count",
        "unconfirmed_amount",
        "unclaimed_count",
        "unclaimed_amount",
        "unsupported_amount",
    )

    def __len__(self) -> int:
        return int(self.matched_count.size)

    def totals(self) -> dict[str, int]:
        """Give each measure summed over all keys."""
        return {name: int(getattr(self, name).sum()) for name in self.MEASURES}

    def rows(self) -> list[dict[str, int]]:
        """Give one dict per key value: the key columns, then every measure."""
        columns = {name: key.tolist() for name, key in zip(self.key_names, self.keys, strict=True)}
        columns.update({name: getattr(self, name).tolist() for name in self.MEASURES})
        return [dict(zip(columns, values, strict=True)) for values in zip(*columns.values(), strict=True)]


_KEY_NAMES: Final[dict[str, tuple[str, ...]]] = {
    "region_pair": ("seller_region", "buyer_region"),
    "month": ("month",),
    "hs_section": ("hs_section",),
}
_DIRECT_RANGE: Final = 1 << 24


def _key_code(documents: Documents, rows: Int64s, by: GapKey) -> Int64s:
    """Give one int64 per row that encodes its key (decoded by `_decode`)."""
    if by == "region_pair":
        seller = documents.seller_region[rows].astype(np.int64) + 32768
        buyer = documents.buyer_region[rows].astype(np.int64) + 32768
        return (seller << 16) | buyer
    if by == "month":
        return documents.month[rows].astype(np.int64)
    if by == "hs_section":
        return documents.hs_section[rows].astype(np.int64)
    raise ValueError(f"unknown key {by!r}; use one of {sorted(_KEY_NAMES)}")


def _decode(codes: Int64s, by: GapKey) -> tuple[Int64s, ...]:
    if by == "region_pair":
        return ((codes >> 16) - 32768, (codes & 0xFFFF) - 32768)
    return (codes,)


def _exact_sum(index: Int64s, values: Int64s, size: int) -> Int64s:
    """Sum int64 values per index exactly with bincount: floats add 24-bit limbs without rounding."""
    if values.size == 0:
        return np.zeros(size, dtype=np.int64)
    low = (values & 0xFFFFFF).astype(np.float64)
    high = (values >> 24).astype(np.float64)
    low_sum = np.bincount(index, weights=low, minlength=size).astype(np.int64)
    high_sum = np.bincount(index, weights=high, minlength=size).astype(np.int64)
    return (high_sum << 24) + low_sum


def _distinct(present: list[Int64s]) -> Int64s:
    """Give the sorted distinct codes; a direct bitmap when their range is small, else a sort."""
    if not present:
        return np.zeros(0, np.int64)
    low = min(int(codes.min()) for codes in present)
    high = max(int(codes.max()) for codes in present)
    if high - low >= _DIRECT_RANGE:
        return np.unique(np.concatenate(present))
    seen = np.zeros(high - low + 1, dtype=np.bool_)
    for codes in present:
        seen[codes - low] = True
    return np.flatnonzero(seen).astype(np.int64) + low


def tax_gap(result: Reconciliation, claims: Claims, confirmations: Confirmations, *, by: GapKey) -> GapTable:
    """Give the counts and amounts of each category per region pair, month or HS section."""
    categories = {
        "matched": _key_code(claims, result.matched_claims, by),
        "mismatched": _key_code(claims, result.mismatched_claims, by),
        "unconfirmed": _key_code(claims, result.unconfirmed_claims, by),
        "unclaimed": _key_code(confirmations, result.unclaimed_confirmations, by),
    }
    keys = _distinct([codes for codes in categories.values() if codes.size])
    size = keys.size
    where = {name: np.searchsorted(keys, codes).astype(np.int64) for name, codes in categories.items()}

    def count(name: str) -> Int64s:
        return np.bincount(where[name], minlength=size).astype(np.int64)

    matched_claimed = claims.amount_minor[result.matched_claims]
    matched_confirmed = confirmations.amount_minor[result.matched_confirmations]
    mismatched_claimed = claims.amount_minor[result.mismatched_claims]
    mismatched_confirmed = confirmations.amount_minor[result.mismatched_confirmations]
    unconfirmed = claims.amount_minor[result.unconfirmed_claims]
    unclaimed = confirmations.amount_minor[result.unclaimed_confirmations]
    excess = np.maximum(result.mismatched_difference, 0)
    return GapTable(
        by=by,
        key_names=_KEY_NAMES[by],
        keys=_decode(keys, by),
        matched_count=count("matched"),
        matched_claimed=_exact_sum(where["matched"], matched_claimed, size),
        matched_confirmed=_exact_sum(where["matched"], matched_confirmed, size),
        mismatched_count=count("mismatched"),
        mismatched_claimed=_exact_sum(where["mismatched"], mismatched_claimed, size),
        mismatched_confirmed=_exact_sum(where["mismatched"], mismatched_confirmed, size),
        unconfirmed_count=count("unconfirmed"),
        unconfirmed_amount=_exact_sum(where["unconfirmed"], unconfirmed, size),
        unclaimed_count=count("unclaimed"),
        unclaimed_amount=_exact_sum(where["unclaimed"], unclaimed, size),
        unsupported_amount=_exact_sum(where["unconfirmed"], unconfirmed, size)
        + _exact_sum(where["mismatched"], excess, size),
    )


# -- drill-down


@dataclass(frozen=True, eq=False)
class OutcomeIds:
    """The outcome of `reconcile` in document ids: what a service writes back to the claims."""

    matched_claim_ids: Int64s
    matched_confirmation_ids: Int64s
    mismatched_claim_ids: Int64s
    mismatched_confirmation_ids: Int64s
    mismatched_difference: Int64s
    unconfirmed_claim_ids: Int64s
    unclaimed_confirmation_ids: Int64s


def outcome_ids(result: Reconciliation, claims: Claims, confirmations: Confirmations) -> OutcomeIds:
    """Give the pairs and the unpaired documents of a reconciliation by their ids instead of positions."""
    return OutcomeIds(
        matched_claim_ids=claims.ids[result.matched_claims],
        matched_confirmation_ids=confirmations.ids[result.matched_confirmations],
        mismatched_claim_ids=claims.ids[result.mismatched_claims],
        mismatched_confirmation_ids=confirmations.ids[result.mismatched_confirmations],
        mismatched_difference=result.mismatched_difference,
        unconfirmed_claim_ids=claims.ids[result.unconfirmed_claims],
        unclaimed_confirmation_ids=confirmations.ids[result.unclaimed_confirmations],
    )


@dataclass(frozen=True, eq=False)
class DrillDown:
    """The documents behind one cell of a gap table: ids, aligned for pairs (one side empty otherwise)."""

    category: Category
    claim_ids: Int64s
    confirmation_ids: Int64s
    claimed: Int64s
    confirmed: Int64s


def drill_down(
    result: Reconciliation,
    claims: Claims,
    confirmations: Confirmations,
    *,
    by: GapKey,
    key: tuple[int, ...] | int,
    category: Category,
) -> DrillDown:
    """Give the ids and amounts of the documents of one category under one key of a gap table."""
    wanted = key if isinstance(key, tuple) else (key,)
    if len(wanted) != len(_KEY_NAMES[by]):
        raise ValueError(f"a {by} key has {len(_KEY_NAMES[by])} part(s): {_KEY_NAMES[by]}")
    code = ((wanted[0] + 32768) << 16) | (wanted[1] + 32768) if by == "region_pair" else wanted[0]
    empty = np.zeros(0, np.int64)
    if category == "unclaimed":
        rows = result.unclaimed_confirmations
        rows = rows[_key_code(confirmations, rows, by) == code]
        return DrillDown(category, empty, confirmations.ids[rows], empty, confirmations.amount_minor[rows])
    if category == "unconfirmed":
        rows = result.unconfirmed_claims
        rows = rows[_key_code(claims, rows, by) == code]
        return DrillDown(category, claims.ids[rows], empty, claims.amount_minor[rows], empty)
    if category == "matched":
        claim_rows, conf_rows = result.matched_claims, result.matched_confirmations
    elif category == "mismatched":
        claim_rows, conf_rows = result.mismatched_claims, result.mismatched_confirmations
    else:
        raise ValueError(f"unknown category {category!r}; use one of {CATEGORIES}")
    keep = _key_code(claims, claim_rows, by) == code
    claim_rows, conf_rows = claim_rows[keep], conf_rows[keep]
    return DrillDown(
        category,
        claims.ids[claim_rows],
        confirmations.ids[conf_rows],
        claims.amount_minor[claim_rows],
        confirmations.amount_minor[conf_rows],
    )


# -- the plain reference, one row at a time


@dataclass(frozen=True)
class ReferenceReconciliation:
    """The outcome of `reconcile_reference`: row positions, as lists."""

    matched: list[tuple[int, int]]
    mismatched: list[tuple[int, int, int]]
    unconfirmed: list[int]
    unclaimed: list[int]


def reconcile_reference(
    claim_rows: Sequence[Mapping[str, int]],
    confirmation_rows: Sequence[Mapping[str, int]],
    *,
    tolerance_minor: int = DEFAULT_TOLERANCE_MINOR,
    tolerance_ratio: float = DEFAULT_TOLERANCE_RATIO,
) -> ReferenceReconciliation:
    """Reconcile rows (dicts with the key columns and `amount_minor`) by the module's rule, in plain Python."""
    ppm = tolerance_ppm(tolerance_ratio)

    def key(row: Mapping[str, int]) -> tuple[int, ...]:
        return tuple(int(row[name]) for name in KEY_COLUMNS)

    claims_by_key: dict[tuple[int, ...], list[int]] = defaultdict(list)
    confs_by_key: dict[tuple[int, ...], list[int]] = defaultdict(list)
    for i, row in enumerate(claim_rows):
        claims_by_key[key(row)].append(i)
    for j, row in enumerate(confirmation_rows):
        confs_by_key[key(row)].append(j)

    pairs: list[tuple[int, int]] = []
    for k, claim_list in claims_by_key.items():
        conf_list = confs_by_key.get(k, [])
        taken_claims: set[int] = set()
        taken_confs: set[int] = set()
        for amount in sorted({int(claim_rows[i]["amount_minor"]) for i in claim_list}):
            same_claims = [i for i in claim_list if claim_rows[i]["amount_minor"] == amount]
            same_confs = [j for j in conf_list if confirmation_rows[j]["amount_minor"] == amount]
            for i, j in zip(same_claims, same_confs, strict=False):
                pairs.append((i, j))
                taken_claims.add(i)
                taken_confs.add(j)
        rest_claims = sorted(
            (i for i in claim_list if i not in taken_claims), key=lambda i: (claim_rows[i]["amount_minor"], i)
        )
        rest_confs = sorted(
            (j for j in conf_list if j not in taken_confs),
            key=lambda j: (confirmation_rows[j]["amount_minor"], j),
        )
        pairs.extend(zip(rest_claims, rest_confs, strict=False))

    matched: list[tuple[int, int]] = []
    mismatched: list[tuple[int, int, int]] = []
    for i, j in sorted(pairs):
        claimed = int(claim_rows[i]["amount_minor"])
        confirmed = int(confirmation_rows[j]["amount_minor"])
        allowed = max(tolerance_minor, confirmed * ppm // PPM)
        if abs(claimed - confirmed) <= allowed:
            matched.append((i, j))
        else:
            mismatched.append((i, j, claimed - confirmed))
    paired_claims = {i for i, _ in pairs}
    paired_confs = {j for _, j in pairs}
    return ReferenceReconciliation(
        matched=matched,
        mismatched=mismatched,
        unconfirmed=[i for i in range(len(claim_rows)) if i not in paired_claims],
        unclaimed=[j for j in range(len(confirmation_rows)) if j not in paired_confs],
    )
