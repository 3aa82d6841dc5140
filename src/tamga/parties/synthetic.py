"""Synthetic but valid identifiers (INN, KPP, OGRN, UNP) for demos, tests and benchmarks."""

from __future__ import annotations

import random

_INN10_WEIGHTS = (2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN12_WEIGHTS_1 = (7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN12_WEIGHTS_2 = (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
_UNP_WEIGHTS = (29, 23, 19, 17, 13, 7, 5, 3)


def _check(digits: str, weights: tuple[int, ...]) -> int:
    return sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 11 % 10


def inn_legal(rng: random.Random, region: int = 77) -> str:
    """Give a valid 10-digit INN of an organisation registered in the region (e.g. 67 Smolensk)."""
    body = f"{region:02d}{rng.randrange(10**7):07d}"
    return body + str(_check(body, _INN10_WEIGHTS))


def inn_person(rng: random.Random, region: int = 77) -> str:
    """Give a valid 12-digit INN of an individual entrepreneur."""
    body = f"{region:02d}{rng.randrange(10**8):08d}"
    first = str(_check(body, _INN12_WEIGHTS_1))
    return body + first + str(_check(body + first, _INN12_WEIGHTS_2))


def kpp(inn: str) -> str:
    """Give a KPP for an organisation's head office: tax office, reason 01, serial 001."""
    return f"{inn[:4]}01001"


def ogrn(rng: random.Random, region: int = 77) -> str:
    """Give a valid 13-digit OGRN (legal entity, registered 2002 or later)."""
    body = f"1{rng.randrange(2, 25):02d}{region:02d}{rng.randrange(10**7):07d}"
    return body + str(int(body) % 11 % 10)


def unp(rng: random.Random, region: int = 1) -> str:
    """Give a valid 9-digit Belarusian UNP of an organisation (first digit: the region, 1-7)."""
    while True:
        body = f"{region}{rng.randrange(10**7):07d}"
        check = sum(int(d) * w for d, w in zip(body, _UNP_WEIGHTS, strict=True)) % 11
        if check != 10:
            return body + str(check)
