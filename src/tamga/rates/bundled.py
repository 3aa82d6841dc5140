"""The sample rate documents shipped in `tamga/rates/samples`: daily documents in the banks' own formats.

`manifest.json` names one archive per authority (a tar.xz of daily documents, `YYYY-MM-DD.xml` for the
Bank of Russia, `YYYY-MM-DD.json` for the National Bank of Belarus) and lists the values that were
checked against a publication, each with its source. Every other value is illustrative and is stored
with `illustrative = true`. See `samples/README.md`.
"""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from importlib.resources import files
from typing import Any

from tamga.rates.domain import Authority, ExchangeRate, parse_daily

MANIFEST = "manifest.json"


@dataclass(frozen=True, slots=True)
class SampleRate:
    """One rate of the samples, with the archive member it comes from."""

    archive: str
    rate: ExchangeRate


def read_manifest() -> dict[str, Any]:
    """Give the samples' manifest."""
    text = (files("tamga.rates") / "samples" / MANIFEST).read_text(encoding="utf-8")
    manifest: dict[str, Any] = json.loads(text)
    return manifest


def published_values(manifest: dict[str, Any]) -> dict[tuple[str, str, date], tuple[int, Decimal, str]]:
    """Give the checked values: (authority, currency, date) -> (nominal, rate, source)."""
    return {
        (p["authority"], p["currency"], date.fromisoformat(p["date"])): (
            int(p["nominal"]),
            Decimal(p["rate"]),
            p["source"],
        )
        for p in manifest["published"]
    }


def archive_documents(name: str) -> Iterator[tuple[str, bytes]]:
    """Give (member name, bytes) of each daily document of an archive, in name order."""
    blob = (files("tamga.rates") / "samples" / name).read_bytes()
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:xz") as archive:
        members = sorted((m for m in archive.getmembers() if m.isfile()), key=lambda m: m.name)
        for member in members:
            handle = archive.extractfile(member)
            assert handle is not None
            yield member.name, handle.read()


def sample_rates() -> list[SampleRate]:
    """Give every rate of the samples; the checked ones are marked not illustrative.

    Raises ValueError if an archive disagrees with a checked value of the manifest.
    """
    manifest = read_manifest()
    checked = published_values(manifest)
    out: list[SampleRate] = []
    authority: Authority
    for authority, archive in manifest["archives"].items():
        for member, data in archive_documents(archive):
            daily = parse_daily(data, authority, illustrative=True)
            for rate in daily.rates:
                value = checked.get((rate.authority, rate.currency, rate.date))
                if value is not None:
                    if (rate.nominal, rate.rate) != value[:2]:
                        raise ValueError(
                            f"{archive}:{member}: {rate.currency} {rate.rate}/{rate.nominal} "
                            f"differs from the published {value[1]}/{value[0]}"
                        )
                    rate = replace(rate, illustrative=False)
                out.append(SampleRate(f"sample {archive}:{member}", rate))
    return out
