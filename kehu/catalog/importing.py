"""Product import (商品导入): an xlsx or CSV file (UTF-8 or GBK), one product a row; a dry run that
lists every bad row with its row number; the import itself as a background job (``catalog.import``).

Reading files (format sniffing, encodings, the xlsx guards, headings in row 1) is the customer
import's: :func:`kehu.customers.importing.read_table` and friends are generic and reused as they
are.  What is product-specific lives here:

* the columns (:data:`FIELDS`), recognised by Chinese or English headings;
* the :class:`Checker`: every row is converted and checked with the same rules as the form and the
  API (``services.clean_product``), in memory: the codes and barcodes in the database and the rows
  above in the file are loaded once, units are found by code or label, categories by path
  (``电脑设备/工控机``) or by a unique name.  A category path that does not exist is created by the
  import (the dry run says which).  A row whose code exists is an error — unless "update existing
  products" is chosen, then the row updates that product (through ``services.update_product``).
  The same name + specification as another product is a warning, as on the form: the row is
  imported and the report lists it;
* :meth:`ProductImport.execute`: "all or nothing" writes in one transaction and writes nothing when
  a row is bad; "valid rows only" skips bad rows and writes in batches of :data:`BATCH_SIZE`, each
  its own transaction.  New products are inserted with ``bulk_create`` (one audit entry for the
  import, on its job, as the customer import does); updated ones go through the service one by one
  (each audited).
"""

from __future__ import annotations

import re
import shutil
import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import cached_property, partial
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models.functions import Upper
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kehu.core import jobs
from kehu.core.errors import DomainError, PermissionDeniedError, ValidationFailed
from kehu.core.models import DictEntry
from kehu.customers.importing import (
    ImportField,
    ImportFileError,
    SessionNotFound,
    _chunks,
    check_size,
    column_letter,
    header_key,
    load_session,
    purge_sessions_in,
    read_table,
)
from kehu.customers.importing import _json_dump as _dump
from kehu.customers.importing import _json_load as _load

from . import services
from .models import Category, Product

MAX_BYTES = 20 * 1024 * 1024
MAX_ROWS = 50_000
BATCH_SIZE = 1000
SESSION_DAYS = 3
RIGHT = services.IMPORT

ALL_OR_NOTHING = "all"
VALID_ONLY = "valid"
MODES = {ALL_OR_NOTHING: gettext_lazy("All or nothing"), VALID_ONLY: gettext_lazy("Valid rows only")}

__all__ = ["ImportFileError", "SessionNotFound", "ProductImport", "FIELDS", "MODES"]


def _f(key, label, zh, en, *aliases, required=False, example=""):
    return ImportField(key, label, (zh, en, *aliases), required, example)


FIELDS: list[ImportField] = [
    _f(
        "code",
        gettext_lazy("Product code"),
        "商品编码",
        "Code",
        "编码",
        "产品编码",
        "商品编号",
        "product code",
        required=True,
        example="IPC-610L-01",
    ),
    _f(
        "name",
        gettext_lazy("Name"),
        "商品名称",
        "Name",
        "名称",
        "产品名称",
        "品名",
        "product name",
        required=True,
        example="研华工控机",
    ),
    _f(
        "spec",
        gettext_lazy("Specification / model"),
        "规格型号",
        "Specification",
        "规格",
        "型号",
        "model",
        "spec",
        example="IPC-610L i5/8G/256G",
    ),
    _f(
        "category",
        gettext_lazy("Category"),
        "分类",
        "Category",
        "商品分类",
        "类别",
        "产品分类",
        example="电脑设备/工控机",
    ),
    _f("brand", gettext_lazy("Brand"), "品牌", "Brand", example="研华"),
    _f("unit", gettext_lazy("Unit"), "单位", "Unit", "计量单位", example="台"),
    _f(
        "quantity_decimals",
        gettext_lazy("Quantity decimals"),
        "数量小数位",
        "Quantity decimals",
        "小数位",
        "decimals",
        example="0",
    ),
    _f(
        "list_price",
        gettext_lazy("List price"),
        "标准售价",
        "List price",
        "售价",
        "单价",
        "价格",
        "price",
        example="6800.00",
    ),
    _f(
        "standard_cost",
        gettext_lazy("Standard cost"),
        "标准成本",
        "Standard cost",
        "成本",
        "cost",
        example="5200.00",
    ),
    _f("tax_rate", gettext_lazy("Tax rate (%)"), "税率", "Tax rate", "税率%", "tax", example="13"),
    _f("barcode", gettext_lazy("Barcode"), "条码", "Barcode", "条形码", "商品条码", example="6901234567892"),
    _f(
        "tracking",
        gettext_lazy("Tracking"),
        "跟踪方式",
        "Tracking",
        "管理方式",
        "序列号管理",
        example="序列号",
    ),
    _f(
        "serial_prefix",
        gettext_lazy("Serial number prefix"),
        "序列号前缀",
        "Serial prefix",
        "SN前缀",
        "serial number prefix",
        example="IPC",
    ),
    _f(
        "warranty_months",
        gettext_lazy("Warranty (months)"),
        "保修月数",
        "Warranty months",
        "保修期",
        "保修",
        "warranty",
        example="36",
    ),
    _f("status", gettext_lazy("Status"), "状态", "Status", "销售状态", example="在售"),
    _f("notes", gettext_lazy("Notes"), "备注", "Notes", "说明", example=""),
]
FIELD_BY_KEY = {f.key: f for f in FIELDS}

TRACKING_ALIASES = {
    "none": Product.Tracking.NONE,
    "无": Product.Tracking.NONE,
    "不跟踪": Product.Tracking.NONE,
    "不管理": Product.Tracking.NONE,
    "否": Product.Tracking.NONE,
    "notracking": Product.Tracking.NONE,
    "batch": Product.Tracking.BATCH,
    "批次": Product.Tracking.BATCH,
    "批号": Product.Tracking.BATCH,
    "按批次": Product.Tracking.BATCH,
    "bybatch": Product.Tracking.BATCH,
    "lot": Product.Tracking.BATCH,
    "serial": Product.Tracking.SERIAL,
    "序列号": Product.Tracking.SERIAL,
    "按序列号": Product.Tracking.SERIAL,
    "sn": Product.Tracking.SERIAL,
    "是": Product.Tracking.SERIAL,
    "byserialnumber": Product.Tracking.SERIAL,
}
STATUS_ALIASES = {
    "在售": True,
    "正常": True,
    "启用": True,
    "active": True,
    "onsale": True,
    "停售": False,
    "停用": False,
    "停产": False,
    "discontinued": False,
    "inactive": False,
}
_ALIAS_NOISE = re.compile(r"[\s_\-]+")
_CATEGORY_SPLIT = re.compile(r"\s*[/>＞／\\]\s*")


def _alias(raw: str) -> str:
    return _ALIAS_NOISE.sub("", raw.strip().lower())


def imports_root() -> Path:
    return Path(settings.DATA_DIR) / "imports" / "products"


def purge_old_sessions(days: int = SESSION_DAYS) -> int:
    return purge_sessions_in(imports_root(), days)


def detect_mapping(headers: list[str]) -> list[str]:
    lookup: dict[str, str] = {}
    for f in FIELDS:
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


def mapping_problems(mapping: list[str], *, update_existing: bool = False) -> list[str]:
    """What keeps a mapping from being checked.  Updating existing products needs only the code."""
    problems, seen = [], set()
    for key in mapping:
        if key and key not in FIELD_BY_KEY:
            problems.append(_("Unknown field %(field)s.") % {"field": key})
        elif key and key in seen:
            problems.append(_("Two columns are mapped to “%(field)s”.") % {"field": FIELD_BY_KEY[key].label})
        seen.add(key)
    for f in FIELDS:
        if f.required and f.key not in seen and not (update_existing and f.key != "code"):
            problems.append(
                _("The file has no column for “%(field)s” (heading %(zh)s or %(en)s).")
                % {"field": f.label, "zh": f.zh, "en": f.en}
            )
    return problems


# --- checking rows ------------------------------------------------------------------------------------


class Bad(Exception):
    def __init__(self, message, field_key: str = ""):
        super().__init__(str(message))
        self.message = str(message)
        self.field_key = field_key


@dataclass
class Row:
    row: int
    fields: dict  # for services / Product(**fields); "category" may be a path still to create
    category_path: tuple[str, ...] | None = None
    update_pk: int | None = None


@dataclass
class Outcome:
    creates: list[Row] = field(default_factory=list)
    updates: list[Row] = field(default_factory=list)
    errors: list[list] = field(default_factory=list)  # [row, column, value, message]
    warnings: list[list] = field(default_factory=list)
    bad_rows: set[int] = field(default_factory=set)
    new_categories: list[str] = field(default_factory=list)

    def error(self, row, column, value, message):
        self.errors.append([row, str(column), str(value)[:200], str(message)])
        self.bad_rows.add(row)


class Checker:
    """Validates every row in memory (a few queries in all, whatever the number of rows)."""

    def __init__(self, *, update_existing: bool = False):
        self.update_existing = update_existing
        self.codes = {
            code: pk for pk, code in Product.objects.annotate(u=Upper("code")).values_list("pk", "u")
        }
        self.barcodes = dict(Product.objects.exclude(barcode="").values_list("barcode", "pk"))
        self.keys: dict[str, str] = {}
        for key, code in Product.objects.values_list("name_key", "code"):
            self.keys.setdefault(key, code)
        self.units: dict[str, DictEntry] = {}
        for e in DictEntry.objects.filter(type="unit", enabled=True).order_by("-order"):
            for name in (e.code, e.label_zh, e.label_en):
                self.units[_alias(name)] = e
        rows = list(Category.objects.values_list("pk", "name", "parent_id"))
        self.category_by_path: dict[tuple[str, ...], int] = {}
        names = {pk: name for pk, name, _p in rows}
        parents = {pk: parent for pk, _n, parent in rows}
        self.category_by_name: dict[str, list[int]] = {}
        for pk in names:
            parts, cur, seen = [], pk, set()
            while cur is not None and cur not in seen:
                seen.add(cur)
                parts.append(names[cur])
                cur = parents.get(cur)
            self.category_by_path[tuple(reversed(parts))] = pk
            self.category_by_name.setdefault(names[pk], []).append(pk)
        self.new_paths: dict[tuple[str, ...], None] = {}

    # converters: raw text -> value, or Bad

    def _int(self, raw: str, key: str):
        try:
            value = Decimal(raw.strip())
        except InvalidOperation:
            raise Bad(_("%(label)s must be a whole number.") % {"label": FIELD_BY_KEY[key].label})
        if value != value.to_integral_value():
            raise Bad(_("%(label)s must be a whole number.") % {"label": FIELD_BY_KEY[key].label})
        return int(value)

    def _money(self, raw: str, key: str):
        text = re.sub(r"[,，\s¥￥元]", "", raw)
        try:
            return Decimal(text)
        except InvalidOperation:
            raise Bad(_("%(label)s must be a number.") % {"label": FIELD_BY_KEY[key].label})

    def _unit(self, raw: str):
        unit = self.units.get(_alias(raw))
        if unit is None:
            raise Bad(_("%(value)s is not a unit in the unit dictionary.") % {"value": raw})
        return unit

    def _tracking(self, raw: str):
        value = TRACKING_ALIASES.get(_alias(raw))
        if value is None:
            raise Bad(_("Tracking is one of: none (无), batch (批次), serial (序列号)."))
        return value

    def _status(self, raw: str):
        value = STATUS_ALIASES.get(_alias(raw))
        if value is None:
            raise Bad(_("Status is on sale (在售) or discontinued (停售)."))
        return value

    def _category(self, raw: str):
        parts = tuple(p for p in _CATEGORY_SPLIT.split(raw.strip()) if p)
        if any(len(p) > 60 for p in parts):
            raise Bad(_("A category name may have at most 60 characters."))
        if len(parts) == 1:
            found = self.category_by_name.get(parts[0], [])
            if len(found) > 1:
                raise Bad(
                    _("Several categories are named %(name)s; give the path, e.g. parent/%(name)s.")
                    % {"name": parts[0]}
                )
            if found:
                return found[0], None
        pk = self.category_by_path.get(parts)
        if pk is not None:
            return pk, None
        for i in range(1, len(parts) + 1):
            if parts[:i] not in self.category_by_path:
                self.new_paths.setdefault(parts[:i], None)
        return None, parts

    def check(self, headers: list[str], mapping: list[str], rows: list[list]) -> Outcome:
        out = Outcome()
        columns = [(i, key) for i, key in enumerate(mapping) if key]
        seen_codes: dict[str, int] = {}
        seen_barcodes: dict[str, int] = {}
        seen_keys: dict[str, int] = {}
        for cells in rows:
            n = cells[0]
            values = cells[1:]
            raw = {key: (values[i].strip() if i < len(values) and values[i] else "") for i, key in columns}
            errors_before = len(out.errors)
            fields: dict = {}
            category_path = None
            for i, key in columns:
                text = raw[key]
                if text.startswith("=") and len(text) > 1:
                    out.error(n, headers[i], text, _("A formula cannot be imported; type the value."))
                    continue
                if not text:
                    continue
                try:
                    if key in ("quantity_decimals", "warranty_months"):
                        fields[key] = self._int(text, key)
                    elif key in ("list_price", "standard_cost"):
                        fields[key] = self._money(text, key)
                    elif key == "tax_rate":
                        fields[key] = self._money(text.rstrip("%％"), key)
                    elif key == "unit":
                        fields["unit"] = self._unit(text)
                    elif key == "tracking":
                        fields["tracking"] = self._tracking(text)
                    elif key == "status":
                        fields["is_active"] = self._status(text)
                    elif key == "category":
                        pk, category_path = self._category(text)
                        fields["category_id"] = pk
                    else:
                        fields[key] = text
                except Bad as exc:
                    out.error(n, headers[i], text, exc.message)
            if len(out.errors) > errors_before:
                continue
            code_upper = (fields.get("code") or "").strip().upper()
            existing = self.codes.get(code_upper)
            if existing is not None and not self.update_existing:
                out.error(
                    n, FIELD_BY_KEY["code"].zh, fields.get("code"), _("The product code exists already.")
                )
                continue
            if code_upper in seen_codes:
                out.error(
                    n,
                    FIELD_BY_KEY["code"].zh,
                    fields.get("code"),
                    _("The same code is in row %(row)s of this file.") % {"row": seen_codes[code_upper]},
                )
                continue
            if existing is not None:
                # An update: the product as it is, with the file's columns laid over it.
                p = Product.objects.select_related("unit").get(pk=existing)
                for k, v in fields.items():
                    if k != "code":  # matched whatever its case: the code stays as it is
                        setattr(p, k, v)
            else:
                p = Product(
                    **{k: v for k, v in fields.items() if k not in ("unit", "category_id")},
                    unit=fields.get("unit"),
                    category_id=fields.get("category_id"),
                )
                for k in ("list_price", "standard_cost"):
                    if k not in fields:
                        setattr(p, k, Decimal("0"))
                if "tax_rate" not in fields:
                    p.tax_rate = Decimal("13")
            try:
                services.clean_product(p, check_refs=False)
            except DomainError as exc:
                key = exc.details.get("field", "")
                column = FIELD_BY_KEY[key].zh if key in FIELD_BY_KEY else ""
                out.error(n, column, raw.get(key, ""), exc.message)
                continue
            if p.barcode:
                other = self.barcodes.get(p.barcode)
                if (other is not None and other != existing) or p.barcode in seen_barcodes:
                    out.error(
                        n, FIELD_BY_KEY["barcode"].zh, p.barcode, _("The barcode is used by another product.")
                    )
                    continue
                seen_barcodes[p.barcode] = n
            seen_codes[code_upper] = n
            key = p.name_key
            if key in seen_keys:
                out.warnings.append(
                    [
                        n,
                        FIELD_BY_KEY["name"].zh,
                        f"{p.name} {p.spec}".strip(),
                        _("Same name and specification as row %(row)s.") % {"row": seen_keys[key]},
                    ]
                )
            elif key in self.keys and self.keys[key].upper() != code_upper:
                out.warnings.append(
                    [
                        n,
                        FIELD_BY_KEY["name"].zh,
                        f"{p.name} {p.spec}".strip(),
                        _("Same name and specification as product %(code)s.") % {"code": self.keys[key]},
                    ]
                )
            seen_keys.setdefault(key, n)
            if existing is not None:
                # Only the columns the file has change; the service cleans and checks again.
                update = {
                    k: getattr(p, k)
                    for k in fields
                    if k not in ("code", "unit", "category_id", "is_active") and k in services.PRODUCT_FIELDS
                }
                if "unit" in fields:
                    update["unit"] = fields["unit"]
                if "is_active" in fields:
                    update["is_active"] = p.is_active
                if "category_id" in fields:
                    update["category"] = fields["category_id"]
                out.updates.append(Row(n, update, category_path, existing))
            else:
                out.creates.append(Row(n, {"product": p}, category_path))
        out.new_categories = [" / ".join(p) for p in self.new_paths]
        out.errors.sort(key=lambda e: e[0])
        return out


# --- writing ------------------------------------------------------------------------------------------


class Writer:
    def __init__(self, *, by):
        self.by = by
        self.categories: dict[tuple[str, ...], int] = {}
        self.now = timezone.now()

    def category_id(self, path: tuple[str, ...]) -> int:
        """Find or create the category path, level by level."""
        if path in self.categories:
            return self.categories[path]
        parent_id = None
        for i in range(1, len(path) + 1):
            sub = path[:i]
            if sub in self.categories:
                parent_id = self.categories[sub]
                continue
            c = Category.objects.filter(parent_id=parent_id, name=sub[-1]).first()
            if c is None:
                c = services.create_category(
                    name=sub[-1], parent=Category.objects.get(pk=parent_id) if parent_id else None, by=self.by
                )
            self.categories[sub] = parent_id = c.pk
        return parent_id

    def creates(self, rows: list[Row]) -> int:
        products = []
        for r in rows:
            p: Product = r.fields["product"]
            if r.category_path:
                p.category_id = self.category_id(r.category_path)
            products.append(p)
        Product.objects.bulk_create(products, batch_size=500)
        from .selectors import forget_brands

        transaction.on_commit(forget_brands)
        return len(products)

    def update(self, row: Row) -> None:
        fields = dict(row.fields)
        if row.category_path:
            fields["category"] = self.category_id(row.category_path)
        if "category" in fields and isinstance(fields["category"], int):
            fields["category"] = Category.objects.get(pk=fields["category"])
        product = Product.objects.get(pk=row.update_pk)
        services.update_product(product, by=self.by, confirm_duplicate=True, **fields)

    def audit(self, *, session, job, mode: str, created: int, updated: int, skipped: int) -> None:
        from auditlog.models import LogEntry
        from django.contrib.contenttypes.models import ContentType

        from kehu.core.models import Job

        LogEntry.objects.create(
            content_type=ContentType.objects.get_for_model(Job),
            object_pk=str(job.pk if job else session.pk),
            object_id=None,
            object_repr=(_("Import products: %(file)s") % {"file": session.meta["name"]})[:200],
            action=LogEntry.Action.CREATE,
            changes={
                "products created": ["None", str(created)],
                "products updated": ["None", str(updated)],
                "skipped": ["None", str(skipped)],
                "mode": ["None", mode],
                "file": ["None", session.meta["name"]],
            },
            actor=self.by,
            timestamp=self.now,
            additional_data={"import": session.pk, "kind": "products"},
        )


def require_import_right(user) -> None:
    if (
        not user.is_active
        or user.is_read_only
        or not user.has_right(RIGHT)
        or not user.has_right(services.EDIT)
    ):
        raise PermissionDeniedError(_("You may not import products."))


class ProductImport:
    """One import: the file (cached as text), its column mapping, the dry run's report, the job."""

    def __init__(self, pk: str, meta: dict):
        self.pk = pk
        self.meta = meta
        self._rows: list | None = None

    @property
    def folder(self) -> Path:
        return imports_root() / self.pk

    @property
    def pk_uuid(self) -> uuid.UUID:
        return uuid.UUID(self.pk)

    @classmethod
    def start(cls, *, user, upload) -> ProductImport:
        require_import_right(user)
        if upload is None:
            raise ImportFileError(_("Choose a file to import."))
        name = Path(getattr(upload, "name", "") or "products").name[:200]
        size = getattr(upload, "size", None)
        if size is not None and size > MAX_BYTES:
            raise ImportFileError(
                _("%(name)s has %(size)s MB; a product file may have at most %(max)s MB.")
                % {"name": name, "size": f"{size / 1024 / 1024:.1f}", "max": MAX_BYTES // 1024 // 1024}
            )
        check_size(size, name)
        purge_old_sessions()
        pk = uuid.uuid4().hex
        session = cls(pk, {"id": pk, "user_id": user.pk, "created": timezone.now().isoformat(), "name": name})
        session.folder.mkdir(parents=True, exist_ok=True)
        try:
            path = session.folder / "upload"
            written = 0
            with open(path, "wb") as fh:
                chunks = (
                    upload.chunks() if hasattr(upload, "chunks") else iter(partial(upload.read, 1 << 20), b"")
                )
                for chunk in chunks:
                    written += len(chunk)
                    if written > MAX_BYTES:
                        raise ImportFileError(
                            _("A product file may have at most %(max)s MB.")
                            % {"max": MAX_BYTES // 1024 // 1024}
                        )
                    fh.write(chunk)
            try:
                info, rows = read_table(path)
            except ImportFileError as exc:
                raise ImportFileError(f"{name}: {exc.message}")
            if len(rows) > MAX_ROWS:
                raise ImportFileError(
                    _("The file has more than %(max)s rows. Split it into smaller files.")
                    % {"max": f"{MAX_ROWS:,}"}
                )
            path.unlink()
            session.meta.update(info)
            session.meta["mapping"] = detect_mapping(info["headers"])
            _dump(session.folder / "rows.json", rows)
            session._rows = rows
            session.save()
        except BaseException:
            shutil.rmtree(session.folder, ignore_errors=True)
            raise
        return session

    @classmethod
    def open(cls, pk, *, user=None) -> ProductImport:
        return cls(*load_session(imports_root(), pk, user=user))

    def save(self) -> None:
        _dump(self.folder / "meta.json", self.meta)

    @property
    def rows(self) -> list:
        if self._rows is None:
            self._rows = _load(self.folder / "rows.json")
        return self._rows

    @property
    def headers(self) -> list[str]:
        return self.meta["headers"]

    @property
    def mapping(self) -> list[str]:
        return self.meta["mapping"]

    def set_mapping(self, mapping: list[str]) -> None:
        if len(mapping) != len(self.headers):
            raise ValidationFailed(_("The mapping does not fit the file's columns."))
        if mapping != self.mapping:
            self.meta["mapping"] = list(mapping)
            self.meta.pop("report", None)
        self.save()

    def validate(self, *, by, update_existing: bool) -> Outcome:
        require_import_right(by)
        problems = mapping_problems(self.mapping, update_existing=update_existing)
        if problems:
            raise ImportFileError(" ".join(problems))
        return Checker(update_existing=update_existing).check(self.headers, self.mapping, self.rows)

    def check(self, *, by, update_existing: bool = False) -> dict:
        """The dry run: validate every row, store and return the report (nothing is written)."""
        started = time.perf_counter()
        outcome = self.validate(by=by, update_existing=update_existing)
        return self.store_report(
            outcome, update_existing=update_existing, seconds=time.perf_counter() - started
        )

    def store_report(
        self, outcome: Outcome, *, update_existing: bool, seconds: float = 0.0, final=False
    ) -> dict:
        report = {
            "mapping": list(self.mapping),
            "update_existing": update_existing,
            "rows": len(self.rows),
            "bad_rows": len(outcome.bad_rows),
            "creates": len(outcome.creates),
            "updates": len(outcome.updates),
            "errors": len(outcome.errors),
            "warnings": len(outcome.warnings),
            "new_categories": outcome.new_categories[:50],
            "seconds": round(seconds, 3),
            "at": timezone.now().isoformat(),
            "final": final,
        }
        _dump(self.folder / "errors.json", {"errors": outcome.errors, "warnings": outcome.warnings})
        self.meta["report"] = report
        self.save()
        return report

    @property
    def report(self) -> dict | None:
        report = self.meta.get("report")
        return report if report and report.get("mapping") == self.mapping else None

    def problems(self, kind: str = "errors") -> list[list]:
        path = self.folder / "errors.json"
        if not path.is_file() or not self.meta.get("report"):
            return []
        return _load(path).get(kind, [])

    @property
    def job_id(self) -> str | None:
        return self.meta.get("job_id")

    def enqueue(self, *, by, mode: str):
        require_import_right(by)
        if mode not in MODES:
            raise ValidationFailed(_("Choose how to import."), details={"field": "mode"})
        report = self.report
        if report is None:
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
        job = jobs.enqueue(
            "catalog.import",
            user=by,
            label=_("Import products: %(file)s") % {"file": self.meta["name"]},
            params={"session": self.pk, "mode": mode, "update_existing": bool(report["update_existing"])},
        )
        self.meta["job_id"] = str(job.pk)
        self.save()
        return job

    def execute(self, *, by, mode: str, update_existing: bool = False, ctx=None) -> dict:
        """The import (the job's body): check again (the database may have changed), then write."""
        lock = self.folder / "imported.lock"
        try:
            lock.touch(exist_ok=False)
        except FileExistsError:
            raise ValidationFailed(_("This file has been imported already."))
        imported = False
        total = len(self.rows)

        def progress(done, message):
            if ctx is not None:
                ctx.progress(done, total * 2, str(message))

        try:
            started = time.perf_counter()
            progress(0, _("Checking rows…"))
            outcome = self.validate(by=by, update_existing=update_existing)
            progress(total, _("Writing…"))
            writer = Writer(by=by)
            job = ctx.job if ctx else None
            created = updated = 0
            if mode == ALL_OR_NOTHING:
                if outcome.errors:
                    self.store_report(outcome, update_existing=update_existing, final=True)
                    return self._result(mode, 0, 0, outcome)
                with transaction.atomic():
                    for batch in _chunks(outcome.creates, BATCH_SIZE):
                        created += writer.creates(batch)
                        progress(total + created + updated, _("Writing…"))
                    for row in outcome.updates:
                        writer.update(row)
                        updated += 1
                    writer.audit(
                        session=self, job=job, mode=mode, created=created, updated=updated, skipped=0
                    )
            else:
                for batch in _chunks(outcome.creates, BATCH_SIZE):
                    try:
                        with transaction.atomic():
                            created += writer.creates(batch)
                    except (IntegrityError, DatabaseError):
                        created += self._one_by_one(writer, batch, outcome)
                    progress(total + created + updated, _("Writing…"))
                for row in outcome.updates:
                    try:
                        writer.update(row)
                        updated += 1
                    except DomainError as exc:
                        outcome.error(row.row, "", "", exc.message)
                if created or updated:
                    with transaction.atomic():
                        writer.audit(
                            session=self,
                            job=job,
                            mode=mode,
                            created=created,
                            updated=updated,
                            skipped=len(outcome.bad_rows),
                        )
            imported = created + updated > 0
            progress(
                total * 2,
                _("%(created)s created, %(updated)s updated") % {"created": created, "updated": updated},
            )
            self.store_report(
                outcome, update_existing=update_existing, seconds=time.perf_counter() - started, final=True
            )
            return self._result(mode, created, updated, outcome)
        finally:
            if not imported:
                lock.unlink(missing_ok=True)

    def _one_by_one(self, writer: Writer, batch: list[Row], outcome: Outcome) -> int:
        """A batch the database refused (someone added a product meanwhile): row by row."""
        n = 0
        for row in batch:
            p = row.fields["product"]
            p.pk = None
            try:
                with transaction.atomic():
                    writer.creates([row])
                n += 1
            except (IntegrityError, DatabaseError):
                p.pk = None
                outcome.error(
                    row.row,
                    FIELD_BY_KEY["code"].zh,
                    p.code,
                    _("The database refused this row (code taken?)."),
                )
        return n

    def _result(self, mode: str, created: int, updated: int, outcome: Outcome) -> dict:
        skipped = len(outcome.bad_rows)
        if mode == ALL_OR_NOTHING and outcome.errors:
            summary = _(
                "Nothing was imported: %(bad)s of %(rows)s rows have errors. "
                "Correct the file and import it again."
            ) % {"bad": skipped, "rows": len(self.rows)}
        else:
            summary = _("Created %(created)s products, updated %(updated)s, skipped %(skipped)s rows.") % {
                "created": created,
                "updated": updated,
                "skipped": skipped,
            }
        result = {
            "summary": summary,
            "imported": created + updated,
            "created": created,
            "updated": updated,
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
            "review": reverse("catalog:import_review", args=[self.pk_uuid]),
            "errors": reverse("catalog:import_errors", args=[self.pk_uuid]),
        }


@jobs.job("catalog.import")
def import_job(ctx, *, session: str, mode: str, update_existing: bool = False) -> dict:
    by = ctx.user
    with translation.override(getattr(by, "language", "") or settings.LANGUAGE_CODE):
        try:
            imp = ProductImport.open(session, user=by)
        except SessionNotFound:
            raise ValidationFailed(_("The uploaded file is no longer kept; upload it again."))
        return imp.execute(by=by, mode=mode, update_existing=update_existing, ctx=ctx)


def column_letters(n: int) -> list[str]:
    return [column_letter(i) for i in range(n)]
