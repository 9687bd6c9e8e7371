"""Demo inventory (kehu demo, after the product demo): three warehouses with locations, receipts of
the demo products over the last two months (serial units with generated serial numbers, batches,
untracked goods), a sales issue to a demo customer, a transfer, a stocktake and safety stock levels
(some products below them).  Creates nothing when there are no products; does nothing when the
warehouses exist already.  Every movement goes through the services, like a user's would."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

WAREHOUSES = [
    ("SH", "上海总仓", "上海市闵行区莘庄工业区春东路 508 号", "warehouse", ["A-01", "A-02", "B-01"]),
    ("BJ", "北京仓", "北京市大兴区亦庄经济开发区科创十三街 29 号", None, ["A-01"]),
    ("GZ", "广州仓", "广州市黄埔区科学城光谱中路 11 号", None, ["A-01"]),
]


def load(seed: int = 20261123):
    from kehu.accounts.models import User
    from kehu.catalog.models import Product

    from . import services as s
    from .models import Warehouse

    if Warehouse.objects.filter(code="SH").exists():
        return
    products = list(Product.objects.active().order_by("code"))
    if not products:
        return
    rng = random.Random(seed)
    keeper = (
        User.objects.filter(username="warehouse").first() or User.objects.filter(is_superuser=True).first()
    )
    if keeper is None:
        keeper = User.objects.order_by("pk").first()
    if keeper is None:
        return
    serial = [p for p in products if p.tracking == Product.Tracking.SERIAL][:4]
    batch = [p for p in products if p.tracking == Product.Tracking.BATCH][:3]
    plain = [p for p in products if p.tracking == Product.Tracking.NONE][:5]
    now = timezone.now()
    with transaction.atomic():
        whs = {}
        for code, name, address, keeper_name, locations in WAREHOUSES:
            wh = s.save_warehouse(
                Warehouse(
                    code=code,
                    name=name,
                    address=address,
                    keeper=User.objects.filter(username=keeper_name).first() if keeper_name else None,
                ),
                by=keeper,
            )
            for loc in locations:
                s.add_location(wh, code=loc, name="", by=keeper)
            whs[code] = wh

        def receipt(wh, lines, days_ago, partner):
            note = s.create_note(
                kind="receipt",
                warehouse=wh,
                reason="purchase_receipt",
                partner=partner,
                lines=lines,
                by=keeper,
            )
            s.post_note(note, by=keeper, at=now - timedelta(days=days_ago))
            return note

        # opening stock, about two months ago, and a second delivery last month
        for days_ago, count in ((55, 12), (20, 8)):
            lines = []
            made = (now - timedelta(days=days_ago + 10)).date()
            for p in serial:
                prefix = p.serial_prefix or p.code.replace("-", "")[:6]
                start = s.next_serial_start(p, prefix, made)
                lines.append(
                    {
                        "product": p,
                        "quantity": count,
                        "unit_cost": p.standard_cost or Decimal("100"),
                        "batch": made.strftime("B%y%m%d"),
                        "production_date": made,
                        "production_line": "L1",
                        "serials": "\n".join(s.generate_serials(prefix, made, start, count)),
                    }
                )
            for p in batch:
                lines.append(
                    {
                        "product": p,
                        "quantity": rng.randint(40, 120),
                        "batch": made.strftime("B%y%m%d"),
                        "unit_cost": p.standard_cost or Decimal("10"),
                    }
                )
            for p in plain:
                lines.append(
                    {
                        "product": p,
                        "quantity": rng.randint(20, 200),
                        "unit_cost": (p.standard_cost or Decimal("5"))
                        * Decimal(rng.choice(["0.95", "1", "1.05"])),
                    }
                )
            receipt(whs["SH"], lines, days_ago, "深圳华强电子供应链有限公司")
        if plain:
            receipt(
                whs["GZ"],
                [
                    {"product": p, "quantity": rng.randint(10, 50), "unit_cost": p.standard_cost or 5}
                    for p in plain[:3]
                ],
                40,
                "广州本地供应商",
            )

        # a transfer SH → BJ
        if serial or plain:
            lines = []
            for p in serial[:2]:
                units = list(p and _units_in(p, whs["SH"])[:3])
                lines.append({"product": p, "quantity": len(units), "serials": "\n".join(units)})
            for p in plain[:2]:
                lines.append({"product": p, "quantity": 5})
            lines = [ln for ln in lines if ln["quantity"]]
            if lines:
                tr = s.create_transfer(
                    from_warehouse=whs["SH"],
                    to_warehouse=whs["BJ"],
                    lines=lines,
                    by=keeper,
                    notes="华北区域备货",
                )
                s.post_transfer(tr, by=keeper, at=now - timedelta(days=15))

        # a sales issue of serial units to a demo customer (warranty starts)
        from kehu.customers.models import Customer

        customer = Customer.objects.active().order_by("pk").first()
        if serial:
            p = serial[0]
            units = _units_in(p, whs["SH"])[:3]
            if units:
                note = s.create_note(
                    kind="issue",
                    warehouse=whs["SH"],
                    reason="sales_issue",
                    customer=customer,
                    partner=customer.name if customer else "",
                    by=keeper,
                    lines=[{"product": p, "quantity": len(units), "serials": "\n".join(units)}],
                )
                s.post_note(note, by=keeper, at=now - timedelta(days=10))
        if plain:
            note = s.create_note(
                kind="issue",
                warehouse=whs["SH"],
                reason="other_issue",
                partner="研发部领用",
                lines=[{"product": plain[0], "quantity": 3}],
                by=keeper,
            )
            s.post_note(note, by=keeper, at=now - timedelta(days=5))
            # a draft, to show the workflow
            s.create_note(
                kind="issue",
                warehouse=whs["SH"],
                reason="loan_out",
                partner="样机借出",
                lines=[{"product": plain[-1], "quantity": 1}],
                by=keeper,
            )

        # a stocktake in Guangzhou with a small shortage
        if plain:
            st = s.start_stocktake(warehouse=whs["GZ"], by=keeper, notes="月末盘点")
            first = st.lines.order_by("pk").first()
            if first is not None:
                s.enter_counts(
                    st,
                    [
                        {
                            "product": first.product_id,
                            "batch": first.batch,
                            "quantity": max(first.book_quantity - 1, 0),
                        }
                    ],
                    by=keeper,
                )
            s.post_stocktake(st, by=keeper)

        # safety stock: a few products sit below it
        for i, p in enumerate(plain + batch + serial):
            minimum = Decimal(300) if i % 3 == 0 else Decimal(5)
            s.set_safety_stock(p, whs["SH"], minimum=minimum, maximum=minimum * 2, by=keeper)


def _units_in(product, warehouse) -> list[str]:
    from .models import SerialUnit

    return list(
        SerialUnit.objects.filter(product=product, warehouse=warehouse, status="in_stock")
        .order_by("serial")
        .values_list("serial", flat=True)
    )
