"""Barcode (Code 128) and QR labels as a PDF (ReportLab, built-in CJK font ``STSong-Light``).

The one function other modules call::

    from kehu.catalog.labels import labels_pdf

    pdf: bytes = labels_pdf(
        [("工控机 IPC-610L", "SN IPC20261123001", "IPC20261123001"), ...],  # (title, subtitle, code_value)
        layout="roll_50x30",   # or "roll_60x40", "a4_3x8" (see LAYOUTS)
        copies=1,              # each item is printed this many times, one after the other
        symbology="both",      # "code128", "qr" or "both"
        skip=0,                # sheets only: leave the first N labels of the first sheet empty
    )

* ``title`` is printed in bold-ish CJK text on the first line, ``subtitle`` on the second (both are
  cut with "…" when they do not fit); ``code_value`` is encoded in the barcode and/or the QR code
  and printed in clear under the barcode.  Code 128 encodes printable ASCII only: a value with
  other characters raises ``ValidationFailed`` (use ``symbology="qr"`` for those).
* A roll layout puts one label on each page of the label's size (thermal label printers print a
  page per label); a sheet layout places the labels row by row on A4 pages.
* At most :data:`MAX_LABELS` labels per document (``copies`` × items); more raise
  ``ValidationFailed``.

The inventory app prints serial-unit labels with it (title: the product, subtitle: the serial
number and the product code, code value: the serial number); the product centre prints product
labels (code value: the barcode, or the product code when there is none).
"""

from __future__ import annotations

import functools
import io
import itertools
from collections.abc import Iterable
from dataclasses import dataclass

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kehu.core.errors import ValidationFailed

FONT = "STSong-Light"
CODE_FONT = "Helvetica"
MAX_LABELS = 5000
MAX_COPIES = 500
SYMBOLOGIES = {
    "both": gettext_lazy("Barcode and QR code"),
    "code128": gettext_lazy("Barcode (Code 128)"),
    "qr": gettext_lazy("QR code"),
}


@dataclass(frozen=True)
class Layout:
    code: str
    label: object
    width_mm: float  # one label
    height_mm: float
    columns: int = 1  # sheets: labels across and down an A4 page
    rows: int = 1
    page: tuple[float, float] | None = None  # sheets: the page size in mm
    margin_left_mm: float = 0
    margin_top_mm: float = 0

    @property
    def per_page(self) -> int:
        return self.columns * self.rows

    @property
    def is_sheet(self) -> bool:
        return self.page is not None


LAYOUTS = {
    "roll_50x30": Layout("roll_50x30", gettext_lazy("Label roll 50 × 30 mm"), 50, 30),
    "roll_60x40": Layout("roll_60x40", gettext_lazy("Label roll 60 × 40 mm"), 60, 40),
    "roll_40x30": Layout("roll_40x30", gettext_lazy("Label roll 40 × 30 mm"), 40, 30),
    "a4_3x8": Layout(
        "a4_3x8",
        gettext_lazy("A4 sheet, 3 × 8 labels (70 × 37 mm)"),
        70,
        37,
        columns=3,
        rows=8,
        page=(210, 297),
        margin_left_mm=0,
        margin_top_mm=0.5,
    ),
    "a4_2x5": Layout(
        "a4_2x5",
        gettext_lazy("A4 sheet, 2 × 5 labels (100 × 57 mm)"),
        100,
        57,
        columns=2,
        rows=5,
        page=(210, 297),
        margin_left_mm=5,
        margin_top_mm=6,
    ),
}
DEFAULT_LAYOUT = "roll_50x30"


def layout_choices() -> list[tuple[str, object]]:
    return [(code, lay.label) for code, lay in LAYOUTS.items()]


_fonts_ready = False


def _register_fonts() -> None:
    global _fonts_ready
    if not _fonts_ready:
        from reportlab.pdfbase import pdfmetrics
        from reportlab.pdfbase.cidfonts import UnicodeCIDFont

        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
        _fonts_ready = True


def _fit(text: str, font: str, size: float, width: float) -> str:
    """``text`` cut with an ellipsis so it fits ``width`` points."""
    from reportlab.pdfbase.pdfmetrics import stringWidth

    text = " ".join(str(text or "").split())
    if stringWidth(text, font, size) <= width:
        return text
    while text and stringWidth(text + "…", font, size) > width:
        text = text[:-1]
    return text + "…" if text else ""


def _check_items(items: Iterable, symbology: str) -> list[tuple[str, str, str]]:
    out = []
    for n, item in enumerate(items, start=1):
        try:
            title, subtitle, value = item
        except (TypeError, ValueError):
            raise ValidationFailed(_("Label %(n)s is not (title, subtitle, code value).") % {"n": n})
        value = str(value or "").strip()
        if not value:
            raise ValidationFailed(_("Label %(n)s has no code to print.") % {"n": n})
        if symbology != "qr" and not all(32 < ord(ch) < 127 for ch in value):
            raise ValidationFailed(
                _(
                    "%(value)s cannot be a Code 128 barcode (letters, digits and symbols only); "
                    "print a QR code."
                )
                % {"value": value},
                details={"field": "symbology"},
            )
        out.append((str(title or ""), str(subtitle or ""), value))
    return out


@functools.lru_cache(maxsize=2048)
def qr_modules(value: str) -> tuple[tuple[bool, ...], ...]:
    """The QR code's dark modules (error correction M), from ReportLab's encoder.  Cached: copies
    of one label encode once.  ReportLab's widget encodes twice and draws one object per module; a
    thousand labels took half a minute that way."""
    from reportlab.graphics.barcode import qrencoder

    qr = qrencoder.QRCode(None, qrencoder.QRErrorCorrectLevel.M)
    qr.addData(value)
    qr.make()
    return tuple(tuple(bool(m) for m in row) for row in qr.modules)


def _draw_qr(c, value: str, x: float, y: float, size: float) -> None:
    """The QR code as one filled path: a rectangle per run of dark modules in a row."""
    modules = qr_modules(value)
    n = len(modules)
    box = size / n
    path = c.beginPath()
    for r, row in enumerate(modules):
        col = 0
        for dark, run in itertools.groupby(row):
            count = len(list(run))
            if dark:
                path.rect(x + col * box, y + size - (r + 1) * box, count * box, box)
            col += count
    c.drawPath(path, stroke=0, fill=1)


def _draw_code128(c, value: str, x: float, y: float, width: float, height: float) -> None:
    from reportlab.graphics.barcode.code128 import Code128

    probe = Code128(value, barWidth=1, barHeight=height, quiet=0)
    # Scanners need a quiet zone of 10 module widths on each side: keep it inside ``width``.
    bar_width = min(width / (probe.width + 20), 2.0)
    barcode = Code128(value, barWidth=bar_width, barHeight=height, quiet=0)
    barcode.drawOn(c, x + (width - barcode.width) / 2, y)


def _draw_label(c, item, x: float, y: float, w: float, h: float, symbology: str) -> None:
    """One label with its lower-left corner at (x, y), ``w`` × ``h`` points."""
    from reportlab.lib.units import mm

    title, subtitle, value = item
    pad = 1.8 * mm
    inner_w, inner_h = w - 2 * pad, h - 2 * pad
    title_size = max(6.0, min(10.0, inner_h * 0.16))
    sub_size = max(5.0, title_size - 2)
    code_size = max(5.0, sub_size - 0.5)
    top = y + h - pad
    qr_size = 0.0
    if symbology in ("qr", "both"):
        qr_size = inner_h - title_size - 1 if symbology == "qr" else min(inner_h * 0.62, inner_w * 0.4)
        qr_size = min(qr_size, inner_w * (0.55 if symbology == "qr" else 0.4))
    text_w = (
        inner_w if symbology == "code128" else inner_w - (qr_size + 1.5 * mm if symbology == "both" else 0)
    )

    c.setFont(FONT, title_size)
    c.drawString(x + pad, top - title_size, _fit(title, FONT, title_size, inner_w))
    c.setFont(FONT, sub_size)
    c.drawString(x + pad, top - title_size - sub_size - 1.5, _fit(subtitle, FONT, sub_size, text_w))

    if symbology == "qr":
        _draw_qr(c, value, x + w - pad - qr_size, y + pad, qr_size)
        c.setFont(CODE_FONT, code_size)
        text_w = inner_w - qr_size - 1.5 * mm
        c.drawString(x + pad, y + pad, _fit(value, CODE_FONT, code_size, text_w))
        return
    if symbology == "both":
        _draw_qr(c, value, x + w - pad - qr_size, y + pad, qr_size)
    bar_bottom = y + pad + code_size + 1
    bar_top = top - title_size - sub_size - 3.5
    bar_h = max(4 * mm * 0.6, bar_top - bar_bottom)
    _draw_code128(c, value, x + pad, bar_bottom, text_w, bar_h)
    c.setFont(CODE_FONT, code_size)
    shown = _fit(value, CODE_FONT, code_size, text_w)
    c.drawCentredString(x + pad + text_w / 2, y + pad, shown)


def labels_pdf(
    items: Iterable[tuple[str, str, str]],
    *,
    layout: str = DEFAULT_LAYOUT,
    copies: int = 1,
    symbology: str = "both",
    skip: int = 0,
    title: str = "",
) -> bytes:
    """The labels as a PDF document (bytes); see the module docstring."""
    from reportlab.lib.units import mm
    from reportlab.pdfgen import canvas

    if layout not in LAYOUTS:
        raise ValidationFailed(
            _("Unknown label layout %(layout)s.") % {"layout": layout}, details={"field": "layout"}
        )
    if symbology not in SYMBOLOGIES:
        raise ValidationFailed(_("Choose barcode, QR code or both."), details={"field": "symbology"})
    try:
        copies = int(copies)
    except (TypeError, ValueError):
        raise ValidationFailed(_("The number of copies must be a whole number."), details={"field": "copies"})
    if not 1 <= copies <= MAX_COPIES:
        raise ValidationFailed(
            _("Print between 1 and %(max)s copies.") % {"max": MAX_COPIES}, details={"field": "copies"}
        )
    lay = LAYOUTS[layout]
    try:
        skip = int(skip or 0)
    except (TypeError, ValueError):
        skip = -1
    if not 0 <= skip < lay.per_page:
        raise ValidationFailed(
            _("Labels to skip: 0 to %(max)s.") % {"max": lay.per_page - 1}, details={"field": "skip"}
        )
    entries = _check_items(items, symbology)
    if not entries:
        raise ValidationFailed(_("Choose at least one label to print."))
    total = len(entries) * copies
    if total > MAX_LABELS:
        raise ValidationFailed(
            _("That is %(n)s labels; print at most %(max)s at a time.") % {"n": total, "max": MAX_LABELS},
            details={"field": "copies"},
        )
    _register_fonts()
    buf = io.BytesIO()
    w, h = lay.width_mm * mm, lay.height_mm * mm
    page = (lay.page[0] * mm, lay.page[1] * mm) if lay.is_sheet else (w, h)
    c = canvas.Canvas(buf, pagesize=page, pageCompression=1)
    c.setTitle(title or _("Labels"))
    c.setCreator("Kehu CRM")
    slot = skip
    started = False
    for item in entries:
        for _copy in range(copies):
            if lay.is_sheet:
                if slot >= lay.per_page:
                    c.showPage()
                    slot = 0
                row, col = divmod(slot, lay.columns)
                x = lay.margin_left_mm * mm + col * w
                y = page[1] - lay.margin_top_mm * mm - (row + 1) * h
                _draw_label(c, item, x, y, w, h, symbology)
                slot += 1
            else:
                if started:
                    c.showPage()
                _draw_label(c, item, 0, 0, w, h, symbology)
            started = True
    c.showPage()
    c.save()
    return buf.getvalue()


def pages_needed(count: int, *, layout: str, copies: int = 1, skip: int = 0) -> int:
    lay = LAYOUTS[layout]
    n = count * copies
    return n if not lay.is_sheet else -(-(n + skip) // lay.per_page)


def product_label_items(products) -> list[tuple[str, str, str]]:
    """(title, subtitle, code value) of product labels: the name; the code and specification; the
    barcode, or the code when the product has no barcode."""
    out = []
    for p in products:
        subtitle = " ".join(part for part in (p.code, p.spec) if part)
        out.append((p.name, subtitle, p.barcode or p.code))
    return out
