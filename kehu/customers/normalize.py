"""Normalising what people type: company names (for duplicate checks), phone numbers (for caller ID
and duplicate checks) and pinyin initials (``bjhx`` finds 北京华夏)."""

from __future__ import annotations

import re
import unicodedata

from pypinyin import Style, lazy_pinyin

# Legal-form suffixes that do not tell two companies apart, longest first.
COMPANY_SUFFIXES = sorted(
    [
        "股份有限公司",
        "有限责任公司",
        "有限公司",
        "集团有限公司",
        "集团公司",
        "集团",
        "公司",
        "co.,ltd.",
        "co., ltd.",
        "co.,ltd",
        "co. ltd.",
        "co ltd",
        "company limited",
        "limited",
        "ltd.",
        "ltd",
        "inc.",
        "inc",
        "corp.",
        "corporation",
    ],
    key=len,
    reverse=True,
)
_SPACES = re.compile(r"[\s\u3000]+")
_PUNCT = re.compile(r"[()（）\[\]【】·・.,，。、\-_/\\'\"“”‘’]+")


def fold(text: str) -> str:
    """Full-width to half-width (NFKC), lower case, no spaces."""
    return _SPACES.sub("", unicodedata.normalize("NFKC", text or "")).lower()


def normalize_company_name(name: str) -> str:
    """The key under which two spellings of one company meet: 北京华夏科技有限公司, 北京华夏科技有限责任公司
    and "北京 华夏科技（有限公司）" all become 北京华夏科技."""
    text = fold(name)
    text = _PUNCT.sub("", text)
    changed = True
    while changed and text:
        changed = False
        for suffix in COMPANY_SUFFIXES:
            key = _PUNCT.sub("", fold(suffix))
            if key and text.endswith(key) and len(text) > len(key):
                text = text[: -len(key)]
                changed = True
                break
    return text


def pinyin_initials(name: str) -> str:
    """北京华夏科技 → bjhxkj (letters and digits of other scripts are kept as typed)."""
    out = []
    for part in lazy_pinyin(
        unicodedata.normalize("NFKC", name or ""), style=Style.FIRST_LETTER, errors="default"
    ):
        out.append(re.sub(r"[^0-9a-z]", "", part.lower()))
    return "".join(out)[:60]


_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_PHONE_EXT = re.compile(r"(?:转|ext\.?|x|#|分机)\s*\d+\s*$", re.IGNORECASE)


def normalize_phone(raw: str) -> str:
    """The digits that identify a line: +86 / 0086 / 86 prefixes, spaces, dashes, brackets and
    extensions removed.  ``+86 138-0013-8000`` → ``13800138000``; ``(010) 6552 1234 转 808`` →
    ``01065521234``.  Returns "" when there are not enough digits to be a phone number."""
    text = unicodedata.normalize("NFKC", raw or "").strip()
    text = _PHONE_EXT.sub("", text)
    digits = re.sub(r"\D", "", text)
    international = False
    if text.startswith("+") and digits.startswith("86"):
        digits, international = digits[2:], True
    elif digits.startswith("0086"):
        digits, international = digits[4:], True
    elif digits.startswith("86") and len(digits) == 13 and digits[2] == "1":
        digits = digits[2:]
    if international and not _MOBILE.match(digits) and not digits.startswith("0"):
        digits = "0" + digits  # +86 10 6552 1234 is the Beijing line 010-6552 1234
    if len(digits) == 12 and digits.startswith("01") and digits[2] in "3456789":
        digits = digits[1:]  # a mobile dialled with a trunk 0
    return digits if 5 <= len(digits) <= 15 else ""


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def is_valid_phone(raw: str) -> bool:
    return bool(normalize_phone(raw))


def is_valid_mobile(raw: str) -> bool:
    """A mobile field: a mainland mobile (11 digits, 1[3-9]…), or a landline with its area code."""
    digits = normalize_phone(raw)
    if digits.startswith("1"):
        return bool(_MOBILE.match(digits))
    return len(digits) >= 7


def is_valid_email(raw: str) -> bool:
    return bool(_EMAIL.match((raw or "").strip()))
