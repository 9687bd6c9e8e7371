"""Normalising what people type about products: the name + specification key behind the duplicate
warning, pinyin initials for search, and the characters a product code or barcode may hold."""

from __future__ import annotations

import re
import unicodedata

from kehu.customers.normalize import pinyin_initials

__all__ = ["product_key", "pinyin_initials", "fold_text", "CODE_RE", "BARCODE_RE", "SERIAL_PREFIX_RE"]

# Separators that do not tell two models apart: "LQ-630K" = "LQ 630K" = "lq630k".
_NOISE = re.compile(r"[\s\u3000\-_/\\.,，。、·・()（）\[\]【】'\"“”‘’]+")

# A product code: letters, digits and - _ . / (no spaces: it is typed into scanners and URLs).
CODE_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z\-_./]*$")
# Code 128 encodes printable ASCII.
BARCODE_RE = re.compile(r"^[\x21-\x7e]+$")
SERIAL_PREFIX_RE = re.compile(r"^[0-9A-Za-z\-]*$")


def fold_text(text: str) -> str:
    """Full-width to half-width (NFKC), lower case, separators removed."""
    return _NOISE.sub("", unicodedata.normalize("NFKC", text or "")).lower()


def product_key(name: str, spec: str = "") -> str:
    """The key under which two spellings of one product meet: ``("激光打印机", "LQ-630K")`` and
    ``("激光打印机 ", "ＬＱ630k")`` give the same key."""
    return f"{fold_text(name)}|{fold_text(spec)}"[:250]
