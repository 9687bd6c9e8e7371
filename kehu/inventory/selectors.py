"""Reads: stock, the movement journal, the monthly 收发存 summary, safety-stock alerts, serial
traceability and recall lists.  Inventory is company-wide (rights decide who opens it); every read
here costs a fixed number of queries."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.conf import settings
from django.core.mail import send_mail
from django.db.models import DecimalField, OuterRef, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.template.loader import render_to_string
from django.utils import timezone, translation

from kehu.catalog.models import Product

from .models import (
    SERIAL_CARD_FIELDS,
    SafetyStock,
    SerialEvent,
    SerialUnit,
    StockBalance,
    StockMove,
    Warehouse,
)
from .periods import month_figures

ZERO = Decimal("0")


def balances() -> QuerySet[StockBalance]:
    return StockBalance.objects.select_related("product", "product__unit", "warehouse")


def moves() -> QuerySet[StockMove]:
    return StockMove.objects.select_related("product", "warehouse", "user", "customer")


def serial_units() -> QuerySet[SerialUnit]:
    return SerialUnit.objects.select_related("product", "warehouse", "customer")


FOUND_UNIT_FIELDS = (
    *SERIAL_CARD_FIELDS,
    "product__code",
    "product__name",
    "product__spec",
    "product__tracking",
    "warehouse__code",
    "warehouse__name",
    "customer__name",
)


def find_serial(serial: str) -> QuerySet[SerialUnit]:
    """Find by serial number across products (at most 20 units): one indexed query that reads only
    what the answer shows of the unit, its product, warehouse and customer."""
    return serial_units().filter(serial=serial).only(*FOUND_UNIT_FIELDS).order_by("product_id")[:20]


def product_stock(product: Product) -> list[dict]:
    """Per warehouse: quantity, reserved, available, value, safety stock (the product page's card)."""
    rows = (
        StockBalance.objects.filter(product=product)
        .values("warehouse_id", "warehouse__code", "warehouse__name")
        .annotate(q=Sum("quantity"), r=Sum("reserved"), v=Sum("value"))
        .order_by("warehouse__code")
    )
    safety = dict(SafetyStock.objects.filter(product=product).values_list("warehouse_id", "minimum"))
    out = []
    for r in rows:
        if not r["q"] and not r["r"] and r["warehouse_id"] not in safety:
            continue
        out.append(
            {
                "warehouse_id": r["warehouse_id"],
                "warehouse": f"{r['warehouse__code']} {r['warehouse__name']}",
                "quantity": r["q"],
                "reserved": r["r"],
                "available": r["q"] - r["r"],
                "value": r["v"],
                "minimum": safety.get(r["warehouse_id"]),
                "low": r["warehouse_id"] in safety and r["q"] < safety[r["warehouse_id"]],
            }
        )
    return out


def safety_alerts(warehouse_ids=None, limit: int | None = None) -> list[dict]:
    """Products below their safety stock per warehouse, the largest shortage first."""
    on_hand = (
        StockBalance.objects.filter(product_id=OuterRef("product_id"), warehouse_id=OuterRef("warehouse_id"))
        .order_by()
        .values("product_id")
        .annotate(s=Sum("quantity"))
        .values("s")
    )
    qs = (
        SafetyStock.objects.select_related("product", "warehouse")
        .filter(warehouse__archived_at__isnull=True)
        .annotate(
            on_hand=Coalesce(
                Subquery(on_hand, output_field=DecimalField(max_digits=18, decimal_places=4)),
                Value(ZERO, output_field=DecimalField(max_digits=18, decimal_places=4)),
            )
        )
    )
    if warehouse_ids:
        qs = qs.filter(warehouse_id__in=warehouse_ids)
    rows = []
    for ss in qs:
        if ss.on_hand < ss.minimum:
            rows.append(
                {
                    "product": ss.product,
                    "warehouse": ss.warehouse,
                    "quantity": ss.on_hand,
                    "minimum": ss.minimum,
                    "shortage": ss.minimum - ss.on_hand,
                    "suggested": (ss.maximum or ss.minimum) - ss.on_hand,
                }
            )
    rows.sort(key=lambda r: (-(r["shortage"] / r["minimum"] if r["minimum"] else 0), r["product"].code))
    return rows[:limit] if limit else rows


@dataclass
class MonthlyRow:
    product: Product
    warehouse: Warehouse
    opening: Decimal
    opening_value: Decimal
    received: Decimal
    received_value: Decimal
    issued: Decimal
    issued_value: Decimal
    closing: Decimal
    closing_value: Decimal


class MonthlySummary(Sequence):
    """The rows of a month's 收发存, sorted by product and warehouse code, as a sequence that builds
    :class:`MonthlyRow` objects (with their products and warehouses) only for the slice asked for: a
    page of 100 rows reads 100 products, whatever the number of rows.  ``totals``: the value sums
    of every row."""

    CHUNK = 2000

    def __init__(self, figures: list[tuple]):
        pids = {f[0] for f in figures}
        products = Product.objects.filter(pk__in=pids) if len(pids) <= 1000 else Product.objects.all()
        codes = dict(products.values_list("pk", "code")) if pids else {}
        whs = dict(Warehouse.objects.values_list("pk", "code"))
        self._figures = sorted(figures, key=lambda f: (codes.get(f[0], ""), whs.get(f[1], ""), f[0], f[1]))

    def __len__(self) -> int:
        return len(self._figures)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return self._rows(self._figures[index])
        return self._rows([self._figures[index]])[0]

    def __iter__(self):
        for i in range(0, len(self._figures), self.CHUNK):
            yield from self._rows(self._figures[i : i + self.CHUNK])

    @staticmethod
    def _rows(figures) -> list[MonthlyRow]:
        products = Product.objects.only("code", "name", "spec", "unit").in_bulk({f[0] for f in figures})
        warehouses = Warehouse.objects.only("code", "name").in_bulk({f[1] for f in figures})
        return [
            MonthlyRow(products[pid], warehouses[wid], cq - iq + oq, cv - iv + ov, iq, iv, oq, ov, cq, cv)
            for pid, wid, cq, cv, iq, iv, oq, ov in figures
        ]

    @property
    def totals(self) -> dict[str, Decimal]:
        cv = iv = ov = ZERO
        for f in self._figures:
            cv += f[3]
            iv += f[5]
            ov += f[7]
        return {
            "opening_value": cv - iv + ov,
            "received_value": iv,
            "issued_value": ov,
            "closing_value": cv,
        }


def monthly_summary(year: int, month: int, *, warehouse_id=None, product_ids=None) -> MonthlySummary:
    """收发存: per product × warehouse, opening, in, out and closing of one month, quantities and
    values, sorted by product and warehouse code.  The figures come from the month totals kept with
    the ledger and the month closings (:func:`~kehu.inventory.periods.month_figures`: one query
    whatever the size of the ledger); the rows are built as they are read (:class:`MonthlySummary`)."""
    return MonthlySummary(month_figures(year, month, warehouse_id=warehouse_id, product_ids=product_ids))


def serial_history(unit: SerialUnit) -> list[SerialEvent]:
    return list(unit.events.select_related("warehouse", "customer", "user").order_by("at", "id"))


def recall_units(
    product: Product, *, batch: str = "", produced_from: date | None = None, produced_to: date | None = None
) -> QuerySet[SerialUnit]:
    """批次召回: every unit of the product in the batch or production-date range, with where it is now
    (warehouse) and which customer holds it, and the document that delivered it."""
    qs = serial_units().filter(product=product).exclude(status=SerialUnit.Status.VOIDED)
    if batch:
        qs = qs.filter(batch=batch)
    if produced_from:
        qs = qs.filter(production_date__gte=produced_from)
    if produced_to:
        qs = qs.filter(production_date__lte=produced_to)
    last_delivery = SerialEvent.objects.filter(unit_id=OuterRef("pk"), customer__isnull=False).order_by(
        "-at", "-id"
    )
    return qs.annotate(
        delivery_number=Subquery(last_delivery.values("doc_number")[:1]),
    ).order_by("serial")


def customer_units(customer) -> QuerySet[SerialUnit]:
    return serial_units().filter(customer=customer).order_by("-delivered_on", "serial")


def keepers_for_digest():
    """Warehouse keepers (users with inventory.warehouses) with an e-mail address, and the warehouses
    each one keeps (none named: all)."""
    from kehu.accounts.models import User

    kept: dict[int, list[int]] = {}
    for wid, uid in Warehouse.objects.active().filter(keeper__isnull=False).values_list("pk", "keeper_id"):
        kept.setdefault(uid, []).append(wid)
    users = []
    for user in User.objects.filter(is_active=True).exclude(email="").prefetch_related("roles"):
        if user.has_right("inventory.warehouses") or user.pk in kept:
            users.append((user, kept.get(user.pk)))
    return users


def send_safety_digests() -> int:
    """The daily e-mail to warehouse keepers: products below safety stock in their warehouses."""
    sent = 0
    for user, warehouse_ids in keepers_for_digest():
        alerts = safety_alerts(warehouse_ids)
        if not alerts:
            continue
        lang = user.language or settings.LANGUAGE_CODE
        with translation.override(lang):
            ctx = {"user": user, "alerts": alerts, "today": timezone.localdate()}
            subject = render_to_string("inventory/digest_subject.txt", ctx).strip()
            body = render_to_string("inventory/digest_email.txt", ctx)
        send_mail(subject, body, None, [user.email])
        sent += 1
    return sent
