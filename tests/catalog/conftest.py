"""Fixtures of the product centre's tests."""

from __future__ import annotations

from decimal import Decimal

import pytest


@pytest.fixture
def unit(db):
    from kehu.core.models import DictEntry

    return DictEntry.objects.get(type="unit", code="set")


@pytest.fixture
def tree(demo):
    """电脑设备 > 工控机, 电脑设备 > 显示器, 耗材."""
    from kehu.catalog import services

    admin = demo["admin"]
    pc = services.create_category(name="电脑设备", by=admin)
    ipc = services.create_category(name="工控机", parent=pc, by=admin)
    monitors = services.create_category(name="显示器", parent=pc, by=admin)
    supplies = services.create_category(name="耗材", by=admin)
    return {"pc": pc, "ipc": ipc, "monitors": monitors, "supplies": supplies}


@pytest.fixture
def make_product(demo, unit):
    from kehu.catalog import services

    counter = iter(range(1, 10_000))

    def make(**fields):
        n = next(counter)
        data = {
            "code": f"P-{n:04d}",
            "name": f"测试商品{n}",
            "spec": f"型号{n}",
            "unit": unit,
            "list_price": Decimal("100"),
            "standard_cost": Decimal("60"),
        }
        data.update(fields)
        by = data.pop("by", demo["admin"])
        return services.create_product(by=by, **data)

    return make


@pytest.fixture(autouse=True)
def _own_panels():
    """The product page's cards come from other modules (inventory…); these tests check the page
    itself, so they run without them (test_views registers its own)."""
    from kehu.catalog import panels

    saved = list(panels.PRODUCT_PANELS)
    panels.PRODUCT_PANELS[:] = []
    yield
    panels.PRODUCT_PANELS[:] = saved
