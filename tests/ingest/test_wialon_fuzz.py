"""Wialon IPS decoding fuzzed: random text, random field soup, and mutated real messages.

Whatever comes in, decoding either gives a message (whose fixes can be built) or raises `WialonError`.
Marked slow: a few thousand examples in all.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.ingest.conformance import vectors

from tamga.ingest.wialon import WialonError, answer, decode_message, split_lines, to_fixes
from tamga.ingest.wialon.crc import crc16_arc

pytestmark = pytest.mark.slow

FUZZ = settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PACKETS = [str(vector["packet"]) for vector in vectors("wialon")]
NOW = datetime(2026, 1, 1, tzinfo=UTC)
VERSIONS = st.sampled_from([None, "1.1", "2.0"])


def decodes_or_refuses(line: str, version: str | None) -> None:
    try:
        message = decode_message(line, version)  # type: ignore[arg-type]
    except WialonError as error:
        assert error.answer is None or (error.answer.startswith("#A") and error.answer.endswith("\r\n"))
        return
    answer(message)
    to_fixes(message, "fuzz", received_at=NOW, first_record_id=0)


tokens = st.sampled_from(
    [
        "NA",
        ";",
        "|",
        ",",
        ":",
        ".",
        "-",
        "N",
        "S",
        "E",
        "W",
        "0",
        "12",
        "5544.6025",
        "270413",
        "1:",
        "2:",
        "3:",
        "#",
    ]
)
soup = st.lists(tokens | st.text(max_size=3), max_size=40).map("".join)


@FUZZ
@given(st.text(max_size=200), VERSIONS)
def test_random_text(line: str, version: str | None) -> None:
    decodes_or_refuses(line, version)


@FUZZ
@given(
    st.sampled_from(["#L#", "#SD#", "#D#", "#B#", "#P#", "2.0;1;#D#", "#X#"]), soup, st.booleans(), VERSIONS
)
def test_field_soup(head: str, body: str, add_crc: bool, version: str | None) -> None:
    if add_crc:
        body = f"{body};{crc16_arc(body.encode('utf-8', 'surrogatepass') + b';'):04X}"
    decodes_or_refuses(head + body, version)


@FUZZ
@given(
    st.sampled_from(PACKETS),
    st.lists(st.tuples(st.integers(0, 10_000), st.characters(), st.sampled_from("sid")), max_size=4),
    VERSIONS,
)
def test_mutated_real_messages(line: str, edits: list[tuple[int, str, str]], version: str | None) -> None:
    text = list(line)
    for where, char, how in edits:
        at = where % (len(text) + 1)
        if how == "s" and at < len(text):
            text[at] = char
        elif how == "i":
            text.insert(at, char)
        elif how == "d" and at < len(text):
            del text[at]
    decodes_or_refuses("".join(text), version)


@FUZZ
@given(st.binary(max_size=300))
def test_random_stream_bytes(raw: bytes) -> None:
    lines, rest = split_lines(raw)
    assert b"\n" not in rest
    for line in lines:
        decodes_or_refuses(line, None)
