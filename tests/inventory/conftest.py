"""Fixtures for the inventory tests: two warehouses and products of every tracking mode."""

from __future__ import annotations

from decimal import Decimal

import pytest


@pytest.fixture
def wh(db):
    from kehu.inventory.models import Warehouse

    return {
        "a": Warehouse.objects.create(code="WA", name="上海总仓"),
        "b": Warehouse.objects.create(code="WB", name="北京仓"),
    }


@pytest.fixture
def products(db):
    from kehu.catalog.models import Product

    return {
        "plain": Product.objects.create(code="P-PLAIN", name="网线", standard_cost=Decimal("5")),
        "kg": Product.objects.create(code="P-KG", name="铜线", quantity_decimals=2),
        "serial": Product.objects.create(
            code="P-SN", name="工控机", tracking="serial", serial_prefix="IPC", warranty_months=12
        ),
        "serial2": Product.objects.create(code="P-SN2", name="显示器", tracking="serial", warranty_months=24),
        "batch": Product.objects.create(code="P-BATCH", name="电池", tracking="batch"),
    }


@pytest.fixture
def keeper(demo):
    return demo["warehouse"]


@pytest.fixture
def customer(demo):
    from kehu.customers.models import Customer

    return Customer.objects.create(number="C0001", name="北京华夏科技有限公司", owner=demo["manager"])


def receive(product, warehouse, qty, *, by, cost=None, serials=(), batch="", reason="purchase_receipt"):
    from kehu.inventory import services as s

    return s.post_movements(
        [s.Line(product, warehouse, qty, batch=batch, unit_cost=cost, serials=list(serials))],
        reason=reason,
        document=s.SourceDoc("test", None, "T1"),
        by=by,
    )


def issue(product, warehouse, qty, *, by, serials=(), batch="", reason="sales_issue", customer=None):
    from kehu.inventory import services as s

    return s.post_movements(
        [s.Line(product, warehouse, -Decimal(qty), batch=batch, serials=list(serials))],
        reason=reason,
        document=s.SourceDoc("test", None, "T2"),
        by=by,
        customer=customer,
    )


def qty(product, warehouse, batch=""):
    from kehu.inventory.models import StockBalance

    b = StockBalance.objects.filter(product=product, warehouse=warehouse, batch=batch).first()
    return b.quantity if b else Decimal("0")
