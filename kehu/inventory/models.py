"""库存: warehouses and locations, the stock ledger and balances, serial units, stock notes
(入库单/出库单), transfers (调拨), stocktakes (盘点) and safety stock.  Workflow lives in services.py.

Inventory is company-wide: rights decide who opens it, there is no per-owner data scope.  Nothing
here changes stock by itself; only ``kehu.inventory.services.post_movements`` writes ledger rows,
balances and serial statuses."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from kehu.core.models import Archivable

USER = settings.AUTH_USER_MODEL
QTY = {"max_digits": 18, "decimal_places": 4}
COST = {"max_digits": 16, "decimal_places": 4}
MONEY = {"max_digits": 18, "decimal_places": 2}
ZERO = Decimal("0")


class Reason(models.TextChoices):
    """Why stock moved (the ledger's 业务类型)."""

    PURCHASE_RECEIPT = "purchase_receipt", _("Purchase receipt")
    SALES_ISSUE = "sales_issue", _("Sales issue")
    CUSTOMER_RETURN = "customer_return", _("Customer return")
    TRANSFER = "transfer", _("Transfer")
    STOCKTAKE = "stocktake", _("Stocktake adjustment")
    SCRAP = "scrap", _("Scrap")
    LOAN_OUT = "loan_out", _("Sample / loan out")
    LOAN_RETURN = "loan_return", _("Loan return")
    OTHER_RECEIPT = "other_receipt", _("Other receipt")
    OTHER_ISSUE = "other_issue", _("Other issue")


RECEIPT_REASONS = (
    Reason.PURCHASE_RECEIPT,
    Reason.OTHER_RECEIPT,
    Reason.CUSTOMER_RETURN,
    Reason.LOAN_RETURN,
)
ISSUE_REASONS = (Reason.SALES_ISSUE, Reason.OTHER_ISSUE, Reason.SCRAP, Reason.LOAN_OUT)


class Warehouse(Archivable):
    """仓库."""

    code = models.CharField(_("code"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=60)
    address = models.CharField(_("address"), max_length=200, blank=True)
    keeper = models.ForeignKey(
        USER,
        verbose_name=_("warehouse keeper"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="kept_warehouses",
    )
    notes = models.TextField(_("notes"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("warehouse")
        verbose_name_plural = _("warehouses")
        ordering = ["code"]
        constraints = [models.CheckConstraint(condition=~Q(code=""), name="inv_warehouse_code_not_empty")]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    def get_absolute_url(self):
        return reverse("inventory:warehouse_detail", args=[self.pk])


class Location(models.Model):
    """库位: a shelf or bin inside a warehouse (informative: balances are per warehouse)."""

    warehouse = models.ForeignKey(
        Warehouse, verbose_name=_("warehouse"), on_delete=models.CASCADE, related_name="locations"
    )
    code = models.CharField(_("code"), max_length=30)
    name = models.CharField(_("name"), max_length=60, blank=True)

    class Meta:
        verbose_name = _("location")
        verbose_name_plural = _("locations")
        ordering = ["warehouse", "code"]
        constraints = [
            models.UniqueConstraint(fields=["warehouse", "code"], name="inv_location_code_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.warehouse.code}/{self.code}"


class StockBalance(models.Model):
    """库存: the quantity of one product in one warehouse and batch ("" when untracked).  Changed only
    by ``post_movements`` in the transaction that writes the ledger row; ``value`` is the sum of the
    ledger amounts.  The database forbids negative stock and over-reservation."""

    product = models.ForeignKey(
        "catalog.Product", verbose_name=_("product"), on_delete=models.PROTECT, related_name="+"
    )
    warehouse = models.ForeignKey(
        Warehouse, verbose_name=_("warehouse"), on_delete=models.PROTECT, related_name="balances"
    )
    batch = models.CharField(_("batch"), max_length=40, blank=True, default="")
    quantity = models.DecimalField(_("quantity"), default=ZERO, **QTY)
    reserved = models.DecimalField(_("reserved"), default=ZERO, **QTY)
    value = models.DecimalField(_("value"), default=ZERO, **MONEY)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("stock balance")
        verbose_name_plural = _("stock balances")
        constraints = [
            models.UniqueConstraint(fields=["product", "warehouse", "batch"], name="inv_balance_key_uniq"),
            models.CheckConstraint(condition=Q(quantity__gte=0), name="inv_balance_quantity_gte_0"),
            models.CheckConstraint(condition=Q(reserved__gte=0), name="inv_balance_reserved_gte_0"),
            models.CheckConstraint(
                condition=Q(reserved__lte=F("quantity")), name="inv_balance_reserved_lte_quantity"
            ),
        ]
        indexes = [models.Index(fields=["warehouse", "product"], name="inv_balance_wh_product")]

    def __str__(self) -> str:
        return f"{self.product_id}@{self.warehouse_id}/{self.batch}: {self.quantity}"

    @property
    def available(self) -> Decimal:
        return self.quantity - self.reserved


# What a serial unit's card says of the unit itself (the API's answer and the find-by-serial lookup)
SERIAL_CARD_FIELDS = (
    "serial",
    "status",
    "batch",
    "production_date",
    "production_line",
    "supplier",
    "received_at",
    "delivered_on",
    "warranty_start",
    "warranty_end",
)


class ImmutableError(Exception):
    pass


class StockMove(models.Model):
    """A ledger row (库存流水): a fact, never changed.  ``quantity`` is signed: + into the warehouse,
    − out of it.  The source document is a generic reference (type, id, number) so any module can
    post movements."""

    id = models.BigAutoField(primary_key=True)
    product = models.ForeignKey(
        "catalog.Product", verbose_name=_("product"), on_delete=models.PROTECT, related_name="+"
    )
    warehouse = models.ForeignKey(
        Warehouse, verbose_name=_("warehouse"), on_delete=models.PROTECT, related_name="moves"
    )
    batch = models.CharField(_("batch"), max_length=40, blank=True, default="")
    quantity = models.DecimalField(_("quantity"), **QTY)
    unit_cost = models.DecimalField(_("unit cost"), **COST)
    amount = models.DecimalField(_("amount"), **MONEY)
    balance_after = models.DecimalField(_("balance after"), **QTY)
    reason = models.CharField(_("reason"), max_length=20, choices=Reason.choices)
    is_reversal = models.BooleanField(_("reversal"), default=False)
    doc_type = models.CharField(_("document type"), max_length=40)
    doc_id = models.BigIntegerField(_("document id"), null=True, blank=True)
    doc_number = models.CharField(_("document number"), max_length=40, blank=True)
    customer = models.ForeignKey(
        "customers.Customer",
        verbose_name=_("customer"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    user = models.ForeignKey(
        USER, verbose_name=_("user"), null=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("time"), db_index=True)

    class Meta:
        verbose_name = _("stock movement")
        verbose_name_plural = _("stock movements")
        ordering = ["-id"]
        constraints = [models.CheckConstraint(condition=~Q(quantity=0), name="inv_move_quantity_not_0")]
        indexes = [
            models.Index(fields=["product", "warehouse", "created_at"], name="inv_move_product_wh_time"),
            models.Index(fields=["doc_type", "doc_id"], name="inv_move_doc"),
            models.Index(fields=["warehouse", "created_at"], name="inv_move_wh_time"),
        ]

    def __str__(self) -> str:
        return f"{self.doc_number} {self.product_id} {self.quantity:+}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not kwargs.get("force_insert"):
            raise ImmutableError("ledger rows are immutable")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ImmutableError("ledger rows are immutable")


class SerialUnit(models.Model):
    """序列号: one identified unit of a serial-tracked product, with where it is and its warranty."""

    class Status(models.TextChoices):
        IN_STOCK = "in_stock", _("In stock")
        RESERVED = "reserved", _("Reserved")
        DELIVERED = "delivered", _("Delivered")
        LOANED = "loaned", _("On loan")
        RETURNED = "returned", _("Returned")
        IN_REPAIR = "in_repair", _("In repair")
        SCRAPPED = "scrapped", _("Scrapped")
        LOST = "lost", _("Lost (stocktake)")
        VOIDED = "voided", _("Voided (receipt reversed)")

    id = models.BigAutoField(primary_key=True)
    product = models.ForeignKey(
        "catalog.Product", verbose_name=_("product"), on_delete=models.PROTECT, related_name="+"
    )
    serial = models.CharField(_("serial number"), max_length=64)
    # = serial while "serials globally unique" is on when the unit is created; unique across products.
    global_key = models.CharField(max_length=64, null=True, blank=True, unique=True, editable=False)
    batch = models.CharField(_("batch"), max_length=40, blank=True, default="")
    production_date = models.DateField(_("production date"), null=True, blank=True)
    production_line = models.CharField(_("production line"), max_length=40, blank=True)
    supplier = models.CharField(_("supplier"), max_length=120, blank=True)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.IN_STOCK)
    warehouse = models.ForeignKey(
        Warehouse,
        verbose_name=_("warehouse"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    customer = models.ForeignKey(
        "customers.Customer",
        verbose_name=_("customer"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="serial_units",
    )
    received_at = models.DateTimeField(_("received at"), null=True, blank=True)
    delivered_on = models.DateField(_("delivered on"), null=True, blank=True)
    warranty_start = models.DateField(_("warranty start"), null=True, blank=True)
    warranty_end = models.DateField(_("warranty end"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("serial unit")
        verbose_name_plural = _("serial units")
        ordering = ["product", "serial"]
        constraints = [
            models.UniqueConstraint(fields=["product", "serial"], name="inv_serial_per_product_uniq"),
            models.CheckConstraint(condition=~Q(serial=""), name="inv_serial_not_empty"),
        ]
        indexes = [
            models.Index(fields=["serial"], name="inv_serial_serial"),
            models.Index(fields=["product", "batch"], name="inv_serial_product_batch"),
            models.Index(fields=["product", "production_date"], name="inv_serial_product_pdate"),
            models.Index(fields=["warehouse", "product", "status"], name="inv_serial_wh_product_st"),
        ]

    def __str__(self) -> str:
        return self.serial

    def get_absolute_url(self):
        return reverse("inventory:serial_detail", args=[self.pk])

    @property
    def under_warranty(self) -> bool | None:
        from django.utils import timezone

        if not self.warranty_end:
            return None
        return timezone.localdate() <= self.warranty_end


class SerialEvent(models.Model):
    """One step of a serial unit's life (received, moved, delivered, returned, repaired…).  Later
    modules add theirs with ``services.record_serial_event``."""

    id = models.BigAutoField(primary_key=True)
    unit = models.ForeignKey(SerialUnit, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(_("event"), max_length=30)
    status = models.CharField(_("status after"), max_length=12, choices=SerialUnit.Status.choices)
    warehouse = models.ForeignKey(
        Warehouse, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    customer = models.ForeignKey(
        "customers.Customer", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    move = models.ForeignKey(StockMove, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    doc_type = models.CharField(max_length=40, blank=True)
    doc_id = models.BigIntegerField(null=True, blank=True)
    doc_number = models.CharField(max_length=40, blank=True)
    note = models.CharField(_("note"), max_length=200, blank=True)
    user = models.ForeignKey(USER, null=True, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(_("time"))

    class Meta:
        verbose_name = _("serial event")
        verbose_name_plural = _("serial events")
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["unit", "at"], name="inv_serialevent_unit_at")]

    def __str__(self) -> str:
        return f"{self.unit_id} {self.kind} {self.at:%Y-%m-%d}"


class DocStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    POSTED = "posted", _("Posted")
    REVERSED = "reversed", _("Reversed")
    CANCELLED = "cancelled", _("Cancelled")


class StockNote(models.Model):
    """入库单 / 出库单 for receipts and issues that no other module owns (purchases, other receipts and
    issues, scrap, loans).  A draft is edited freely; posting moves the stock; a posted note is
    read-only and is undone by a reversal note."""

    class Kind(models.TextChoices):
        RECEIPT = "receipt", _("Goods receipt")
        ISSUE = "issue", _("Goods issue")

    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    number = models.CharField(_("number"), max_length=40, unique=True)
    warehouse = models.ForeignKey(
        Warehouse, verbose_name=_("warehouse"), on_delete=models.PROTECT, related_name="+"
    )
    reason = models.CharField(_("reason"), max_length=20, choices=Reason.choices)
    status = models.CharField(_("status"), max_length=10, choices=DocStatus.choices, default=DocStatus.DRAFT)
    partner = models.CharField(_("supplier / recipient"), max_length=120, blank=True)
    customer = models.ForeignKey(
        "customers.Customer",
        verbose_name=_("customer"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    notes = models.TextField(_("notes"), blank=True)
    reverses = models.OneToOneField(
        "self",
        verbose_name=_("reverses"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reversed_by",
    )
    created_by = models.ForeignKey(
        USER, verbose_name=_("created by"), on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    posted_by = models.ForeignKey(
        USER, verbose_name=_("posted by"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    posted_at = models.DateTimeField(_("posted at"), null=True, blank=True)

    class Meta:
        verbose_name = _("stock note")
        verbose_name_plural = _("stock notes")
        ordering = ["-id"]
        indexes = [models.Index(fields=["kind", "status"], name="inv_note_kind_status")]

    def __str__(self) -> str:
        return self.number

    def get_absolute_url(self):
        return reverse("inventory:note_detail", args=[self.pk])

    @property
    def doc_type(self) -> str:
        return "goods_receipt" if self.kind == self.Kind.RECEIPT else "goods_issue"

    @property
    def sign(self) -> int:
        return 1 if self.kind == self.Kind.RECEIPT else -1


class StockNoteLine(models.Model):
    note = models.ForeignKey(StockNote, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(
        "catalog.Product", verbose_name=_("product"), on_delete=models.PROTECT, related_name="+"
    )
    batch = models.CharField(_("batch"), max_length=40, blank=True)
    quantity = models.DecimalField(_("quantity"), **QTY)
    unit_cost = models.DecimalField(_("unit cost"), null=True, blank=True, **COST)
    production_date = models.DateField(_("production date"), null=True, blank=True)
    production_line = models.CharField(_("production line"), max_length=40, blank=True)
    # Serial numbers, one a line (a draft may hold them unchecked; posting checks every one).
    serials = models.TextField(_("serial numbers"), blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.note_id}: {self.product_id} × {self.quantity}"

    @property
    def serial_list(self) -> list[str]:
        return [s for s in (x.strip() for x in self.serials.splitlines()) if s]


class Transfer(models.Model):
    """调拨: goods leave one warehouse and enter another in one posting."""

    number = models.CharField(_("number"), max_length=40, unique=True)
    from_warehouse = models.ForeignKey(
        Warehouse, verbose_name=_("from warehouse"), on_delete=models.PROTECT, related_name="+"
    )
    to_warehouse = models.ForeignKey(
        Warehouse, verbose_name=_("to warehouse"), on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(_("status"), max_length=10, choices=DocStatus.choices, default=DocStatus.DRAFT)
    notes = models.TextField(_("notes"), blank=True)
    created_by = models.ForeignKey(
        USER, verbose_name=_("created by"), on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    posted_by = models.ForeignKey(
        USER, verbose_name=_("posted by"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    posted_at = models.DateTimeField(_("posted at"), null=True, blank=True)

    class Meta:
        verbose_name = _("transfer")
        verbose_name_plural = _("transfers")
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.number

    def get_absolute_url(self):
        return reverse("inventory:transfer_detail", args=[self.pk])


class TransferLine(models.Model):
    transfer = models.ForeignKey(Transfer, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(
        "catalog.Product", verbose_name=_("product"), on_delete=models.PROTECT, related_name="+"
    )
    batch = models.CharField(_("batch"), max_length=40, blank=True)
    quantity = models.DecimalField(_("quantity"), **QTY)
    serials = models.TextField(_("serial numbers"), blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.transfer_id}: {self.product_id} × {self.quantity}"

    @property
    def serial_list(self) -> list[str]:
        return [s for s in (x.strip() for x in self.serials.splitlines()) if s]


class Stocktake(models.Model):
    """盘点: a frozen snapshot of book quantities, the counts, the variance and its posting."""

    class Status(models.TextChoices):
        COUNTING = "counting", _("Counting")
        POSTED = "posted", _("Posted")
        CANCELLED = "cancelled", _("Cancelled")

    number = models.CharField(_("number"), max_length=40, unique=True)
    warehouse = models.ForeignKey(
        Warehouse, verbose_name=_("warehouse"), on_delete=models.PROTECT, related_name="+"
    )
    category = models.ForeignKey(
        "catalog.Category",
        verbose_name=_("category"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.COUNTING)
    # The last ledger row when the snapshot was taken: movements after it happened during the count.
    snapshot_move_id = models.BigIntegerField(default=0)
    frozen_at = models.DateTimeField(_("snapshot taken at"))
    notes = models.TextField(_("notes"), blank=True)
    created_by = models.ForeignKey(
        USER, verbose_name=_("created by"), on_delete=models.PROTECT, related_name="+"
    )
    posted_by = models.ForeignKey(
        USER, verbose_name=_("posted by"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    posted_at = models.DateTimeField(_("posted at"), null=True, blank=True)

    class Meta:
        verbose_name = _("stocktake")
        verbose_name_plural = _("stocktakes")
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.number

    def get_absolute_url(self):
        return reverse("inventory:stocktake_detail", args=[self.pk])


class StocktakeLine(models.Model):
    """One product × batch of the stocktake.  ``expected`` = the book quantity at the snapshot plus the
    movements posted between the snapshot and the moment the count was entered; the variance is
    ``counted - expected``."""

    stocktake = models.ForeignKey(Stocktake, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(
        "catalog.Product", verbose_name=_("product"), on_delete=models.PROTECT, related_name="+"
    )
    batch = models.CharField(_("batch"), max_length=40, blank=True, default="")
    book_quantity = models.DecimalField(_("book quantity"), **QTY)
    moved_quantity = models.DecimalField(_("moved during the count"), default=ZERO, **QTY)
    counted_quantity = models.DecimalField(_("counted quantity"), null=True, blank=True, **QTY)
    counted_at = models.DateTimeField(_("counted at"), null=True, blank=True)

    class Meta:
        ordering = ["product__code", "batch"]
        constraints = [
            models.UniqueConstraint(fields=["stocktake", "product", "batch"], name="inv_stocktake_line_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.stocktake_id}: {self.product_id}/{self.batch}"

    @property
    def expected(self) -> Decimal:
        return self.book_quantity + self.moved_quantity

    @property
    def variance(self) -> Decimal | None:
        return None if self.counted_quantity is None else self.counted_quantity - self.expected


class StocktakeSerial(models.Model):
    """A serial of a serial-tracked product in the stocktake: in the book at the snapshot and/or
    scanned during the count."""

    stocktake = models.ForeignKey(Stocktake, on_delete=models.CASCADE, related_name="serials")
    product = models.ForeignKey("catalog.Product", on_delete=models.PROTECT, related_name="+")
    serial = models.CharField(max_length=64)
    unit = models.ForeignKey(SerialUnit, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    in_book = models.BooleanField(default=False)
    counted = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["stocktake", "product", "serial"], name="inv_stocktake_serial_uniq"
            ),
        ]

    def __str__(self) -> str:
        return self.serial


class SafetyStock(models.Model):
    """安全库存: the minimum (and optional maximum) of a product in a warehouse."""

    product = models.ForeignKey(
        "catalog.Product", verbose_name=_("product"), on_delete=models.CASCADE, related_name="+"
    )
    warehouse = models.ForeignKey(
        Warehouse, verbose_name=_("warehouse"), on_delete=models.CASCADE, related_name="+"
    )
    minimum = models.DecimalField(_("safety stock"), **QTY)
    maximum = models.DecimalField(_("maximum stock"), null=True, blank=True, **QTY)

    class Meta:
        verbose_name = _("safety stock")
        verbose_name_plural = _("safety stock levels")
        constraints = [
            models.UniqueConstraint(fields=["product", "warehouse"], name="inv_safety_uniq"),
            models.CheckConstraint(condition=Q(minimum__gte=0), name="inv_safety_min_gte_0"),
        ]

    def __str__(self) -> str:
        return f"{self.product_id}@{self.warehouse_id} ≥ {self.minimum}"


class StockPeriod(models.Model):
    """A closed month (月结): the closing stock of every product × warehouse at its end and the
    month's receipts and issues are stored in :class:`StockPeriodBalance`, so the 收发存 summary of a
    closed month reads only those rows, and that of the next month only its own ledger rows.  A
    movement posted back into a closed month reopens it (and every later one)."""

    period = models.CharField(_("month"), max_length=6, unique=True)  # YYYYMM
    closed_at = models.DateTimeField(_("closed at"))
    rows = models.PositiveIntegerField(_("rows"), default=0)

    class Meta:
        verbose_name = _("closed month")
        verbose_name_plural = _("closed months")
        ordering = ["-period"]

    def __str__(self) -> str:
        return self.period


class StockPeriodBalance(models.Model):
    period = models.CharField(max_length=6)
    product = models.ForeignKey("catalog.Product", on_delete=models.CASCADE, related_name="+")
    warehouse = models.ForeignKey(Warehouse, on_delete=models.CASCADE, related_name="+")
    quantity = models.DecimalField(**QTY)  # closing
    value = models.DecimalField(**MONEY)
    received = models.DecimalField(default=ZERO, **QTY)  # the month's movements in and out
    received_value = models.DecimalField(default=ZERO, **MONEY)
    issued = models.DecimalField(default=ZERO, **QTY)
    issued_value = models.DecimalField(default=ZERO, **MONEY)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["period", "product", "warehouse"], name="inv_period_balance_uniq"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.period} {self.product_id}@{self.warehouse_id}: {self.quantity}"


class StockMonthTotal(models.Model):
    """The receipts and issues of one month per product × warehouse (月度收发汇总), added to by
    :func:`~kehu.inventory.services.post_movements` in the same transaction as the ledger rows, so the
    收发存 summary of any month reads these small rows instead of the month's ledger.  A ledger row
    counts in the month of its ``created_at`` (local time), as received when its quantity is positive
    and as issued when negative.  ``kehu check-stock`` recomputes them from the ledger."""

    period = models.CharField(max_length=6)  # YYYYMM
    product = models.ForeignKey("catalog.Product", on_delete=models.CASCADE, related_name="+")
    warehouse = models.ForeignKey(Warehouse, on_delete=models.CASCADE, related_name="+")
    received = models.DecimalField(default=ZERO, **QTY)
    received_value = models.DecimalField(default=ZERO, **MONEY)
    issued = models.DecimalField(default=ZERO, **QTY)
    issued_value = models.DecimalField(default=ZERO, **MONEY)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["period", "product", "warehouse"], name="inv_month_total_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.period} {self.product_id}@{self.warehouse_id}: +{self.received} −{self.issued}"
