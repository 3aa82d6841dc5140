"""Movement reference numbers: 18 characters, `YY` + country + 13 alphanumerics + a check character.

The check character follows ISO 6346 weighting (as NCTS does): digits count as their value,
letters from A = 10 upward skipping multiples of 11; the value at position i is multiplied by
2**i, the first 17 are summed, the sum is taken mod 11 and 10 becomes 0.
"""

from __future__ import annotations

import re
import string

_ALPHABET = string.digits + string.ascii_uppercase


def _letter_values() -> dict[str, int]:
    values = {d: int(d) for d in string.digits}
    value = 10
    for letter in string.ascii_uppercase:
        if value % 11 == 0:
            value += 1
        values[letter] = value
        value += 1
    return values


CHAR_VALUES = _letter_values()
MRN_PATTERN = re.compile(r"^[0-9]{2}[A-Z]{2}[0-9A-Z]{13}[0-9]$")


def check_character(first17: str) -> str:
    """Give the check character for the first 17 characters of an MRN."""
    if len(first17) != 17:
        raise ValueError("an MRN check character is computed over 17 characters")
    try:
        total = sum(CHAR_VALUES[ch] << i for i, ch in enumerate(first17))
    except KeyError as exc:
        raise ValueError(f"character not allowed in an MRN: {exc.args[0]!r}") from None
    return str(total % 11 % 10)


def is_valid_mrn(mrn: str) -> bool:
    """Tell whether an MRN is well formed and its check character is right."""
    return bool(MRN_PATTERN.match(mrn)) and check_character(mrn[:17]) == mrn[17]


def to_base36(number: int, width: int) -> str:
    """Give `number` in base 36 (0-9A-Z), left-padded with zeros to `width`."""
    if number < 0 or number >= 36**width:
        raise ValueError(f"{number} does not fit in {width} base-36 characters")
    digits = []
    for _ in range(width):
        number, rem = divmod(number, 36)
        digits.append(_ALPHABET[rem])
    return "".join(reversed(digits))


def build_mrn(year: int, country: str, office_code: str, serial: int) -> str:
    """Give the MRN for the `serial`-th movement of `year` at an office.

    Layout: YY, the country, the office code left-padded with zeros to 8 characters, the serial
    in 5 base-36 characters (60 million movements per office and year), the check character.
    """
    if not (len(country) == 2 and country.isalpha() and country.isupper()):
        raise ValueError(f"not an ISO country code: {country!r}")
    if not (office_code.isalnum() and len(office_code) <= 8):
        raise ValueError(f"office code does not fit an MRN: {office_code!r}")
    first17 = f"{year % 100:02d}{country}{office_code.upper():0>8}{to_base36(serial, 5)}"
    return first17 + check_character(first17)
