"""Customer import (导入): xlsx or CSV files of customers (with their contacts) and of contacts of
existing customers; a dry run that reports every bad row; the import itself as a background job.

The steps, and where they live:

1. **Upload** (:meth:`ImportSession.start`).  A file over :data:`MAX_BYTES` is refused before it is
   read.  The format comes from the content, not the name: a zip is an xlsx workbook (openpyxl,
   ``read_only=True``, first sheet, values only — formulas are never evaluated), an old ``.xls``
   gets a clear "save it as .xlsx", anything else is CSV.  CSV encodings: UTF-8 (with or without
   BOM), else GBK/GB18030 (a superset of GBK), checked over the whole file with strict decoders;
   UTF-16, binary files and text that is neither get a clear error.  Row 1 holds the headings; at
   most :data:`MAX_ROWS` rows.  The cells are cached as text in
   ``settings.DATA_DIR/imports/<session id>/`` (JSON), so later steps never parse the file again.
2. **Column mapping**.  Headings are recognised in Chinese or English (:data:`CUSTOMER_FIELDS`,
   :data:`CONTACT_FILE_FIELDS`); the user may change every column's field before the dry run.
3. **Dry run** (:meth:`ImportSession.check`): every row is validated the way the services validate
   (``services._clean_customer`` / ``_clean_contact``: required name, phone and e-mail formats,
   ratings 1–5; plus lengths, dictionary values that exist and are enabled, numbers, dates, the
   owner and the importer's right to give them customers) and checked for duplicates with the
   semantics of ``services.find_duplicates``: the same normalised name, phone (against customers'
   phones and contacts' mobiles and phones) or tax number, archived customers included — both
   against the database and against the rows above in the file.  The report lists every bad row
   with its row number as the spreadsheet shows it (headings = row 1), column and reason.
4. **Import** (:func:`import_job`, job ``customers.import``): the database may have changed since
   the dry run, so the job checks again before it writes.  The dry run kept its outcome in the
   session folder with a fingerprint of everything it read from the database
   (:meth:`ImportSession.keep_outcome`); if the files, the mapping and that fingerprint still hold
   — a re-check that repeats only the database lookups for the file's keys, the users, the
   dictionaries and the importer's rights, no row converted again — the job writes that outcome;
   otherwise it validates every row again (:meth:`ImportSession.kept_outcome`).  "All or nothing":
   one transaction, and any bad row means nothing is written.  "Valid rows only": bad rows are
   skipped, each batch of :data:`BATCH_SIZE` rows is its own transaction.

Why a write path of its own instead of ``services.create_customer`` per row (services.py stays the
one door for single writes; this is the bulk door, kept beside the import that needs it): the
budget is 20,000 rows per second, validation and de-duplication included.  ``create_customer``
costs several queries per row (a duplicate search, a locked number counter, the insert, the tags,
the audit entry): a few hundred rows per second.  So:

* validation runs in memory: the database's name keys, phone keys (customers' phones, contacts'
  mobiles and phones) and tax numbers are loaded into dicts once, the dictionaries and the users
  once; the rules mirror ``services`` rule by rule and reuse ``normalize.py``.  The two hot helpers
  (:func:`name_key`, :func:`pinyin_key`) compute exactly what ``normalize_company_name`` and
  ``pinyin_initials`` compute, only faster (suffixes looked up by last character; pypinyin's
  segmentation per run of characters and its conversion per word remembered) — a test, with
  generated names, holds them equal;
* numbers come in blocks: :func:`kehu.core.numbering.reserve_numbers` takes a batch's numbers with
  one locked counter update, in the batch's transaction (gap-free, like ``next_number``);
* rows are written in batches of :data:`BATCH_SIZE` with one prepared ``INSERT`` per table and
  batch (``executemany``; ``COPY`` on PostgreSQL) rather than ``bulk_create``: measured, Django's
  ``bulk_create`` spent ~250 µs per imported row preparing values and, on SQLite, sending 27
  customers per statement; see :class:`_Insert`.  Nothing else changes: the same columns, the same
  defaults, the same transaction (one for "all or nothing", one per batch for "valid rows only").

Audit trail: django-auditlog does not see bulk writes, and one audit row per customer (with its
JSON) costs about as much as the customer row itself, so the import records **one audit entry per
import**, on its job: who, when, how many customers and contacts, the files, and the first and last
customer number issued (numbers are consecutive per import).  The customers themselves carry
``created_by`` and ``created_at``.

For the benchmark: :meth:`ImportSession.start` (read and cache the file), :meth:`ImportSession.check`
(the dry run) and :meth:`ImportSession.execute` (the job's body; ``ctx=None`` outside a job) can be
timed one by one, without the web pages.

Rights: the page needs ``customers.import`` and a user who is not read-only.  An account manager
imports only for themselves (the 客户经理 column empty or themselves); a supervisor for users in
their department scope; an administrator for anybody.  Contacts may be added only to customers the
user may edit (``services.can_edit_customer`` semantics).
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime as dt
import functools
import gc
import hashlib
import json
import logging
import operator
import pickle
import re
import shutil
import time
import unicodedata
import uuid
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import cached_property, partial
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import F, Lookup, Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kehu.core import choices, jobs, numbering
from kehu.core.errors import PermissionDeniedError, ValidationFailed
from kehu.core.maintenance import flush_search_indexes
from kehu.core.models import DictEntry
from kehu.core.registry import registry

from .models import Contact, Customer, CustomerShare, Tag, month_day
from .normalize import _PUNCT, COMPANY_SUFFIXES, fold, is_valid_email, is_valid_mobile, normalize_phone

log = logging.getLogger(__name__)

MAX_BYTES = 50 * 1024 * 1024
MAX_ROWS = 200_000
MAX_COLUMNS = 200
BATCH_SIZE = 2000
PROGRESS_EVERY = 5000
SESSION_DAYS = 3
RIGHT = "customers.import"

ALL_OR_NOTHING = "all"
VALID_ONLY = "valid"
MODES = {ALL_OR_NOTHING: gettext_lazy("All or nothing"), VALID_ONLY: gettext_lazy("Valid rows only")}

CUSTOMERS = "customers"
CONTACTS = "contacts"
FILE_KINDS = {CUSTOMERS: gettext_lazy("Customers"), CONTACTS: gettext_lazy("Contacts")}


class ImportFileError(ValidationFailed):
    """The file as a whole cannot be imported (too big, wrong encoding, no headings…)."""

    code = "import_file"


class SessionNotFound(LookupError):
    pass


# --- the columns ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportField:
    key: str
    label: Any
    headers: tuple[str, ...]  # Chinese heading, English heading, other spellings
    required: bool = False
    example: str = ""

    @property
    def zh(self) -> str:
        return self.headers[0]

    @property
    def en(self) -> str:
        return self.headers[1]


def _f(key, label, zh, en, *aliases, required=False, example=""):
    return ImportField(key, label, (zh, en, *aliases), required, example)


CUSTOMER_FIELDS: list[ImportField] = [
    _f(
        "name",
        gettext_lazy("Customer name"),
        "客户名称",
        "Name",
        "customer name",
        "客户",
        "名称",
        "公司名称",
        "company",
        "company name",
        "customer",
        required=True,
        example="北京华夏科技有限公司",
    ),
    _f("short_name", gettext_lazy("Short name"), "简称", "Short name", "客户简称", example="华夏科技"),
    _f("kind", gettext_lazy("Kind"), "客户类型", "Kind", "类型", "type", "customer type", example="公司"),
    _f("level", gettext_lazy("Level"), "等级", "Level", "客户等级", "customer level"),
    _f("region", gettext_lazy("Region"), "地区", "Region", "区域"),
    _f("industry", gettext_lazy("Industry"), "行业", "Industry", "所属行业"),
    _f("source", gettext_lazy("Source"), "来源", "Source", "客户来源", "customer source"),
    _f("status", gettext_lazy("Status"), "状态", "Status", "客户状态", example="意向"),
    _f(
        "credit_rating",
        gettext_lazy("Credit rating (1–5)"),
        "信用度",
        "Credit rating",
        "信用等级",
        "信用",
        "credit",
        example="4",
    ),
    _f("satisfaction", gettext_lazy("Satisfaction (1–5)"), "满意度", "Satisfaction", example="5"),
    _f(
        "address",
        gettext_lazy("Address"),
        "地址",
        "Address",
        "公司地址",
        "详细地址",
        example="北京市海淀区中关村大街1号",
    ),
    _f(
        "phone",
        gettext_lazy("Phone"),
        "电话",
        "Phone",
        "客户电话",
        "公司电话",
        "telephone",
        "tel",
        example="010-65521234",
    ),
    _f("fax", gettext_lazy("Fax"), "传真", "Fax", example="010-65521235"),
    _f(
        "website",
        gettext_lazy("Website"),
        "网址",
        "Website",
        "网站",
        "url",
        "web",
        example="www.huaxia.example",
    ),
    _f(
        "postcode",
        gettext_lazy("Postcode"),
        "邮编",
        "Postcode",
        "邮政编码",
        "zip",
        "postal code",
        example="100080",
    ),
    _f(
        "legal_representative",
        gettext_lazy("Legal representative"),
        "法人代表",
        "Legal representative",
        "法定代表人",
        "法人",
        example="张伟",
    ),
    _f(
        "registered_capital",
        gettext_lazy("Registered capital (10k yuan)"),
        "注册资本",
        "Registered capital",
        example="500",
    ),
    _f(
        "annual_revenue",
        gettext_lazy("Annual revenue (10k yuan)"),
        "年营业额",
        "Annual revenue",
        "营业额",
        example="1200",
    ),
    _f("bank", gettext_lazy("Bank"), "开户银行", "Bank", "开户行", example="中国工商银行北京中关村支行"),
    _f(
        "bank_account",
        gettext_lazy("Bank account"),
        "银行账号",
        "Bank account",
        "账号",
        "银行帐号",
        example="0200001234567890123",
    ),
    _f(
        "tax_number",
        gettext_lazy("Tax number"),
        "税号",
        "Tax number",
        "纳税人识别号",
        "统一社会信用代码",
        "tax id",
        example="91110108MA01ABCD1X",
    ),
    _f(
        "opening_receivable",
        gettext_lazy("Opening receivable"),
        "期初应收",
        "Opening receivable",
        "期初应收款",
        example="0",
    ),
    _f("tags", gettext_lazy("Tags (comma-separated)"), "标签", "Tags", "tag", example="老客户,高潜力"),
    _f("notes", gettext_lazy("Notes"), "备注", "Notes", "note", "remarks", "说明"),
    _f(
        "owner",
        gettext_lazy("Owner (user name)"),
        "客户经理",
        "Owner",
        "负责人",
        "业务员",
        "所属用户",
        "account manager",
    ),
    _f(
        "contact_name",
        gettext_lazy("Contact"),
        "联系人",
        "Contact",
        "contact name",
        "联系人姓名",
        example="张三",
    ),
    _f("contact_gender", gettext_lazy("Contact's gender"), "性别", "Gender", "sex", example="男"),
    _f(
        "contact_title",
        gettext_lazy("Contact's title"),
        "职务",
        "Title",
        "职位",
        "job title",
        example="采购经理",
    ),
    _f(
        "contact_mobile",
        gettext_lazy("Contact's mobile"),
        "手机",
        "Mobile",
        "手机号",
        "手机号码",
        "联系人手机",
        example="13800138000",
    ),
    _f(
        "contact_phone",
        gettext_lazy("Contact's phone"),
        "联系人电话",
        "Contact phone",
        "办公电话",
        example="010-65521236",
    ),
    _f(
        "contact_email",
        gettext_lazy("Contact's e-mail"),
        "邮箱",
        "E-mail",
        "email",
        "电子邮件",
        "电子邮箱",
        "mail",
        example="zhangsan@huaxia.example",
    ),
    _f("contact_wechat", gettext_lazy("Contact's WeChat"), "微信", "WeChat", "微信号", example="zhangsan_hx"),
    _f(
        "contact_birthday",
        gettext_lazy("Contact's birthday"),
        "生日",
        "Birthday",
        "出生日期",
        example="1985-06-01",
    ),
]

CONTACT_FILE_FIELDS: list[ImportField] = [
    _f("customer_number", gettext_lazy("Customer number"), "客户编号", "Customer number", "编号", "number"),
    _f(
        "customer_name",
        gettext_lazy("Customer name"),
        "客户名称",
        "Customer name",
        "客户",
        "customer",
        "公司名称",
        "company",
        example="北京华夏科技有限公司",
    ),
    _f(
        "contact_name",
        gettext_lazy("Contact"),
        "联系人",
        "Contact",
        "姓名",
        "name",
        "contact name",
        "联系人姓名",
        required=True,
        example="李四",
    ),
    _f("contact_gender", gettext_lazy("Gender"), "性别", "Gender", "sex", example="女"),
    _f("contact_title", gettext_lazy("Title"), "职务", "Title", "职位", "job title", example="财务主管"),
    _f(
        "contact_mobile",
        gettext_lazy("Mobile"),
        "手机",
        "Mobile",
        "手机号",
        "手机号码",
        example="13900139000",
    ),
    _f(
        "contact_phone",
        gettext_lazy("Phone"),
        "联系人电话",
        "Phone",
        "电话",
        "办公电话",
        "contact phone",
        example="010-65521237",
    ),
    _f(
        "contact_email",
        gettext_lazy("E-mail"),
        "邮箱",
        "E-mail",
        "email",
        "电子邮件",
        "电子邮箱",
        example="lisi@huaxia.example",
    ),
    _f("contact_wechat", gettext_lazy("WeChat"), "微信", "WeChat", "微信号"),
    _f("contact_birthday", gettext_lazy("Birthday"), "生日", "Birthday", "出生日期"),
    _f("contact_notes", gettext_lazy("Notes"), "备注", "Notes", "note", "remarks"),
]

FIELDS_BY_KIND = {CUSTOMERS: CUSTOMER_FIELDS, CONTACTS: CONTACT_FILE_FIELDS}
CONTACT_KEYS = {
    "contact_name",
    "contact_gender",
    "contact_title",
    "contact_mobile",
    "contact_phone",
    "contact_email",
    "contact_wechat",
    "contact_birthday",
    "contact_notes",
}

_HEADER_NOISE = re.compile(r"[\s*:：()（）\[\]【】_\-/.]+|必填|选填|required|optional")


def header_key(text: str) -> str:
    return _HEADER_NOISE.sub("", fold(str(text or "")))


def detect_mapping(kind: str, headers: list[str]) -> list[str]:
    """The field of each column ("" = not imported), from its heading; the first column wins."""
    lookup: dict[str, str] = {}
    for f in FIELDS_BY_KIND[kind]:
        for h in (*f.headers, str(f.label)):
            lookup.setdefault(header_key(h), f.key)
    taken: set[str] = set()
    out = []
    for h in headers:
        key = lookup.get(header_key(h), "")
        if key in taken:
            key = ""
        if key:
            taken.add(key)
        out.append(key)
    return out


def mapping_problems(kind: str, mapping: list[str]) -> list[str]:
    """What keeps a mapping from being checked: a field twice, a required field missing."""
    problems = []
    labels = {f.key: f.label for f in FIELDS_BY_KIND[kind]}
    seen: set[str] = set()
    for key in mapping:
        if key and key not in labels:
            problems.append(_("Unknown field %(field)s.") % {"field": key})
        elif key in seen:
            problems.append(_("Two columns are mapped to “%(field)s”.") % {"field": labels[key]})
        if key:
            seen.add(key)
    for f in FIELDS_BY_KIND[kind]:
        if f.required and f.key not in seen:
            problems.append(
                _(
                    "The file has no column for “%(field)s” (heading %(zh)s or %(en)s); "
                    "map one of its columns to it."
                )
                % {"field": f.label, "zh": f.zh, "en": f.en}
            )
    if kind == CONTACTS and not seen & {"customer_number", "customer_name"}:
        problems.append(
            _(
                "The contacts file needs a column with the customer number (客户编号) "
                "or the customer name (客户名称)."
            )
        )
    return problems


# --- reading files --------------------------------------------------------------------------------


def check_size(size: int | None, name: str = "") -> None:
    if size is not None and size > MAX_BYTES:
        raise ImportFileError(
            _(
                "%(name)s has %(size)s MB; an import file may have at most %(max)s MB. "
                "Split it into smaller files."
            )
            % {
                "name": name or _("The file"),
                "size": f"{size / 1024 / 1024:.1f}",
                "max": MAX_BYTES // 1024 // 1024,
            }
        )


def sniff_format(path: Path) -> str:
    with open(path, "rb") as fh:
        head = fh.read(8)
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise ImportFileError(
            _("This is an old Excel file (.xls). Open it in Excel or WPS and save it as .xlsx or as CSV.")
        )
    return "csv"


_BAD_TEXT = re.compile(r"[\x00-\x08\x0e-\x1f\x7f\ufffd]")  # control characters no spreadsheet writes


def _decodes(path: Path, encoding: str, *, strict_text: bool = False) -> bool:
    """The whole file decodes; with ``strict_text`` its start also looks like text (GB18030 decodes
    much that is not: a strict UTF-8 decode is evidence enough on its own)."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    try:
        with open(path, "rb") as fh:
            first = strict_text
            while chunk := fh.read(1 << 20):
                text = decoder.decode(chunk)
                if first and _BAD_TEXT.search(text[:65536]):
                    return False
                first = False
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _looks_like_utf16(head: bytes) -> bool:
    for encoding in ("utf-16-le", "utf-16-be"):
        try:
            text = head[: len(head) // 2 * 2].decode(encoding)
        except UnicodeDecodeError:
            continue
        if text and not _BAD_TEXT.search(text):
            return True
    return False


ENCODING_LABELS = {"utf-8-sig": "UTF-8", "gb18030": "GBK"}


def detect_encoding(path: Path) -> str:
    """utf-8-sig or gb18030 (GBK's superset); anything else is a clear error."""
    with open(path, "rb") as fh:
        head = fh.read(65536)
    if head.startswith(
        (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)
    ) or (b"\x00" in head and _looks_like_utf16(head)):
        raise ImportFileError(
            _(
                "The file is encoded as UTF-16 (Excel's “Unicode text”). "
                "Save it as “CSV UTF-8” or as an Excel workbook (.xlsx)."
            )
        )
    if b"\x00" in head:
        raise ImportFileError(_("This is not a spreadsheet: upload an Excel workbook (.xlsx) or a CSV file."))
    if _decodes(path, "utf-8-sig"):
        return "utf-8-sig"
    if _decodes(path, "gb18030", strict_text=True):
        return "gb18030"
    raise ImportFileError(
        _(
            "The file's encoding is neither UTF-8 nor GBK, or the file is not text. "
            "Save it as “CSV UTF-8” or as an Excel workbook (.xlsx)."
        )
    )


def _cell_text(v) -> str:
    if v is None:
        return ""
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() and abs(v) < 1e16 else repr(v)
    if isinstance(v, dt.datetime):
        return v.date().isoformat() if v.time() == dt.time() else v.isoformat(sep=" ")
    if isinstance(v, dt.date | dt.time):
        return v.isoformat()
    text = getattr(v, "text", None)  # ArrayFormula and DataTableFormula: the formula
    return str(text if text is not None else v)


MAX_UNPACKED_BYTES = 20 * MAX_BYTES


def _xlsx_rows(path: Path):
    import zipfile

    from openpyxl import load_workbook

    try:
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError):
        raise ImportFileError(_("The workbook cannot be read: it is damaged or not an .xlsx file."))
    if unpacked > MAX_UNPACKED_BYTES:  # a "zip bomb": small to upload, huge to read
        raise ImportFileError(
            _("The workbook unpacks to more than %(max)s MB; split it into smaller files.")
            % {"max": MAX_UNPACKED_BYTES // 1024 // 1024}
        )

    fh = open(path, "rb")  # noqa: SIM115 - closed below; a file object spares openpyxl's check of the name
    try:
        wb = load_workbook(fh, read_only=True, data_only=False)
    except Exception:
        fh.close()
        raise ImportFileError(_("The workbook cannot be read: it is damaged or not an .xlsx file."))
    try:
        if not wb.worksheets:
            raise ImportFileError(_("The workbook has no sheets."))
        ws = wb.worksheets[0]
        for n, row in enumerate(ws.iter_rows(values_only=True), start=1):
            yield n, [v if type(v) is str else _cell_text(v) for v in row[:MAX_COLUMNS]]
    except ImportFileError:
        raise
    except Exception:
        raise ImportFileError(_("The workbook cannot be read: it is damaged or not an .xlsx file."))
    finally:
        wb.close()
        fh.close()


def _csv_rows(path: Path, encoding: str):
    with open(path, encoding=encoding, newline="") as fh:
        sample = fh.readline()
        counts = {d: sample.count(d) for d in (",", "\t", ";")}
        delimiter = max(counts, key=counts.get) if any(counts.values()) else ","
        fh.seek(0)
        reader = csv.reader(fh, delimiter=delimiter)
        n = 0
        try:
            for n, row in enumerate(reader, start=1):  # noqa: B007 - n is used in the except clause
                yield n, row[:MAX_COLUMNS]
        except csv.Error as exc:
            raise ImportFileError(_("Row %(row)s cannot be read: %(error)s") % {"row": n + 1, "error": exc})


def column_letter(i: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(i + 1)


def read_table(path: Path) -> tuple[dict, list[list]]:
    """Read a file: (description, rows).  Each row is ``[row number, cell text…]``; empty rows are
    left out, the numbers stay those of the spreadsheet."""
    fmt = sniff_format(path)
    encoding = ""
    if fmt == "xlsx":
        source = _xlsx_rows(path)
    else:
        encoding = detect_encoding(path)
        source = _csv_rows(path, encoding)
    headers: list[str] | None = None
    width = 0
    rows: list[list] = []
    for n, cells in source:
        if headers is not None and len(cells) > width:
            del cells[width:]
        while cells and not cells[-1].strip():
            cells.pop()
        if headers is None:
            if not cells:
                continue
            if n != 1:
                raise ImportFileError(_("Row 1 must hold the column headings."))
            headers = [
                str(h).strip() or _("Column %(letter)s") % {"letter": column_letter(i)}
                for i, h in enumerate(cells)
            ]
            width = len(headers)
            continue
        if not cells:
            continue
        if len(rows) >= MAX_ROWS:
            raise ImportFileError(
                _("The file has more than %(max)s rows. Split it into smaller files.")
                % {"max": f"{MAX_ROWS:,}"}
            )
        cells.insert(0, n)
        rows.append(cells)
    if headers is None:
        raise ImportFileError(_("The file is empty."))
    if not rows:
        raise ImportFileError(_("The file has headings but no rows to import."))
    samples = [[] for _h in headers]
    for r in rows[:200]:
        for i, v in enumerate(r[1 : width + 1]):
            if v and len(samples[i]) < 3:
                samples[i].append(v[:40])
    return {
        "format": fmt,
        "encoding": ENCODING_LABELS.get(encoding, encoding),
        "headers": headers,
        "rows": len(rows),
        "samples": samples,
    }, rows


# --- the fast equivalents of normalize.normalize_company_name and pinyin_initials -----------------

_SUFFIX_KEYS: dict[str, list[str]] = {}  # by last character, longest first as in COMPANY_SUFFIXES
for _key in (_PUNCT.sub("", fold(s)) for s in COMPANY_SUFFIXES):
    if _key:
        _SUFFIX_KEYS.setdefault(_key[-1], []).append(_key)


def name_key(name: str) -> str:
    """``normalize.normalize_company_name`` with the suffix keys computed once: a suffix can only
    match when it ends with the name's last character, so only those are tried, in the same order."""
    text = _PUNCT.sub("", fold(name))
    changed = True
    while changed and text:
        changed = False
        for key in _SUFFIX_KEYS.get(text[-1], ()):
            if text.endswith(key) and len(text) > len(key):
                text = text[: -len(key)]
                changed = True
                break
    return text


_NOT_ALNUM = re.compile(r"[^0-9a-z]")
_runs = _han = None
_run_memo: dict[str, str] = {}
_word_memo: dict[str, str] = {}


def _run_initials(run: str) -> str:
    """The initials of one run of Chinese characters (or of other characters), exactly as
    ``pypinyin.lazy_pinyin(..., style=FIRST_LETTER)`` computes them: its phrase segmentation
    (``mmseg``) and its conversion, word by word."""
    from pypinyin import Style
    from pypinyin.constants import PHRASES_DICT, RE_HANS
    from pypinyin.core import _default_pinyin
    from pypinyin.seg import mmseg

    converter = _default_pinyin._converter
    words = list(mmseg.seg.cut(run)) if RE_HANS.match(run) and PHRASES_DICT else [run]
    out = []
    memo = _word_memo
    for word in words:
        found = memo.get(word)
        if found is None:
            found = "".join(
                item
                for items in converter.convert(word, Style.FIRST_LETTER, False, "default", True)
                for item in items
            )
            if len(memo) < 200_000:
                memo[word] = found
        out.append(found)
    return "".join(out)


def pinyin_key(name: str) -> str:
    """``normalize.pinyin_initials``, fast: pypinyin splits a name into runs of Chinese and other
    characters and segments each run on its own, so the initials of a run can be remembered
    (company names repeat their runs: 有限公司, 科技, the cities).  A test holds the two equal."""
    global _runs, _han
    if _runs is None:
        from pypinyin.constants import RE_HANS

        han = RE_HANS.pattern[len("^(?:") : -len(")+$")]  # the character class pypinyin splits on
        assert han.startswith("[") and han.endswith("]"), han
        _runs = re.compile(f"{han}+|[^{han[1:]}+", re.S)
        _han = re.compile(han)
    text = unicodedata.normalize("NFKC", name or "")
    if not text:
        return ""
    memo = _run_memo
    parts = []
    for run in _runs.findall(text):
        if not _han.match(run):
            parts.append(_NOT_ALNUM.sub("", run.lower()))  # pypinyin keeps other characters as they are
            continue
        found = memo.get(run)
        if found is None:
            found = _NOT_ALNUM.sub("", _run_initials(run).lower())
            if len(memo) < 200_000:
                memo[run] = found
        parts.append(found)
    return "".join(parts)[:60]


# --- converting cells -----------------------------------------------------------------------------


class Bad(Exception):
    def __init__(self, message):
        self.message = str(message)
        super().__init__(self.message)


def _text(max_length: int):
    def conv(raw: str) -> str | None:
        v = raw.strip()
        if len(v) > max_length:
            raise Bad(_("Longer than %(max)s characters.") % {"max": max_length})
        return v or None

    return conv


def _upper(max_length: int):
    inner = _text(max_length)

    def conv(raw: str) -> str | None:
        v = inner(raw)
        return v.upper() if v else None

    return conv


def _email(raw: str) -> str | None:
    v = raw.strip()
    if not v:
        return None
    if not is_valid_email(v) or len(v) > 254:
        raise Bad(_("%(email)s is not an e-mail address.") % {"email": v})
    return v


_MONEY_NOISE = re.compile(r"[,，\s¥￥元]")
_CENT = Decimal("0.01")
_MONEY_MAX = Decimal(10) ** 12


def _decimal(signed: bool):
    def conv(raw: str) -> Decimal:
        text = _MONEY_NOISE.sub("", unicodedata.normalize("NFKC", raw))
        try:
            v = Decimal(text)
        except InvalidOperation:
            raise Bad(_("%(value)s is not a number.") % {"value": raw.strip()})
        if not v.is_finite():
            raise Bad(_("%(value)s is not a number.") % {"value": raw.strip()})
        if not signed and v < 0:
            raise Bad(_("Must not be negative."))
        v = v.quantize(_CENT, rounding=ROUND_HALF_UP)
        if abs(v) >= _MONEY_MAX:
            raise Bad(_("The number is too large."))
        return v

    return conv


_DATE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ T]00:00(?::00)?)?$")


def _date(raw: str) -> dt.date:
    m = _DATE.match(unicodedata.normalize("NFKC", raw).strip())
    try:
        if not m:
            raise ValueError
        d = dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        if not 1900 <= d.year <= 2100:
            raise ValueError
    except ValueError:
        raise Bad(_("%(value)s is not a date (use 2026-11-23).") % {"value": raw.strip()})
    return d


_TAG_SPLIT = re.compile(r"[,，、;；]+")


def _tags(raw: str) -> list[str]:
    names: list[str] = []
    for part in _TAG_SPLIT.split(raw):
        name = part.strip()[:30]
        if name and name not in names:
            names.append(name)
    return names or None


def _choices(aliases: dict[str, str], choices) -> Any:
    """A choice by its code, its label (in the user's language, Chinese or English) or an alias."""
    lookup = {fold(k): v for k, v in aliases.items()}
    for language in ("en", "zh-hans", None):
        with translation.override(language) if language else contextlib.nullcontext():
            for value, label in choices:
                lookup[fold(str(value))] = value
                lookup[fold(str(label))] = value
    allowed = "、".join(str(label) for _v, label in choices)

    def conv(raw: str) -> str:
        found = lookup.get(fold(raw))
        if found is None:
            raise Bad(_("%(value)s is not one of: %(allowed)s.") % {"value": raw.strip(), "allowed": allowed})
        return found

    return conv


def _remembered(conv):
    """``conv`` with a memo of its answers (and of its refusals) per cell text."""
    memo: dict[str, Any] = {}

    def remembered(raw: str):
        found = memo.get(raw, memo)
        if found is memo:
            try:
                found = conv(raw)
            except Bad as exc:
                found = exc
            if len(memo) < 10_000:
                memo[raw] = found
        if isinstance(found, Bad):
            raise found
        return found

    return remembered


KIND_ALIASES = {
    "公司": "company",
    "企业": "company",
    "单位": "company",
    "法人": "company",
    "个人": "individual",
    "自然人": "individual",
    "person": "individual",
}
STATUS_ALIASES = {
    "沉默": "dormant",
    "沉默客户": "dormant",
    "潜在": "prospect",
    "潜在客户": "prospect",
    "意向": "prospect",
    "意向客户": "prospect",
    "签约": "signed",
    "已签约": "signed",
    "签约客户": "signed",
    "正式客户": "signed",
    "成交": "signed",
    "休眠": "dormant",
    "休眠客户": "dormant",
    "沉睡": "dormant",
    "流失": "lost",
    "已流失": "lost",
    "流失客户": "lost",
}
GENDER_ALIASES = {
    "男": "m",
    "女": "f",
    "male": "m",
    "female": "f",
    "男士": "m",
    "女士": "f",
    "先生": "m",
    "m": "m",
    "f": "f",
}

TEXT_LIMITS = {
    "name": 120,
    "short_name": 60,
    "address": 200,
    "fax": 40,
    "website": 200,
    "postcode": 10,
    "legal_representative": 40,
    "bank": 100,
    "bank_account": 40,
    "notes": 10_000,
    "contact_name": 40,
    "contact_title": 40,
    "contact_wechat": 40,
    "contact_notes": 10_000,
    "customer_number": 30,
    "customer_name": 120,
}
DICT_FIELDS = {
    "level": "customer_level",
    "region": "region",
    "industry": "industry",
    "source": "customer_source",
}


# --- validation -----------------------------------------------------------------------------------


@dataclass(eq=False)
class NewCustomer:
    row: int
    fields: dict
    tags: list = field(default_factory=list)
    contacts: list = field(default_factory=list)  # (row, fields)
    pk: int | None = None


@dataclass(eq=False)
class NewContact:
    row: int
    fields: dict
    customer_id: int | None = None
    new_customer: NewCustomer | None = None


@dataclass
class Outcome:
    customers: list[NewCustomer] = field(default_factory=list)
    contacts: list[NewContact] = field(default_factory=list)  # rows of the contacts file
    errors: list[list] = field(default_factory=list)  # [kind, row, column, value, message]
    rows: dict = field(default_factory=dict)  # kind -> rows read
    bad_rows: set = field(default_factory=set)  # (kind, row)

    @property
    def contact_count(self) -> int:
        return len(self.contacts) + sum(len(c.contacts) for c in self.customers)

    def error(self, kind, row, column, value, message):
        self.errors.append([kind, row, str(column), str(value)[:200], str(message)])
        self.bad_rows.add((kind, row))


def _describe(number: str, name: str) -> str:
    return f"{number} {name}"


class Checker:
    """Validates the rows of one import for one user.  Everything the checks need from the
    database is loaded once, up front (a handful of queries whatever the number of rows).

    Everything read from the database is also noted, for the import job to reuse the dry run's
    outcome safely: :attr:`inputs` (what was looked up: the file's name, phone and tax keys, the
    customer numbers and names of a contacts file, the owners whose rights were checked) and
    :meth:`fingerprint` (what was found).  :meth:`recheck` repeats only those lookups — no row is
    converted again — and gives the fingerprint of the database as it is now."""

    def __init__(self, by, progress=None):
        self.by = by
        self.progress = progress or (lambda done: None)
        self.now = timezone.now()
        self._owner_cache: dict[str, Any] = {}
        self.phone_key_of: dict[str, str] = {}
        self.inputs: dict[str, Any] = {}
        self._owners_checked: set[int] = set()
        self.db_names: dict[str, str] = {}
        self.db_phones: dict[str, str] = {}
        self.db_taxes: dict[str, str] = {}
        self._references: tuple | None = None
        self._load_dictionaries()
        from kehu.accounts.models import User

        self.users = list(User.objects.all())
        self.by_username = {u.username: u for u in self.users}
        self.by_username_ci: dict[str, list] = {}
        self.by_full_name: dict[str, list] = {}
        for u in self.users:
            self.by_username_ci.setdefault(u.username.lower(), []).append(u)
            if u.full_name:
                self.by_full_name.setdefault(u.full_name.strip(), []).append(u)
        self.scope_departments = by.scope_department_ids() if not by.is_administrator else set()
        self.may_assign = by.is_administrator or (by.has_right("customers.assign") and not by.is_read_only)
        # The importing user's rights and scope as the checks use them (may_edit, check_owner).
        self._by_state = (
            by.pk,
            by.is_active,
            by.is_administrator,
            by.is_read_only,
            by.data_scope,
            tuple(sorted(by.rights)),
            tuple(sorted(self.scope_departments)),
            self.may_assign,
        )
        kinds, statuses, genders = Customer.Kind.choices, Customer.Status.choices, Contact.Gender.choices
        self.converters = {
            "kind": _choices(KIND_ALIASES, kinds),
            "status": _choices(STATUS_ALIASES, statuses),
            "contact_gender": _choices(GENDER_ALIASES, genders),
            "phone": self._phone,
            "contact_mobile": self._mobile,
            "contact_phone": self._phone,
            "contact_email": _email,
            "tax_number": _upper(30),
            "credit_rating": self._rating,
            "satisfaction": self._rating,
            "registered_capital": _decimal(signed=False),
            "annual_revenue": _decimal(signed=False),
            "opening_receivable": _decimal(signed=True),
            "contact_birthday": _date,
            "tags": _tags,
            "owner": self._owner,
            "customer_number": _upper(30),
        }
        for key, max_length in TEXT_LIMITS.items():
            self.converters.setdefault(key, _text(max_length))
        for key, dict_type in DICT_FIELDS.items():
            self.converters[key] = self._dict_converter(dict_type)
        # Columns whose values repeat from row to row: convert each distinct value once.
        for key in (
            *DICT_FIELDS,
            "kind",
            "status",
            "contact_gender",
            "credit_rating",
            "satisfaction",
            "tags",
        ):
            self.converters[key] = _remembered(self.converters[key])

    def _phone(self, raw: str) -> str | None:
        """``services``' phone rule (``is_valid_phone``); the normalised key is kept for later."""
        v = raw.strip()
        if not v:
            return None
        key = normalize_phone(v)
        if not key:
            raise Bad(_("%(phone)s is not a phone number.") % {"phone": v})
        if len(v) > 40:
            raise Bad(_("Longer than %(max)s characters.") % {"max": 40})
        self.phone_key_of[v] = key
        return v

    def _mobile(self, raw: str) -> str | None:
        """A contact's mobile: ``services._clean_contact``'s rule (``is_valid_mobile``)."""
        v = raw.strip()
        if v and not is_valid_mobile(v):
            raise Bad(_("%(phone)s is not a phone number.") % {"phone": v})
        return self._phone(v)

    # dictionaries, ratings and owners
    def _load_dictionaries(self):
        self.dict_enabled: dict[str, dict[str, int]] = {}
        self.dict_disabled: dict[str, set[str]] = {}
        types = set(DICT_FIELDS.values()) | {"credit_rating"}
        entries = list(DictEntry.objects.filter(type__in=types))
        self._dict_rows = tuple((e.pk, e.type, e.code, e.label_zh, e.label_en, e.enabled) for e in entries)
        for e in entries:
            keys = {fold(e.code), fold(e.label_zh), fold(e.label_en)}
            if e.enabled:
                target = self.dict_enabled.setdefault(e.type, {})
                for k in keys:
                    target.setdefault(k, e.pk if e.type != "credit_rating" else e.code)
            else:
                self.dict_disabled.setdefault(e.type, set()).update(keys)

    def _dict_converter(self, dict_type: str):
        enabled = self.dict_enabled.get(dict_type, {})
        disabled = self.dict_disabled.get(dict_type, set())
        type_label = registry.dict_types.get(dict_type, dict_type)

        def conv(raw: str) -> int:
            key = fold(raw)
            found = enabled.get(key)
            if found is None:
                if key in disabled:
                    raise Bad(
                        _("“%(value)s” is disabled in the dictionary “%(type)s”.")
                        % {"value": raw.strip(), "type": type_label}
                    )
                raise Bad(
                    _("“%(value)s” is not in the dictionary “%(type)s”.")
                    % {"value": raw.strip(), "type": type_label}
                )
            return found

        return conv

    def _rating(self, raw: str) -> int:
        text = unicodedata.normalize("NFKC", raw).strip()
        value = None
        with contextlib.suppress(ValueError):
            f = float(text)
            value = int(f) if f.is_integer() else None
        if value is None:
            code = self.dict_enabled.get("credit_rating", {}).get(fold(text))
            value = int(code) if code and str(code).isdigit() else None
        if value is None or not 1 <= value <= 5:
            raise Bad(_("Ratings go from 1 to 5."))
        return value

    def _owner(self, raw: str):
        key = raw.strip()
        if key in self._owner_cache:
            found = self._owner_cache[key]
            if isinstance(found, Bad):
                raise found
            return found
        try:
            found = self._resolve_owner(key)
        except Bad as exc:
            self._owner_cache[key] = exc
            raise
        self._owner_cache[key] = found
        return found

    def _resolve_owner(self, key: str):
        user = self.by_username.get(key)
        if user is None:
            candidates = self.by_username_ci.get(key.lower()) or self.by_full_name.get(key) or []
            if len(candidates) > 1:
                raise Bad(_("Several users are called %(user)s; use the user name.") % {"user": key})
            user = candidates[0] if candidates else None
        if user is None:
            raise Bad(_("There is no user %(user)s.") % {"user": key})
        self.check_owner(user)
        return user

    def check_owner(self, user) -> None:
        """The rules of ``services.create_customer`` and ``assign_customers`` for bulk use."""
        by = self.by
        if user.pk == by.pk:
            return
        self._owners_checked.add(user.pk)
        if not user.is_active:
            raise Bad(_("%(user)s is deactivated.") % {"user": user})
        if not self.may_assign:
            raise Bad(
                _("You may import customers only for yourself; leave the column empty or put your user name.")
            )
        if not (
            by.is_administrator or by.data_scope == "all" or user.department_id in self.scope_departments
        ):
            raise Bad(
                _("%(user)s is not in your department; you may not give them customers.") % {"user": user}
            )
        if not user.has_right("customers.view"):
            raise Bad(_("%(user)s cannot work with customers.") % {"user": user})

    # duplicates: the database's keys, loaded once
    def _load_duplicate_keys(self, headers, mapping, rows, keys=None):
        """The existing customers (and contacts, for phones) that share a name, phone or tax
        number with a row of the file: looked up by the file's own keys, a few hundred per query on
        the indexed key columns, so the cost follows the file's size, not the database's.

        ``keys``: the file's (names, phones, taxes) as an earlier run collected them (the job's
        :meth:`recheck`); then ``rows`` are not read."""
        self.db_names = {}
        self.db_phones = {}
        self.db_taxes = {}
        if keys is None:
            keys = self._file_keys(headers, mapping, rows)
        self.inputs["customer_keys"] = keys
        names, phone_list, taxes = keys
        phones = set(phone_list)
        customers = Customer.objects.order_by("pk")
        for chunk in _lookup_chunks(names, 1000):
            found = customers.filter(_key_in("name_key", chunk)).values_list("name_key", "number", "name")
            for key, number, name in found:
                self.db_names.setdefault(key, _describe(number, name))
        for chunk in _lookup_chunks(taxes, 1000):
            for tax, number, name in customers.filter(_key_in("tax_number", chunk)).values_list(
                "tax_number", "number", "name"
            ):
                self.db_taxes.setdefault(tax, _describe(number, name))
        for chunk in _lookup_chunks(phone_list, 1000):
            for key, number, name in customers.filter(_key_in("phone_key", chunk)).values_list(
                "phone_key", "number", "name"
            ):
                self.db_phones.setdefault(key, _describe(number, name))
            # the contacts first, then their customers by primary key: joined in one statement,
            # an estimate of "many contacts" (common after a big import) turned the join into a
            # scan of every customer, 0.4 s a chunk instead of a few milliseconds
            contacts = Contact.objects.filter(_key_in("mobile_key", chunk) | _key_in("phone_key", chunk))
            found = list(contacts.order_by("pk").values_list("mobile_key", "phone_key", "customer_id"))
            owners = {}
            for ids in _chunks(sorted({customer_id for *_keys, customer_id in found}), 1000):
                owners.update(
                    (pk, (number, name))
                    for pk, number, name in Customer.objects.filter(pk__in=ids).values_list(
                        "pk", "number", "name"
                    )
                )
            for mobile_key, phone_key, customer_id in found:
                for k in (mobile_key, phone_key):
                    if k in phones:
                        self.db_phones.setdefault(k, _describe(*owners[customer_id]))

    def _file_keys(self, headers, mapping, rows) -> tuple[list, list, list]:
        """The file's normalised names, phone keys and tax numbers, each sorted."""
        columns = [c for c in self._columns(headers, mapping) if c[1] in ("name", "phone", "tax_number")]
        names, phones, taxes = set(), set(), set()
        if not columns:
            return [], [], []
        scratch = Outcome()
        for rec in rows:
            values, _ok = self._convert(scratch, CUSTOMERS, rec, columns)
            if values.get("name"):
                names.add(name_key(values["name"]))
            if values.get("phone"):
                phones.add(self.phone_key_of[values["phone"]])
            if values.get("tax_number"):
                taxes.add(values["tax_number"])
        return sorted(names), sorted(phones), sorted(taxes)

    def _load_references(self, numbers: list, keys: list):
        """The existing customers a contacts file names (by number, or by name among those not
        archived; one query per 500) and those shared with the user for editing."""
        self.inputs["references"] = (numbers, keys)
        by_number, by_key = {}, {}
        qs = Customer.objects.select_related("owner")
        for chunk in _lookup_chunks(numbers, 500):
            by_number.update({c.number: c for c in qs.filter(_key_in("number", chunk))})
        for chunk in _lookup_chunks(keys, 500):
            for c in qs.filter(_key_in("name_key", chunk), archived_at__isnull=True).order_by("pk"):
                by_key.setdefault(c.name_key, []).append(c)
        shared = set(
            CustomerShare.objects.filter(user=self.by, can_edit=True).values_list("customer_id", flat=True)
        )

        def state(c):
            department = c.owner.department_id if c.owner_id else None
            return (c.pk, c.number, c.name, c.name_key, c.is_archived, c.owner_id, department)

        found = {c.pk for c in by_number.values()} | {c.pk for cs in by_key.values() for c in cs}
        self._references = (
            tuple(sorted((number, state(c)) for number, c in by_number.items())),
            tuple(sorted((key, tuple(state(c) for c in cs)) for key, cs in by_key.items())),
            tuple(sorted(shared & found)),
        )
        return by_number, by_key, shared

    def fingerprint(self) -> dict:
        """What the checks read from the database, as they found it (after :meth:`run`)."""
        users = {u.pk: u for u in self.users}
        owners = sorted(self._owners_checked)
        self.inputs["owners"] = owners
        return {
            "by": self._by_state,
            "users": tuple(
                (u.pk, u.username, u.full_name, u.is_active, u.is_superuser, u.department_id)
                for u in self.users
            ),
            "owners": tuple(
                (pk, users[pk].has_right("customers.view") if pk in users else None) for pk in owners
            ),
            "dictionaries": self._dict_rows,
            "duplicates": (self.db_names, self.db_phones, self.db_taxes),
            "references": self._references,
        }

    @classmethod
    def recheck(cls, by, inputs: dict) -> dict:
        """The :meth:`fingerprint` of the database now, for what a run with these ``inputs`` read:
        the same lookups, restricted to the file's keys, users and dictionaries; no row is read."""
        checker = cls(by)
        if "customer_keys" in inputs:
            # positional: the benchmark times this method by wrapping it
            checker._load_duplicate_keys(None, None, None, inputs["customer_keys"])
        if "references" in inputs:
            checker._load_references(*inputs["references"])
        checker._owners_checked = set(inputs.get("owners", ()))
        return checker.fingerprint()

    # the files
    def run(self, tables: dict[str, tuple[list[str], list[str], list[list]]]) -> Outcome:
        """``tables``: kind -> (headers, mapping, rows)."""
        out = Outcome()
        self._done = 0
        self.bad_customer_keys: dict[str, int] = {}
        if CUSTOMERS in tables:
            self._load_duplicate_keys(*tables[CUSTOMERS])
            self._check_customers(out, *tables[CUSTOMERS])
        if CONTACTS in tables:
            self._check_contacts(out, *tables[CONTACTS])
        return out

    def _columns(self, headers, mapping):
        return [(i + 1, key, headers[i], self.converters[key]) for i, key in enumerate(mapping) if key]

    def _convert(self, out, kind, rec, columns):
        """The row's cleaned values and its errors (in ``out``)."""
        values = {}
        ok = True
        row = rec[0]
        width = len(rec)
        for i, key, header, conv in columns:
            if i >= width:
                continue
            raw = rec[i]
            if not raw or (raw[0].isspace() and not raw.strip()):
                continue
            if raw[0] == "=":
                out.error(kind, row, header, raw, _("Formulas are not allowed: type the value itself."))
                ok = False
                continue
            try:
                v = conv(raw)
            except Bad as exc:
                out.error(kind, row, header, raw, exc.message)
                ok = False
                continue
            if v is not None:
                values[key] = v
        return values, ok

    def _tick(self):
        self._done += 1
        if self._done % PROGRESS_EVERY == 0:
            self.progress(self._done)

    def _check_customers(self, out: Outcome, headers, mapping, rows):
        kind = CUSTOMERS
        columns = self._columns(headers, mapping)
        header_of = {key: header for _i, key, header, _c in columns}
        customer_cols = [c for c in columns if c[1] not in CONTACT_KEYS]
        contact_cols = [c for c in columns if c[1] in CONTACT_KEYS]
        names: dict[str, int] = {}
        phones: dict[str, tuple[int, bool]] = {}  # key -> (row, is a contact's)
        taxes: dict[str, int] = {}
        db_names, db_phones, db_taxes = self.db_names, self.db_phones, self.db_taxes
        by = self.by
        current: NewCustomer | None = None
        current_row: int | None = None
        out.rows[kind] = len(rows)
        for rec in rows:
            self._tick()
            row = rec[0]
            errors_before = len(out.errors)
            values, ok = self._convert(out, kind, rec, customer_cols)
            contact, contact_ok = self._convert(out, kind, rec, contact_cols) if contact_cols else ({}, True)
            has_contact = bool(contact) or not contact_ok
            if not values and ok and has_contact and current_row is not None:
                # a row with only contact columns: another contact of the customer above
                if contact_ok and "contact_name" not in contact:
                    out.error(
                        kind,
                        row,
                        header_of.get("contact_name", _("Contact")),
                        "",
                        _("The contact's name is required."),
                    )
                    continue
                if current is None:
                    out.error(
                        kind,
                        row,
                        header_of["name"],
                        "",
                        _("This contact belongs to the customer in row %(row)s, which has errors.")
                        % {"row": current_row},
                    )
                    continue
                if contact_ok:
                    self._register_contact_phones(contact, phones, row)
                    current.contacts.append((row, self._contact_fields(contact)))
                continue
            current, current_row = None, row
            name = values.get("name")
            if not name:
                if ok:
                    out.error(kind, row, header_of["name"], "", _("The customer name is required."))
                ok = False
            if has_contact and contact_ok and "contact_name" not in contact:
                out.error(
                    kind,
                    row,
                    header_of.get("contact_name", _("Contact")),
                    "",
                    _("The contact's name is required."),
                )
                contact_ok = False
            if name:
                key = name_key(name)
                values["name_key"] = key
                if key in db_names:
                    out.error(
                        kind,
                        row,
                        header_of["name"],
                        name,
                        _("Same name as the existing customer %(customer)s.") % {"customer": db_names[key]},
                    )
                elif key in names:
                    out.error(
                        kind,
                        row,
                        header_of["name"],
                        name,
                        _("Same name as row %(row)s.") % {"row": names[key]},
                    )
                else:
                    names[key] = row
            phone = values.get("phone")
            if phone:
                pkey = self.phone_key_of[phone]
                values["phone_key"] = pkey
                if pkey in db_phones:
                    out.error(
                        kind,
                        row,
                        header_of["phone"],
                        phone,
                        _("Same phone as the existing customer %(customer)s.")
                        % {"customer": db_phones[pkey]},
                    )
                elif pkey in phones:
                    earlier, of_contact = phones[pkey]
                    msg = (
                        _("Same phone as the contact in row %(row)s.")
                        if of_contact
                        else _("Same phone as row %(row)s.")
                    ) % {"row": earlier}
                    out.error(kind, row, header_of["phone"], phone, msg)
                else:
                    phones[pkey] = (row, False)
            tax = values.get("tax_number")
            if tax:
                if tax in db_taxes:
                    out.error(
                        kind,
                        row,
                        header_of["tax_number"],
                        tax,
                        _("Same tax number as the existing customer %(customer)s.")
                        % {"customer": db_taxes[tax]},
                    )
                elif tax in taxes:
                    out.error(
                        kind,
                        row,
                        header_of["tax_number"],
                        tax,
                        _("Same tax number as row %(row)s.") % {"row": taxes[tax]},
                    )
                else:
                    taxes[tax] = row
            if contact_ok and contact:
                self._register_contact_phones(contact, phones, row)
            if len(out.errors) != errors_before:
                if name:
                    self.bad_customer_keys.setdefault(values["name_key"], row)
                continue
            owner = values.pop("owner", by)
            tags = values.pop("tags", [])
            fields = {k: v for k, v in values.items() if k not in CONTACT_KEYS}
            fields.setdefault("phone_key", "")
            fields["owner_id"] = owner.pk
            for dict_key in DICT_FIELDS:
                if dict_key in fields:
                    fields[f"{dict_key}_id"] = fields.pop(dict_key)
            current = NewCustomer(row=row, fields=fields, tags=tags)
            if contact:
                current.contacts.append((row, self._contact_fields(contact)))
            out.customers.append(current)

    def _register_contact_phones(self, contact, phones, row):
        for k in ("contact_mobile", "contact_phone"):
            if k in contact:
                phones.setdefault(self.phone_key_of[contact[k]], (row, True))

    def _contact_fields(self, values: dict) -> dict:
        f = {k[8:]: v for k, v in values.items()}
        f["mobile_key"] = self.phone_key_of.get(f.get("mobile", ""), "")
        f["phone_key"] = self.phone_key_of.get(f.get("phone", ""), "")
        if "birthday" in f:
            f["birthday_md"] = month_day(f["birthday"])
        return f

    def _check_contacts(self, out: Outcome, headers, mapping, rows):
        kind = CONTACTS
        columns = self._columns(headers, mapping)
        header_of = {key: header for _i, key, header, _c in columns}
        ref_cols = [c for c in columns if c[1] in ("customer_number", "customer_name")]
        contact_cols = [c for c in columns if c[1] not in ("customer_number", "customer_name")]
        new_by_key = {c.fields["name_key"]: c for c in out.customers}
        out.rows[kind] = len(rows)
        # The customers the file names, in one query per 500 references.
        refs = [self._convert(Outcome(), kind, rec, ref_cols)[0] for rec in rows]
        numbers = {r["customer_number"] for r in refs if r.get("customer_number")}
        keys = {
            name_key(r["customer_name"])
            for r in refs
            if r.get("customer_name") and not r.get("customer_number")
        }
        by_number, by_key, shared = self._load_references(sorted(numbers), sorted(keys))
        editable: dict[int, bool] = {}
        for rec, ref in zip(rows, refs, strict=True):
            self._tick()
            row = rec[0]
            errors_before = len(out.errors)
            _refs, _ok = self._convert(out, kind, rec, ref_cols)  # reports bad references and formulas
            values, ok = self._convert(out, kind, rec, contact_cols)
            if ok and "contact_name" not in values:
                out.error(
                    kind,
                    row,
                    header_of.get("contact_name", _("Contact")),
                    "",
                    _("The contact's name is required."),
                )
            customer, new_customer = None, None
            number, cname = ref.get("customer_number"), ref.get("customer_name")
            if number:
                customer = by_number.get(number)
                if customer is None:
                    out.error(
                        kind,
                        row,
                        header_of["customer_number"],
                        number,
                        _("There is no customer numbered %(number)s.") % {"number": number},
                    )
            elif cname:
                key = name_key(cname)
                found = by_key.get(key, [])
                new_customer = new_by_key.get(key)
                if len(found) > 1:
                    out.error(
                        kind,
                        row,
                        header_of["customer_name"],
                        cname,
                        _("Several customers are called %(name)s; use the customer number.")
                        % {"name": cname},
                    )
                elif found:
                    customer = found[0]
                elif new_customer is None:
                    bad_row = self.bad_customer_keys.get(key)
                    out.error(
                        kind,
                        row,
                        header_of["customer_name"],
                        cname,
                        _("There is no customer called %(name)s.") % {"name": cname}
                        if bad_row is None
                        else _("%(name)s is in row %(row)s of the customers file, which has errors.")
                        % {"name": cname, "row": bad_row},
                    )
            elif len(out.errors) == errors_before:
                column = header_of.get("customer_number") or header_of.get("customer_name")
                out.error(
                    kind, row, column, "", _("Say which customer: the customer number or name is required.")
                )
            if customer is not None:
                if customer.is_archived:
                    out.error(
                        kind,
                        row,
                        header_of.get("customer_number") or header_of["customer_name"],
                        number or cname,
                        _("%(name)s is archived.") % {"name": customer.name},
                    )
                else:
                    if customer.pk not in editable:
                        editable[customer.pk] = self.may_edit(customer, shared)
                    if not editable[customer.pk]:
                        out.error(
                            kind,
                            row,
                            header_of.get("customer_number") or header_of["customer_name"],
                            number or cname,
                            _("You may not change %(customer)s.")
                            % {"customer": _describe(customer.number, customer.name)},
                        )
            if len(out.errors) != errors_before:
                continue
            out.contacts.append(
                NewContact(
                    row=row,
                    fields=self._contact_fields(values),
                    customer_id=customer.pk if customer else None,
                    new_customer=new_customer if customer is None else None,
                )
            )

    def may_edit(self, c: Customer, shared: set) -> bool:
        """``services.can_edit_customer`` with what it looks up loaded once."""
        by = self.by
        if by.is_read_only or not by.has_right("customers.edit"):
            return False
        if by.is_administrator or c.owner_id == by.pk:
            return True
        if c.owner_id is None:
            return False
        if c.pk in shared:
            return True
        if not self.may_assign:
            return False
        return by.data_scope == "all" or (
            c.owner.department_id is not None and c.owner.department_id in self.scope_departments
        )


def _chunks(items: list, size: int):
    for i in range(0, len(items), size):
        yield items[i : i + size]


class _AnyOf(Lookup):
    """``column = ANY(%s)`` with the keys as one array parameter.  PostgreSQL turns ``IN (…)``
    into ``= ANY(…)`` itself; what is saved is the driver's work on a statement with a
    placeholder per key, and so many statements (:func:`_lookup_chunks`).  The duplicate look-ups
    are most of the dry run's time on a big database, and all of the job's re-check."""

    lookup_name = "any_of"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        lhs, params = self.process_lhs(compiler, connection)
        return f"{lhs} = ANY(%s)", (*params, list(self.rhs))


def _lookup_chunks(keys: list, size: int):
    """``keys`` in chunks of ``size`` for one query each.  Not bigger on PostgreSQL, although
    one array parameter would carry more: on a million customers, ten thousand keys a query made
    the planner prefer a parallel scan of the whole table to the index."""
    return _chunks(keys, size)


def _key_in(column: str, keys: list) -> Q:
    """``column__in=keys``; on PostgreSQL as ``= ANY`` of one array parameter (:class:`_AnyOf`)."""
    if connection.vendor == "postgresql":
        return Q(_AnyOf(F(column), keys))
    return Q(**{f"{column}__in": keys})


@contextlib.contextmanager
def _no_gc():
    """The cyclic garbage collector paused while a big object graph is pickled or unpickled: it
    would otherwise scan the growing heap again and again (none of it is garbage)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


# --- writing --------------------------------------------------------------------------------------


class _Insert:
    """``INSERT`` of many rows with one prepared statement (``executemany``; ``COPY`` on PostgreSQL).

    ``bulk_create`` prepares every value of every object through its field (and on SQLite sends 27
    customers a statement): about 250 µs per imported row with its contact, tag and audit entry,
    ten times the budget.  Here a row is a dict of attribute values merged over the prepared
    defaults of the model's columns (``auto_now`` columns: the import's time) and picked into a
    tuple; values that need the field's preparation (datetimes, JSON) are prepared once when they
    are constants, or by the caller with :meth:`prep`.  Decimals, dates, strings and numbers go to
    the driver as they are, as ``bulk_create`` sends them."""

    def __init__(self, model, *, now, constants: dict | None = None):
        self.model = model
        fields = [f for f in model._meta.concrete_fields if not f.primary_key]
        self.fields = {f.attname: f for f in fields}
        qn = connection.ops.quote_name
        self.sql = "INSERT INTO {} ({}) VALUES ({})".format(
            qn(model._meta.db_table), ", ".join(qn(f.column) for f in fields), ", ".join(["%s"] * len(fields))
        )
        self.copy_sql = "COPY {} ({}) FROM STDIN".format(
            qn(model._meta.db_table), ", ".join(qn(f.column) for f in fields)
        )
        base = {}
        for f in fields:
            value = (
                now if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False) else f.get_default()
            )
            if constants and f.attname in constants:
                value = constants[f.attname]
            base[f.attname] = None if value is None else f.get_db_prep_save(value, connection)
        self.base = base
        self.pick = operator.itemgetter(*[f.attname for f in fields])

    def prep(self, attname: str, value):
        return self.fields[attname].get_db_prep_save(value, connection)

    def insert(self, rows: list[dict]) -> None:
        if not rows:
            return
        unknown = rows[0].keys() - self.base.keys()
        if unknown:
            raise ValueError(f"{self.model.__name__} has no columns {sorted(unknown)}")
        base, pick = self.base, self.pick
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                # COPY: one stream instead of a statement per row (psycopg 3)
                with cursor.cursor.copy(self.copy_sql) as copy:
                    for row in rows:
                        copy.write_row(pick({**base, **row}))
            else:
                cursor.executemany(self.sql, [pick({**base, **row}) for row in rows])


class Writer:
    """Writes validated rows in bulk: customers with their contacts and tags and a block of
    numbers, batch by batch (the caller holds the transaction), then one audit entry for the
    whole import (:meth:`audit`)."""

    def __init__(self, *, by):
        self.by = by
        self.tags: dict[str, int] = {}
        self.now = now = timezone.now()
        self.customer_insert = _Insert(
            Customer, now=now, constants={"created_by_id": by.pk, "assigned_at": now}
        )
        self.contact_insert = _Insert(Contact, now=now)
        self.tag_insert = _Insert(Customer.tags.through, now=now)
        self.numbers: list[str] = []  # the first and the last number issued

    def customers(self, batch: list[NewCustomer]) -> tuple[int, int]:
        numbers = numbering.reserve_numbers("customer", len(batch))
        rows = []
        for nc, number in zip(batch, numbers, strict=True):
            f = nc.fields
            f["number"] = number
            f["pinyin"] = pinyin_key(f["name"])
            f["pinyin_short"] = pinyin_key(f["short_name"]) if f.get("short_name") else ""
            rows.append(f)
        self.customer_insert.insert(rows)
        ids = {}
        # the new ids by their numbers: one array parameter on PostgreSQL (a statement with a
        # placeholder per number cost the driver more than the database its look-up)
        size = len(numbers) if connection.vendor == "postgresql" else 900
        for chunk in _chunks(numbers, max(size, 1)):
            ids.update(Customer.objects.filter(_key_in("number", chunk)).values_list("number", "pk"))
        tag_names = {t for nc in batch for t in nc.tags} - self.tags.keys()
        if tag_names:
            Tag.objects.bulk_create([Tag(name=t) for t in sorted(tag_names)], ignore_conflicts=True)
            transaction.on_commit(choices.renew)  # no signals from bulk_create: the tag filter
            self.tags.update(Tag.objects.filter(name__in=tag_names).values_list("name", "pk"))
        contacts, links = [], []
        for nc, row in zip(batch, rows, strict=True):
            pk = nc.pk = ids[row["number"]]
            for i, (_row, cf) in enumerate(nc.contacts):
                contacts.append({**cf, "customer_id": pk, "is_primary": i == 0})
            for t in nc.tags:
                links.append({"customer_id": pk, "tag_id": self.tags[t]})
        self.contact_insert.insert(contacts)
        self.tag_insert.insert(links)
        self.numbers = [self.numbers[0] if self.numbers else numbers[0], numbers[-1]]
        return len(rows), len(contacts)

    def contacts(self, batch: list[NewContact]) -> int:
        ids = {c.customer_id or c.new_customer.pk for c in batch}
        with_primary = set()
        for chunk in _chunks(sorted(ids), 900):
            with_primary.update(
                Contact.objects.filter(
                    customer_id__in=chunk, is_primary=True, archived_at__isnull=True
                ).values_list("customer_id", flat=True)
            )
        rows = []
        for c in batch:
            customer_id = c.customer_id or c.new_customer.pk
            rows.append(
                {**c.fields, "customer_id": customer_id, "is_primary": customer_id not in with_primary}
            )
            with_primary.add(customer_id)
        self.contact_insert.insert(rows)
        return len(rows)

    def audit(
        self, *, session: ImportSession, job=None, mode: str, customers: int, contacts: int, skipped: int
    ):
        """One audit entry for the import (on its job): who, when, how many, which numbers."""
        from auditlog.models import LogEntry
        from django.contrib.contenttypes.models import ContentType

        from kehu.core.models import Job

        files = ", ".join(f["name"] for f in session.files.values())
        changes = {
            "customers": ["None", str(customers)],
            "contacts": ["None", str(contacts)],
            "skipped": ["None", str(skipped)],
            "mode": ["None", mode],
            "files": ["None", files],
        }
        if self.numbers:
            changes["numbers"] = ["None", " – ".join(self.numbers)]
        LogEntry.objects.create(
            content_type=ContentType.objects.get_for_model(Job),
            object_pk=str(job.pk if job else session.pk),
            object_id=None,
            object_repr=str(job.label if job else _("Import customers: %(files)s") % {"files": files})[:200],
            action=LogEntry.Action.CREATE,
            changes=changes,
            actor=self.by,
            timestamp=self.now,
            additional_data={"import": session.pk, "customer_numbers": self.numbers},
        )


# --- the session: files, mapping, report ----------------------------------------------------------


def imports_root() -> Path:
    return Path(settings.DATA_DIR) / "imports"


def purge_sessions_in(root: Path, days: int = SESSION_DAYS) -> int:
    """Removes the import sessions (folders named by their 32-hex id) in ``root`` older than
    ``days``; other folders (another module's imports kept below) are left alone."""
    if not root.is_dir():
        return 0
    cutoff = time.time() - days * 86400
    n = 0
    for folder in root.iterdir():
        with contextlib.suppress(OSError):
            if (
                folder.is_dir()
                and re.fullmatch(r"[0-9a-f]{32}", folder.name)
                and folder.stat().st_mtime < cutoff
            ):
                shutil.rmtree(folder, ignore_errors=True)
                n += 1
    return n


def purge_old_sessions(days: int = SESSION_DAYS) -> int:
    return purge_sessions_in(imports_root(), days)


def load_session(root: Path, pk, *, user=None) -> tuple[str, dict]:
    """An import session's id and stored meta, from ``root/<32-hex id>/meta.json``; another user's
    session, a malformed id or a missing one: :class:`SessionNotFound`."""
    pk = str(pk).replace("-", "")
    if not re.fullmatch(r"[0-9a-f]{32}", pk):
        raise SessionNotFound(pk)
    path = root / pk / "meta.json"
    if not path.is_file():
        raise SessionNotFound(pk)
    meta = _json_load(path)
    if user is not None and meta.get("user_id") != user.pk:
        raise SessionNotFound(pk)
    return pk, meta


def _json_dump(path: Path, data) -> None:
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, ensure_ascii=False, separators=(",", ":"), default=str)
    tmp.replace(path)


def _json_load(path: Path):
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


OUTCOME_FILE = "outcome.pickle"
OUTCOME_VERSION = 1  # raise when what is kept changes shape


@functools.cache
def _code_version() -> str:
    """The validation code's own fingerprint: an outcome kept by another version of the rules
    (an upgrade between the dry run and the job) is not reused."""
    digest = hashlib.sha256()
    here = Path(__file__)
    for path in (here, here.with_name("normalize.py")):
        with contextlib.suppress(OSError):
            digest.update(path.read_bytes())
    return digest.hexdigest()


class ImportSession:
    """One import: its files (cached as text), their mapping, the dry run's report, the job."""

    def __init__(self, pk: str, meta: dict):
        self.pk = pk
        self.meta = meta
        self._rows: dict[str, list] = {}

    @property
    def folder(self) -> Path:
        return imports_root() / self.pk

    @classmethod
    def start(cls, *, user, files: dict) -> ImportSession:
        """``files``: kind -> an uploaded file (anything with ``name``, ``size`` and ``chunks()`` or
        ``read()``).  Reads and caches them; raises :class:`ImportFileError` on a bad file."""
        if not files:
            raise ImportFileError(_("Choose a file to import."))
        for upload in files.values():
            check_size(getattr(upload, "size", None), getattr(upload, "name", ""))
        purge_old_sessions()
        pk = uuid.uuid4().hex
        session = cls(pk, {"id": pk, "user_id": user.pk, "created": timezone.now().isoformat(), "files": {}})
        session.folder.mkdir(parents=True, exist_ok=True)
        try:
            for kind, upload in files.items():
                name = Path(getattr(upload, "name", kind) or kind).name[:200]
                path = session.folder / f"{kind}.upload"
                with open(path, "wb") as fh:
                    chunks = (
                        upload.chunks()
                        if hasattr(upload, "chunks")
                        else iter(partial(upload.read, 1 << 20), b"")
                    )
                    size = 0
                    for chunk in chunks:
                        size += len(chunk)
                        if size > MAX_BYTES:
                            check_size(size, name)
                        fh.write(chunk)
                try:
                    info, rows = read_table(path)
                except ImportFileError as exc:
                    raise ImportFileError(f"{name}: {exc.message}")
                info["name"] = name
                info["mapping"] = detect_mapping(kind, info["headers"])
                _json_dump(session.folder / f"{kind}.rows.json", rows)
                session._rows[kind] = rows
                path.unlink()
                session.meta["files"][kind] = info
            session.save()
        except BaseException:
            shutil.rmtree(session.folder, ignore_errors=True)
            raise
        return session

    @classmethod
    def open(cls, pk, *, user=None) -> ImportSession:
        return cls(*load_session(imports_root(), pk, user=user))

    def save(self) -> None:
        _json_dump(self.folder / "meta.json", self.meta)

    @property
    def files(self) -> dict:
        return self.meta["files"]

    def kinds(self) -> list[str]:
        return [k for k in (CUSTOMERS, CONTACTS) if k in self.files]

    def rows(self, kind: str) -> list:
        if kind not in self._rows:
            self._rows[kind] = _json_load(self.folder / f"{kind}.rows.json")
        return self._rows[kind]

    @property
    def total_rows(self) -> int:
        return sum(f["rows"] for f in self.files.values())

    def set_mapping(self, kind: str, mapping: list[str]) -> None:
        headers = self.files[kind]["headers"]
        if len(mapping) != len(headers):
            raise ValidationFailed(_("The mapping does not fit the file's columns."))
        if mapping != self.files[kind]["mapping"]:
            self.files[kind]["mapping"] = list(mapping)
            self.meta.pop("report", None)
            self.forget_outcome()
        self.save()

    def problems(self) -> list[str]:
        out = []
        for kind in self.kinds():
            prefix = f"{self.files[kind]['name']}: " if len(self.files) > 1 else ""
            out.extend(prefix + p for p in mapping_problems(kind, self.files[kind]["mapping"]))
        return out

    def tables(self) -> dict:
        return {k: (self.files[k]["headers"], self.files[k]["mapping"], self.rows(k)) for k in self.kinds()}

    def _require_checkable(self, *, by) -> None:
        require_import_right(by)
        problems = self.problems()
        if problems:
            raise ImportFileError(" ".join(problems))

    def validate(self, *, by, progress=None) -> Outcome:
        return self._validate(by=by, progress=progress)[0]

    def _validate(self, *, by, progress=None) -> tuple[Outcome, Checker]:
        self._require_checkable(by=by)
        checker = Checker(by, progress=progress)
        return checker.run(self.tables()), checker

    def check(self, *, by) -> dict:
        """The dry run: validate everything, store and return the report; keep the outcome for
        the job (:meth:`keep_outcome`)."""
        self.forget_outcome()
        started = time.perf_counter()
        outcome, checker = self._validate(by=by)
        seconds = time.perf_counter() - started
        self.keep_outcome(outcome, checker, by=by)
        return self.store_report(outcome, seconds=seconds)

    # --- the dry run's outcome, kept for the job -----------------------------------------------
    #
    # The job would otherwise validate every row again (on a big file, half its time).  The dry
    # run keeps its outcome — the valid customers and contacts, ready to write, and the errors —
    # with what it depended on: the file and mapping, and the fingerprint of everything it read
    # from the database (Checker.fingerprint).  The job reuses it only if all of that still holds,
    # checked by repeating just the database lookups (Checker.recheck: the file's keys, the
    # users, the dictionaries, the importing user's rights and scope); otherwise it validates
    # everything again, as it always did.  A customer created since the dry run with a row's name,
    # phone or tax number changes the fingerprint, so that row is still caught.

    def _table_signature(self) -> dict:
        """The files as cached (a digest of their rows), their headings and mapping."""
        out = {}
        for kind in self.kinds():
            with open(self.folder / f"{kind}.rows.json", "rb") as fh:
                digest = hashlib.file_digest(fh, "sha256").hexdigest()
            out[kind] = (digest, self.files[kind]["headers"], self.files[kind]["mapping"])
        return out

    def keep_outcome(self, outcome: Outcome, checker: Checker, *, by) -> None:
        """Keep the dry run's outcome for :meth:`kept_outcome`: two pickles in one file, what it
        depends on first (small: read and checked before the outcome is), then the outcome.

        Pickle, safely: this file is our own, written here by the dry run into the session's
        private folder (``DATA_DIR/imports/<session id>/``, which is never served and never
        receives an uploaded file as it is) and read back only from there by the job; nothing a
        user sends is ever unpickled.  Failing to keep it only costs the job a full validation."""
        fingerprint = checker.fingerprint()  # before the inputs: it notes the owners looked up
        path = self.folder / OUTCOME_FILE
        tmp = path.with_name(f"{OUTCOME_FILE}.{uuid.uuid4().hex}.tmp")
        try:
            depends = {
                "version": OUTCOME_VERSION,
                "code": _code_version(),
                "user": by.pk,
                "tables": self._table_signature(),
                "inputs": checker.inputs,
                "fingerprint": fingerprint,
            }
            with open(tmp, "wb") as fh, _no_gc():
                pickle.dump(depends, fh, protocol=pickle.HIGHEST_PROTOCOL)
                pickle.dump(outcome, fh, protocol=pickle.HIGHEST_PROTOCOL)
            tmp.replace(path)
        except Exception:  # a full disk, say: the dry run's report stands all the same
            log.warning("import %s: the dry run's outcome could not be kept", self.pk, exc_info=True)
            tmp.unlink(missing_ok=True)

    def forget_outcome(self) -> None:
        (self.folder / OUTCOME_FILE).unlink(missing_ok=True)

    def kept_outcome(self, *, by) -> Outcome | None:
        """The dry run's outcome, if it still holds: the same user, code, files and mapping, and
        the database unchanged in everything the dry run read from it.  None: validate again."""
        self._require_checkable(by=by)
        try:
            fh = open(self.folder / OUTCOME_FILE, "rb")  # noqa: SIM115 - closed by the with below
        except FileNotFoundError:
            log.info("import %s: no dry run kept; checking every row again", self.pk)
            return None
        with fh:
            depends = self._unpickle(fh)
            if not (
                isinstance(depends, dict)
                and depends.get("version") == OUTCOME_VERSION
                and depends.get("code") == _code_version()
                and depends.get("user") == by.pk
                and depends.get("tables") == self._table_signature()
            ):
                log.info("import %s: the kept dry run does not fit; checking every row again", self.pk)
                return None
            if Checker.recheck(by, depends["inputs"]) != depends["fingerprint"]:
                log.info("import %s: the database changed since the dry run; checking again", self.pk)
                return None
            outcome = self._unpickle(fh)
        if not isinstance(outcome, Outcome):
            return None
        log.info("import %s: the dry run still holds; writing its outcome", self.pk)
        return outcome

    def _unpickle(self, fh):
        """The next object of the kept file (our own: see :meth:`keep_outcome`); None if it
        cannot be read (damaged, or written by code that no longer fits)."""
        try:
            with _no_gc():
                return pickle.load(fh)
        except Exception:
            log.warning("import %s: the kept dry run cannot be read", self.pk, exc_info=True)
            return None

    def store_report(self, outcome: Outcome, *, seconds: float = 0.0, final: bool = False) -> dict:
        report = {
            "mapping": {k: self.files[k]["mapping"] for k in self.kinds()},
            "rows": self.total_rows,
            "bad_rows": len(outcome.bad_rows),
            "customers": len(outcome.customers),
            "contacts": outcome.contact_count,
            "errors": len(outcome.errors),
            "seconds": round(seconds, 3),
            "at": timezone.now().isoformat(),
            "final": final,
        }
        _json_dump(self.folder / "errors.json", outcome.errors)
        self.meta["report"] = report
        self.save()
        return report

    @property
    def report(self) -> dict | None:
        report = self.meta.get("report")
        if report and report.get("mapping") == {k: self.files[k]["mapping"] for k in self.kinds()}:
            return report
        return None

    def errors(self) -> list[list]:
        path = self.folder / "errors.json"
        return _json_load(path) if path.is_file() and self.meta.get("report") else []

    @property
    def job_id(self) -> str | None:
        return self.meta.get("job_id")

    def enqueue(self, *, by, mode: str):
        """Start the import job (after a dry run with the current mapping)."""
        require_import_right(by)
        if mode not in MODES:
            raise ValidationFailed(_("Choose how to import."), details={"field": "mode"})
        if self.report is None:
            raise ValidationFailed(_("Run the check first."))
        from kehu.core.models import Job

        previous = Job.objects.filter(pk=self.job_id).first() if self.job_id else None
        if previous is not None and not previous.finished:
            raise ValidationFailed(_("This file is being imported already."))
        if (
            previous is not None
            and previous.status == Job.Status.SUCCEEDED
            and previous.result.get("imported")
        ):
            raise ValidationFailed(_("This file has been imported already."))
        names = ", ".join(f["name"] for f in self.files.values())
        job = jobs.enqueue(
            "customers.import",
            user=by,
            label=_("Import customers: %(files)s") % {"files": names},
            params={"session": self.pk, "mode": mode},
        )
        self.meta["job_id"] = str(job.pk)
        self.meta["mode"] = mode
        self.save()
        return job

    def execute(self, *, by, mode: str, ctx=None) -> dict:
        """The import itself (the job's body): the dry run's outcome if it still holds
        (:meth:`kept_outcome`), else validate again; then write."""
        total = self.total_rows
        self.urls  # noqa: B018 - resolved before anything is written
        progress = _Progress(ctx, total * 2)
        progress(0, _("Checking rows…"))
        lock = self.folder / "imported.lock"
        try:
            lock.touch(exist_ok=False)
        except FileExistsError:
            raise ValidationFailed(_("This file has been imported already."))
        imported = False
        try:
            started = time.perf_counter()
            outcome = self.kept_outcome(by=by)
            if outcome is None:
                outcome = self.validate(by=by, progress=lambda done: progress(done, _("Checking rows…")))
            writer = Writer(by=by)
            job = ctx.job if ctx else None
            if mode == ALL_OR_NOTHING and outcome.errors:
                self.store_report(outcome, seconds=time.perf_counter() - started, final=True)
                progress(total * 2, _("Nothing was imported."))
                return self._result(mode, 0, 0, outcome)
            progress(total, _("Writing…"))
            with _roomy_sqlite_cache():
                created, contacts = self._write_all(writer, outcome, progress, total, mode=mode, job=job)
            imported = created + contacts > 0
            if imported:
                self.forget_outcome()  # written: the session only shows its report from now on
                # the new names wait in the search indexes' pending lists, which every search
                # reads in full: merged now rather than when autovacuum comes by
                flush_search_indexes(Customer._meta.db_table, Contact._meta.db_table)
            progress(
                total * 2,
                _("%(customers)s customers and %(contacts)s contacts created")
                % {"customers": created, "contacts": contacts},
            )
            self.store_report(outcome, seconds=time.perf_counter() - started, final=True)
            return self._result(mode, created, contacts, outcome)
        finally:
            progress.close()
            if not imported:
                lock.unlink(missing_ok=True)

    def _write_all(self, writer: Writer, outcome: Outcome, progress, total: int, *, mode: str, job):
        if mode == ALL_OR_NOTHING:
            with progress.side_channel(), transaction.atomic():
                created, contacts = self._write(writer, outcome, progress, total)
                writer.audit(
                    session=self, job=job, mode=mode, customers=created, contacts=contacts, skipped=0
                )
            return created, contacts
        created, contacts, failed_rows = self._write_valid(writer, outcome, progress, total)
        for item in failed_rows:
            kind = CUSTOMERS if isinstance(item, NewCustomer) else CONTACTS
            outcome.error(kind, item.row, "", "", _("The database refused this row; try again."))
        if created or contacts:
            with transaction.atomic():
                writer.audit(
                    session=self,
                    job=job,
                    mode=mode,
                    customers=created,
                    contacts=contacts,
                    skipped=len(outcome.bad_rows),
                )
        return created, contacts

    def _write(self, writer: Writer, outcome: Outcome, progress, total: int):
        created = contacts = 0
        step = _WriteProgress(progress, total, len(outcome.customers) + len(outcome.contacts))
        for batch in _chunks(outcome.customers, BATCH_SIZE):
            n, m = writer.customers(batch)
            created, contacts = created + n, contacts + m
            step(len(batch))
        for batch in _chunks(outcome.contacts, BATCH_SIZE):
            contacts += writer.contacts(batch)
            step(len(batch))
        return created, contacts

    def _write_valid(self, writer: Writer, outcome: Outcome, progress, total: int):
        created = contacts = 0
        step = _WriteProgress(progress, total, len(outcome.customers) + len(outcome.contacts))
        failed: list = []
        for batch in _chunks(outcome.customers, BATCH_SIZE):
            try:
                with transaction.atomic():
                    n, m = writer.customers(batch)
            except DatabaseError:
                failed.extend(batch)
                for nc in batch:
                    nc.pk = None
            else:
                created, contacts = created + n, contacts + m
            step(len(batch))
        pending = [c for c in outcome.contacts if c.customer_id or (c.new_customer and c.new_customer.pk)]
        failed.extend(
            c for c in outcome.contacts if not (c.customer_id or (c.new_customer and c.new_customer.pk))
        )
        for batch in _chunks(pending, BATCH_SIZE):
            try:
                with transaction.atomic():
                    contacts += writer.contacts(batch)
            except DatabaseError:
                failed.extend(batch)
            step(len(batch))
        return created, contacts, failed

    def _result(self, mode: str, created: int, contacts: int, outcome: Outcome) -> dict:
        skipped = len(outcome.bad_rows)
        if mode == ALL_OR_NOTHING and outcome.errors:
            summary = _(
                "Nothing was imported: %(bad)s of %(rows)s rows have errors. Download the list, correct the "
                "file and import it again."
            ) % {"bad": skipped, "rows": self.total_rows}
        else:
            summary = _(
                "Created %(customers)s customers and %(contacts)s contacts, skipped %(skipped)s rows."
            ) % {"customers": created, "contacts": contacts, "skipped": skipped}
        result = {
            "summary": summary,
            "imported": created + contacts,
            "customers": created,
            "contacts": contacts,
            "skipped": skipped,
            "errors": len(outcome.errors),
            "mode": mode,
            "review_url": self.urls["review"],
        }
        if outcome.errors:
            result["download_url"] = self.urls["errors"]
        return result

    @cached_property
    def urls(self) -> dict:
        return {
            "review": reverse("customers:import_review", args=[self.pk_uuid]),
            "errors": reverse("customers:import_errors", args=[self.pk_uuid]),
        }

    @property
    def pk_uuid(self) -> uuid.UUID:
        return uuid.UUID(self.pk)


@contextlib.contextmanager
def _roomy_sqlite_cache(mebibytes: int = 256):
    """SQLite: a bigger page cache while the import writes (the customer table has 18 indexes;
    pages evicted in the middle of the transaction are written and read again), then the
    connection's own size again.  Memory is taken only as pages are used."""
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        before = cursor.fetchone()[0]
        cursor.execute(f"PRAGMA cache_size=-{int(mebibytes) * 1024}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size={int(before)}")


class _WriteProgress:
    """The writing phase fills the second half of the bar, whatever the number of valid rows."""

    def __init__(self, progress, total: int, items: int):
        self.progress, self.total, self.items, self.done = progress, total, max(items, 1), 0

    def __call__(self, n: int) -> None:
        self.done += n
        self.progress(self.total + self.done * self.total // self.items, _("Writing…"))


class _Progress:
    """Job progress.  Inside the one transaction of an all-or-nothing import, the update is sent
    over a second connection (PostgreSQL) so the job page sees it before the commit; SQLite has a
    single writer, so there the page sees the writing phase end at once."""

    every = 0.2  # seconds between two updates of the job row

    def __init__(self, ctx, total: int):
        self.ctx = ctx
        self.total = total
        self._pool = None
        self._last = 0.0
        self._side = False

    @contextlib.contextmanager
    def side_channel(self):
        """Around the one transaction of an all-or-nothing import."""
        self._side = True
        try:
            yield
        finally:
            self._side = False

    def __call__(self, done: int, message: str = "") -> None:
        if self.ctx is None:
            return
        now = time.monotonic()
        if done not in (0, self.total) and now - self._last < self.every:
            return
        self._last = now
        if self._side and connection.vendor == "postgresql":
            from concurrent.futures import ThreadPoolExecutor

            from kehu.core.models import Job

            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=1)
            fields = {"done": done, "total": self.total, "message": str(message)[:300]}
            pk = self.ctx.job.pk
            self._pool.submit(lambda: Job.objects.filter(pk=pk).update(**fields)).result(timeout=10)
        else:
            self.ctx.progress(done, self.total, str(message))

    def close(self) -> None:
        if self._pool is not None:
            from django.db import connections

            self._pool.submit(connections.close_all).result(timeout=10)
            self._pool.shutdown()
            self._pool = None


def require_import_right(user) -> None:
    if not user.is_active or user.is_read_only or not user.has_right(RIGHT):
        raise PermissionDeniedError(_("You may not import customers."))


def _language_of(user) -> str:
    return getattr(user, "language", "") or settings.LANGUAGE_CODE


@jobs.job("customers.import")
def import_job(ctx, *, session: str, mode: str) -> dict:
    by = ctx.user
    with translation.override(_language_of(by)):
        try:
            imp = ImportSession.open(session, user=by)
        except SessionNotFound:
            raise ValidationFailed(_("The uploaded files are no longer kept; upload them again."))
        return imp.execute(by=by, mode=mode, ctx=ctx)
