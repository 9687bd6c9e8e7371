"""商品中心: products and their category tree.  Workflow lives in services.py.

Stock figures are not kept here: the inventory app owns the ledger and balances.  ``avg_cost`` is the
moving-average cost that ``kehu.inventory.services`` maintains as goods are received; nothing else
writes it."""

from __future__ import annotations

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Upper
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from kehu.core.models import Archivable, dict_fk


class Category(models.Model):
    """A node of the product category tree (商品分类)."""

    name = models.CharField(_("name"), max_length=60)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent category"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    order = models.PositiveIntegerField(_("order"), default=100)

    class Meta:
        verbose_name = _("product category")
        verbose_name_plural = _("product categories")
        ordering = ["order", "name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["parent", "name"],
                name="catalog_category_name_uniq",
                nulls_distinct=False,
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Product(Archivable):
    class Tracking(models.TextChoices):
        NONE = "none", _("No tracking")
        BATCH = "batch", _("By batch")
        SERIAL = "serial", _("By serial number")

    code = models.CharField(_("product code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=120)
    spec = models.CharField(_("specification / model"), max_length=120, blank=True)
    # name + spec, normalised (full-width → half-width, case, spaces): for the duplicate warning.
    name_key = models.CharField(max_length=250, db_index=True, editable=False, default="")
    pinyin = models.CharField(_("pinyin initials"), max_length=60, blank=True, editable=False, default="")
    category = models.ForeignKey(
        Category,
        verbose_name=_("category"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="products",
    )
    brand = models.CharField(_("brand"), max_length=60, blank=True)
    unit = dict_fk("unit", _("unit"))
    quantity_decimals = models.PositiveSmallIntegerField(
        _("quantity decimals"),
        default=0,
        validators=[MaxValueValidator(4)],
        help_text=_("How many decimal places a quantity of this product may have (0 for whole units)."),
    )
    list_price = models.DecimalField(_("list price"), max_digits=14, decimal_places=2, default=Decimal("0"))
    standard_cost = models.DecimalField(
        _("standard cost"), max_digits=14, decimal_places=2, default=Decimal("0")
    )
    tax_rate = models.DecimalField(
        _("tax rate (%)"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("13"),
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )
    barcode = models.CharField(_("barcode"), max_length=64, blank=True, db_index=True)
    tracking = models.CharField(_("tracking"), max_length=8, choices=Tracking.choices, default=Tracking.NONE)
    serial_prefix = models.CharField(
        _("serial number prefix"),
        max_length=20,
        blank=True,
        help_text=_("Generated serial numbers look like prefix + date + sequence."),
    )
    warranty_months = models.PositiveSmallIntegerField(_("warranty (months)"), default=0)
    is_active = models.BooleanField(
        _("active"), default=True, help_text=_("Discontinued products are not sold.")
    )
    avg_cost = models.DecimalField(
        _("moving-average cost"), max_digits=16, decimal_places=4, default=Decimal("0"), editable=False
    )
    notes = models.TextField(_("notes"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(condition=~Q(code=""), name="catalog_product_code_not_empty"),
            models.CheckConstraint(condition=Q(list_price__gte=0), name="catalog_product_price_gte_0"),
            models.CheckConstraint(condition=Q(standard_cost__gte=0), name="catalog_product_cost_gte_0"),
            models.CheckConstraint(
                condition=Q(tax_rate__gte=0) & Q(tax_rate__lte=100), name="catalog_product_tax_rate_range"
            ),
            models.CheckConstraint(
                condition=Q(quantity_decimals__lte=4), name="catalog_product_decimals_le_4"
            ),
            # Codes are unique whatever their case (P-001 and p-001 are one product for a scanner).
            models.UniqueConstraint(Upper("code"), name="catalog_product_code_ci_uniq"),
        ]
        indexes = [
            models.Index(fields=["pinyin"], name="catalog_product_pinyin_idx"),
            models.Index(fields=["category", "code"], name="catalog_product_cat_idx"),
            models.Index(fields=["brand"], name="catalog_product_brand_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}" + (f" {self.spec}" if self.spec else "")

    def get_absolute_url(self):
        return reverse("catalog:detail", args=[self.pk])

    @property
    def is_serial(self) -> bool:
        return self.tracking == self.Tracking.SERIAL


class ProductImage(models.Model):
    product = models.ForeignKey(
        Product, verbose_name=_("product"), on_delete=models.CASCADE, related_name="images"
    )
    image = models.ImageField(_("image"), upload_to="products/%Y/%m/")
    order = models.PositiveIntegerField(_("order"), default=100)
    uploaded_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("product image")
        verbose_name_plural = _("product images")
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return self.image.name
