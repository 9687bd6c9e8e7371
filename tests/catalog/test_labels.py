"""Label PDFs: valid PDF, the pages expected for each layout, bad input refused."""

from __future__ import annotations

import re
import zlib

import pytest

from kehu.catalog import labels
from kehu.core.errors import ValidationFailed

ITEMS = [
    ("研华工控机 IPC-610L", "IPC-610L i5/8G", "IPC20261123001"),
    ("斑马标签打印机", "ZD888", "6901234500059"),
    ("一个非常非常非常长的商品名称用来测试截断是否正常工作", "", "X"),
]


def page_count(pdf: bytes) -> int:
    """The number of pages as the page tree says (/Type /Pages … /Count N)."""
    counts = [int(n) for n in re.findall(rb"/Type /Pages\b[^>]*?/Count (\d+)", pdf)]
    counts += [int(n) for n in re.findall(rb"/Count (\d+)[^>]*?/Type /Pages\b", pdf)]
    assert counts, "no page tree found"
    pages = len(re.findall(rb"/Type /Page\b", pdf))
    assert max(counts) == pages
    return pages


def page_texts(pdf: bytes) -> bytes:
    """All page content streams, decompressed."""
    import base64

    out = []
    for m in re.finditer(rb"stream\r?\n(.*?)endstream", pdf, re.S):
        data = m.group(1).strip()
        if data.endswith(b"~>"):  # ReportLab: ASCII85, then Flate
            data = base64.a85decode(data[:-2].replace(b"\n", b"").replace(b"\r", b""))
        try:
            out.append(zlib.decompress(data))
        except zlib.error:
            out.append(data)
    return b"\n".join(out)


@pytest.mark.parametrize(
    ("layout", "copies", "pages"),
    [
        ("roll_50x30", 1, 3),
        ("roll_50x30", 4, 12),
        ("roll_60x40", 2, 6),
        ("a4_3x8", 1, 1),
        ("a4_3x8", 8, 1),
        ("a4_3x8", 9, 2),
        ("a4_2x5", 4, 2),
    ],
)
@pytest.mark.parametrize("symbology", ["both", "code128", "qr"])
def test_pages_per_layout(layout, copies, pages, symbology):
    pdf = labels.labels_pdf(ITEMS, layout=layout, copies=copies, symbology=symbology)
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    assert page_count(pdf) == pages == labels.pages_needed(len(ITEMS), layout=layout, copies=copies)


def test_page_size_and_font():
    pdf = labels.labels_pdf(ITEMS[:1], layout="roll_50x30", copies=1)
    box = re.search(rb"/MediaBox \[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", pdf)
    w, h = float(box.group(1)), float(box.group(2))
    assert abs(w - 50 / 25.4 * 72) < 0.1 and abs(h - 30 / 25.4 * 72) < 0.1
    assert b"STSong-Light" in pdf  # the built-in CJK font, nothing embedded
    assert b"IPC20261123001" in page_texts(pdf)  # printed in clear under the barcode


def test_skip_on_a_sheet():
    assert page_count(labels.labels_pdf(ITEMS[:1], layout="a4_3x8", copies=24, skip=1)) == 2
    with pytest.raises(ValidationFailed):
        labels.labels_pdf(ITEMS[:1], layout="a4_3x8", copies=1, skip=24)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"layout": "huge"}, "layout"),
        ({"copies": 0}, "copies"),
        ({"copies": labels.MAX_COPIES + 1}, "copies"),
        ({"copies": "x"}, "copies"),
        ({"symbology": "ean13"}, "symbology"),
    ],
)
def test_bad_options(kwargs, field):
    with pytest.raises(ValidationFailed) as exc:
        labels.labels_pdf(ITEMS, **{"layout": "roll_50x30", "copies": 1, **kwargs})
    assert exc.value.details["field"] == field


def test_bad_items():
    with pytest.raises(ValidationFailed):
        labels.labels_pdf([], layout="roll_50x30", copies=1)
    with pytest.raises(ValidationFailed):
        labels.labels_pdf([("a", "b", "")], layout="roll_50x30", copies=1)
    with pytest.raises(ValidationFailed) as exc:
        labels.labels_pdf([("a", "b", "序列号")], layout="roll_50x30", copies=1)
    assert exc.value.details["field"] == "symbology"
    # a QR code carries any text
    assert labels.labels_pdf(
        [("a", "b", "序列号")], layout="roll_50x30", copies=1, symbology="qr"
    ).startswith(b"%PDF")
    with pytest.raises(ValidationFailed, match="at most"):
        labels.labels_pdf(ITEMS * 20, layout="roll_50x30", copies=100)


def test_product_label_items(db):
    from kehu.catalog.models import Product

    a = Product(code="A-1", name="扫码枪", spec="1902", barcode="690123")
    b = Product(code="B-1", name="硒鼓")
    assert labels.product_label_items([a, b]) == [("扫码枪", "A-1 1902", "690123"), ("硒鼓", "B-1", "B-1")]
