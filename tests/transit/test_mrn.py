"""MRN check character: the published example, a reference implementation written from PRODUCT.md, and
the exact error-detection property of the mod-11 scheme."""

from __future__ import annotations

import string

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from tamga.transit.mrn import build_mrn, check_character, is_valid_mrn, to_base36

# PRODUCT.md: "digits count as their value, letters from A = 10 upward skipping multiples of 11
# (A10, B12 ... K21, L23 ... U32, V34 ... Z38, the ISO 6346 table)". Written out by hand.
ISO_6346_LETTERS = (
    "A10 B12 C13 D14 E15 F16 G17 H18 I19 J20 K21 L23 M24 N25 O26 P27 Q28 R29 S30 T31 U32 V34 W35 X36 Y37 Z38"
)
VALUES = {str(d): d for d in range(10)} | {pair[0]: int(pair[1:]) for pair in ISO_6346_LETTERS.split()}
DIGITS = string.digits
LETTERS = string.ascii_uppercase
ALNUM = DIGITS + LETTERS
# The characters the MRN layout allows at each position: YY, country, 13 alphanumerics, check digit.
ALLOWED = [DIGITS] * 2 + [LETTERS] * 2 + [ALNUM] * 13 + [DIGITS]


def reference_sum(first17: str) -> int:
    """Multiply the value at position i (from 0) by 2^i and sum the first 17."""
    return sum(VALUES[ch] * 2**i for i, ch in enumerate(first17))


def reference_check(first17: str) -> str:
    """Take the sum mod 11, and 10 becomes 0."""
    remainder = reference_sum(first17) % 11
    return "0" if remainder == 10 else str(remainder)


first17s = st.builds(
    lambda yy, cc, rest: yy + cc + rest,
    st.text(DIGITS, min_size=2, max_size=2),
    st.text(LETTERS, min_size=2, max_size=2),
    st.text(ALNUM, min_size=13, max_size=13),
)
valid_mrns = first17s.map(lambda f: f + reference_check(f))


def test_the_table_is_the_one_product_md_describes() -> None:
    assert len(VALUES) == 36
    assert [VALUES[c] for c in "AKLUVZ"] == [10, 21, 23, 32, 34, 38]
    assert not any(v % 11 == 0 and v != 0 for v in VALUES.values())
    assert len(set(VALUES.values())) == 36


def test_published_example_is_valid() -> None:
    assert check_character("99IT9876AB8890120") == "9"
    assert is_valid_mrn("99IT9876AB88901209")
    assert reference_check("99IT9876AB8890120") == "9"
    for wrong in "012345678":
        assert not is_valid_mrn("99IT9876AB8890120" + wrong)


def test_malformed_mrns_are_refused() -> None:
    assert not is_valid_mrn("99IT9876AB8890120")  # 17 characters
    assert not is_valid_mrn("99IT9876AB889012090")  # 19
    assert not is_valid_mrn("99it9876ab88901209")  # lower case
    assert not is_valid_mrn("9AIT9876AB8890120" + reference_check("9AIT9876AB8890120"))  # letter in YY
    assert not is_valid_mrn("")
    with pytest.raises(ValueError):
        check_character("99IT9876AB889012")
    with pytest.raises(ValueError):
        check_character("99IT9876AB88901-0")


@given(first17s)
def test_check_character_matches_the_reference(first17: str) -> None:
    assert check_character(first17) == reference_check(first17)
    assert is_valid_mrn(first17 + reference_check(first17))


@given(st.text(max_size=25))
def test_is_valid_mrn_never_raises(text: str) -> None:
    assert is_valid_mrn(text) in (True, False)


@given(
    year=st.integers(min_value=0, max_value=9999),
    country=st.text(LETTERS, min_size=2, max_size=2),
    office=st.text(string.ascii_letters + DIGITS, min_size=1, max_size=8),
    serial=st.integers(min_value=0, max_value=36**5 - 1),
)
def test_build_mrn_is_always_valid_and_carries_its_parts(
    year: int, country: str, office: str, serial: int
) -> None:
    mrn = build_mrn(year, country, office, serial)
    assert len(mrn) == 18
    assert is_valid_mrn(mrn)
    assert mrn[:2] == f"{year % 100:02d}"
    assert mrn[2:4] == country
    assert mrn[4:12] == office.upper().rjust(8, "0")
    assert int(mrn[12:17], 36) == serial
    assert mrn[17] == reference_check(mrn[:17])


@given(
    country=st.text(min_size=0, max_size=3),
    office=st.text(min_size=0, max_size=10),
    serial=st.integers(min_value=-5, max_value=36**5 + 5),
)
def test_build_mrn_gives_a_valid_mrn_or_refuses(country: str, office: str, serial: int) -> None:
    try:
        mrn = build_mrn(2025, country, office, serial)
    except ValueError:
        return
    assert len(mrn) == 18 and is_valid_mrn(mrn)


def test_build_mrn_refuses_what_does_not_fit() -> None:
    with pytest.raises(ValueError):
        build_mrn(2025, "BY", "123456789", 1)
    with pytest.raises(ValueError):
        build_mrn(2025, "by", "09131", 1)
    with pytest.raises(ValueError):
        build_mrn(2025, "BY", "09131", 36**5)
    with pytest.raises(ValueError):
        build_mrn(2025, "BY", "09131", -1)


@given(valid_mrns, st.data())
def test_single_substitution_is_detected_exactly_when_the_scheme_can_see_it(
    mrn: str, data: st.DataObject
) -> None:
    """The exact property of mod 11 with weights 2^i.

    2 is a primitive root mod 11, so no weight 2^i is 0 mod 11. Replacing the character at position
    i < 17 changes the sum by d * 2^i, with d the difference of values: the sum mod 11 changes iff d is
    not a multiple of 11. Values go 0..38 without 11, 22, 33, but differences of 11 remain (1 and B = 12,
    A = 10 and K = 21, ...): those substitutions are not detected. And since a remainder of 10 is
    written 0, a change of remainder between 0 and 10 is not detected either. Every other substitution
    is. At position 17 (the check digit itself) every substitution is detected.
    """
    assert is_valid_mrn(mrn)
    i = data.draw(st.integers(min_value=0, max_value=17), label="position")
    new = data.draw(st.sampled_from(ALLOWED[i]), label="replacement")
    assume(new != mrn[i])
    mutated = mrn[:i] + new + mrn[i + 1 :]
    if i == 17:
        assert not is_valid_mrn(mutated)
        return
    d = VALUES[new] - VALUES[mrn[i]]
    r_old, r_new = reference_sum(mrn[:17]) % 11, reference_sum(mutated[:17]) % 11
    assert (r_new == r_old) == (d % 11 == 0)
    undetectable = d % 11 == 0 or {r_old, r_new} == {0, 10}
    assert is_valid_mrn(mutated) == undetectable


def test_known_blind_spots_exist() -> None:
    """The two kinds of undetected substitution are real, not hypothetical."""
    base = "25BY00009131" + "0000"
    # '1' (1) and 'B' (12) differ by 11: same remainder, same check digit.
    one, bee = base + "1", base + "B"
    assert check_character(one) == check_character(bee)
    # remainders 0 and 10 both give check digit 0
    with_zero = next(base + c for c in ALNUM if reference_sum(base + c) % 11 == 0)
    with_ten = next(base + c for c in ALNUM if reference_sum(base + c) % 11 == 10)
    assert check_character(with_zero) == check_character(with_ten) == "0"


@given(
    st.integers(min_value=1, max_value=8).flatmap(lambda w: st.tuples(st.just(w), st.integers(0, 36**w - 1)))
)
def test_to_base36_round_trips(width_number: tuple[int, int]) -> None:
    width, number = width_number
    text = to_base36(number, width)
    assert len(text) == width
    assert set(text) <= set(ALNUM)
    assert int(text, 36) == number


@given(st.integers(min_value=0, max_value=36**5 - 1), st.integers(min_value=0, max_value=36**5 - 1))
def test_to_base36_keeps_order(a: int, b: int) -> None:
    assert (to_base36(a, 5) < to_base36(b, 5)) == (a < b)


def test_to_base36_bounds() -> None:
    assert to_base36(0, 3) == "000"
    assert to_base36(35, 1) == "Z"
    assert to_base36(36, 2) == "10"
    assert to_base36(36**5 - 1, 5) == "ZZZZZ"
    with pytest.raises(ValueError):
        to_base36(36**5, 5)
    with pytest.raises(ValueError):
        to_base36(-1, 5)
