"""The product pages in a real browser: a warehouse keeper opens the product list, filters it,
creates a product through the form (with the duplicate hint), sees it on its page, downloads its
labels and prints labels for products chosen on the list; the list on a phone.

Screenshots land in var/screenshots/catalog-*.png."""

from __future__ import annotations

import os

import pytest

from tests.browser.conftest import CHROMIUM, DESKTOP, PHONE

if not os.path.exists(CHROMIUM):
    pytest.skip("Chromium not installed: apt-get install chromium", allow_module_level=True)

pytestmark = pytest.mark.browser


@pytest.fixture
def live_products(live_demo):
    from kehu.catalog import demo as catalog_demo
    from kehu.catalog import panels

    catalog_demo.load()
    saved = list(panels.PRODUCT_PANELS)
    panels.PRODUCT_PANELS[:] = []  # the product page as this module builds it (inventory adds cards)
    yield live_demo
    panels.PRODUCT_PANELS[:] = saved


def _shot(page, path):
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=path, full_page=True)


def test_create_a_product_and_print_its_labels(live_products, open_session, screenshots, tmp_path):
    from kehu.catalog.models import Product

    s = open_session(viewport=DESKTOP, locale="zh-CN")
    page = s.login("warehouse")
    s.goto("/products/")
    assert page.locator("#results tbody tr").count() >= 20
    _shot(page, screenshots / "catalog-list.png")

    page.fill("#id_q", "dyj")  # pinyin initials of 打印机
    with page.expect_navigation():
        page.click("#filter")
    assert page.locator("#results tbody tr").count() >= 3
    assert "打印机" in page.inner_text("#results")
    _shot(page, screenshots / "catalog-list-filtered.png")

    with page.expect_navigation():
        page.click("#create")
    page.fill("#id_code", "BR-TEST-01")
    page.fill("#id_name", "斑马桌面标签打印机")
    page.fill("#id_spec", "ZD888 203dpi 热敏/热转印")
    page.locator("#id_brand").focus()
    page.wait_for_selector("#duplicate-live")
    assert "ZD888" in page.inner_text("#duplicate-live")  # the live hint: a product like this exists
    page.fill("#id_spec", "ZD888T 300dpi")
    page.fill("#id_brand", "斑马")
    page.select_option("#id_category", label="\u3000标签打印机")
    page.select_option("#id_unit", label="台")
    page.fill("#id_list_price", "2680")
    page.fill("#id_standard_cost", "1900.5")
    page.select_option("#id_tracking", "serial")
    assert page.is_visible("#id_serial_prefix")
    page.fill("#id_serial_prefix", "zd888t")
    page.fill("#id_warranty_months", "12")
    page.fill("#id_barcode", "6901234599999")
    _shot(page, screenshots / "catalog-form.png")
    with page.expect_navigation():
        page.click("#save")
    product = Product.objects.get(code="BR-TEST-01")
    assert page.url.endswith(f"/products/{product.pk}/")
    assert "斑马桌面标签打印机" in page.inner_text("h1")
    assert "¥2,680.00" in page.inner_text("#list-price")
    assert product.serial_prefix == "ZD888T" and product.category.name == "标签打印机"
    _shot(page, screenshots / "catalog-detail.png")

    page.click("#labels-button")
    page.wait_for_selector("#labels-modal.show")
    page.select_option("#labels-modal #id_layout", "a4_3x8")
    page.fill("#labels-modal #id_copies", "24")
    _shot(page, screenshots / "catalog-labels-modal.png")
    with page.expect_download() as info:
        page.click("#labels-modal #download-labels")
    pdf = tmp_path / "labels.pdf"
    info.value.save_as(pdf)
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF")
    assert data.count(b"/Type /Page\n") + data.count(b"/Type /Page ") + data.count(b"/Type /Page/") >= 1

    # labels of products chosen on the list
    s.goto("/products/?tracking=serial")
    boxes = page.locator('#results input[name="ids"]')
    boxes.nth(0).check()
    boxes.nth(1).check()
    assert page.inner_text("#selected-count") == "2"
    with page.expect_navigation():
        page.click("#print-labels")
    assert page.locator("#label-products li").count() == 2
    _shot(page, screenshots / "catalog-labels-page.png")
    with page.expect_download() as info:
        page.click("#download-labels")
    assert info.value.suggested_filename.endswith(".pdf")

    s.goto("/products/categories/")
    assert "标签打印机" in page.inner_text("#category-tree")
    _shot(page, screenshots / "catalog-categories.png")
    s.assert_clean()


def test_product_list_on_a_phone(live_products, open_session, screenshots):
    s = open_session(viewport=PHONE, locale="zh-CN")
    page = s.login("manager")
    s.goto("/products/")
    assert page.locator("#result-cards .card").count() >= 20
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= PHONE["width"]
    _shot(page, screenshots / "catalog-phone-list.png")
    s.assert_clean()
