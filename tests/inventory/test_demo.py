"""The demo inventory: built through the services, consistent, idempotent."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_demo_without_products_creates_nothing(demo):
    from kehu.inventory import demo as inv_demo
    from kehu.inventory.models import Warehouse

    inv_demo.load()
    assert not Warehouse.objects.exists()


def test_demo_inventory(demo):
    from kehu.catalog import demo as catalog_demo
    from kehu.inventory import demo as inv_demo
    from kehu.inventory import services as s
    from kehu.inventory.models import SerialUnit, StockMove, StockNote, Stocktake, Transfer, Warehouse
    from kehu.inventory.selectors import safety_alerts

    catalog_demo.load()
    inv_demo.load()
    assert Warehouse.objects.count() == 3
    assert SerialUnit.objects.filter(status="in_stock").exists()
    assert StockNote.objects.filter(kind="issue", status="posted").exists()
    assert Transfer.objects.filter(status="posted").exists()
    assert Stocktake.objects.filter(status="posted").exists()
    assert safety_alerts()
    assert s.check_stock() == [] and s.serial_differences() == []
    n = StockMove.objects.count()
    inv_demo.load()
    assert StockMove.objects.count() == n
