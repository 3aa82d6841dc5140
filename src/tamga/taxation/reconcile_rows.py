"""From documents as rows (ORM objects or dicts) to the columns `reconcile` takes, and back to readable keys.

    claims = claims_from_rows(rows)                                   # rows with the default field names
    claims = claims_from_rows(orm_rows, fields={"id": "claim_id", "amount": "invoice_amount"})

Each row gives, under these names (rename with `fields`):

| field | value | column |
|---|---|---|
| `id` | int | `claim_id` / `confirmation_id` |
| `seller_tax_id`, `buyer_tax_id` | INN (10 or 12 digits) or UNP (9 characters) | `party_key` |
| `invoice_number` | text | `invoice_key` |
| `invoice_date` | date | days since 1970-01-01 |
| `amount` | Decimal in the agreed currency | `amount_minor`: kopecks, rounded half up |
| `seller_region`, `buyer_region` | ISO 3166-2 (`RU-SMO`, `BY-VI`) | `region_key` |
| `hs_code` | HS code (6 or 10 digits) | `hs_section_key`: 1 (I) to 21 (XXI) |
| `period` (optional) | date in the month of account; `invoice_date` when absent | `month_key`: YYYYMM |

Every key here is deterministic and, except the invoice number's, reversible (`tax_id_of`, `region_code`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from typing import Any, Final, TypeVar

import numpy as np

from tamga.reference.catalog import load_catalog
from tamga.taxation.reconcile import Claims, Confirmations, Documents

D = TypeVar("D", bound=Documents)

EPOCH: Final = date(1970, 1, 1)
_RU_TAG: Final = 1 * 10**15
_BY_TAG: Final = 2 * 10**15
_INN12: Final = 10**12
_BASE36: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
ROMAN_SECTIONS: Final = (
    "I II III IV V VI VII VIII IX X XI XII XIII XIV XV XVI XVII XVIII XIX XX XXI".split()  # noqa: SIM905
)

UNKNOWN_REGION: Final = -1
"""The region key of a document whose party's region is not known (an optional field of claims)."""
UNKNOWN_SECTION: Final = 0
"""The HS section key of a document without an HS code (a claim's invoices need not give one)."""
_OPTIONAL: Final = frozenset({"period", "seller_region", "buyer_region", "hs_code"})

DEFAULT_FIELDS: Final = {
    "id": "id",
    "seller_tax_id": "seller_tax_id",
    "buyer_tax_id": "buyer_tax_id",
    "invoice_number": "invoice_number",
    "invoice_date": "invoice_date",
    "amount": "amount",
    "seller_region": "seller_region",
    "buyer_region": "buyer_region",
    "hs_code": "hs_code",
    "period": "period",
}


def party_key(tax_id: str) -> int:
    """Give the int64 key of a Russian INN (10 or 12 digits) or a Belarusian UNP (9 characters).

    Russian keys are 10^15 + the INN's value (+ 10^12 for a 12-digit INN), Belarusian ones 2 x 10^15 + the
    UNP read in base 36 (a UNP of an individual may hold letters). The ranges cannot meet, and `tax_id_of`
    gives the identifier back.
    """
    value = tax_id.strip().upper()
    if len(value) in (10, 12) and value.isdigit() and value.isascii():
        return _RU_TAG + (_INN12 if len(value) == 12 else 0) + int(value)
    if len(value) == 9 and value.isalnum() and value.isascii():
        return _BY_TAG + int(value, 36)
    raise ValueError(f"not an INN or a UNP: {tax_id!r}")


def tax_id_of(key: int) -> str:
    """Give back the INN or UNP of a `party_key`."""
    if _BY_TAG <= key < _BY_TAG + 36**9:
        value, digits = key - _BY_TAG, []
        for _ in range(9):
            value, digit = divmod(value, 36)
            digits.append(_BASE36[digit])
        return "".join(reversed(digits))
    if _RU_TAG <= key < _BY_TAG:
        value = key - _RU_TAG
        return str(value - _INN12).zfill(12) if value >= _INN12 else str(value).zfill(10)
    raise ValueError(f"not a party key: {key}")


def invoice_key(number: str) -> int:
    """Give a 64-bit key of an invoice number, upper-cased with its runs of whitespace collapsed.

    Two numbers that differ only in case or spacing share a key; distinct numbers collide with probability
    2^-64 per pair, and only matter if seller, buyer and date collide too.
    """
    normalised = " ".join(number.split()).upper()
    digest = hashlib.blake2b(normalised.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little", signed=True)


def day_key(day: date) -> int:
    """Give the days since 1970-01-01."""
    return (day - EPOCH).days


def month_key(day: date) -> int:
    """Give the month of a day as YYYYMM (202601)."""
    return day.year * 100 + day.month


def amount_minor(amount: Decimal) -> int:
    """Give the amount in kopecks (minor units), rounded half up."""
    return int((amount * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


@cache
def _region_index() -> tuple[tuple[str, ...], dict[str, int]]:
    codes = tuple(sorted(r.code for r in load_catalog().regions()))
    return codes, {code: i for i, code in enumerate(codes)}


def region_codes() -> tuple[str, ...]:
    """Give the ISO 3166-2 codes of both states in key order (`region_key(codes[i]) == i`)."""
    return _region_index()[0]


def region_key(code: str) -> int:
    """Give the int16 key of an ISO 3166-2 region of Russia or Belarus (its place in `region_codes`)."""
    try:
        return _region_index()[1][code.strip().upper()]
    except KeyError:
        raise ValueError(f"not a region of Russia or Belarus: {code!r}") from None


def region_code(key: int) -> str:
    """Give the ISO 3166-2 code of a `region_key`."""
    return region_codes()[key]


def region_or_none(key: int) -> str | None:
    """Give the ISO 3166-2 code of a `region_key`, or None for `UNKNOWN_REGION`."""
    return None if key == UNKNOWN_REGION else region_code(key)


def hs_section_key(hs_code: str) -> int:
    """Give the HS section of a code as a number, 1 (I) to 21 (XXI), from its chapter."""
    chapter = load_catalog().hs_chapter(hs_code.strip()[:2])
    if chapter is None:
        raise ValueError(f"no HS chapter for {hs_code!r}")
    return ROMAN_SECTIONS.index(chapter.section) + 1


def _field(row: Any, name: str) -> Any:
    if isinstance(row, Mapping):
        return row.get(name)
    return getattr(row, name, None)


def _documents_from_rows(
    kind: type[D], id_column: str, rows: Iterable[Any], fields: Mapping[str, str] | None
) -> D:
    names = {**DEFAULT_FIELDS, **(fields or {})}
    columns: dict[str, list[int]] = {c: [] for c in (id_column, *_COLUMNS)}
    for row in rows:

        def get(field: str, row: Any = row) -> Any:
            value = _field(row, names[field])
            if value is None and field not in _OPTIONAL:
                raise ValueError(f"row has no {names[field]!r}")
            return value

        invoice_date: date = get("invoice_date")
        period: date | None = get("period")
        columns[id_column].append(int(get("id")))
        columns["seller_id"].append(party_key(get("seller_tax_id")))
        columns["buyer_id"].append(party_key(get("buyer_tax_id")))
        columns["invoice_no"].append(invoice_key(get("invoice_number")))
        columns["invoice_day"].append(day_key(invoice_date))
        columns["amount_minor"].append(amount_minor(Decimal(get("amount"))))
        seller_region, buyer_region, hs_code = get("seller_region"), get("buyer_region"), get("hs_code")
        columns["seller_region"].append(
            UNKNOWN_REGION if seller_region is None else region_key(seller_region)
        )
        columns["buyer_region"].append(UNKNOWN_REGION if buyer_region is None else region_key(buyer_region))
        columns["month"].append(month_key(period or invoice_date))
        columns["hs_section"].append(UNKNOWN_SECTION if hs_code is None else hs_section_key(hs_code))
    arrays: dict[str, Any] = {name: np.array(values, dtype=np.int64) for name, values in columns.items()}
    return kind(**arrays)


_COLUMNS: Final = (
    "seller_id",
    "buyer_id",
    "invoice_no",
    "invoice_day",
    "amount_minor",
    "seller_region",
    "buyer_region",
    "month",
    "hs_section",
)


def claims_from_rows(rows: Iterable[Any], *, fields: Mapping[str, str] | None = None) -> Claims:
    """Give the claims of rows (dicts or objects); `fields` maps a default field name to the row's own."""
    return _documents_from_rows(Claims, "claim_id", rows, fields)


def confirmations_from_rows(rows: Iterable[Any], *, fields: Mapping[str, str] | None = None) -> Confirmations:
    """Give the confirmations of rows (dicts or objects); `fields` maps a default field name to the row's own."""
    return _documents_from_rows(Confirmations, "confirmation_id", rows, fields)
