"""Every write on products, their images and the category tree (商品中心).

Each function runs in one transaction, locks what it changes (``select_for_update`` in primary-key
order), validates, writes, and is attributed to ``by`` in the audit trail (``@audited``).  Bad input
raises a :class:`~kehu.core.errors.DomainError` whose ``details["field"]`` names the form field.

Other modules may veto a change of a product (the inventory app refuses to change the tracking mode
or the quantity decimals of a product that has stock) with :func:`register_change_guard`.
"""

from __future__ import annotations

import copy
import io
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from kehu.core import services as core_services
from kehu.core.audit import audited
from kehu.core.errors import DomainError, InUse, PermissionDeniedError, ValidationFailed
from kehu.core.models import DictEntry

from .models import Category, Product, ProductImage
from .normalize import BARCODE_RE, CODE_RE, SERIAL_PREFIX_RE, pinyin_initials, product_key

VIEW, EDIT, IMPORT, EXPORT = "catalog.view", "catalog.edit", "catalog.import", "catalog.export"

PRODUCT_FIELDS = {
    "code",
    "name",
    "spec",
    "category",
    "brand",
    "unit",
    "quantity_decimals",
    "list_price",
    "standard_cost",
    "tax_rate",
    "barcode",
    "tracking",
    "serial_prefix",
    "warranty_months",
    "is_active",
    "notes",
}
CENT = Decimal("0.01")
MONEY_MAX = Decimal("999999999999.99")  # max_digits=14, decimal_places=2
MAX_DECIMALS = 4
MAX_WARRANTY_MONTHS = 600
MAX_IMAGE_BYTES = 5 * 1024 * 1024
MAX_IMAGES = 12
MAX_IMAGE_PIXELS = 40_000_000
IMAGE_FORMATS = {"JPEG": "jpg", "PNG": "png", "GIF": "gif", "WEBP": "webp"}


class DuplicateProduct(DomainError):
    """Another product has the same name and specification; the caller may confirm and go on."""

    code = "duplicate"
    status = 409


class DuplicateCode(DomainError):
    code = "duplicate_code"
    status = 409


# --- guards other modules register ------------------------------------------------------------------

CHANGE_GUARDS: list[Callable] = []


def register_change_guard(func: Callable) -> None:
    """``func(product, changes)`` is called inside :func:`update_product`'s transaction with the
    locked product (old values) and ``{field: new value}`` of the fields that change; it raises a
    ``DomainError`` to refuse.  E.g. inventory: no change of ``tracking`` while units are in stock."""
    if func not in CHANGE_GUARDS:
        CHANGE_GUARDS.append(func)


# --- helpers ------------------------------------------------------------------------------------------


def _require(by, right: str = EDIT) -> None:
    if by is None:
        return  # system writes (demo, migrations)
    if not by.is_active or by.is_read_only or not by.has_right(right):
        raise PermissionDeniedError(_("You may not change products."))


def _locked(model, pks):
    pks = sorted(set(pks))
    rows = {o.pk: o for o in model._base_manager.select_for_update().filter(pk__in=pks).order_by("pk")}
    if len(rows) != len(pks):
        raise ValidationFailed(_("A record was not found; reload the page."))
    return [rows[pk] for pk in pks]


def _lock(obj):
    return _locked(type(obj), [obj.pk])[0]


def _invalid(message, field: str) -> ValidationFailed:
    return ValidationFailed(message, details={"field": field})


def to_money(value, field: str, label) -> Decimal:
    """A non-negative amount, rounded half-up to 0.01."""
    if value in (None, ""):
        return Decimal("0.00")
    try:
        amount = Decimal(str(value).replace(",", "").strip())
    except (InvalidOperation, ValueError):
        raise _invalid(_("%(label)s must be a number.") % {"label": label}, field)
    if not amount.is_finite():
        raise _invalid(_("%(label)s must be a number.") % {"label": label}, field)
    amount = amount.quantize(CENT, rounding=ROUND_HALF_UP)
    if amount < 0:
        raise _invalid(_("%(label)s cannot be negative.") % {"label": label}, field)
    if amount > MONEY_MAX:
        raise _invalid(_("%(label)s is too large.") % {"label": label}, field)
    return amount


def _to_int(value, field: str, label, low: int, high: int) -> int:
    try:
        number = int(Decimal(str(value)))
        if Decimal(str(value)) != number:
            raise ValueError
    except (InvalidOperation, ValueError, TypeError):
        raise _invalid(_("%(label)s must be a whole number.") % {"label": label}, field)
    if not low <= number <= high:
        raise _invalid(
            _("%(label)s must be between %(low)s and %(high)s.") % {"label": label, "low": low, "high": high},
            field,
        )
    return number


def clean_product(p: Product, *, check_refs: bool = True) -> None:
    """Normalise and check every field; raises ValidationFailed naming the field.  The import,
    which has resolved the unit and the category itself, passes ``check_refs=False``."""
    p.code = (p.code or "").strip()
    if not p.code:
        raise _invalid(_("The product code is required."), "code")
    if len(p.code) > 40:
        raise _invalid(_("The product code may have at most 40 characters."), "code")
    if not CODE_RE.match(p.code):
        raise _invalid(
            _("A product code holds letters, digits and - _ . / only (no spaces): %(code)s")
            % {"code": p.code},
            "code",
        )
    p.name = " ".join((p.name or "").split())
    if not p.name:
        raise _invalid(_("The product name is required."), "name")
    if len(p.name) > 120:
        raise _invalid(_("The name may have at most 120 characters."), "name")
    p.spec = " ".join((p.spec or "").split())
    if len(p.spec) > 120:
        raise _invalid(_("The specification may have at most 120 characters."), "spec")
    p.brand = " ".join((p.brand or "").split())[:60]
    p.quantity_decimals = _to_int(
        p.quantity_decimals if p.quantity_decimals not in (None, "") else 0,
        "quantity_decimals",
        _("Quantity decimals"),
        0,
        MAX_DECIMALS,
    )
    p.list_price = to_money(p.list_price, "list_price", _("The list price"))
    p.standard_cost = to_money(p.standard_cost, "standard_cost", _("The standard cost"))
    try:
        rate = Decimal(str(p.tax_rate if p.tax_rate not in (None, "") else "0").strip().rstrip("%"))
    except (InvalidOperation, ValueError):
        raise _invalid(_("The tax rate must be a number."), "tax_rate")
    if not rate.is_finite() or not Decimal(0) <= rate <= Decimal(100):
        raise _invalid(_("The tax rate must be between 0 and 100 (%)."), "tax_rate")
    p.tax_rate = rate.quantize(CENT, rounding=ROUND_HALF_UP)
    p.barcode = (p.barcode or "").strip()
    if p.barcode and (len(p.barcode) > 64 or not BARCODE_RE.match(p.barcode)):
        raise _invalid(
            _("A barcode holds at most 64 letters, digits and symbols, without spaces."), "barcode"
        )
    if p.tracking not in Product.Tracking.values:
        raise _invalid(_("Choose how the product is tracked."), "tracking")
    p.serial_prefix = (p.serial_prefix or "").strip().upper()
    if p.tracking != Product.Tracking.SERIAL:
        p.serial_prefix = ""
    if len(p.serial_prefix) > 20 or not SERIAL_PREFIX_RE.match(p.serial_prefix):
        raise _invalid(
            _("A serial number prefix holds at most 20 letters, digits and dashes."), "serial_prefix"
        )
    p.warranty_months = _to_int(
        p.warranty_months if p.warranty_months not in (None, "") else 0,
        "warranty_months",
        _("The warranty"),
        0,
        MAX_WARRANTY_MONTHS,
    )
    if check_refs and p.unit_id is not None:
        unit = p.unit if isinstance(getattr(p, "unit", None), DictEntry) else None
        if unit is None or unit.pk != p.unit_id:
            unit = DictEntry.objects.filter(pk=p.unit_id).first()
        if unit is None or unit.type != "unit":
            raise _invalid(_("Choose a unit from the unit dictionary."), "unit")
    if check_refs and p.category_id is not None and not Category.objects.filter(pk=p.category_id).exists():
        raise _invalid(_("The category does not exist any more."), "category")
    p.notes = (p.notes or "").strip()
    p.name_key = product_key(p.name, p.spec)
    p.pinyin = pinyin_initials(p.name)


def _check_code(p: Product) -> None:
    clash = Product.objects.filter(code__iexact=p.code).exclude(pk=p.pk).first()
    if clash is not None:
        raise DuplicateCode(
            _("The product code %(code)s is taken by %(product)s.") % {"code": p.code, "product": clash},
            details={"field": "code", "id": clash.pk},
        )


def _check_barcode(p: Product) -> None:
    if not p.barcode:
        return
    clash = Product.objects.filter(barcode=p.barcode).exclude(pk=p.pk).first()
    if clash is not None:
        raise DuplicateCode(
            _("The barcode %(barcode)s is used by %(product)s already.")
            % {"barcode": p.barcode, "product": clash},
            code="duplicate_barcode",
            details={"field": "barcode", "id": clash.pk},
        )


def find_duplicates(*, name: str, spec: str = "", exclude_pk=None, limit: int = 5) -> list[dict]:
    """Products (archived ones included) with the same normalised name + specification."""
    key = product_key(name, spec)
    if key.startswith("|"):
        return []
    qs = Product.objects.filter(name_key=key).order_by("pk")
    if exclude_pk:
        qs = qs.exclude(pk=exclude_pk)
    return [
        {
            "id": p.pk,
            "code": p.code,
            "name": p.name,
            "spec": p.spec,
            "archived": p.is_archived,
            "active": p.is_active,
        }
        for p in qs[:limit]
    ]


def _raise_if_duplicate(p: Product, confirm: bool) -> None:
    if confirm:
        return
    dups = find_duplicates(name=p.name, spec=p.spec, exclude_pk=p.pk)
    if dups:
        names = "; ".join(f"{d['code']} {d['name']} {d['spec']}".strip() for d in dups)
        raise DuplicateProduct(
            _("A product with the same name and specification exists: %(list)s. Save anyway?")
            % {"list": names},
            details={"duplicates": dups},
        )


def _save(p: Product, **kwargs) -> None:
    """Save; the unique code is also guarded by the database (two saves racing for one code)."""
    from .selectors import forget_brands

    try:
        with transaction.atomic():
            p.save(**kwargs)
        transaction.on_commit(forget_brands)
    except IntegrityError as exc:
        if Product.objects.filter(code__iexact=p.code).exclude(pk=p.pk).exists():
            raise DuplicateCode(
                _("The product code %(code)s is taken.") % {"code": p.code}, details={"field": "code"}
            ) from exc
        raise ValidationFailed(_("The product could not be saved: %(error)s") % {"error": exc}) from exc


def _unknown(fields) -> None:
    unknown = set(fields) - PRODUCT_FIELDS
    if unknown:
        raise ValidationFailed(_("Unknown fields: %(f)s") % {"f": ", ".join(sorted(unknown))})


# --- products -----------------------------------------------------------------------------------------


@audited
def create_product(*, by, confirm_duplicate: bool = False, **fields) -> Product:
    """A new product.  A taken code is an error (409 ``duplicate_code``); the same name and
    specification as another product is a warning (409 ``duplicate``) the caller may override with
    ``confirm_duplicate=True``."""
    _unknown(fields)
    _require(by)
    with transaction.atomic():
        p = Product(**fields)
        clean_product(p)
        _check_code(p)
        _check_barcode(p)
        _raise_if_duplicate(p, confirm_duplicate)
        _save(p)
        return p


@audited
def update_product(product: Product, *, by, confirm_duplicate: bool = False, **fields) -> Product:
    _unknown(fields)
    _require(by)
    with transaction.atomic():
        p = _lock(product)
        old = copy.copy(p)
        before = {f: getattr(p, f if f not in ("category", "unit") else f"{f}_id") for f in PRODUCT_FIELDS}
        old_key = p.name_key
        for k, v in fields.items():
            setattr(p, k, v.strip() if isinstance(v, str) else v)
        clean_product(p)
        after = {f: getattr(p, f if f not in ("category", "unit") else f"{f}_id") for f in PRODUCT_FIELDS}
        changes = {f: after[f] for f in PRODUCT_FIELDS if after[f] != before[f]}
        if changes:
            for guard in CHANGE_GUARDS:
                guard(old, changes)
        if "code" in changes:
            _check_code(p)
        if "barcode" in changes:
            _check_barcode(p)
        if p.name_key != old_key:
            _raise_if_duplicate(p, confirm_duplicate)
        _save(p)
        return p


@audited
def set_product_active(product: Product, *, active: bool, by) -> Product:
    """停售 / 恢复销售: a discontinued product stays in the records but is not sold any more."""
    _require(by)
    with transaction.atomic():
        p = _lock(product)
        if p.is_active != active:
            if not active:
                for guard in CHANGE_GUARDS:
                    guard(p, {"is_active": False})
            p.is_active = active
            p.save(update_fields=["is_active", "updated_at"])
        return p


def discontinue_product(product: Product, *, by) -> Product:
    return set_product_active(product, active=False, by=by)


def reactivate_product(product: Product, *, by) -> Product:
    return set_product_active(product, active=True, by=by)


def archive_product(product: Product, *, by) -> Product:
    _require(by)
    return core_services.archive(product, by=by)


def restore_product(product: Product, *, by) -> Product:
    _require(by)
    return core_services.restore(product, by=by)


# --- images -------------------------------------------------------------------------------------------


def check_image(upload) -> str:
    """Size, then content (not the file name): a real JPEG/PNG/GIF/WebP.  Returns the extension."""
    from PIL import Image, UnidentifiedImageError

    size = getattr(upload, "size", None)
    if size is not None and size > MAX_IMAGE_BYTES:
        raise _invalid(
            _("An image may have at most %(mb)s MB.") % {"mb": MAX_IMAGE_BYTES // 1024 // 1024}, "image"
        )
    if not size:
        raise _invalid(_("The image file is empty."), "image")
    upload.seek(0)
    data = upload.read(MAX_IMAGE_BYTES + 1)
    upload.seek(0)
    if len(data) > MAX_IMAGE_BYTES:
        raise _invalid(
            _("An image may have at most %(mb)s MB.") % {"mb": MAX_IMAGE_BYTES // 1024 // 1024}, "image"
        )
    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt = img.format
            width, height = img.size
            img.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise _invalid(_("This file is not an image (JPEG, PNG, GIF or WebP)."), "image")
    if fmt not in IMAGE_FORMATS:
        raise _invalid(_("Upload a JPEG, PNG, GIF or WebP image."), "image")
    if width * height > MAX_IMAGE_PIXELS:
        raise _invalid(_("The image is too large (more than 40 megapixels)."), "image")
    return IMAGE_FORMATS[fmt]


@audited
def add_product_image(product: Product, *, upload, by) -> ProductImage:
    _require(by)
    ext = check_image(upload)
    with transaction.atomic():
        p = _lock(product)
        count = p.images.count()
        if count >= MAX_IMAGES:
            raise ValidationFailed(
                _("A product may have at most %(n)s images.") % {"n": MAX_IMAGES}, details={"field": "image"}
            )
        last = p.images.order_by("-order").values_list("order", flat=True).first() or 0
        from django.core.files.base import ContentFile

        upload.seek(0)
        image = ProductImage(product=p, order=last + 10)
        image.image.save(f"{p.code.replace('/', '-')}.{ext}", ContentFile(upload.read()), save=False)
        name = image.image.name
        try:
            image.save()
        except Exception:
            image.image.storage.delete(name)
            raise
        return image


@audited
def remove_product_image(image: ProductImage, *, by) -> None:
    _require(by)
    with transaction.atomic():
        _lock(image.product)
        img = _lock(image)
        name, storage = img.image.name, img.image.storage
        img.delete()
        transaction.on_commit(lambda: storage.delete(name))


@audited
def make_main_image(image: ProductImage, *, by) -> ProductImage:
    """Move an image to the front: the first image is the one lists and labels show."""
    _require(by)
    with transaction.atomic():
        p = _lock(image.product)
        images = list(p.images.select_for_update().order_by("order", "pk"))
        images.sort(key=lambda i: (i.pk != image.pk, i.order, i.pk))
        for n, img in enumerate(images, start=1):
            if img.order != n * 10:
                img.order = n * 10
                img.save(update_fields=["order"])
        return next(i for i in images if i.pk == image.pk)


# --- categories ---------------------------------------------------------------------------------------


def _clean_category(c: Category) -> None:
    c.name = " ".join((c.name or "").split())
    if not c.name:
        raise _invalid(_("The category name is required."), "name")
    if len(c.name) > 60:
        raise _invalid(_("The name may have at most 60 characters."), "name")
    c.order = _to_int(c.order if c.order not in (None, "") else 100, "order", _("The order"), 0, 1_000_000)
    clash = Category.objects.filter(parent_id=c.parent_id, name=c.name).exclude(pk=c.pk)
    if clash.exists():
        raise _invalid(
            _("There is a category named %(name)s at this place already.") % {"name": c.name}, "name"
        )


def _ancestor_ids(category_id: int | None) -> list[int]:
    parents = dict(Category.objects.values_list("pk", "parent_id"))
    out, seen = [], set()
    while category_id is not None and category_id not in seen:
        seen.add(category_id)
        out.append(category_id)
        category_id = parents.get(category_id)
    return out


@audited
def create_category(*, name: str, parent: Category | None = None, order=100, by) -> Category:
    _require(by)
    with transaction.atomic():
        if parent is not None:
            parent = _lock(parent)
        c = Category(name=name, parent=parent, order=order)
        _clean_category(c)
        try:
            with transaction.atomic():
                c.save()
        except IntegrityError as exc:
            raise _invalid(
                _("There is a category named %(name)s at this place already.") % {"name": c.name}, "name"
            ) from exc
        return c


@audited
def update_category(category: Category, *, by, **fields) -> Category:
    """Rename, reorder or move a category; it cannot move below itself or one of its descendants."""
    unknown = set(fields) - {"name", "parent", "order"}
    if unknown:
        raise ValidationFailed(_("Unknown fields: %(f)s") % {"f": ", ".join(sorted(unknown))})
    _require(by)
    with transaction.atomic():
        pks = [category.pk] + ([fields["parent"].pk] if fields.get("parent") is not None else [])
        locked = {c.pk: c for c in _locked(Category, pks)}
        c = locked[category.pk]
        if "parent" in fields:
            parent = fields["parent"]
            if parent is not None and c.pk in _ancestor_ids(parent.pk):
                raise _invalid(
                    _("A category cannot be placed below itself or one of its sub-categories."), "parent"
                )
            c.parent = locked[parent.pk] if parent is not None else None
        if "name" in fields:
            c.name = fields["name"]
        if "order" in fields:
            c.order = fields["order"]
        _clean_category(c)
        try:
            with transaction.atomic():
                c.save()
        except IntegrityError as exc:
            raise _invalid(
                _("There is a category named %(name)s at this place already.") % {"name": c.name}, "name"
            ) from exc
        return c


@audited
def delete_category(category: Category, *, by) -> None:
    """Only an empty leaf: no sub-categories and no products (archived ones count)."""
    _require(by)
    with transaction.atomic():
        c = _lock(category)
        if Category.objects.filter(parent=c).exists():
            raise InUse(
                _("%(name)s has sub-categories; move or delete them first.") % {"name": c.name},
                code="has_children",
            )
        n = Product.objects.filter(category=c).count()
        if n:
            raise InUse(
                _("%(name)s holds %(n)s products; move them to another category first.")
                % {"name": c.name, "n": n},
                code="has_products",
                details={"products": n},
            )
        c.delete()
