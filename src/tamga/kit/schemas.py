"""Field types shared by request schemas."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, Field


def _printable(value: str) -> str:
    if any(ord(ch) < 32 and ch not in "\t\n\r" for ch in value):
        raise ValueError("control characters are not allowed")
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in value):
        raise ValueError("unpaired surrogates are not allowed")
    return value


def _in_utc(value: dt.datetime) -> dt.datetime:
    try:
        return value.astimezone(dt.UTC)
    except OverflowError:
        raise ValueError("out of range in UTC") from None


# Free text that the databases and documents can hold: no NUL or other control characters.
Text = Annotated[str, AfterValidator(_printable)]
# A timezone-aware instant, given back in UTC (the databases keep UTC).
UtcDateTime = Annotated[AwareDatetime, AfterValidator(_in_utc)]
Iso2 = Annotated[str, Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2 code")]
Iso4217 = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code")]
OfficeCode = Annotated[
    str, Field(pattern=r"^[0-9]{5,8}$", description="customs office code (RU 8, BY 5 digits)")
]
