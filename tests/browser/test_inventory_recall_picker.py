"""Batch recall in a real browser: the product picker loads as you type (serial-tracked products
only, a discontinued and archived one too), the recall lists the units and where they are, and the
Excel export runs as a background job whose page offers the file.

Screenshots land in var/screenshots/inventory-recall-*.png."""

from __future__ import annotations

import os

import pytest

from tests.browser.conftest import CHROMIUM

if not os.path.exists(CHROMIUM):
    pytest.skip("Chromium not installed: apt-get install chromium", allow_module_level=True)

pytestmark = pytest.mark.browser


@pytest.fixture
def live_recall(live_demo, settings, tmp_path):
    from datetime import date
    from decimal import Decimal

    from django.utils import timezone

    from kehu.catalog.models import Product
    from kehu.customers.models import Customer
    from kehu.inventory import services as s
    from kehu.inventory.models import SerialUnit, Warehouse

    settings.DATA_DIR = tmp_path / "data"  # the export's file
    keeper = live_demo["warehouse"]
    wh = s.save_warehouse(Warehouse(code="SH", name="上海总仓"), by=keeper)
    old = Product.objects.create(
        code="IPC-510", name="研华旧款工控机", spec="i3/4G", tracking="serial", warranty_months=24
    )
    Product.objects.create(code="IPC-610L", name="研华工控机", spec="i5/8G", tracking="serial")
    Product.objects.create(code="IPC-CABLE", name="工控机电源线")  # not serial-tracked: never offered
    s.post_movements(
        [s.Line(old, wh, Decimal(3), unit_cost=3000, serials=["R-0001", "R-0002", "R-0003"])],
        reason="purchase_receipt",
        document=s.SourceDoc("test", None, "OPENING"),
        by=keeper,
    )
    customer = Customer.objects.create(
        number="C0001", name="北京华夏科技有限公司", owner=live_demo["manager"]
    )
    s.post_movements(
        [s.Line(old, wh, Decimal(-1), serials=["R-0002"])],
        reason="sales_issue",
        document=s.SourceDoc("test", None, "CK-0001"),
        by=keeper,
        customer=customer,
    )
    SerialUnit.objects.filter(product=old).update(batch="B7", production_date=date(2024, 5, 6))
    # no longer sold, and archived: a recall still has to find it
    Product.objects.filter(pk=old.pk).update(is_active=False, archived_at=timezone.now())
    return old, customer


def _shot(page, path):
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=path, full_page=True)


def test_recall_picker_lists_units_and_exports(open_session, live_recall, screenshots):
    from openpyxl import load_workbook

    from kehu.core.models import Job

    old, customer = live_recall
    s = open_session(locale="en-US")  # the assertions read the English labels
    page = s.login("warehouse")
    with page.expect_navigation():
        page.click("[data-menu='inventory:recall']")
    # the page does not list the products: the picker holds only its empty choice
    assert page.locator("#id_product option").count() == 1
    page.locator("#recall-form .ts-control input").click()
    page.keyboard.type("工控机")
    page.wait_for_selector(f"#recall-form .ts-dropdown .option[data-value='{old.pk}']")
    offered = page.locator("#recall-form .ts-dropdown .option").all_inner_texts()
    assert any("IPC-510" in t and "Archived" in t for t in offered), offered
    assert any("IPC-610L" in t for t in offered) and not any("IPC-CABLE" in t for t in offered)
    _shot(page, screenshots / "inventory-recall-picker.png")
    page.locator(f"#recall-form .ts-dropdown .option[data-value='{old.pk}']").click()
    assert page.locator("#id_product").input_value() == str(old.pk)
    page.fill("#id_batch", "B7")
    with page.expect_navigation():
        page.click("#recall-go")
    table = page.locator("#recall-units").inner_text()
    for serial in ("R-0001", "R-0002", "R-0003"):
        assert serial in table
    assert customer.name in table and "CK-0001" in table
    assert "3 units affected" in page.locator("main").inner_text()
    # the chosen product stays chosen, with its label
    assert "IPC-510" in page.locator("#recall-form .ts-control .item").inner_text()
    _shot(page, screenshots / "inventory-recall-units.png")

    # the export: a background job; its page shows the progress, then offers the file
    with page.expect_navigation():
        page.click("#export-xlsx")
    page.wait_for_selector("#job-status[data-status='succeeded']")
    assert "3 units in the list." in page.locator("#job-progress").inner_text()
    with page.expect_download() as info:
        page.click("#job-progress a[href*='/file/']")
    download = info.value
    assert download.suggested_filename.startswith("recall-IPC-510-")
    with open(download.path(), "rb") as fh:  # a file: openpyxl wants an extension on a path
        rows = list(load_workbook(fh).active.values)
    assert [r[0] for r in rows[1:]] == ["R-0001", "R-0002", "R-0003"]
    assert Job.objects.get().created_by.username == "warehouse"
    _shot(page, screenshots / "inventory-recall-export-job.png")
    s.assert_clean()
