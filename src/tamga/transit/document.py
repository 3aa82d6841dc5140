"""The transit accompanying document (TAD): a printable, bilingual RU/EN A4 PDF.

Pure rendering: the caller loads the movement and passes a `TransitDocumentData`;
this module does no I/O besides reading the DejaVu font files.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from reportlab.graphics.barcode.code128 import Code128
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    CondPageBreak,
    Flowable,
    KeepTogether,
    LongTable,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONT_PACKAGE = "fonts-dejavu-core"
_REGULAR = "DejaVuSans"
_BOLD = "DejaVuSans-Bold"

_PAGE_WIDTH, _PAGE_HEIGHT = A4
_MARGIN_X = 15 * mm
_MARGIN_TOP = 17 * mm
_MARGIN_BOTTOM = 16 * mm
_CONTENT_WIDTH = _PAGE_WIDTH - 2 * _MARGIN_X

_INK = colors.black
_RULE = colors.HexColor("#4a4a4a")
_LABEL_INK = colors.HexColor("#505050")
_BAND = colors.HexColor("#e3e3e3")
_ZEBRA = colors.HexColor("#f5f5f5")
_NBSP = "\u00a0"
_DASH = "—"

TITLE_EN = "Transit accompanying document"
TITLE_RU = "Транзитная декларация — сопроводительный документ"


@dataclass(frozen=True)
class DocumentParty:
    """A party named on the document."""

    name: str
    identifier: str  # e.g. "INN 7707083893" or "UNP 100582333"
    country: str  # ISO 3166-1 alpha-2


@dataclass(frozen=True)
class DocumentOffice:
    """A customs office named on the document."""

    code: str
    name: str
    country: str


@dataclass(frozen=True)
class DocumentItem:
    """One goods item of the declaration."""

    number: int
    hs_code: str
    description: str
    packages: int
    gross_mass_kg: Decimal
    net_mass_kg: Decimal
    value: Decimal
    currency: str
    origin: str


@dataclass(frozen=True)
class TransitDocumentData:
    """Everything printed on the transit accompanying document; datetimes are tz-aware."""

    mrn: str
    registration_number: str
    status: str
    holder: DocumentParty
    consignor: DocumentParty
    consignee: DocumentParty
    carrier: DocumentParty | None
    departure: DocumentOffice
    destination: DocumentOffice
    transit_offices: tuple[DocumentOffice, ...]
    itinerary: tuple[str, ...]
    route_length_km: Decimal | None
    vehicles: tuple[str, ...]
    seals: tuple[str, ...]
    guarantee_reference: str | None
    amount_at_stake: Decimal | None
    amount_currency: str | None
    accepted_at: datetime | None
    released_at: datetime | None
    time_limit: datetime | None
    items: tuple[DocumentItem, ...]
    generated_at: datetime


def render_transit_document(data: TransitDocumentData) -> bytes:
    """Give the transit accompanying document for `data` as PDF bytes (A4)."""
    _check_timezones(data)
    _register_fonts()
    styles = _styles()
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=_MARGIN_X,
        rightMargin=_MARGIN_X,
        topMargin=_MARGIN_TOP,
        bottomMargin=_MARGIN_BOTTOM,
        title=data.mrn,
        subject=f"{TITLE_EN} / {TITLE_RU}",
        author="tamga",
        creator="tamga",
        keywords=["MRN " + data.mrn, data.registration_number],
        lang="ru",
        # Same data gives the same bytes: no wall-clock date or random ID in the file.
        invariant=1,
    )
    story: list[Flowable] = [
        _header(data, styles),
        Spacer(1, 3 * mm),
        _section("1", "Parties", "Участники", _parties_rows(data, styles), styles),
        _section("2", "Customs offices", "Таможенные органы", _offices_rows(data, styles), styles),
        _section("3", "Route and transport", "Маршрут и транспорт", _route_rows(data, styles), styles),
        _section(
            "4", "Guarantee and time limits", "Обеспечение и сроки", _guarantee_rows(data, styles), styles
        ),
        *_goods(data, styles),
    ]
    canvas_maker = functools.partial(_NumberedCanvas, mrn=data.mrn, generated_at=_utc(data.generated_at))
    doc.build(story, canvasmaker=canvas_maker, onLaterPages=_later_page_header(data.mrn))
    return buffer.getvalue()


# --- fonts and styles -------------------------------------------------------


@functools.cache
def _register_fonts() -> None:
    """Register DejaVu Sans (regular and bold), which carries the Cyrillic glyphs."""
    files = {_REGULAR: FONT_DIR / "DejaVuSans.ttf", _BOLD: FONT_DIR / "DejaVuSans-Bold.ttf"}
    missing = [str(path) for path in files.values() if not path.is_file()]
    if missing:
        raise RuntimeError(
            f"font file(s) {', '.join(missing)} not found: the transit document needs "
            f"DejaVu Sans for Cyrillic text; install the Debian package {FONT_PACKAGE} "
            f"(apt-get install -y {FONT_PACKAGE})"
        )
    for name, path in files.items():
        pdfmetrics.registerFont(TTFont(name, str(path)))
    pdfmetrics.registerFontFamily(_REGULAR, normal=_REGULAR, bold=_BOLD, italic=_REGULAR, boldItalic=_BOLD)


@dataclass(frozen=True)
class _Styles:
    title: ParagraphStyle
    title_ru: ParagraphStyle
    subtitle: ParagraphStyle
    band: ParagraphStyle
    label: ParagraphStyle
    value: ParagraphStyle
    value_big: ParagraphStyle
    mrn: ParagraphStyle
    cell: ParagraphStyle
    head: ParagraphStyle
    head_right: ParagraphStyle


def _styles() -> _Styles:
    base = ParagraphStyle("tad", fontName=_REGULAR, fontSize=8.5, leading=10.5, textColor=_INK)
    return _Styles(
        title=ParagraphStyle("title", base, fontName=_BOLD, fontSize=13.5, leading=16.5),
        title_ru=ParagraphStyle("title_ru", base, fontName=_BOLD, fontSize=10, leading=13),
        subtitle=ParagraphStyle("subtitle", base, fontSize=7.5, leading=9.5, textColor=_LABEL_INK),
        band=ParagraphStyle("band", base, fontName=_BOLD, fontSize=8.5, leading=10.5),
        label=ParagraphStyle("label", base, fontSize=6.3, leading=7.6, textColor=_LABEL_INK),
        value=base,
        value_big=ParagraphStyle("value_big", base, fontName=_BOLD, fontSize=10, leading=12.5),
        mrn=ParagraphStyle("mrn", base, fontName=_BOLD, fontSize=10.5, leading=12.5, alignment=TA_CENTER),
        cell=ParagraphStyle("cell", base, fontSize=7.3, leading=8.8),
        head=ParagraphStyle("head", base, fontSize=6.5, leading=7.8),
        head_right=ParagraphStyle("head_right", base, fontSize=6.5, leading=7.8, alignment=TA_RIGHT),
    )


# --- formatting ---------------------------------------------------------------


def _check_timezones(data: TransitDocumentData) -> None:
    stamps = {
        "accepted_at": data.accepted_at,
        "released_at": data.released_at,
        "time_limit": data.time_limit,
        "generated_at": data.generated_at,
    }
    naive = [name for name, value in stamps.items() if value is not None and value.tzinfo is None]
    if naive:
        raise ValueError(f"naive datetime(s) {', '.join(naive)}: pass timezone-aware values")


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def _when(moment: datetime | None) -> str:
    if moment is None:
        return _DASH
    return _utc(moment).strftime("%Y-%m-%d %H:%M UTC")


def _grouped(amount: Decimal, places: int) -> str:
    quantum = Decimal(1).scaleb(-places)
    rounded = amount.quantize(quantum, rounding=ROUND_HALF_UP)
    # Space-grouped thousands and a decimal point read the same in Russian and English.
    return f"{rounded:,.{places}f}".replace(",", _NBSP)


def format_money(amount: Decimal, currency: str | None) -> str:
    """Give an amount with 2 decimals and its currency, e.g. '1 234 567.89 RUB'."""
    text = _grouped(amount, 2)
    return f"{text}{_NBSP}{currency}" if currency else text


def _mass(kg: Decimal) -> str:
    return _grouped(kg, 3)


def _text(value: str | None) -> str:
    """Give `value` escaped for a Paragraph, or a dash when it is empty."""
    return escape(value) if value else _DASH


def _lines(values: Iterable[str]) -> str:
    escaped = [escape(value) for value in values]
    return "<br/>".join(escaped) if escaped else _DASH


def _party(party: DocumentParty | None) -> str:
    if party is None:
        return _DASH
    return (
        f"<b>{escape(party.name)}</b><br/>"
        f"{escape(party.identifier)}{_NBSP}{_NBSP}·{_NBSP}{_NBSP}{escape(party.country)}"
    )


def _office(office: DocumentOffice) -> str:
    return f"<b>{escape(office.code)}</b>{_NBSP}{_NBSP}{escape(office.name)} ({escape(office.country)})"


# --- page furniture -------------------------------------------------------------


class _NumberedCanvas(Canvas):
    """A canvas that holds pages back until the end so each footer can say 'page X of Y'."""

    def __init__(self, *args: Any, mrn: str, generated_at: datetime, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._mrn = mrn
        self._generated_at = generated_at
        self._pages: list[dict[str, Any]] = []
        stamp = generated_at.strftime("D:%Y%m%d%H%M%S+00'00'")
        date_formatter: Callable[..., str] = lambda *_: stamp  # noqa: E731
        self.setDateFormatter(date_formatter)

    def showPage(self) -> None:
        self._pages.append(dict(self.__dict__))
        self._startPage()  # type: ignore[attr-defined]  # reportlab internal, not in the stubs

    def save(self) -> None:
        total = len(self._pages)
        for number, state in enumerate(self._pages, start=1):
            self.__dict__.update(state)
            self._footer(number, total)
            super().showPage()
        super().save()

    def _footer(self, number: int, total: int) -> None:
        y = _MARGIN_BOTTOM - 6 * mm
        self.saveState()
        self.setStrokeColor(_RULE)
        self.setLineWidth(0.5)
        self.line(_MARGIN_X, y + 3.2 * mm, _PAGE_WIDTH - _MARGIN_X, y + 3.2 * mm)
        self.setFillColor(_LABEL_INK)
        self.setFont(_REGULAR, 6.8)
        generated = self._generated_at.strftime("%Y-%m-%d %H:%M UTC")
        self.drawString(
            _MARGIN_X,
            y,
            f"tamga · MRN {self._mrn} · generated / сформирован {generated}",
        )
        self.setFillColor(_INK)
        self.setFont(_BOLD, 7.5)
        self.drawRightString(
            _PAGE_WIDTH - _MARGIN_X, y, f"page {number} of {total} / стр. {number} из {total}"
        )
        self.restoreState()


def _later_page_header(mrn: str) -> Callable[[Canvas, Any], None]:
    def draw(canvas: Canvas, _doc: Any) -> None:
        y = _PAGE_HEIGHT - 10 * mm
        canvas.saveState()
        canvas.setFont(_BOLD, 7.5)
        canvas.drawString(_MARGIN_X, y, f"MRN {mrn}")
        canvas.setFont(_REGULAR, 7)
        canvas.setFillColor(_LABEL_INK)
        canvas.drawRightString(_PAGE_WIDTH - _MARGIN_X, y, f"{TITLE_EN} — continued / продолжение")
        canvas.setStrokeColor(_RULE)
        canvas.setLineWidth(0.5)
        canvas.line(_MARGIN_X, y - 1.6 * mm, _PAGE_WIDTH - _MARGIN_X, y - 1.6 * mm)
        canvas.restoreState()

    return draw


# --- blocks -----------------------------------------------------------------------


def _field(
    label_en: str, label_ru: str, value_html: str, styles: _Styles, *, big: bool = False
) -> list[Flowable]:
    """Give a form box's content: a small bilingual label over the value."""
    return [
        Paragraph(f"{label_en} / {label_ru}", styles.label),
        Paragraph(value_html, styles.value_big if big else styles.value),
    ]


def _barcode(mrn: str) -> Code128:
    # 0.25 mm modules (the usual print minimum) with the standard 10-module quiet zones
    # make an 18-character MRN at most 63.3 mm wide, which leaves room for the Russian
    # title on one line.
    module = 0.25 * mm
    return Code128(
        mrn,
        barHeight=13 * mm,
        barWidth=module,
        lquiet=10 * module,
        rquiet=10 * module,
        humanReadable=False,
    )


def _header(data: TransitDocumentData, styles: _Styles) -> Table:
    title = [
        Paragraph(TITLE_EN, styles.title),
        Paragraph(TITLE_RU, styles.title_ru),
        Spacer(1, 1.5 * mm),
        Paragraph(
            "Customs transit procedure, Eurasian Economic Union / "
            "Таможенная процедура таможенного транзита, ЕАЭС",
            styles.subtitle,
        ),
    ]
    barcode_width = 63 * mm
    code = [
        _barcode(data.mrn),
        Spacer(1, 0.8 * mm),
        Paragraph(escape(data.mrn), styles.mrn),
    ]
    top = Table(
        [[title, code]],
        colWidths=[_CONTENT_WIDTH - barcode_width, barcode_width],
        style=TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("ALIGN", (1, 0), (1, 0), "CENTER"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (-1, -1), 0),
            ]
        ),
    )
    quarter = _CONTENT_WIDTH / 4
    ids = Table(
        [
            [
                _field("MRN", "Номер MRN", f"<b>{escape(data.mrn)}</b>", styles),
                _field("Registration No.", "Регистрационный номер", _text(data.registration_number), styles),
                _field("Status", "Статус", f"<b>{_text(data.status)}</b>", styles),
                _field("Generated", "Дата формирования", _when(data.generated_at), styles),
            ]
        ],
        colWidths=[quarter * 1.0, quarter * 1.3, quarter * 0.7, quarter * 1.0],
        style=_box_style(),
    )
    outer = Table(
        [[top], [ids]],
        colWidths=[_CONTENT_WIDTH],
        style=TableStyle(
            [
                ("LINEABOVE", (0, 0), (-1, 0), 1.6, _INK),
                ("TOPPADDING", (0, 0), (-1, 0), 4),
                ("BOTTOMPADDING", (0, 0), (-1, 0), 5),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                ("TOPPADDING", (0, 1), (-1, 1), 0),
                ("BOTTOMPADDING", (0, 1), (-1, 1), 0),
            ]
        ),
    )
    return outer


def _box_style(extra: Iterable[tuple[Any, ...]] = ()) -> TableStyle:
    return TableStyle(
        [
            ("GRID", (0, 0), (-1, -1), 0.6, _RULE),
            ("BOX", (0, 0), (-1, -1), 0.9, _INK),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("LEFTPADDING", (0, 0), (-1, -1), 4),
            ("RIGHTPADDING", (0, 0), (-1, -1), 4),
            ("TOPPADDING", (0, 0), (-1, -1), 2.5),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
            *extra,
        ]
    )


_Row = list[list[Flowable] | str]


def _section(number: str, title_en: str, title_ru: str, rows: list[_Row], styles: _Styles) -> Flowable:
    """Give a numbered section: a grey band with its title over a grid of two-column boxes."""
    band: _Row = [[Paragraph(f"{number}.{_NBSP}{_NBSP}{title_en} / {title_ru}", styles.band)], ""]
    half = _CONTENT_WIDTH / 2
    table = Table(
        [band, *rows],
        colWidths=[half, half],
        style=_box_style(
            [
                ("SPAN", (0, 0), (-1, 0)),
                ("BACKGROUND", (0, 0), (-1, 0), _BAND),
                ("TOPPADDING", (0, 0), (-1, 0), 2),
                ("BOTTOMPADDING", (0, 0), (-1, 0), 2.5),
                *[("SPAN", (0, i), (-1, i)) for i, row in enumerate(rows, start=1) if row[1] == ""],
            ]
        ),
    )
    return KeepTogether([table, Spacer(1, 2.5 * mm)])


def _parties_rows(data: TransitDocumentData, styles: _Styles) -> list[_Row]:
    return [
        [
            _field("Holder of the procedure", "Декларант транзита", _party(data.holder), styles),
            _field("Carrier", "Перевозчик", _party(data.carrier), styles),
        ],
        [
            _field("Consignor", "Отправитель", _party(data.consignor), styles),
            _field("Consignee", "Получатель", _party(data.consignee), styles),
        ],
    ]


def _offices_rows(data: TransitDocumentData, styles: _Styles) -> list[_Row]:
    transit = _lines(f"{office.code}  {office.name} ({office.country})" for office in data.transit_offices)
    return [
        [
            _field("Office of departure", "Таможня отправления", _office(data.departure), styles),
            _field("Office of destination", "Таможня назначения", _office(data.destination), styles),
        ],
        [_field("Offices of transit", "Таможни транзита", transit, styles), ""],
    ]


def _route_rows(data: TransitDocumentData, styles: _Styles) -> list[_Row]:
    itinerary = f"{_NBSP}→ ".join(escape(place) for place in data.itinerary) if data.itinerary else _DASH
    length = (
        f"{_grouped(data.route_length_km, 0)}{_NBSP}km / км" if data.route_length_km is not None else _DASH
    )
    return [
        [_field("Itinerary", "Маршрут следования", itinerary, styles), ""],
        [
            _field("Route length", "Протяжённость маршрута", length, styles),
            _field("Number of seals", "Количество пломб", str(len(data.seals)), styles),
        ],
        [
            _field("Means of transport", "Транспортные средства", _lines(data.vehicles), styles),
            _field("Seals", "Пломбы (средства идентификации)", _lines(data.seals), styles),
        ],
    ]


def _guarantee_rows(data: TransitDocumentData, styles: _Styles) -> list[_Row]:
    amount = (
        format_money(data.amount_at_stake, data.amount_currency)
        if data.amount_at_stake is not None
        else _DASH
    )
    return [
        [
            _field("Guarantee reference", "Номер обеспечения", _text(data.guarantee_reference), styles),
            _field("Amount at stake", "Сумма обеспечения", f"<b>{amount}</b>", styles),
        ],
        [
            _field("Accepted (registered)", "Декларация зарегистрирована", _when(data.accepted_at), styles),
            _field("Released for transit", "Выпуск для транзита", _when(data.released_at), styles),
        ],
        [
            _field(
                "Time limit for transit",
                "Срок таможенного транзита",
                f"<b>{_when(data.time_limit)}</b>",
                styles,
            ),
            "",
        ],
    ]


# --- goods ----------------------------------------------------------------------------

_ITEM_COLUMNS: tuple[tuple[str, str, float, bool], ...] = (
    # (English, Russian, width in mm, right-aligned)
    ("No.", "№", 10, True),
    ("HS code", "Код ТН ВЭД", 20, False),
    ("Description of goods", "Описание товара", 0, False),  # takes what is left
    ("Pack.", "Мест", 12, True),
    ("Gross, kg", "Брутто, кг", 20, True),
    ("Net, kg", "Нетто, кг", 20, True),
    ("Value", "Стоимость", 30, True),
    ("Origin", "Происх.", 12, False),
)


def _goods(data: TransitDocumentData, styles: _Styles) -> list[Flowable]:
    """Give the goods section: a summary band and the item table that flows across pages."""
    items = data.items
    totals_by_currency: dict[str, Decimal] = {}
    for item in items:
        totals_by_currency[item.currency] = totals_by_currency.get(item.currency, Decimal(0)) + item.value
    values = "<br/>".join(
        format_money(total, currency) for currency, total in sorted(totals_by_currency.items())
    )
    gross = sum((item.gross_mass_kg for item in items), Decimal(0))
    net = sum((item.net_mass_kg for item in items), Decimal(0))
    summary_cells = [
        _field("Items", "Товаров", str(len(items)), styles),
        _field("Packages", "Мест", str(sum(item.packages for item in items)), styles),
        _field("Gross mass", "Вес брутто", f"{_mass(gross)}{_NBSP}kg / кг", styles),
        _field("Net mass", "Вес нетто", f"{_mass(net)}{_NBSP}kg / кг", styles),
        _field("Total value", "Общая стоимость", f"<b>{values or _DASH}</b>", styles),
    ]
    band_row: list[Any] = [
        [Paragraph(f"5.{_NBSP}{_NBSP}Goods / Товары", styles.band)],
        "",
        "",
        "",
        "",
    ]
    fifth = _CONTENT_WIDTH / 5
    summary = Table(
        [band_row, summary_cells],
        colWidths=[fifth * 0.6, fifth * 0.7, fifth * 1.2, fifth * 1.2, fifth * 1.3],
        style=_box_style(
            [
                ("SPAN", (0, 0), (-1, 0)),
                ("BACKGROUND", (0, 0), (-1, 0), _BAND),
                ("TOPPADDING", (0, 0), (-1, 0), 2),
                ("BOTTOMPADDING", (0, 0), (-1, 0), 2.5),
            ]
        ),
    )

    fixed = sum(width for _, _, width, _ in _ITEM_COLUMNS) * mm
    widths = [width * mm if width else _CONTENT_WIDTH - fixed for _, _, width, _ in _ITEM_COLUMNS]
    header = [
        Paragraph(f"{en}<br/>{ru}", styles.head_right if right else styles.head)
        for en, ru, _, right in _ITEM_COLUMNS
    ]
    rows: list[list[Any]] = [header]
    for item in items:
        rows.append(
            [
                str(item.number),
                item.hs_code,
                Paragraph(_text(item.description), styles.cell),
                str(item.packages),
                _mass(item.gross_mass_kg),
                _mass(item.net_mass_kg),
                format_money(item.value, item.currency),
                item.origin,
            ]
        )
    if not items:
        rows.append(["", "", Paragraph(_DASH, styles.cell), "", "", "", "", ""])
    right_columns = [i for i, (_, _, _, right) in enumerate(_ITEM_COLUMNS) if right]
    table = LongTable(
        rows,
        colWidths=widths,
        repeatRows=1,
        style=TableStyle(
            [
                ("FONT", (0, 1), (-1, -1), _REGULAR, 7.3, 8.8),
                ("GRID", (0, 0), (-1, -1), 0.4, _RULE),
                ("BOX", (0, 0), (-1, -1), 0.9, _INK),
                ("LINEBELOW", (0, 0), (-1, 0), 0.9, _INK),
                ("BACKGROUND", (0, 0), (-1, 0), _BAND),
                ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, _ZEBRA]),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("VALIGN", (0, 0), (-1, 0), "MIDDLE"),
                ("LEFTPADDING", (0, 0), (-1, -1), 3),
                ("RIGHTPADDING", (0, 0), (-1, -1), 3),
                ("TOPPADDING", (0, 0), (-1, -1), 2),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
                *[("ALIGN", (col, 1), (col, -1), "RIGHT") for col in right_columns],
            ]
        ),
    )
    # The summary must not end a page alone: start a new page unless the band, the
    # summary and a few item rows fit.
    return [CondPageBreak(45 * mm), summary, table]
