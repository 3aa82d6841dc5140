"""The transit accompanying document renders as a readable, bilingual PDF."""

from __future__ import annotations

import dataclasses
import io
import pathlib
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from pypdf import PdfReader

from tamga.transit import document
from tamga.transit.document import (
    TITLE_RU,
    DocumentItem,
    DocumentOffice,
    DocumentParty,
    TransitDocumentData,
    format_money,
    render_transit_document,
)

MRN = "25BY1234567890ABC4"


def make_items(count: int) -> tuple[DocumentItem, ...]:
    descriptions = (
        "Smartphones, Android, 128 GB, in retail packaging",
        "Спортивная обувь с верхом из текстильных материалов",
        'Laptop computers <15.6"> & chargers',
    )
    return tuple(
        DocumentItem(
            number=i + 1,
            hs_code="8517130000",
            description=descriptions[i % len(descriptions)],
            packages=10 + i % 7,
            gross_mass_kg=Decimal("1250.5"),
            net_mass_kg=Decimal("1100.25"),
            value=Decimal("152340.455") + i,
            currency="USD",
            origin="CN",
        )
        for i in range(count)
    )


def make_data(items: int = 3, **changes: object) -> TransitDocumentData:
    data = TransitDocumentData(
        mrn=MRN,
        registration_number="06611/140325/0001234",
        status="RELEASED",
        holder=DocumentParty('ООО "Балтийская логистика"', "INN 7707083893", "RU"),
        consignor=DocumentParty("Shenzhen Huaxin Electronics Co., Ltd.", "USCC 91440300MA5F", "CN"),
        consignee=DocumentParty("ОАО «Минский торговый дом»", "UNP 100582333", "BY"),
        carrier=None,
        departure=DocumentOffice("06611", "Брест-Козловичи", "BY"),
        destination=DocumentOffice("10210020", "Смоленский таможенный пост", "RU"),
        transit_offices=(DocumentOffice("06650", "Минская региональная таможня", "BY"),),
        itinerary=("Kozlovichi", "Minsk", "Smolensk"),
        route_length_km=Decimal("655.4"),
        vehicles=("1234 AB-1 (BY)",),
        seals=("BY-NS-00012345 (Беллогистика)",),
        guarantee_reference="25BY000000001234",
        amount_at_stake=Decimal("4521337.5"),
        amount_currency="RUB",
        accepted_at=datetime(2025, 3, 14, 6, 30, tzinfo=UTC),
        released_at=datetime(2025, 3, 14, 9, 45, tzinfo=timezone(timedelta(hours=3))),
        time_limit=datetime(2025, 3, 18, 9, 45, tzinfo=UTC),
        items=make_items(items),
        generated_at=datetime(2025, 3, 14, 10, 0, tzinfo=UTC),
    )
    return dataclasses.replace(data, **changes)  # type: ignore[arg-type]


def read(pdf: bytes) -> PdfReader:
    return PdfReader(io.BytesIO(pdf))


def text_of(reader: PdfReader) -> str:
    # No-break spaces may come back as plain spaces, depending on the font's glyph map.
    return "\n".join(page.extract_text() for page in reader.pages).replace("\u00a0", " ")


def test_renders_a_pdf_with_mrn_title_and_items() -> None:
    pdf = render_transit_document(make_data())

    assert pdf.startswith(b"%PDF")
    reader = read(pdf)
    text = text_of(reader)
    assert MRN in text
    assert TITLE_RU in text
    assert "Transit accompanying document" in text
    assert "Smartphones, Android, 128 GB" in text
    assert "Спортивная обувь" in text
    assert 'Laptop computers <15.6"> & chargers' in text  # markup characters are escaped
    assert "06611/140325/0001234" in text
    assert "page 1 of 1" in text


def test_metadata_title_is_the_mrn() -> None:
    reader = read(render_transit_document(make_data()))

    assert reader.metadata is not None
    assert reader.metadata.title == MRN


def test_dates_are_shown_in_utc_and_money_with_two_decimals() -> None:
    text = text_of(read(render_transit_document(make_data())))

    assert "2025-03-14 06:45 UTC" in text  # released 09:45 at +03:00
    assert "2025-03-18 09:45 UTC" in text
    assert "4 521 337.50 RUB" in text
    assert "152 340.46 USD" in text


def test_format_money_rounds_half_up_to_cents() -> None:
    assert format_money(Decimal("1234567.885"), "BYN") == "1\u00a0234\u00a0567.89\u00a0BYN"
    assert format_money(Decimal("0"), "RUB") == "0.00\u00a0RUB"


def test_same_data_gives_the_same_bytes() -> None:
    assert render_transit_document(make_data()) == render_transit_document(make_data())


def test_optional_fields_may_be_empty() -> None:
    data = make_data(
        items=0,
        carrier=None,
        transit_offices=(),
        itinerary=(),
        route_length_km=None,
        vehicles=(),
        seals=(),
        guarantee_reference=None,
        amount_at_stake=None,
        amount_currency=None,
        accepted_at=None,
        released_at=None,
        time_limit=None,
    )

    assert MRN in text_of(read(render_transit_document(data)))


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="time_limit"):
        render_transit_document(make_data(time_limit=datetime(2025, 3, 18, 9, 45)))


def test_1999_items_flow_across_pages() -> None:
    small = read(render_transit_document(make_data(items=3)))
    pdf = render_transit_document(make_data(items=1999))
    reader = read(pdf)
    pages = len(reader.pages)
    assert pages > len(small.pages)
    assert pages > 20
    last = reader.pages[-1].extract_text()
    assert "1999" in last
    assert f"page {pages} of {pages}" in last
    assert MRN in reader.pages[1].extract_text()  # the running header on later pages


def test_missing_font_names_the_debian_package(
    monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path
) -> None:
    monkeypatch.setattr(document, "FONT_DIR", tmp_path)

    with pytest.raises(RuntimeError, match="fonts-dejavu-core"):
        document._register_fonts.__wrapped__()
