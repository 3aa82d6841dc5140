"""`kit.schemas.Text`: free text without control characters or unpaired surrogates, checked by a
regular expression, against the plain character-by-character rule."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from tamga.kit.schemas import Text

TEXT = TypeAdapter(Text)


def reference(value: str) -> str | None:
    """The rule, one character at a time: the reason a value is refused, or None."""
    if any(ord(ch) < 32 and ch not in "\t\n\r" for ch in value):
        return "control characters are not allowed"
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in value):
        return "unpaired surrogates are not allowed"
    return None


def refusal(value: str) -> str | None:
    try:
        TEXT.validate_python(value)
    except ValidationError as exc:
        return str(exc.errors()[0]["msg"]).removeprefix("Value error, ")
    return None


# every character class that matters: controls, the three allowed ones, surrogates, the rest of the BMP
# and beyond it
CHARACTERS = st.one_of(
    st.characters(min_codepoint=0, max_codepoint=0x2F),
    st.characters(min_codepoint=0xD7F0, max_codepoint=0xE00F),
    st.characters(),
)


@given(st.text(alphabet=CHARACTERS, max_size=40))
def test_the_expression_refuses_what_the_rule_refuses(value: str) -> None:
    assert refusal(value) == reference(value)


@pytest.mark.parametrize(
    "code", [*range(0x00, 0x21), 0x7F, 0x85, 0xD7FF, 0xD800, 0xDBFF, 0xDC00, 0xDFFF, 0xE000, 0x10FFFF]
)
def test_every_control_character_and_the_surrogate_bounds(code: int) -> None:
    for value in (chr(code), f"ab{chr(code)}cd"):
        assert refusal(value) == reference(value)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("ООО «Ромашка»\tцех 2\r\n", None),
        ("fish\x00fillets", "control characters are not allowed"),
        ("fish\x1ffillets", "control characters are not allowed"),
        ("\x7fdel is printable here", None),
        ("half a pair \ud83d", "unpaired surrogates are not allowed"),
        ("\udfff then \x01", "control characters are not allowed"),  # controls are named first
    ],
)
def test_examples(value: str, reason: str | None) -> None:
    assert refusal(value) == reason
