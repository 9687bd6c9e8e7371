"""The demo products load, are realistic, and loading twice changes nothing."""

from __future__ import annotations

import pytest

from kehu.catalog import demo as catalog_demo
from kehu.catalog.models import Category, Product

pytestmark = pytest.mark.django_db


def test_demo_loads_once(demo):
    catalog_demo.load()
    n = Product.objects.count()
    assert 38 <= n <= 45
    assert Category.objects.filter(parent__isnull=True).count() >= 5
    serial = Product.objects.filter(tracking="serial")
    assert serial.count() >= 15
    assert all(p.serial_prefix and p.warranty_months for p in serial)
    assert Product.objects.filter(tracking="batch").count() >= 5
    assert Product.objects.filter(tracking="none").count() >= 10
    assert Product.objects.filter(is_active=False).count() == 2
    assert not Product.objects.filter(unit__isnull=True).exists()
    assert Product.objects.get(code="CAB-CAT6").quantity_decimals == 1
    catalog_demo.load()
    assert Product.objects.count() == n


def test_demo_registered_after_customers():
    from kehu.core.demo import DEMO_STEPS

    orders = {name: order for order, name, _f in DEMO_STEPS}
    assert orders["product categories and products"] > orders["customers, contacts and activities"]
