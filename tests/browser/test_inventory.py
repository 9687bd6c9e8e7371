"""Inventory in a real browser: a warehouse keeper receives serial-tracked goods with the barcode
scanner input (keeps focus, one serial per Enter, running count, bad serials rejected at once),
generates and pastes serials, posts the receipt, opens a serial's life and the stock pages.

Screenshots land in var/screenshots/inventory-*.png."""

from __future__ import annotations

import os

import pytest

from tests.browser.conftest import CHROMIUM

if not os.path.exists(CHROMIUM):
    pytest.skip("Chromium not installed: apt-get install chromium", allow_module_level=True)

pytestmark = pytest.mark.browser


@pytest.fixture
def live_stock(live_demo):
    from decimal import Decimal

    from kehu.catalog.models import Product
    from kehu.inventory import services as s
    from kehu.inventory.models import Warehouse

    keeper = live_demo["warehouse"]
    wh = s.save_warehouse(Warehouse(code="SH", name="上海总仓"), by=keeper)
    s.save_warehouse(Warehouse(code="BJ", name="北京仓"), by=keeper)
    ipc = Product.objects.create(
        code="IPC-610L",
        name="研华工控机",
        spec="i5/8G",
        tracking="serial",
        serial_prefix="IPC",
        warranty_months=36,
        standard_cost=Decimal("5200"),
    )
    Product.objects.create(code="CAT6", name="六类网线", standard_cost=Decimal("2"))
    s.post_movements(
        [s.Line(ipc, wh, Decimal(1), unit_cost=5200, serials=["OLD-0001"])],
        reason="purchase_receipt",
        document=s.SourceDoc("test", None, "OPENING"),
        by=keeper,
    )
    return live_demo, wh, ipc


def _pick_product(page, row, text, product):
    """The line's product picker loads as you type (here part of the code): choose ``product``."""
    row.locator(".ts-control input").click()
    page.keyboard.type(text)
    row.locator(f".ts-dropdown .option[data-value='{product.pk}']").click()
    assert row.locator("select").first.input_value() == str(product.pk)


def _shot(page, path):
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=path, full_page=True)


def test_receive_serials_with_the_scanner_and_post(open_session, live_stock, screenshots):
    from kehu.inventory.models import SerialUnit, StockNote

    _users, wh, ipc = live_stock
    s = open_session(locale="en-US")  # the assertions read the English messages
    page = s.login("warehouse")
    page.click("[data-menu='inventory:receipts']")
    page.click("#create")
    page.select_option("#id_warehouse", str(wh.pk))
    page.fill("#id_partner", "深圳华强电子")
    row = page.locator("#lines tbody.line").first
    _pick_product(page, row, "610L", ipc)
    row.locator("[name=unit_cost]").fill("5000")
    scan = row.locator(".serial-scan")
    assert scan.is_visible()
    scan.click()
    for serial in ("SCAN-0001", "SCAN-0002"):
        page.keyboard.type(serial)
        page.keyboard.press("Enter")
        page.wait_for_function(
            "(s) => document.querySelector('#lines .serial-text').value.includes(s)", arg=serial
        )
    # the input keeps focus, counts, and refuses bad serials at once with the reason
    assert page.evaluate("document.activeElement.classList.contains('serial-scan')")
    assert row.locator(".serial-count").inner_text() == "2"
    page.keyboard.type("SCAN-0001")
    page.keyboard.press("Enter")
    page.wait_for_selector("#lines .serial-feedback .bad")
    assert "SCAN-0001" in row.locator(".serial-feedback .bad").first.inner_text()
    page.keyboard.type("OLD-0001")
    page.keyboard.press("Enter")
    page.wait_for_function(
        "() => document.querySelector('#lines .serial-feedback .bad').textContent.includes('OLD-0001')"
    )
    assert "already in stock" in row.locator(".serial-feedback .bad").first.inner_text()
    assert row.locator(".serial-count").inner_text() == "2"
    assert page.evaluate("document.activeElement.classList.contains('serial-scan')")
    # the generator adds three more by the rule prefix + date + sequence
    row.locator(".gen-count").fill("3")
    row.locator(".gen-date").fill("2026-11-23")
    row.locator(".gen-go").click()
    page.wait_for_function("() => document.querySelector('#lines .serial-count').textContent === '5'")
    assert row.locator(".line-qty").input_value() == "5"
    _shot(page, screenshots / "inventory-receipt-form.png")
    with page.expect_navigation():
        page.click("#save-post")
    assert page.locator("#doc-status").inner_text().strip() in ("已过账", "Posted")
    note = StockNote.objects.get(kind="receipt")
    assert note.status == "posted"
    assert set(
        SerialUnit.objects.filter(product=ipc, status="in_stock").values_list("serial", flat=True)
    ) == {"OLD-0001", "SCAN-0001", "SCAN-0002", "IPC202611230001", "IPC202611230002", "IPC202611230003"}
    _shot(page, screenshots / "inventory-receipt-posted.png")

    # find a serial from the serial page's box and see its life
    page.click("[data-menu='inventory:serials']")
    page.fill("#find-serial", "SCAN-0002")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "SCAN-0002" in page.locator("h1").inner_text()
    assert note.number in page.locator("#timeline").inner_text()
    _shot(page, screenshots / "inventory-serial-detail.png")

    page.click("[data-menu='inventory:stock']")
    assert "IPC-610L" in page.locator("table").inner_text()
    _shot(page, screenshots / "inventory-stock.png")
    s.assert_clean()


def test_pasted_serials_of_the_wrong_status_are_refused_on_posting(open_session, live_stock, screenshots):
    from kehu.catalog.models import Product
    from kehu.inventory.models import StockNote

    _users, wh, ipc = live_stock
    s = open_session(locale="en-US")
    page = s.login("warehouse")
    page.goto(s.url("/inventory/issues/new/"))
    page.select_option("#id_warehouse", str(wh.pk))
    row = page.locator("#lines tbody.line").first
    _pick_product(page, row, "610L", ipc)
    # an added line gets its own picker, which shows only what matches the typed text
    page.click("#add-line")
    second = page.locator("#lines tbody.line").nth(1)
    cable = Product.objects.get(code="CAT6")
    _pick_product(page, second, "CAT", cable)
    assert second.locator(f".ts-dropdown .option[data-value='{ipc.pk}']").count() == 0
    assert not second.locator(".serial-row").is_visible()
    second.locator(".line-remove").click()
    assert page.locator("#lines tbody.line").count() == 1
    row.locator(".serial-text").fill("OLD-0001\nNOPE-9")
    row.locator(".serial-text").dispatch_event("change")
    assert row.locator(".line-qty").input_value() == "2"
    with page.expect_navigation():
        page.click("#save-post")
    assert "NOPE-9" in page.locator("#line-error").inner_text()
    # the re-rendered form keeps the chosen product, with its label, and its serial tools
    row = page.locator("#lines tbody.line").first
    assert "IPC-610L" in row.locator(".ts-control .item").inner_text()
    assert row.locator(".serial-scan").is_visible()
    assert StockNote.objects.count() == 0
    _shot(page, screenshots / "inventory-issue-refused.png")
    s.assert_clean()


def test_stocktake_scanner_and_summary(open_session, live_stock, screenshots):
    from decimal import Decimal

    from kehu.catalog.models import Product
    from kehu.inventory import services as inv
    from kehu.inventory.models import SerialUnit, Stocktake

    users, wh, ipc = live_stock
    keeper = users["warehouse"]
    cable = Product.objects.get(code="CAT6")
    inv.post_movements(
        [
            inv.Line(ipc, wh, Decimal(2), unit_cost=5000, serials=["ST-1", "ST-2"]),
            inv.Line(cable, wh, Decimal(100), unit_cost=2),
        ],
        reason="purchase_receipt",
        document=inv.SourceDoc("test", None, "IN2"),
        by=keeper,
    )
    s = open_session(locale="en-US")
    page = s.login("warehouse")
    page.goto(s.url("/inventory/stocktakes/new/"))
    page.select_option("#id_warehouse", str(wh.pk))
    with page.expect_navigation():
        page.click("#save")
    st = Stocktake.objects.get()
    page.fill(f"[name='count-{cable.pk}|']", "98")
    with page.expect_navigation():
        page.click("#save-counts")
    scan = page.locator("#stocktake-scan")
    scan.click()
    for serial in ("ST-1", "OLD-0001", "NOPE"):
        page.keyboard.type(serial)
        page.keyboard.press("Enter")
        page.wait_for_function(
            "(s) => document.querySelector('#scan-feedback').textContent.includes(s)", arg=serial
        )
    feedback = page.locator("#scan-feedback").inner_text()
    assert "✓ ST-1" in feedback and "✓ OLD-0001" in feedback and "✗ NOPE" in feedback
    assert page.locator("#scan-count").inner_text() == "2 / 3"
    assert page.evaluate("document.activeElement.id") == "stocktake-scan"
    _shot(page, screenshots / "inventory-stocktake.png")
    page.once("dialog", lambda d: d.accept())
    with page.expect_navigation():
        page.click("#post")
    st.refresh_from_db()
    assert st.status == "posted"
    assert SerialUnit.objects.get(serial="ST-2").status == "lost"
    page.goto(s.url("/inventory/summary/"))
    assert "CAT6" in page.locator("#summary").inner_text()
    _shot(page, screenshots / "inventory-summary.png")
    s.assert_clean()


def test_safety_stock_product_loads_as_you_type(open_session, live_stock):
    from kehu.inventory.models import SafetyStock

    _users, wh, ipc = live_stock
    s = open_session(locale="en-US")
    page = s.login("warehouse")
    page.goto(s.url(wh.get_absolute_url()))
    box = page.locator("form:has(input[name=action][value=safety])")
    assert box.locator("select[name='ss-product'] option[value]:not([value=''])").count() == 0
    _pick_product(page, box, "610L", ipc)
    box.locator("[name='ss-minimum']").fill("3")
    with page.expect_navigation():
        box.locator("button[type=submit], button:not([type])").first.click()
    assert SafetyStock.objects.get(product=ipc, warehouse=wh).minimum == 3
    s.assert_clean()


def test_the_summary_pages_through_its_rows(open_session, live_stock, screenshots):
    """收发存 with 130 product × warehouse rows: 100 on the first page with the value totals of all,
    the rest behind "Next"; the totals stay those of every row."""
    from decimal import Decimal

    from django.utils import timezone

    from kehu.catalog.models import Product
    from kehu.inventory import services as inv

    users, wh, ipc = live_stock
    products = Product.objects.bulk_create(
        [Product(code=f"CBL-{i:03d}", name=f"线缆{i}", standard_cost=Decimal("1")) for i in range(130)]
    )
    inv.post_movements(
        [inv.Line(p, wh, Decimal(i + 1), unit_cost=1) for i, p in enumerate(products)],
        reason="purchase_receipt",
        document=inv.SourceDoc("test", None, "IN-CBL"),
        by=users["warehouse"],
    )
    s = open_session()  # Chinese
    page = s.login("warehouse")
    page.goto(s.url("/inventory/summary/?q=CBL"))
    rows = page.locator("#summary tbody tr")
    assert rows.count() == 100 and "CBL-000" in rows.first.inner_text()
    # no month named: this month, shown in the form, and no complaint about the missing field
    assert page.locator("#id_month").input_value() == timezone.localdate().strftime("%Y-%m")
    assert page.locator(".invalid-feedback").count() == 0
    total = "8,515.00"  # 1 + 2 + … + 130
    assert total in page.locator("#summary tfoot").inner_text()
    assert "130" in page.locator("#record-count").inner_text()
    _shot(page, screenshots / "inventory-summary-paged.png")
    with page.expect_navigation():
        page.get_by_role("link", name="下一页").click()
    assert rows.count() == 30 and "CBL-129" in rows.last.inner_text()
    assert total in page.locator("#summary tfoot").inner_text()
    s.assert_clean()
